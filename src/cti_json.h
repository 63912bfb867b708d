/* cti_json.h: the CTI answer (smoke object) parsed from JSON, and rendered.
 *
 * Ownership: ce_cti_parse returns a struct the caller frees with ce_cti_free
 * (accepts NULL); every string and the JSON tree it exposes belong to it. */
#ifndef CE_CTI_JSON_H
#define CE_CTI_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util.h"

struct ce_cti;
struct json_object;

/* Parses one CTI object from body[0..len). Pure: no I/O, no globals.
 * Tolerates null for every scalar, missing keys and unknown keys. Fails only
 * when the body is not a JSON object (HTML, truncated JSON, an array, ...):
 * returns NULL and writes the reason into err. */
struct ce_cti *ce_cti_parse(const char *body, size_t len, char *err, size_t errlen);
/* Same from an already parsed object (used for /fire pages and batch items);
 * takes a reference of its own. */
struct ce_cti *ce_cti_from_object(struct json_object *obj);
void ce_cti_free(struct ce_cti *c);

/* The "ip" member, or NULL when missing or not a string. */
const char *ce_cti_ip(const struct ce_cti *c);
/* The "reputation" member, or NULL. */
const char *ce_cti_reputation(const struct ce_cti *c);
/* The parsed tree (borrowed). */
struct json_object *ce_cti_object(const struct ce_cti *c);

/* Field selection for kv output: a bit per field of the field table. */
uint64_t ce_fields_default(void);
uint64_t ce_fields_all(void);
/* Parses "default", "all" or a comma-separated list of field names (with or
 * without the "crowdsec_" prefix); "default,city" adds to the default set.
 * Returns false with a message naming the unknown field in err. */
bool ce_fields_parse(const char *spec, uint64_t *mask, char *err, size_t errlen);
/* The name of field number i (0-based), or NULL past the last one. */
const char *ce_fields_name(unsigned i);

/* Appends the kv pairs of the fields in mask that are present and not null,
 * as "name\0value\0" (see struct ce_annot), values quoted for kv output;
 * adds the number of pairs to *count. */
void ce_cti_render_kv(const struct ce_cti *c, uint64_t mask, struct ce_buf *out, size_t *count);
/* Appends the JSON element {"ip": ip, "status": status, <every member of the
 * answer but "ip", with the API's names and nesting>}. */
void ce_cti_render_json(const struct ce_cti *c, const char *ip, const char *status,
                        struct ce_buf *out);

#endif
