/* extract.h: finds the public IP addresses in a log line.
 *
 * Ownership: ce_extract_create returns an extractor the caller frees with
 * ce_extract_destroy (accepts NULL). The ignore list is borrowed and must
 * outlive the extractor. An extractor is not thread-safe (it owns PCRE2 match
 * data). */
#ifndef CE_EXTRACT_H
#define CE_EXTRACT_H

#include <stddef.h>

#include "addr.h"

/* At most this many addresses are reported for one line. */
#define CE_EXTRACT_MAX 16

struct ce_extractor;

/* Compiles the patterns (with PCRE2 JIT when available). ignore may be NULL.
 * Returns NULL and a message in err on failure. */
struct ce_extractor *ce_extract_create(const struct ce_cidr_list *ignore, char *err, size_t errlen);
void ce_extract_destroy(struct ce_extractor *x);

/* Finds the global addresses in line[0..len) (no terminator; may contain NUL
 * bytes and invalid UTF-8), validated and normalised, skipping non-global
 * ones and those in the ignore list, deduplicated within the line, in order of
 * first appearance. Writes at most max into out; returns how many. */
size_t ce_extract_line(struct ce_extractor *x, const char *line, size_t len, struct ce_addr *out,
                       size_t max);

#endif
