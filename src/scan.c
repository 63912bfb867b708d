#include "scan.h"

#include <stdlib.h>
#include <string.h>

#include "input.h"
#include "log.h"
#include "pipeline.h"
#include "util.h"

#define CHUNK (256 * 1024)

static void scan_one(struct ce_input *in, size_t max_line, ce_scan_fn fn, void *ud,
                     bool report_errors, struct ce_scan_result *res)
{
    size_t cap = max_line + 2 + CHUNK;
    char *buf = ce_xmalloc(cap);
    size_t start = 0, end = 0;
    bool skipping = false; /* inside an over-long line */
    for (;;) {
        if (start > 0) {
            memmove(buf, buf + start, end - start);
            end -= start;
            start = 0;
        }
        if (ce_pipeline_stop_requested())
            break;
        ssize_t n = ce_input_read(in, buf + end, cap - end);
        if (n < 0) {
            if (report_errors)
                ce_err("%s", ce_input_error(in));
            res->input_failed = true;
        }
        if (n <= 0)
            break;
        end += (size_t)n;
        for (;;) {
            char *p = buf + start;
            char *nl = memchr(p, '\n', end - start);
            if (!nl) {
                if (end - start > max_line + 1) {
                    /* Too long to be a line we annotate: drop until '\n'. */
                    if (!skipping)
                        res->lines++;
                    skipping = true;
                    start = end;
                }
                break;
            }
            size_t len = (size_t)(nl - p);
            if (!skipping) {
                res->lines++;
                if (len && p[len - 1] == '\r')
                    len--;
                if (len <= max_line)
                    fn(ud, p, len);
            }
            skipping = false;
            start += (size_t)(nl - p) + 1;
        }
    }
    if (end > start && !skipping) {
        res->lines++;
        if (end - start <= max_line)
            fn(ud, buf + start, end - start);
    }
    free(buf);
}

void ce_scan_files(char *const *files, size_t nfiles, size_t max_line, ce_scan_fn fn, void *ud,
                   bool report_errors, struct ce_scan_result *res)
{
    static char *const stdin_only[] = {"-"};
    memset(res, 0, sizeof *res);
    if (nfiles == 0) {
        files = stdin_only;
        nfiles = 1;
    }
    for (size_t i = 0; i < nfiles; i++) {
        char err[512];
        struct ce_input *in = ce_input_open(files[i], err, sizeof err);
        if (!in) {
            if (report_errors)
                ce_err("%s", err);
            res->input_failed = true;
            continue;
        }
        scan_one(in, max_line, fn, ud, report_errors, res);
        ce_input_close(in);
    }
}
