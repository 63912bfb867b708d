/* scan.h: a first pass over files, line by line, without ordering or output
 * (for `plan` and for spending a short budget on the most frequent IPs).
 *
 * Ownership: nothing is retained; the line handed to the callback is only
 * valid during the call. */
#ifndef CE_SCAN_H
#define CE_SCAN_H

#include <stdbool.h>
#include <stddef.h>

/* Called for each line (without its terminator); lines longer than max_line
 * are skipped, as the filter passes them through unannotated. */
typedef void (*ce_scan_fn)(void *ud, const char *line, size_t len);

struct ce_scan_result {
    size_t lines;
    bool input_failed; /* a file could not be read (reported on stderr) */
};

/* Unreadable files are reported on stderr when report_errors is set (the
 * enrichment pass that follows a first pass reports them itself). */
void ce_scan_files(char *const *files, size_t nfiles, size_t max_line, ce_scan_fn fn, void *ud,
                   bool report_errors, struct ce_scan_result *res);

#endif
