#include "k8s/selector.h"

#include <string.h>

const char *wf_k8s_map_get(const struct wf_k8s_map *m, const char *key)
{
	size_t lo = 0, hi = m->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(key, m->items[mid].key);

		if (c == 0)
			return m->items[mid].value;
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

static bool value_listed(const struct wf_k8s_selector_req *r, const char *v)
{
	for (size_t i = 0; i < r->n_values; i++)
		if (strcmp(r->values[i], v) == 0)
			return true;
	return false;
}

/* apimachinery labels.Requirement.Matches */
static bool req_matches(const struct wf_k8s_selector_req *r, const struct wf_k8s_map *labels)
{
	const char *v = wf_k8s_map_get(labels, r->key);

	switch (r->op) {
	case WF_K8S_SEL_IN:
		return v && value_listed(r, v);
	case WF_K8S_SEL_NOT_IN:
		/* NotIn matches objects that do not have the key at all. */
		return !v || !value_listed(r, v);
	case WF_K8S_SEL_EXISTS:
		return v != NULL;
	case WF_K8S_SEL_DOES_NOT_EXIST:
		return v == NULL;
	}
	return false;
}

bool wf_k8s_map_matches(const struct wf_k8s_map *sel, const struct wf_k8s_map *labels)
{
	for (size_t i = 0; i < sel->n; i++) {
		const char *v = wf_k8s_map_get(labels, sel->items[i].key);

		if (!v || strcmp(v, sel->items[i].value) != 0)
			return false;
	}
	return true;
}

bool wf_k8s_selector_matches(const struct wf_k8s_selector *sel, const struct wf_k8s_map *labels)
{
	/* metav1.LabelSelectorAsSelector: nil selects nothing, {} selects everything. */
	if (!sel->present)
		return false;
	if (!wf_k8s_map_matches(&sel->match_labels, labels))
		return false;
	for (size_t i = 0; i < sel->n_exprs; i++)
		if (!req_matches(&sel->exprs[i], labels))
			return false;
	return true;
}

static bool is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static bool is_lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* apimachinery validation.IsQualifiedName's name part: ([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9] */
static const char *check_qualified_name_part(const char *s, size_t n)
{
	if (n == 0)
		return "name part must be non-empty";
	if (n > 63)
		return "name part must be no more than 63 characters";
	if (!is_alnum(s[0]) || !is_alnum(s[n - 1]))
		return "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
	for (size_t i = 0; i < n; i++)
		if (!is_alnum(s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.')
			return "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
	return NULL;
}

static const char *check_dns_label_n(const char *s, size_t n)
{
	if (n == 0)
		return "must be non-empty";
	if (n > 63)
		return "must be no more than 63 characters";
	if (!is_lower_alnum(s[0]) || !is_lower_alnum(s[n - 1]))
		return "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character";
	for (size_t i = 0; i < n; i++)
		if (!is_lower_alnum(s[i]) && s[i] != '-')
			return "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character";
	return NULL;
}

const char *wf_k8s_check_dns_label(const char *s)
{
	return check_dns_label_n(s, strlen(s));
}

static const char *check_dns_subdomain_n(const char *s, size_t n)
{
	if (n == 0)
		return "must be non-empty";
	if (n > 253)
		return "must be no more than 253 characters";
	/* RFC 1123 subdomain: [a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)* */
	size_t start = 0;
	for (size_t i = 0; i <= n; i++) {
		if (i < n && s[i] != '.')
			continue;
		size_t len = i - start;
		bool ok = len > 0 && is_lower_alnum(s[start]) && is_lower_alnum(s[i - 1]);
		for (size_t j = start; ok && j < i; j++)
			ok = is_lower_alnum(s[j]) || s[j] == '-';
		if (!ok)
			return "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character";
		start = i + 1;
	}
	return NULL;
}

const char *wf_k8s_check_dns_subdomain(const char *s)
{
	return check_dns_subdomain_n(s, strlen(s));
}

const char *wf_k8s_check_label_key(const char *key)
{
	const char *slash = strchr(key, '/');

	if (!slash)
		return check_qualified_name_part(key, strlen(key));
	if (strchr(slash + 1, '/'))
		return "a qualified name must have at most one '/'";
	if (slash == key)
		return "prefix part must be non-empty";
	if (check_dns_subdomain_n(key, (size_t)(slash - key)))
		return "prefix part must be a lowercase RFC 1123 subdomain of at most 253 characters";
	return check_qualified_name_part(slash + 1, strlen(slash + 1));
}

const char *wf_k8s_check_label_value(const char *value)
{
	size_t n = strlen(value);

	if (n == 0)
		return NULL;
	if (n > 63)
		return "must be no more than 63 characters";
	if (check_qualified_name_part(value, n))
		return "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
	return NULL;
}

const char *wf_k8s_check_port_name(const char *s)
{
	size_t n = strlen(s);
	bool letter = false;

	/* validation.IsValidPortName (IANA_SVC_NAME, RFC 6335 5.1) */
	if (n == 0 || n > 15)
		return "must be no more than 15 characters";
	for (size_t i = 0; i < n; i++) {
		if (s[i] >= 'a' && s[i] <= 'z')
			letter = true;
		else if (!(s[i] >= '0' && s[i] <= '9') && s[i] != '-')
			return "must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)";
		if (s[i] == '-' && i > 0 && s[i - 1] == '-')
			return "must not contain consecutive hyphens";
	}
	if (s[0] == '-' || s[n - 1] == '-')
		return "must not begin or end with a hyphen";
	if (!letter)
		return "must contain at least one letter (a-z)";
	return NULL;
}
