/* Error codes. Functions return 0 (or a count) on success and -errno on failure; failures that
 * are not system errors use the project codes below, all under -4096 so they never collide
 * with an errno value. wf_strerror() names both kinds. */
#pragma once

enum {
	WF_E_PARSE = 4097, /* input is not valid YAML/JSON/wire format */
	WF_E_INVALID,	   /* parsed, but a field has an invalid value */
	WF_E_UNKNOWN_KIND, /* object kind weft does not know */
	WF_E_DUPLICATE,	   /* two sources define the same object */
	WF_E_TOO_BIG,	   /* input over a configured cap */
	WF_E_UNSUPPORTED,  /* feature the kernel or build does not have */
	WF_E_EXHAUSTED,	   /* a pool (addresses, ports) has nothing left */
	WF_E_CONFLICT,	   /* a requested resource is taken */
	WF_E_MAX,
};

/* Returns a static description of err (negative, as functions return it). Thread-safe. */
const char *wf_strerror(int err);
