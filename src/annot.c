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
    free(a->kv1);
    free(a->kv1_marks);
    a->kv1_marks = NULL;
    a->kv = a->json = a->kv1 = NULL;
    a->kv_len = a->kv_count = a->json_len = a->kv1_len = 0;
}
