/* addr.c: strict IP address text parsing, RFC 5952 formatting, the IANA
 * special-purpose ranges, and CIDR lists.
 *
 * Parsing is strict on purpose: the extractor feeds it whatever the regex
 * found in free text, and anything ambiguous (octal-looking octets, a zone on
 * an IPv4 address, a single ':' at either end) must be refused rather than
 * guessed at. */
#include "addr.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

/* An IPv4 address as one number, first octet in the high bits. */
#define V4(a, b, c, d)                                                                             \
    ((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 | (uint32_t)(d))

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* RFC 6874 allows any unreserved character in a zone ID; that is also what
 * interface names use in practice. */
static bool is_zone_char(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '.' ||
           c == '_' || c == '~' || c == '-';
}

/* Four decimal octets, as one number (first octet in the high bits). A
 * leading zero is refused because inet_aton() and many tools read "010" as
 * octal 8: the same text would mean two addresses. */
static bool parse_v4(const char *s, size_t len, uint32_t *out)
{
    size_t i = 0;
    uint32_t r = 0;
    for (int part = 0; part < 4; part++) {
        if (part > 0) {
            if (i >= len || s[i] != '.')
                return false;
            i++;
        }
        size_t start = i;
        unsigned v = 0;
        while (i < len && is_digit(s[i]) && i - start < 3) {
            v = v * 10 + (unsigned)(s[i] - '0');
            i++;
        }
        size_t ndig = i - start;
        if (ndig == 0 || v > 255 || (ndig > 1 && s[start] == '0'))
            return false;
        r = r << 8 | v;
    }
    *out = r;
    return i == len;
}

static bool parse_v6(const char *s, size_t len, unsigned char out[16])
{
    const char *pct = memchr(s, '%', len);
    if (pct) {
        size_t zlen = len - (size_t)(pct - s) - 1;
        if (zlen == 0)
            return false;
        for (size_t k = 0; k < zlen; k++)
            if (!is_zone_char(pct[1 + k]))
                return false;
        len = (size_t)(pct - s);
    }
    if (len < 2)
        return false;

    uint16_t groups[8];
    int ng = 0;
    int gap = -1; /* index in groups where "::" stands, or -1 */
    size_t i = 0;
    if (s[0] == ':') {
        if (s[1] != ':')
            return false;
        gap = 0;
        i = 2;
    }
    while (i < len) {
        if (ng == 8)
            return false;
        size_t start = i;
        while (i < len && hexval(s[i]) >= 0)
            i++;
        if (i < len && s[i] == '.') {
            /* An embedded IPv4 tail is always the last 32 bits. */
            uint32_t v4;
            if (ng > 6 || !parse_v4(s + start, len - start, &v4))
                return false;
            groups[ng++] = (uint16_t)(v4 >> 16);
            groups[ng++] = (uint16_t)(v4 & 0xffff);
            i = len;
            break;
        }
        size_t ndig = i - start;
        if (ndig == 0 || ndig > 4)
            return false;
        unsigned v = 0;
        for (size_t k = start; k < i; k++)
            v = v * 16 + (unsigned)hexval(s[k]);
        groups[ng++] = (uint16_t)v;
        if (i == len)
            break;
        if (s[i] != ':')
            return false;
        i++;
        if (i < len && s[i] == ':') {
            if (gap >= 0)
                return false;
            gap = ng;
            i++;
        } else if (i == len) {
            return false; /* a single trailing ':' */
        }
    }

    if (gap < 0 ? ng != 8 : ng > 7)
        return false;
    memset(out, 0, 16);
    int tail = gap < 0 ? 0 : ng - gap; /* groups after "::" go to the end */
    int head = ng - tail;
    for (int k = 0; k < head; k++) {
        out[2 * k] = (unsigned char)(groups[k] >> 8);
        out[2 * k + 1] = (unsigned char)(groups[k] & 0xff);
    }
    for (int k = 0; k < tail; k++) {
        int dst = 8 - tail + k;
        out[2 * dst] = (unsigned char)(groups[head + k] >> 8);
        out[2 * dst + 1] = (unsigned char)(groups[head + k] & 0xff);
    }
    return true;
}

static const unsigned char v4mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

/* Written field by field, not built in a local and copied: a copy right
 * after byte-wise writes stalls on store forwarding, and this runs for every
 * address found. */
static void set_v4(struct ce_addr *out, uint32_t v)
{
    memset(out, 0, sizeof *out);
    out->family = 4;
    out->bytes[0] = (unsigned char)(v >> 24);
    out->bytes[1] = (unsigned char)(v >> 16);
    out->bytes[2] = (unsigned char)(v >> 8);
    out->bytes[3] = (unsigned char)v;
}

bool ce_addr_parse(const char *s, size_t len, struct ce_addr *out)
{
    if (!s || len == 0)
        return false;
    /* A loop rather than memchr: candidates are short, a call costs more. */
    bool colon = false;
    for (size_t k = 0; k < len && !colon; k++)
        colon = s[k] == ':';
    if (!colon) {
        uint32_t v;
        if (!parse_v4(s, len, &v))
            return false;
        set_v4(out, v);
        return true;
    }
    struct ce_addr a;
    memset(&a, 0, sizeof a);
    if (!parse_v6(s, len, a.bytes))
        return false;
    a.family = 6;
    /* A mapped address is an IPv4 host seen through a dual-stack socket: it
     * is the same host as the dotted quad, so it gets the same key. */
    if (memcmp(a.bytes, v4mapped_prefix, 12) == 0) {
        set_v4(out, V4(a.bytes[12], a.bytes[13], a.bytes[14], a.bytes[15]));
        return true;
    }
    *out = a;
    return true;
}

size_t ce_addr_format(const struct ce_addr *a, char *buf)
{
    if (a->family == 4) {
        int n = snprintf(buf, CE_ADDR_STRLEN, "%u.%u.%u.%u", a->bytes[0], a->bytes[1], a->bytes[2],
                         a->bytes[3]);
        return n > 0 ? (size_t)n : 0;
    }

    unsigned g[8];
    for (int k = 0; k < 8; k++)
        g[k] = (unsigned)(a->bytes[2 * k] << 8 | a->bytes[2 * k + 1]);
    /* RFC 5952 4.2: the longest run of two or more zero groups, first wins. */
    int best = -1, bestlen = 1;
    for (int k = 0; k < 8;) {
        if (g[k] != 0) {
            k++;
            continue;
        }
        int start = k;
        while (k < 8 && g[k] == 0)
            k++;
        if (k - start > bestlen) {
            best = start;
            bestlen = k - start;
        }
    }

    static const char hex[] = "0123456789abcdef";
    size_t n = 0;
    for (int k = 0; k < 8; k++) {
        if (k == best) {
            buf[n++] = ':';
            buf[n++] = ':';
            k += bestlen - 1;
            continue;
        }
        if (k > 0 && k != best + bestlen)
            buf[n++] = ':';
        bool started = false;
        for (int shift = 12; shift >= 0; shift -= 4) {
            unsigned d = (g[k] >> shift) & 0xf;
            if (d || started || shift == 0) {
                buf[n++] = hex[d];
                started = true;
            }
        }
    }
    buf[n] = '\0';
    return n;
}

/* ---- special-purpose ranges ---- */

struct range {
    unsigned char bytes[16];
    unsigned char plen;
};

static bool in_prefix(const unsigned char *addr, const unsigned char *net, unsigned plen)
{
    unsigned full = plen / 8, rest = plen % 8;
    /* Bytes one by one rather than memcmp: the first one usually differs,
     * and this runs for every address found. */
    for (unsigned k = 0; k < full; k++)
        if (addr[k] != net[k])
            return false;
    if (rest == 0)
        return true;
    unsigned char mask = (unsigned char)(0xff << (8 - rest));
    return (addr[full] & mask) == (net[full] & mask);
}

/* IPv4 ranges as numbers, so that a test is an xor and a mask. */
struct range4 {
    uint32_t net;
    unsigned char plen;
};

/* IANA IPv4 Special-Purpose Address Registry, plus multicast and the old
 * class E. Entries the registry marks "globally reachable" inside a listed
 * block (192.0.0.9, 192.0.0.10) are still refused: nobody's threat feed is
 * about them. */
static const struct range4 v4_special[] = {
    {V4(0, 0, 0, 0), 8},       /* "this network" */
    {V4(10, 0, 0, 0), 8},      /* private */
    {V4(100, 64, 0, 0), 10},   /* CGNAT shared space */
    {V4(127, 0, 0, 0), 8},     /* loopback */
    {V4(169, 254, 0, 0), 16},  /* link-local */
    {V4(172, 16, 0, 0), 12},   /* private */
    {V4(192, 0, 0, 0), 24},    /* IETF protocol assignments */
    {V4(192, 0, 2, 0), 24},    /* TEST-NET-1 */
    {V4(192, 88, 99, 0), 24},  /* 6to4 relay anycast (deprecated) */
    {V4(192, 168, 0, 0), 16},  /* private */
    {V4(198, 18, 0, 0), 15},   /* benchmarking */
    {V4(198, 51, 100, 0), 24}, /* TEST-NET-2 */
    {V4(203, 0, 113, 0), 24},  /* TEST-NET-3 */
    {V4(224, 0, 0, 0), 4},     /* multicast */
    {V4(240, 0, 0, 0), 4},     /* reserved, and 255.255.255.255 broadcast */
};

/* IANA IPv6 Special-Purpose Address Registry. Everything outside 2000::/3 is
 * refused beforehand anyway; the entries below 2000::/3 are listed so that the
 * table reads like the registry. */
static const struct range v6_special[] = {
    {{0}, 96},                                        /* ::, ::1, IPv4-compatible */
    {{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff}, 96}, /* IPv4-mapped */
    {{0, 0x64, 0xff, 0x9b}, 96},                      /* NAT64 well-known */
    {{0, 0x64, 0xff, 0x9b, 0, 1}, 48},                /* NAT64 local-use */
    {{0x01, 0x00}, 64},                               /* discard-only */
    {{0x20, 0x01}, 23},                               /* IETF: Teredo, ORCHID, ... */
    {{0x20, 0x01, 0x0d, 0xb8}, 32},                   /* documentation */
    {{0x20, 0x02}, 16},                               /* 6to4 */
    {{0x3f, 0xff}, 20},                               /* documentation */
    {{0x5f, 0x00}, 16},                               /* segment routing SIDs */
    {{0xfc}, 7},                                      /* unique-local */
    {{0xfe, 0x80}, 10},                               /* link-local */
    {{0xfe, 0xc0}, 10},                               /* site-local (deprecated) */
    {{0xff}, 8},                                      /* multicast */
};

bool ce_addr_is_global(const struct ce_addr *a)
{
    if (a->family == 4) {
        uint32_t v = V4(a->bytes[0], a->bytes[1], a->bytes[2], a->bytes[3]);
        for (size_t k = 0; k < sizeof v4_special / sizeof v4_special[0]; k++) {
            unsigned plen = v4_special[k].plen;
            uint32_t mask = plen ? 0xffffffffu << (32 - plen) : 0;
            if (((v ^ v4_special[k].net) & mask) == 0)
                return false;
        }
        return true;
    }
    if (a->family != 6)
        return false;
    /* Only 2000::/3 is allocated as global unicast (checked first: it is
     * the cheapest test and refuses most of what is refused). */
    if ((a->bytes[0] & 0xe0) != 0x20)
        return false;
    for (size_t k = 0; k < sizeof v6_special / sizeof v6_special[0]; k++)
        if (in_prefix(a->bytes, v6_special[k].bytes, v6_special[k].plen))
            return false;
    return true;
}

/* ---- CIDR lists ---- */

struct cidr {
    struct ce_addr net; /* host bits cleared */
    unsigned plen;
};

struct ce_cidr_list {
    struct cidr *v;
    size_t n, cap;
};

static void set_err(char *err, size_t errlen, const char *what, const char *item, size_t len)
{
    if (err && errlen)
        snprintf(err, errlen, "%s: '%.*s'", what, (int)(len > 80 ? 80 : len), item);
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t';
}

static bool parse_item(const char *s, size_t len, struct cidr *out, char *err, size_t errlen)
{
    const char *slash = memchr(s, '/', len);
    size_t alen = slash ? (size_t)(slash - s) : len;
    struct ce_addr a;
    if (!ce_addr_parse(s, alen, &a)) {
        set_err(err, errlen, "not an IP address or CIDR", s, len);
        return false;
    }
    unsigned max = a.family == 4 ? 32 : 128;
    unsigned plen = max;
    if (slash) {
        const char *p = slash + 1;
        size_t plen_len = len - alen - 1;
        /* Decimal, no sign, no leading zero: "/08" is as suspicious as 010. */
        if (plen_len == 0 || plen_len > 3 || (plen_len > 1 && p[0] == '0')) {
            set_err(err, errlen, "bad prefix length", s, len);
            return false;
        }
        plen = 0;
        for (size_t k = 0; k < plen_len; k++) {
            if (!is_digit(p[k])) {
                set_err(err, errlen, "bad prefix length", s, len);
                return false;
            }
            plen = plen * 10 + (unsigned)(p[k] - '0');
        }
        /* ::ffff:a.b.c.d/N was turned into IPv4 by the parser, so its prefix
         * counts from bit 96; a shorter one would also cover non-mapped v6. */
        bool mapped = a.family == 4 && memchr(s, ':', alen) != NULL;
        if (mapped) {
            if (plen < 96 || plen > 128) {
                set_err(err, errlen, "prefix length out of range for an IPv4-mapped address", s,
                        len);
                return false;
            }
            plen -= 96;
        } else if (plen > max) {
            set_err(err, errlen, "prefix length out of range", s, len);
            return false;
        }
    }
    for (unsigned bit = plen; bit < 128; bit++)
        a.bytes[bit / 8] &= (unsigned char)~(0x80u >> (bit % 8));
    out->net = a;
    out->plen = plen;
    return true;
}

bool ce_cidr_list_add(struct ce_cidr_list *l, const char *spec, char *err, size_t errlen)
{
    size_t old_n = l->n;
    const char *p = spec ? spec : "";
    /* Only whitespace: an empty list, as for an unset option. */
    const char *q = p;
    while (is_space(*q))
        q++;
    if (*q == '\0')
        return true;

    for (;;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        const char *item = p;
        while (len && is_space(*item)) {
            item++;
            len--;
        }
        while (len && is_space(item[len - 1]))
            len--;
        /* An empty item is likely a typo ("10.0.0.0/8,,"); say so rather than
         * silently ignore fewer addresses than intended. */
        if (len == 0) {
            if (err && errlen)
                snprintf(err, errlen, "empty item in address list");
            goto fail;
        }
        struct cidr c;
        if (!parse_item(item, len, &c, err, errlen))
            goto fail;
        if (l->n == l->cap) {
            l->cap = l->cap ? l->cap * 2 : 8;
            l->v = ce_xrealloc(l->v, l->cap * sizeof *l->v);
        }
        l->v[l->n++] = c;
        if (!end)
            break;
        p = end + 1;
    }
    return true;

fail:
    /* All or nothing, so that a caller that reports the error and goes on
     * does not keep half of a bad spec. */
    l->n = old_n;
    return false;
}

struct ce_cidr_list *ce_cidr_list_parse(const char *spec, char *err, size_t errlen)
{
    struct ce_cidr_list *l = ce_xcalloc(1, sizeof *l);
    if (!ce_cidr_list_add(l, spec, err, errlen)) {
        ce_cidr_list_destroy(l);
        return NULL;
    }
    return l;
}

bool ce_cidr_list_contains(const struct ce_cidr_list *l, const struct ce_addr *a)
{
    if (!l)
        return false;
    for (size_t k = 0; k < l->n; k++) {
        const struct cidr *c = &l->v[k];
        if (c->net.family == a->family && in_prefix(a->bytes, c->net.bytes, c->plen))
            return true;
    }
    return false;
}

void ce_cidr_list_destroy(struct ce_cidr_list *l)
{
    if (!l)
        return;
    free(l->v);
    free(l);
}
