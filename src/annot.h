/* annot.h: the outcome of one IP's lookup, rendered once for the chosen
 * output format and shared by every line that holds that IP.
 *
 * Ownership: a struct ce_annot owns kv and json (free with ce_annot_clear). */
#ifndef CE_ANNOT_H
#define CE_ANNOT_H

#include <stddef.h>
#include <stdint.h>

#include "addr.h"

enum ce_lookup {
    CE_LK_PENDING = 0, /* lookup not finished yet */
    CE_LK_OK,          /* CrowdSec answered with data */
    CE_LK_NOT_FOUND,   /* 404: CrowdSec knows nothing of this IP */
    CE_LK_QUOTA,       /* not looked up: budget spent or Limit Exceeded */
    CE_LK_OFFLINE,     /* not looked up: offline and not cached */
    CE_LK_ERROR,       /* the lookup failed */
};

/* "ok", "not_found", "quota", "offline", "error" ("pending" for PENDING). */
const char *ce_lookup_name(enum ce_lookup s);

struct ce_annot {
    char ip[CE_ADDR_STRLEN]; /* canonical text of the address looked up */
    enum ce_lookup status;
    /* kv output: kv_count pairs stored back to back as "name\0value\0", the
     * name without the "crowdsec_" prefix and without a suffix, the value
     * already quoted for kv output. crowdsec_ip and crowdsec_status are not in
     * it: the formatter writes them from ip and status. */
    char *kv;
    size_t kv_len;
    size_t kv_count;
    /* json output: the text of this IP's element of the "crowdsec" array,
     * {"ip": ..., "status": ..., <CTI members>}. */
    char *json;
    size_t json_len;
    /* kv output of this IP as the first (unsuffixed) one on a line, rendered
     * once by ce_annot_finish_kv, which then drops the pairs: the common
     * case costs one copy. kv1_marks[0..kv_count+2) are the offsets in kv1
     * just after each key name, where an "_n" suffix goes for the n-th IP. */
    char *kv1;
    size_t kv1_len;
    uint32_t *kv1_marks;
};

void ce_annot_clear(struct ce_annot *a);

#endif
