/* extract.c: finds address candidates in a log line with one PCRE2 pattern,
 * then lets addr.c decide what they are. A byte scan in C picks the few
 * positions where the pattern can match, and PCRE2 is run only there.
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
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

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

/* ---- where a match can start ----
 *
 * PCRE2's own start-of-match optimisation only knows that a match starts
 * with [0-9A-Fa-f:], which is most letters of ordinary text, and the pattern
 * then runs its lookbehinds at each of them. So the search is done here
 * instead: a cheap scan picks the positions where a match can start, and
 * only there is the pattern run, compiled with PCRE2_ANCHORED so that it is
 * tried at that one position (its lookbehinds still see the bytes before
 * it). PCRE2 stays the judge of every match; the scan only leaves out
 * positions where the pattern provably cannot match. Trying the anchored
 * pattern at each position from `from` upwards, in order, and taking the
 * first success is by definition what an unanchored search from `from`
 * finds; leaving out positions where it cannot succeed changes nothing.
 *
 * Why the positions left out cannot start a match. Let p be a start and q
 * the first '.' or ':' at or after p (neither is a hex digit):
 * - IPv6: (?=[0-9A-Fa-f]{0,4}:) needs a ':' at p+k, k <= 4, with s[p..p+k)
 *   hex. That ':' is at or after q, and s[q] is not hex, so p+k = q: s[q] is
 *   ':' and s[p..q) is all hex, q - p <= 4. [0-9A-Fa-f:]{2,39} needs s[p+1]
 *   in [0-9A-Fa-f:]. The lookbehind alternatives need p = 0 or s[p-1] not in
 *   [0-9A-Za-z_.:] (first), or s[p-1] = ':' (second): either way p = 0 or
 *   s[p-1] is neither [0-9A-Za-z_] nor '.' (a superset: PCRE2 checks the
 *   "key:" details).
 * - IPv4: [0-9]{1,3}\. needs a '.' at p+k, 1 <= k <= 3, with s[p..p+k)
 *   digits; as above p+k = q: s[q] is '.', s[p..q) digits, q - p <= 3. Then
 *   (?:\.[0-9]{1,3}){3} needs, from q: '.', 1-3 digits, '.', 1-3 digits,
 *   '.', at least one digit; since a '.' follows the first two digit runs,
 *   they are whole runs of 1-3 digits. The four lookbehinds are checked as
 *   written (they only look at s[p-1] and s[p-2]); the first is that p = 0
 *   or s[p-1] is not [0-9A-Za-z_].
 * So every start p has a '.' or ':' in s[p..p+4]. The scan visits each such
 * byte q in order and looks at the starts in [max(q-4, lo), q], lo being one
 * past the previous q (or `from`): every position from `from` on is looked
 * at once, in order. The starts there that pass the above have s[p..q) all
 * hex (':') or all digits ('.'), at most 4 or 3 of them; walking back from q
 * over such bytes, down to that bound, gives the smallest. Any larger one has
 * a hex digit at s[p-1], which both branches refuse, so only the smallest is
 * checked further, and tried. */

enum {
    C_DIGIT = 1, /* [0-9] */
    C_HEX = 2,   /* [0-9A-Fa-f] */
    C_WORD = 4,  /* [0-9A-Za-z_] */
    C_ALPHA = 8, /* [A-Za-z_] */
    C_PUNCT = 16 /* '.' or ':' */
};

struct ce_extractor {
    pcre2_code *re; /* compiled with PCRE2_ANCHORED */
    pcre2_match_data *md;
    const struct ce_cidr_list *ignore; /* borrowed, may be NULL */
    bool jit;
    unsigned char cls[256];
};

static void init_classes(unsigned char cls[256])
{
    memset(cls, 0, 256);
    for (int c = '0'; c <= '9'; c++)
        cls[c] = C_DIGIT | C_HEX | C_WORD;
    for (int c = 'A'; c <= 'Z'; c++) {
        cls[c] = C_WORD | C_ALPHA | (c <= 'F' ? C_HEX : 0);
        cls[c + ('a' - 'A')] = cls[c];
    }
    cls['_'] = C_WORD | C_ALPHA;
    cls['.'] = C_PUNCT;
    cls[':'] = C_PUNCT;
}

#if defined(__SSE2__) && !defined(CE_EXTRACT_PORTABLE)
#include <emmintrin.h>
#define HAVE_SSE2 1
#endif

/* Bit k set when s[k] is '.' or ':', for k < n <= 64. */
static uint64_t punct_mask(const unsigned char *cls, const unsigned char *s, size_t n)
{
    uint64_t m = 0;
    size_t k = 0;
#ifdef HAVE_SSE2
    const __m128i dot = _mm_set1_epi8('.'), colon = _mm_set1_epi8(':');
    for (; n - k >= 16; k += 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(s + k));
        __m128i hit = _mm_or_si128(_mm_cmpeq_epi8(v, dot), _mm_cmpeq_epi8(v, colon));
        m |= (uint64_t)(unsigned)_mm_movemask_epi8(hit) << k;
    }
#endif
    for (; k < n; k++)
        m |= (uint64_t)((cls[s[k]] & C_PUNCT) != 0) << k;
    return m;
}

static unsigned lowest_bit(uint64_t m)
{
#if defined(__GNUC__) && !defined(CE_EXTRACT_PORTABLE)
    return (unsigned)__builtin_ctzll(m);
#else
    unsigned k = 0;
    while (!(m & 1)) {
        m >>= 1;
        k++;
    }
    return k;
#endif
}

/* p starts the run of hex digits that ends at a ':' (see above). */
static bool v6_can_start(const unsigned char *cls, const unsigned char *s, size_t len, size_t p)
{
    if (p + 1 >= len || !((cls[s[p + 1]] & C_HEX) || s[p + 1] == ':'))
        return false;
    return p == 0 || !((cls[s[p - 1]] & C_WORD) || s[p - 1] == '.');
}

/* s[p..q) is 1-3 digits, s[q] = '.'. */
static bool v4_can_start(const unsigned char *cls, const unsigned char *s, size_t len, size_t p,
                         size_t q)
{
    if (p > 0) {
        unsigned char b = s[p - 1];
        if (cls[b] & C_WORD)
            return false; /* (?<![0-9A-Za-z_]) */
        if (p > 1) {
            unsigned char a = s[p - 2];
            if ((b == '.' || b == '/') && (cls[a] & C_WORD))
                return false; /* (?<![0-9A-Za-z_]\.)(?<![0-9A-Za-z_]/) */
            if (b == '-' && (cls[a] & C_ALPHA))
                return false; /* (?<![A-Za-z_]-) */
        }
    }
    size_t i = q;
    for (int g = 0; g < 3; g++) {
        if (i >= len || s[i] != '.')
            return false;
        size_t st = ++i;
        while (i < len && i - st < 3 && (cls[s[i]] & C_DIGIT))
            i++;
        if (i == st)
            return false;
    }
    return true;
}

enum { M_NONE, M_FOUND, M_STOP };

/* The anchored pattern at p. */
static int try_at(struct ce_extractor *x, const unsigned char *s, size_t len, size_t p)
{
    int rc = x->jit ? pcre2_jit_match(x->re, s, len, p, 0, x->md, NULL)
                    : pcre2_match(x->re, s, len, p, 0, x->md, NULL);
    if (rc == PCRE2_ERROR_NOMATCH)
        return M_NONE;
    /* Any other error (a resource limit) ends the line, as it did before. */
    return rc < 0 ? M_STOP : M_FOUND;
}

/* The leftmost match starting at or after `from`, as an unanchored search
 * from `from` finds it: M_FOUND with the match in the ovector, or M_NONE or
 * M_STOP. */
static int next_match(struct ce_extractor *x, const unsigned char *s, size_t len, size_t from)
{
    const unsigned char *cls = x->cls;
    size_t lo = from; /* no start in [from, lo) is left to try */
    for (size_t blk = from; blk < len; blk += 64) {
        uint64_t m = punct_mask(cls, s + blk, len - blk < 64 ? len - blk : 64);
        for (; m; m &= m - 1) {
            size_t q = blk + lowest_bit(m);
            size_t first = q - lo > 4 ? q - 4 : lo; /* the starts to look at: [first, q] */
            size_t p = q;
            if (s[q] == ':') {
                while (p > first && (cls[s[p - 1]] & C_HEX))
                    p--;
                if (v6_can_start(cls, s, len, p)) {
                    int r = try_at(x, s, len, p);
                    if (r != M_NONE)
                        return r;
                }
            } else {
                while (p > first && q - p < 3 && (cls[s[p - 1]] & C_DIGIT))
                    p--;
                if (p < q && v4_can_start(cls, s, len, p, q)) {
                    int r = try_at(x, s, len, p);
                    if (r != M_NONE)
                        return r;
                }
            }
            lo = q + 1;
        }
    }
    return M_NONE;
}

struct ce_extractor *ce_extract_create(const struct ce_cidr_list *ignore, char *err, size_t errlen)
{
    struct ce_extractor *x = ce_xcalloc(1, sizeof *x);
    x->ignore = ignore;
    init_classes(x->cls);

    int ecode;
    PCRE2_SIZE eoff;
    x->re = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED,
                          PCRE2_NEVER_UTF | PCRE2_ANCHORED, &ecode, &eoff, NULL);
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
     * memory): then the interpreter does the same job, only slower. The
     * anchoring is compiled in because pcre2_jit_match refuses
     * PCRE2_ANCHORED at match time. */

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

/* True when the address ending at `end` is a network in CIDR notation
 * ("192.0.2.0/24", "2001:db8::/32"): a range, not a host, and the API has no
 * range lookup, so asking for its first address would spend a token on the
 * wrong question. A '/' then 1 to 3 digits, not followed by more of a path
 * or a number ("/24", not "/240x" or "/24/"). */
static bool is_prefix_length(const unsigned char *s, size_t len, size_t end)
{
    if (end >= len || s[end] != '/')
        return false;
    size_t i = end + 1, digits = 0;
    while (i < len && s[i] >= '0' && s[i] <= '9' && digits < 4) {
        i++;
        digits++;
    }
    if (digits == 0 || digits > 3)
        return false;
    if (i == len)
        return true;
    unsigned char c = s[i];
    if (c == '.') /* "/16." ends a sentence; "/16.5" goes on */
        return i + 1 == len || s[i + 1] < '0' || s[i + 1] > '9';
    return !((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
             c == '_' || c == '/' || c == '-');
}

size_t ce_extract_line(struct ce_extractor *x, const char *line, size_t len, struct ce_addr *out,
                       size_t max)
{
    if (max == 0 || len == 0)
        return 0;
    /* A line with neither '.' nor ':' cannot hold an address: next_match
     * finds that in one pass of punct_mask. */
    const unsigned char *s = (const unsigned char *)line;
    size_t n = 0;
    size_t off = 0;
    const PCRE2_SIZE *ov = pcre2_get_ovector_pointer(x->md);
    while (off < len && n < max) {
        /* Candidates that fail validation are skipped whole: the next search
         * starts at the end of this match, whatever became of it. */
        if (next_match(x, s, len, off) != M_FOUND)
            break;
        size_t start = ov[0], end = ov[1];
        assert(end > start);
        off = end;

        struct ce_addr a;
        if (is_prefix_length(s, len, end))
            continue;
        if (!parse_candidate(line + start, end - start, &a) || !ce_addr_is_global(&a))
            continue;
        if (ce_cidr_list_contains(x->ignore, &a) || seen(out, n, &a))
            continue;
        out[n++] = a;
    }
    return n;
}
