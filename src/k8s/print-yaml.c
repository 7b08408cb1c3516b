/* `kubectl get -o yaml`'s layout for a jansson value: block style, two-space indent, sequences
 * flush with their key, strings plain unless a YAML 1.1 reader (go-yaml v2, libyaml through
 * wf_yj_load, PyYAML) would read them as something else. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "k8s/print.h"

/* YAML 1.1 scalars that are not strings though strtod() does not take them as numbers:
 * 1_000, 0b101, sexagesimal 1:20 (any digits-with-colons is quoted, which is harmless), and
 * timestamps 2024-05-01[T...] (kubectl quotes those too). */
static bool looks_typed(const char *s)
{
	const char *p = s + (s[0] == '+' || s[0] == '-');
	bool sep = false;

	if (p[0] == '0' && p[1] == 'b' && p[2] && strspn(p + 2, "01_") == strlen(p + 2))
		return true;
	if (strspn(s, "0123456789") == 4 && s[4] == '-') {
		size_t m = strspn(s + 5, "0123456789"), d;

		if (m >= 1 && m <= 2 && s[5 + m] == '-') {
			d = strspn(s + 6 + m, "0123456789");
			if (d >= 1 && d <= 2 && strchr("Tt ", s[6 + m + d])) /* also the NUL */
				return true;
		}
	}
	if (!(*p >= '0' && *p <= '9'))
		return false;
	for (; *p; p++) {
		if (*p == '_' || *p == ':')
			sep = true;
		else if (!(*p >= '0' && *p <= '9') && *p != '.')
			return false;
	}
	return sep;
}

static bool plain_ok(const char *s)
{
	static const char *const special[] = {"~",    "null",  "true",	"false", "yes",
					      "no",   "on",    "off",	"y",	 "n",
					      ".inf", "-.inf", "+.inf", ".nan",	 NULL};
	size_t len = strlen(s);
	char *end;

	if (len == 0)
		return false;
	for (size_t i = 0; special[i]; i++)
		if (!strcasecmp(s, special[i]))
			return false;
	if (strchr("-?:,[]{}#&*!|>'\"%@` \t", s[0]) || s[len - 1] == ' ' || s[len - 1] == ':')
		return false;
	if (strstr(s, ": ") || strstr(s, " #") || strstr(s, ":\t"))
		return false;
	for (const char *p = s; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return false;
	(void)strtod(s, &end);
	if (*end == '\0')
		return false; /* a number (also 0x1F, 1e3, inf) */
	return !looks_typed(s);
}

static void scalar(FILE *out, const json_t *v)
{
	char *text;

	if (json_is_string(v) && plain_ok(json_string_value(v))) {
		fputs(json_string_value(v), out);
		return;
	}
	if (json_is_object(v) || json_is_array(v)) {
		fputs(json_is_object(v) ? "{}" : "[]", out);
		return;
	}
	/* a JSON string is a valid YAML double-quoted scalar; numbers and literals are the same
	 * in both */
	text = json_dumps(v, JSON_ENCODE_ANY);
	fputs(text ? text : "null", out);
	free(text);
}

static bool is_block(const json_t *v)
{
	return (json_is_object(v) && json_object_size(v)) ||
	       (json_is_array(v) && json_array_size(v));
}

static void value(FILE *out, const json_t *v, int indent);

static void mapping(FILE *out, const json_t *o, int indent, bool first_inline)
{
	const char *k;
	json_t *v, *key;
	bool first = true;

	json_object_foreach((json_t *)o, k, v)
	{
		if (!(first && first_inline))
			fprintf(out, "%*s", indent, "");
		first = false;
		key = json_string(k);
		scalar(out, key ? key : json_null());
		json_decref(key);
		if (is_block(v)) {
			fputs(":\n", out);
			value(out, v, json_is_array(v) ? indent : indent + 2);
		} else {
			fputs(": ", out);
			scalar(out, v);
			fputc('\n', out);
		}
	}
}

static void value(FILE *out, const json_t *v, int indent)
{
	size_t i;
	json_t *x;

	if (json_is_object(v)) {
		mapping(out, v, indent, false);
		return;
	}
	json_array_foreach((json_t *)v, i, x)
	{
		fprintf(out, "%*s- ", indent, "");
		if (json_is_object(x) && json_object_size(x)) {
			/* the first key on the dash's line, the others under it */
			mapping(out, x, indent + 2, true);
		} else if (is_block(x)) {
			fputc('\n', out);
			value(out, x, indent + 2);
		} else {
			scalar(out, x);
			fputc('\n', out);
		}
	}
}

void wf_k8s_print_yaml(FILE *out, const json_t *v)
{
	if (is_block(v)) {
		value(out, v, 0);
	} else {
		scalar(out, v);
		fputc('\n', out);
	}
}
