/* addr.h: IP address parsing, canonical text, and global-range classification.
 *
 * Ownership: struct ce_addr is a plain value. A ce_cidr_list is created by
 * ce_cidr_list_parse and freed by ce_cidr_list_destroy (accepts NULL). */
#ifndef CE_ADDR_H
#define CE_ADDR_H

#include <stdbool.h>
#include <stddef.h>

/* Longest canonical text plus NUL ("ffff:...:255.255.255.255" is 45). */
#define CE_ADDR_STRLEN 46

struct ce_addr {
    unsigned char family;    /* 4 or 6 */
    unsigned char bytes[16]; /* IPv4 uses bytes[0..3], the rest zero */
};

/* Parses exactly s[0..len) as an IPv4 dotted quad (four decimal octets 0-255,
 * no leading zeros on multi-digit octets) or an IPv6 address (RFC 4291 text,
 * with optional embedded IPv4 tail and an optional "%zone" suffix, which is
 * dropped). An IPv4-mapped IPv6 address (::ffff:a.b.c.d or ::ffff:xxxx:xxxx)
 * becomes the IPv4 address. Returns true on success. */
bool ce_addr_parse(const char *s, size_t len, struct ce_addr *out);

/* Writes canonical text (dotted quad; RFC 5952 for IPv6: lower case, longest
 * run of two or more zero groups as "::", first on ties) into buf, which has
 * CE_ADDR_STRLEN bytes. Returns the length written (without the NUL). */
size_t ce_addr_format(const struct ce_addr *a, char *buf);

/* True when the address is globally routable unicast: false for private,
 * loopback, link-local, CGNAT, documentation, benchmarking, multicast,
 * reserved, unspecified, broadcast, 6to4, Teredo, ORCHID, discard-only,
 * unique-local, site-local and all other IANA special-purpose non-global
 * ranges (IPv4 and IPv6 special-purpose registries). */
bool ce_addr_is_global(const struct ce_addr *a);

struct ce_cidr_list;

/* Parses a comma-separated list of CIDRs or single addresses
 * ("10.0.0.0/8,2001:db8::/32,203.0.113.7"). Returns NULL and writes a message
 * naming the bad item into err on error. An empty string gives an empty list. */
struct ce_cidr_list *ce_cidr_list_parse(const char *spec, char *err, size_t errlen);
/* Adds the items of another comma-separated spec to an existing list. */
bool ce_cidr_list_add(struct ce_cidr_list *l, const char *spec, char *err, size_t errlen);
bool ce_cidr_list_contains(const struct ce_cidr_list *l, const struct ce_addr *a);
void ce_cidr_list_destroy(struct ce_cidr_list *l);

#endif
