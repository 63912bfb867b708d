#include "annot.h"

#include <stdlib.h>

const char *ce_lookup_name(enum ce_lookup s)
{
    switch (s) {
    case CE_LK_OK:
        return "ok";
    case CE_LK_NOT_FOUND:
        return "not_found";
    case CE_LK_QUOTA:
        return "quota";
    case CE_LK_OFFLINE:
        return "offline";
    case CE_LK_ERROR:
        return "error";
    case CE_LK_PENDING:
        break;
    }
    return "pending";
}

void ce_annot_clear(struct ce_annot *a)
{
    if (!a)
        return;
    free(a->kv);
    free(a->json);
    a->kv = a->json = NULL;
    a->kv_len = a->kv_count = a->json_len = 0;
}
