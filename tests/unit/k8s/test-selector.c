/* Label selectors: Kubernetes matching semantics as tables, and the name/label syntax checks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "k8s/selector.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* labels of the object under test: app=web, tier=frontend, env=prod (sorted) */
static const struct wf_k8s_label obj_items[] = {
	{"app", "web"},
	{"env", "prod"},
	{"tier", "frontend"},
};
static const struct wf_k8s_map obj = {N(obj_items), obj_items};
static const struct wf_k8s_map no_labels = {0, NULL};

static void test_map_get(void **state)
{
	assert_string_equal(wf_k8s_map_get(&obj, "app"), "web");
	assert_string_equal(wf_k8s_map_get(&obj, "tier"), "frontend");
	assert_null(wf_k8s_map_get(&obj, "zone"));
	assert_null(wf_k8s_map_get(&no_labels, "app"));
}

struct sel_case {
	const char *what;
	struct wf_k8s_selector sel;
	bool on_obj;	   /* expected result for obj */
	bool on_unlabeled; /* expected result for an object without labels */
};

static const char *web[] = {"web"};
static const char *web_api[] = {"api", "web"};
static const char *api[] = {"api"};
static const char *prod[] = {"prod"};
static const struct wf_k8s_label ml_app_web[] = {{"app", "web"}};
static const struct wf_k8s_label ml_app_api[] = {{"app", "api"}};
static const struct wf_k8s_label ml_two[] = {{"app", "web"}, {"tier", "frontend"}};
static const struct wf_k8s_selector_req in_web[] = {{"app", WF_K8S_SEL_IN, 1, web}};
static const struct wf_k8s_selector_req in_web_api[] = {{"app", WF_K8S_SEL_IN, 2, web_api}};
static const struct wf_k8s_selector_req in_api[] = {{"app", WF_K8S_SEL_IN, 1, api}};
static const struct wf_k8s_selector_req notin_api[] = {{"app", WF_K8S_SEL_NOT_IN, 1, api}};
static const struct wf_k8s_selector_req notin_web[] = {{"app", WF_K8S_SEL_NOT_IN, 1, web}};
static const struct wf_k8s_selector_req notin_zone[] = {{"zone", WF_K8S_SEL_NOT_IN, 1, prod}};
static const struct wf_k8s_selector_req exists_app[] = {{"app", WF_K8S_SEL_EXISTS, 0, NULL}};
static const struct wf_k8s_selector_req exists_zone[] = {{"zone", WF_K8S_SEL_EXISTS, 0, NULL}};
static const struct wf_k8s_selector_req dne_zone[] = {{"zone", WF_K8S_SEL_DOES_NOT_EXIST, 0, NULL}};
static const struct wf_k8s_selector_req dne_app[] = {{"app", WF_K8S_SEL_DOES_NOT_EXIST, 0, NULL}};
static const struct wf_k8s_selector_req and_ok[] = {
	{"app", WF_K8S_SEL_IN, 1, web},
	{"env", WF_K8S_SEL_IN, 1, prod},
	{"zone", WF_K8S_SEL_DOES_NOT_EXIST, 0, NULL},
};
static const struct wf_k8s_selector_req and_fail[] = {
	{"app", WF_K8S_SEL_IN, 1, web},
	{"env", WF_K8S_SEL_NOT_IN, 1, prod},
};

#define SEL(ml, ex)                          \
	{                                    \
		true, {N(ml), ml}, N(ex), ex \
	}
#define EXPR(ex)                           \
	{                                  \
		true, {0, NULL}, N(ex), ex \
	}
#define LABELS(ml)                         \
	{                                  \
		true, {N(ml), ml}, 0, NULL \
	}

static const struct sel_case cases[] = {
	{"null selector matches nothing", {false, {0, NULL}, 0, NULL}, false, false},
	{"empty selector {} matches everything", {true, {0, NULL}, 0, NULL}, true, true},
	{"matchLabels equal", LABELS(ml_app_web), true, false},
	{"matchLabels differ", LABELS(ml_app_api), false, false},
	{"matchLabels all pairs", LABELS(ml_two), true, false},
	{"In listed", EXPR(in_web), true, false},
	{"In one of two", EXPR(in_web_api), true, false},
	{"In not listed", EXPR(in_api), false, false},
	{"NotIn not listed", EXPR(notin_api), true, true},
	{"NotIn listed", EXPR(notin_web), false, true},
	{"NotIn matches objects without the key", EXPR(notin_zone), true, true},
	{"Exists present", EXPR(exists_app), true, false},
	{"Exists absent", EXPR(exists_zone), false, false},
	{"DoesNotExist absent", EXPR(dne_zone), true, true},
	{"DoesNotExist present", EXPR(dne_app), false, true},
	{"requirements are ANDed", EXPR(and_ok), true, false},
	{"one failing requirement fails", EXPR(and_fail), false, false},
	{"matchLabels AND expressions", SEL(ml_app_web, dne_zone), true, false},
	{"matchLabels AND failing expression", SEL(ml_app_web, dne_app), false, false},
};

static void test_selector_table(void **state)
{
	for (size_t i = 0; i < N(cases); i++) {
		bool a = wf_k8s_selector_matches(&cases[i].sel, &obj);
		bool b = wf_k8s_selector_matches(&cases[i].sel, &no_labels);
		if (a != cases[i].on_obj || b != cases[i].on_unlabeled)
			fail_msg("%s: got %d/%d, expected %d/%d", cases[i].what, a, b,
				 cases[i].on_obj, cases[i].on_unlabeled);
	}
}

static void test_map_selector(void **state)
{
	const struct wf_k8s_map empty = {0, NULL};
	const struct wf_k8s_map one = {N(ml_app_web), ml_app_web};
	const struct wf_k8s_map other = {N(ml_app_api), ml_app_api};

	assert_true(wf_k8s_map_matches(&empty, &obj));
	assert_true(wf_k8s_map_matches(&one, &obj));
	assert_false(wf_k8s_map_matches(&other, &obj));
	assert_false(wf_k8s_map_matches(&one, &no_labels));
}

static void test_label_syntax(void **state)
{
	char long63[64], long64[65], prefix254[300];

	memset(long63, 'a', 63);
	long63[63] = '\0';
	memset(long64, 'a', 64);
	long64[64] = '\0';
	assert_null(wf_k8s_check_label_key("app"));
	assert_null(wf_k8s_check_label_key("app.kubernetes.io/name"));
	assert_null(wf_k8s_check_label_key("A_b.c-D"));
	assert_null(wf_k8s_check_label_key(long63));
	assert_non_null(wf_k8s_check_label_key(long64));
	assert_non_null(wf_k8s_check_label_key(""));
	assert_non_null(wf_k8s_check_label_key("-app"));
	assert_non_null(wf_k8s_check_label_key("app-"));
	assert_non_null(wf_k8s_check_label_key("a/b/c"));
	assert_non_null(wf_k8s_check_label_key("/name"));
	assert_non_null(wf_k8s_check_label_key("Example.com/name"));
	assert_non_null(wf_k8s_check_label_key("example.com/"));
	/* prefix up to 253 characters */
	memset(prefix254, 'a', sizeof(prefix254));
	for (int i = 50; i < 253; i += 50)
		prefix254[i] = '.';
	prefix254[253] = '/';
	strcpy(prefix254 + 254, "x");
	assert_null(wf_k8s_check_label_key(prefix254 + 0));
	memmove(prefix254 + 1, prefix254, strlen(prefix254) + 1);
	assert_non_null(wf_k8s_check_label_key(prefix254));

	assert_null(wf_k8s_check_label_value(""));
	assert_null(wf_k8s_check_label_value("v1.2_3-x"));
	assert_null(wf_k8s_check_label_value(long63));
	assert_non_null(wf_k8s_check_label_value(long64));
	assert_non_null(wf_k8s_check_label_value("a b"));
	assert_non_null(wf_k8s_check_label_value("a/b"));
	assert_non_null(wf_k8s_check_label_value("_a"));
}

static void test_name_syntax(void **state)
{
	assert_null(wf_k8s_check_dns_label("web-1"));
	assert_non_null(wf_k8s_check_dns_label("Web"));
	assert_non_null(wf_k8s_check_dns_label("web.1"));
	assert_non_null(wf_k8s_check_dns_label("-web"));
	assert_null(wf_k8s_check_dns_subdomain("web.shop.example"));
	assert_non_null(wf_k8s_check_dns_subdomain("web..shop"));
	assert_non_null(wf_k8s_check_dns_subdomain("web.-shop"));
	assert_non_null(wf_k8s_check_dns_subdomain(""));

	assert_null(wf_k8s_check_port_name("http"));
	assert_null(wf_k8s_check_port_name("dns-tcp"));
	assert_null(wf_k8s_check_port_name("h2c"));
	assert_string_equal(wf_k8s_check_port_name("8080"),
			    "must contain at least one letter (a-z)");
	assert_non_null(wf_k8s_check_port_name("a--b"));
	assert_non_null(wf_k8s_check_port_name("-ab"));
	assert_non_null(wf_k8s_check_port_name("HTTP"));
	assert_non_null(wf_k8s_check_port_name("abcdefghijklmnop")); /* 16 */
	assert_null(wf_k8s_check_port_name("abcdefghijklmno"));	     /* 15 */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_map_get),	     cmocka_unit_test(test_selector_table),
		cmocka_unit_test(test_map_selector), cmocka_unit_test(test_label_syntax),
		cmocka_unit_test(test_name_syntax),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
