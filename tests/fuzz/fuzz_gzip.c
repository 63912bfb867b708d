/* fuzz_gzip.c: any bytes through ce_input as a file. Two buffer sizes must give
 * the same content and the same outcome, whatever the damage. */
#include "input.h"
#include "util.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Bounds the work a small input that inflates hugely can cause. */
#define MAX_OUT (4 * 1024 * 1024)
#define MAX_OUT_SMALL (256 * 1024)

static char path[] = "/tmp/fuzz_gzip.XXXXXX";
static int fd = -1;

static void remove_file(void)
{
    unlink(path);
}

/* Returns the outcome (0 end, -1 error, 1 stopped at limit), the content in
 * out. */
static int drain(size_t cap, size_t limit, struct ce_buf *out, char *err, size_t errlen)
{
    struct ce_input *in = ce_input_open(path, err, errlen);
    if (!in)
        abort(); /* the file exists: opening cannot fail */
    char *buf = ce_xmalloc(cap);
    int rc = 1;
    err[0] = '\0';
    while (out->len < limit) {
        ssize_t r = ce_input_read(in, buf, cap);
        if (r <= 0) {
            rc = r == 0 ? 0 : -1;
            if (r < 0 && !strstr(ce_input_error(in), path))
                abort(); /* every error names the file */
            snprintf(err, errlen, "%s", ce_input_error(in));
            break;
        }
        if ((size_t)r > cap)
            abort();
        ce_buf_add(out, buf, (size_t)r);
    }
    free(buf);
    ce_input_close(in);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (fd < 0) {
        fd = mkstemp(path);
        if (fd < 0)
            abort();
        atexit(remove_file);
    }
    if (ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
        abort();

    struct ce_buf big = {0}, small = {0};
    char err_big[1100], err_small[1100];
    int rc_big = drain(65536, MAX_OUT, &big, err_big, sizeof err_big);
    int rc_small = drain(3, MAX_OUT_SMALL, &small, err_small, sizeof err_small);
    size_t common = big.len < small.len ? big.len : small.len;
    if (common && memcmp(big.data, small.data, common) != 0)
        abort();
    if (rc_big != 1 && rc_small != 1 &&
        (rc_big != rc_small || big.len != small.len || strcmp(err_big, err_small) != 0))
        abort();
    ce_buf_free(&big);
    ce_buf_free(&small);
    return 0;
}
