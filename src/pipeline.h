/* pipeline.h: the ordered streaming loop. Reads lines from the inputs, finds
 * their IPs, asks the resolver, holds lines that wait on lookups in a bounded
 * FIFO (reading pauses when it is full) and writes each line once, in order,
 * as soon as every IP on it is resolved.
 *
 * Ownership: borrows the extractor, the parser (may be NULL) and the
 * resolver. */
#ifndef CE_PIPELINE_H
#define CE_PIPELINE_H

#include <stdbool.h>
#include <stddef.h>

#include "extract.h"
#include "format.h"
#include "parser.h"
#include "resolve.h"

struct ce_pipeline_opts {
    enum ce_format fmt;
    size_t max_line;     /* longer lines pass through unannotated */
    size_t window_lines; /* lines held while waiting for lookups */
    size_t window_bytes; /* bytes held while waiting for lookups */
    int out_fd;
};

struct ce_pipeline_result {
    size_t lines;
    size_t lines_annotated;
    size_t long_lines;
    bool input_failed;  /* an input could not be read (others were) */
    bool output_failed; /* a write error other than a closed pipe */
    bool output_closed; /* the reader went away: the run ended early */
    bool stopped;       /* ce_pipeline_request_stop ended the run early */
};

/* Asks a running pipeline to finish early (async-signal-safe: for SIGINT and
 * SIGTERM handlers): it stops reading and looking up, writes every line it
 * has read, unresolved IPs with status error, and returns. */
void ce_pipeline_request_stop(void);
/* True once a stop was requested (for the other commands' loops). */
bool ce_pipeline_stop_requested(void);

/* Runs the whole stream over files[0..nfiles) ("-" is stdin; no files means
 * stdin). Returns when every line is written or the output is gone. */
void ce_pipeline_run(const struct ce_pipeline_opts *o, struct ce_extractor *x,
                     const struct ce_parser *parser, struct ce_resolver *r, char *const *files,
                     size_t nfiles, struct ce_pipeline_result *res);

#endif
