/* prefetch.h: decodes an input in a second thread, a few blocks ahead of the
 * pipeline, so that gzip inflation and line processing run side by side on
 * two cores. Used for regular files only (a pipe keeps the single-threaded
 * poll loop, which must never block on input).
 *
 * Ownership: ce_prefetch_start borrows the input until ce_prefetch_stop,
 * which joins the thread; the caller still closes the input afterwards. */
#ifndef CE_PREFETCH_H
#define CE_PREFETCH_H

#include <stddef.h>
#include <sys/types.h>

#include "input.h"

struct ce_prefetch;

/* Starts the reader thread; NULL if it cannot be started (then read the
 * input directly). */
struct ce_prefetch *ce_prefetch_start(struct ce_input *in);

/* As ce_input_read: bytes (> 0), 0 at the end, -1 on an error (message by
 * ce_input_error on the input). Blocks until the thread has data. */
ssize_t ce_prefetch_read(struct ce_prefetch *p, char *buf, size_t cap);

/* Stops and joins the thread (accepts NULL). */
void ce_prefetch_stop(struct ce_prefetch *p);

#endif
