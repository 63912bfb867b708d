/* import.h: reads CTI answers from a file: a stream of JSON values, each a
 * CTI object, a page with "items" (a /fire page or a batch answer), or a
 * cache export record {"ip","status","fetched_at","data"}. Values may span
 * lines (pretty-printed pages) or be one per line.
 *
 * Ownership: the callback's object is borrowed for the call. */
#ifndef CE_IMPORT_H
#define CE_IMPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct json_object;

/* One answer: found (obj is the CTI object) or not found (obj NULL).
 * fetched_at is the record's time (Unix seconds), or 0 when it has none.
 * Return false to stop. */
typedef bool (*ce_import_fn)(void *ud, const char *ip, bool found, struct json_object *obj,
                             int64_t fetched_at);

/* Returns the number of answers delivered, or -1 after writing a message
 * (file name, and the offset of the bad value) into err. */
long ce_import_file(const char *path, ce_import_fn fn, void *ud, char *err, size_t errlen);

#endif
