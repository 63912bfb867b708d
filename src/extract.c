/* extract.c: finds address candidates in a log line with one PCRE2 pattern,
 * then lets addr.c decide what they are.
 *
 * The split of work: the pattern only finds well-bounded tokens shaped like
 * an address, and is deliberately loose inside them (any hex/colon run); the
 * strict grammar lives in ce_addr_parse, in one place, where it is unit
 * tested. The boundaries, which are what tells "1.2.3.4" from "1.2.3.4.5" or
 * "nginx/1.25.3.1", are in the pattern because they need to look around the
 * token. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "extract.h"

#include <assert.h>
#include <pcre2.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

struct ce_extractor {
    pcre2_code *re;
    pcre2_match_data *md;
    const struct ce_cidr_list *ignore; /* borrowed, may be NULL */
    bool jit;
};

/* Byte mode (no PCRE2_UTF): lines may hold NUL bytes and invalid UTF-8, and
 * every character the pattern cares about is ASCII, so any other byte is
 * simply a boundary.
 *
 * IPv6 alternative, tried first so that an embedded IPv4 tail stays part of
 * its IPv6 token:
 * - not glued to a word, a dot or a colon ("Foo::Bar", "x.fe80::1"), except
 *   after a "key:" whose key is a word that is not all hex ("addr:2a01::1",
 *   "SRC:2a01::1"): a hex-only word before the colon would be part of the
 *   address itself, and then the whole run is the candidate;
 * - starts with at most four hex digits then a colon, which rejects most
 *   starting positions after a few bytes;
 * - a run of hex digits and colons, optionally an IPv4 tail after a colon
 *   and a %zone;
 * - not followed by a word character, a colon, a '%' or a dot that goes on
 *   ("2a01::1.443" is tcpdump's address.port: not guessed at).
 * Because the run's class is inside the "not followed by" set, a match is
 * always a whole run, never a piece of a longer one.
 *
 * IPv4 alternative: four 1-3 digit numbers, not glued to a word or to a
 * longer dotted run on either side ("1.2.3.4.5", "1.2.3.4567", "v1.2.3.4"),
 * and not right after "word/" or "name-", which is how products and packages
 * give versions ("nginx/1.25.3.1", "Chrome/120.0.0.0", "foo-1.2.3.4"); "//"
 * (URLs) and "digit-" (ranges: "8.8.8.0-8.8.8.255") are fine. */
static const char pattern[] =
    /* IPv6 */
    "(?:(?<![0-9A-Za-z_.:])"
    "|(?<=[G-Zg-z_]:|[G-Zg-z_][0-9A-Fa-f]:|[G-Zg-z_][0-9A-Fa-f]{2}:|[G-Zg-z_][0-9A-Fa-f]{3}:))"
    "(?=[0-9A-Fa-f]{0,4}:)"
    "[0-9A-Fa-f:]{2,39}"
    "(?:(?<=:)[0-9]{1,3}(?:\\.[0-9]{1,3}){3})?"
    "(?:%[0-9A-Za-z._~-]++)?"
    "(?![0-9A-Za-z_:%]|\\.[0-9A-Za-z_])"
    /* IPv4 */
    "|(?<![0-9A-Za-z_])(?<![0-9A-Za-z_]\\.)(?<![0-9A-Za-z_]/)(?<![A-Za-z_]-)"
    "[0-9]{1,3}(?:\\.[0-9]{1,3}){3}"
    "(?![0-9A-Za-z_]|\\.[0-9A-Za-z_])";

struct ce_extractor *ce_extract_create(const struct ce_cidr_list *ignore, char *err, size_t errlen)
{
    struct ce_extractor *x = ce_xcalloc(1, sizeof *x);
    x->ignore = ignore;

    int ecode;
    PCRE2_SIZE eoff;
    x->re = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED, PCRE2_NEVER_UTF, &ecode,
                          &eoff, NULL);
    if (!x->re) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(ecode, msg, sizeof msg);
        if (err && errlen)
            snprintf(err, errlen, "address pattern: %s at offset %zu", (const char *)msg,
                     (size_t)eoff);
        goto fail;
    }

    uint32_t have_jit = 0;
    if (pcre2_config(PCRE2_CONFIG_JIT, &have_jit) >= 0 && have_jit)
        x->jit = pcre2_jit_compile(x->re, PCRE2_JIT_COMPLETE) == 0;
    /* JIT can be built in yet refused at run time (SELinux, no executable
     * memory): then the interpreter does the same job, only slower. */

    /* The pattern has no capturing groups: one pair, for the whole match. */
    x->md = pcre2_match_data_create(1, NULL);
    if (!x->md) {
        if (err && errlen)
            snprintf(err, errlen, "out of memory for match data");
        goto fail;
    }
    return x;

fail:
    ce_extract_destroy(x);
    return NULL;
}

void ce_extract_destroy(struct ce_extractor *x)
{
    if (!x)
        return;
    pcre2_match_data_free(x->md);
    pcre2_code_free(x->re);
    free(x);
}

static bool seen(const struct ce_addr *found, size_t n, const struct ce_addr *a)
{
    for (size_t k = 0; k < n; k++)
        if (found[k].family == a->family && memcmp(found[k].bytes, a->bytes, 16) == 0)
            return true;
    return false;
}

/* A run that ends in a lone colon is usually an address followed by
 * punctuation ("from 2a01:4f8::1: bad key"); "::" at the end is part of the
 * address and stays. */
static bool parse_candidate(const char *s, size_t len, struct ce_addr *a)
{
    if (ce_addr_parse(s, len, a))
        return true;
    if (len > 2 && s[len - 1] == ':' && s[len - 2] != ':')
        return ce_addr_parse(s, len - 1, a);
    return false;
}

size_t ce_extract_line(struct ce_extractor *x, const char *line, size_t len, struct ce_addr *out,
                       size_t max)
{
    if (max == 0 || len == 0)
        return 0;
    /* Most lines of most logs have a '.', but many have no address; those
     * with neither '.' nor ':' cannot have one and skip the matcher. */
    if (!memchr(line, '.', len) && !memchr(line, ':', len))
        return 0;

    size_t n = 0;
    PCRE2_SIZE off = 0;
    const PCRE2_SIZE *ov = pcre2_get_ovector_pointer(x->md);
    while (off < len && n < max) {
        int rc = x->jit ? pcre2_jit_match(x->re, (PCRE2_SPTR)line, len, off, 0, x->md, NULL)
                        : pcre2_match(x->re, (PCRE2_SPTR)line, len, off, 0, x->md, NULL);
        /* No match, or a resource limit: either way this line has given what
         * it can; an address missed is better than a stalled stream. */
        if (rc < 0)
            break;
        size_t start = ov[0], end = ov[1];
        assert(end > start);
        off = end;

        struct ce_addr a;
        if (!parse_candidate(line + start, end - start, &a) || !ce_addr_is_global(&a))
            continue;
        if (ce_cidr_list_contains(x->ignore, &a) || seen(out, n, &a))
            continue;
        out[n++] = a;
    }
    return n;
}
