/* format.h: writes output lines in kv or json format.
 *
 * Ownership: all functions append to a caller-owned struct ce_buf; the
 * annotations are borrowed. */
#ifndef CE_FORMAT_H
#define CE_FORMAT_H

#include <stddef.h>

#include "annot.h"
#include "util.h"

enum ce_format { CE_FMT_KV, CE_FMT_JSON };

/* Appends s[0..len) as a kv value: bare when it has no space, quote, '=',
 * backslash or control byte and is not empty; otherwise double-quoted with
 * \" and \\ escapes and control bytes as \n \r \t or \xHH. */
void ce_kv_value(struct ce_buf *out, const char *s, size_t len);
/* Appends s[0..len) as a quoted JSON string, always valid UTF-8: invalid
 * bytes become U+FFFD, control bytes are escaped. */
void ce_json_string(struct ce_buf *out, const char *s, size_t len);

/* Fills a's kv/json for a status without CTI data (not_found, quota, offline,
 * error); a->ip must be set. not_found carries reputation "unknown". */
void ce_annot_render_simple(struct ce_annot *a, enum ce_lookup status, enum ce_format fmt);

/* Renders a->kv1 from ip, status and the kv pairs; call once the annotation
 * is final (ce_annot_render_simple does it itself). */
void ce_annot_finish_kv(struct ce_annot *a);

/* Appends one output line. line[0..len) is the line without its terminator,
 * term[0..term_len) the terminator ("\n", "\r\n" or "" for a last line
 * without one); annots are the line's n resolved annotations, in order.
 * kv: the line, then for the i-th annotation (1-based) " crowdsec_ip<sfx>=..
 * crowdsec_status<sfx>=.. crowdsec_<name><sfx>=<value>..." where sfx is ""
 * for i == 1 and "_i" otherwise, then the terminator. n == 0 copies the line.
 * json: a line that is a JSON object keeps its bytes and gains
 * "crowdsec":[...]; any other line becomes {"message":"<line>","crowdsec":[...]};
 * then the terminator ("\n" when the line had none). */
void ce_format_line(struct ce_buf *out, enum ce_format fmt, const char *line, size_t len,
                    const char *term, size_t term_len, const struct ce_annot *const *annots,
                    size_t n);

#endif
