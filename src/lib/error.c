#include "lib/error.h"

#include <string.h>

static const char *const wf_errors[] = {
	[WF_E_PARSE - WF_E_PARSE] = "Malformed input",
	[WF_E_INVALID - WF_E_PARSE] = "Invalid value",
	[WF_E_UNKNOWN_KIND - WF_E_PARSE] = "Unknown object kind",
	[WF_E_DUPLICATE - WF_E_PARSE] = "Duplicate object",
	[WF_E_TOO_BIG - WF_E_PARSE] = "Input over the configured limit",
	[WF_E_UNSUPPORTED - WF_E_PARSE] = "Not supported by this kernel or build",
	[WF_E_EXHAUSTED - WF_E_PARSE] = "Pool exhausted",
	[WF_E_CONFLICT - WF_E_PARSE] = "Resource already taken",
};

const char *wf_strerror(int err)
{
	int e = err < 0 ? -err : err;

	if (e == 0)
		return "Success";
	if (e >= WF_E_PARSE && e < WF_E_MAX)
		return wf_errors[e - WF_E_PARSE];
	if (e > 4096)
		return "Unknown weft error";
	/* strerrordesc_np (glibc >= 2.32) returns a static string and is thread-safe, unlike
	 * strerror(3). */
	const char *s = strerrordesc_np(e);
	return s ? s : "Unknown error";
}

_Static_assert(sizeof(wf_errors) / sizeof(wf_errors[0]) == WF_E_MAX - WF_E_PARSE,
	       "every WF_E_* code has a description");
