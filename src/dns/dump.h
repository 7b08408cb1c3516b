/* Presentation of DNS messages as text, one record per line, in the spirit of dig's output:
 * golden tests compare it, the fuzz target exercises it, people read it. Pure, thread-safe,
 * no allocation. */
#pragma once
#include <stddef.h>
#include <stdint.h>

/* Writes msg as text into buf (always NUL-terminated when cap > 0). A message that cannot be
 * parsed ends with a line "; malformed at offset N". Returns the text length, truncated at
 * cap - 1. */
size_t wf_dns_dump(const uint8_t *msg, size_t len, char *buf, size_t cap);
