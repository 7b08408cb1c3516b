/* weft get: output formats. Tables come from the shared printer (k8s/print.h). */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "k8s/object-types.h"

/* Prints objs as JSON (yaml == false) or YAML: one object as itself, several as a v1 List,
 * as kubectl does. The fields are what weft understood, defaults included. Returns 0 or
 * -ENOMEM. */
int wf_cli_get_dump(const struct wf_k8s_object *const *objs, size_t n, bool yaml, FILE *out);
