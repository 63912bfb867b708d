/* fuzz_extract.c: the extractor over arbitrary bytes, and address text round
 * trips. Whatever the input, every address reported must be global, outside
 * the ignore list, unique, and survive format -> parse -> format unchanged. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "extract.h"

static bool same(const struct ce_addr *a, const struct ce_addr *b)
{
    return a->family == b->family && memcmp(a->bytes, b->bytes, 16) == 0;
}

/* parse(format(a)) must be a, and its text must be a fixed point. */
static void round_trip(const struct ce_addr *a)
{
    char t1[CE_ADDR_STRLEN], t2[CE_ADDR_STRLEN];
    size_t n1 = ce_addr_format(a, t1);
    struct ce_addr b;
    if (n1 == 0 || n1 >= CE_ADDR_STRLEN || strlen(t1) != n1 || !ce_addr_parse(t1, n1, &b) ||
        !same(a, &b))
        abort();
    size_t n2 = ce_addr_format(&b, t2);
    if (n1 != n2 || memcmp(t1, t2, n1) != 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct ce_cidr_list *ignore;
    static struct ce_extractor *x;
    if (!x) {
        char err[200];
        ignore = ce_cidr_list_parse("9.9.9.0/24,2606:4700::/32", err, sizeof err);
        x = ce_extract_create(ignore, err, sizeof err);
        if (!ignore || !x)
            abort();
    }
    const char *s = (const char *)data;

    struct ce_addr out[CE_EXTRACT_MAX];
    size_t n = ce_extract_line(x, s, size, out, CE_EXTRACT_MAX);
    if (n > CE_EXTRACT_MAX)
        abort();
    for (size_t i = 0; i < n; i++) {
        if (!ce_addr_is_global(&out[i]) || ce_cidr_list_contains(ignore, &out[i]))
            abort();
        for (size_t j = 0; j < i; j++)
            if (same(&out[i], &out[j]))
                abort();
        round_trip(&out[i]);
    }

    /* The whole input as one address. */
    struct ce_addr a;
    if (ce_addr_parse(s, size, &a)) {
        if (a.family != 4 && a.family != 6)
            abort();
        round_trip(&a);
    }

    /* And as a CIDR list, when it is a C string of reasonable size. */
    if (size < 4096 && !memchr(data, '\0', size)) {
        char spec[4096];
        memcpy(spec, data, size);
        spec[size] = '\0';
        char err[128];
        struct ce_cidr_list *l = ce_cidr_list_parse(spec, err, sizeof err);
        if (l && n > 0)
            (void)ce_cidr_list_contains(l, &out[0]);
        ce_cidr_list_destroy(l);
    }
    return 0;
}
