#include "pipeline.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "input.h"
#include "log.h"
#include "prefetch.h"
#include "util.h"

/* Output is written in blocks of about this size, and whenever the loop is
 * about to wait (so a live tail shows each line promptly). */
#define OUT_BLOCK (64 * 1024)
#define READ_CHUNK (256 * 1024)
/* How long one wait lasts at most; only bounds the loop's sleep. */
#define IDLE_WAIT_MS 1000

static volatile sig_atomic_t stop_requested;

void ce_pipeline_request_stop(void)
{
    stop_requested = 1;
}

bool ce_pipeline_stop_requested(void)
{
    return stop_requested != 0;
}

struct qline {
    char *data; /* the line and its terminator */
    size_t len;
    unsigned char term_len;
    unsigned char n;
    const struct ce_annot *ann[CE_EXTRACT_MAX];
};

struct pipe_state {
    const struct ce_pipeline_opts *o;
    struct ce_extractor *x;
    const struct ce_parser *parser;
    struct ce_resolver *r;
    struct ce_pipeline_result *res;

    /* output */
    int out_fd;
    struct ce_buf out;

    /* the FIFO of lines waiting on lookups */
    struct qline *q;
    size_t qhead, qlen, qbytes;

    /* input */
    char *const *files;
    size_t nfiles, next_file;
    struct ce_input *in;
    struct ce_prefetch *pf; /* decoding thread, for gzip files */
    char *buf;
    size_t cap, start, end;
    bool in_eof;    /* the current input is finished */
    bool all_done;  /* every input is finished */
    bool long_line; /* passing the rest of an over-long line through */
    bool warned_long;
};

/* A closed pipe or a failed write: nothing more can be written. */
static bool output_gone(const struct pipe_state *s)
{
    return s->res->output_closed || s->res->output_failed;
}

static void out_flush(struct pipe_state *s)
{
    size_t off = 0;
    while (off < s->out.len && !s->res->output_closed && !s->res->output_failed) {
        ssize_t w = write(s->out_fd, s->out.data + off, s->out.len - off);
        if (w >= 0) {
            off += (size_t)w;
        } else if (errno == EINTR) {
            continue;
        } else if (errno == EPIPE) {
            s->res->output_closed = true;
        } else {
            ce_err("cannot write the output: %s", strerror(errno));
            s->res->output_failed = true;
        }
    }
    s->out.len = 0;
}

static void emit(struct pipe_state *s, const char *line, size_t len, size_t term_len,
                 const struct ce_annot *const *ann, size_t n)
{
    ce_format_line(&s->out, s->o->fmt, line, len - term_len, line + len - term_len, term_len, ann,
                   n);
    s->res->lines++;
    if (n)
        s->res->lines_annotated++;
    if (s->out.len >= OUT_BLOCK)
        out_flush(s);
}

static bool window_full(const struct pipe_state *s)
{
    return s->qlen >= s->o->window_lines || s->qbytes >= s->o->window_bytes;
}

static void handle_line(struct pipe_state *s, const char *line, size_t len)
{
    size_t term = 0;
    if (len && line[len - 1] == '\n')
        term = (len >= 2 && line[len - 2] == '\r') ? 2 : 1;
    struct ce_addr addrs[CE_EXTRACT_MAX];
    size_t n = ce_parser_extract(s->parser, s->x, line, len - term, addrs, CE_EXTRACT_MAX);
    const struct ce_annot *ann[CE_EXTRACT_MAX];
    bool waiting = false;
    for (size_t i = 0; i < n; i++) {
        ann[i] = ce_resolver_get(s->r, &addrs[i]);
        if (ann[i]->status == CE_LK_PENDING)
            waiting = true;
    }
    if (!waiting && s->qlen == 0) {
        emit(s, line, len, term, ann, n);
        return;
    }
    struct qline *ql = &s->q[(s->qhead + s->qlen) % s->o->window_lines];
    ql->data = ce_xmalloc(len);
    memcpy(ql->data, line, len);
    ql->len = len;
    ql->term_len = (unsigned char)term;
    ql->n = (unsigned char)n;
    memcpy(ql->ann, ann, n * sizeof *ann);
    s->qlen++;
    s->qbytes += len;
}

/* Writes the lines at the head of the FIFO whose lookups are all done. */
static void drain(struct pipe_state *s)
{
    while (s->qlen && !output_gone(s)) {
        struct qline *ql = &s->q[s->qhead];
        for (size_t i = 0; i < ql->n; i++)
            if (ql->ann[i]->status == CE_LK_PENDING)
                return;
        emit(s, ql->data, ql->len, ql->term_len, ql->ann, ql->n);
        s->qbytes -= ql->len;
        free(ql->data);
        ql->data = NULL;
        s->qhead = (s->qhead + 1) % s->o->window_lines;
        s->qlen--;
    }
}

/* Passes bytes of an over-long line straight through. Only called with an
 * empty FIFO, so order is kept. */
static void pass_through(struct pipe_state *s, const char *p, size_t n)
{
    ce_buf_add(&s->out, p, n);
    if (s->out.len >= OUT_BLOCK)
        out_flush(s);
}

/* Takes complete lines from the buffer while the window has room. */
static bool consume(struct pipe_state *s)
{
    bool did = false;
    while (s->start < s->end && !output_gone(s)) {
        char *p = s->buf + s->start;
        size_t avail = s->end - s->start;
        if (s->long_line) {
            char *nl = memchr(p, '\n', avail);
            size_t n = nl ? (size_t)(nl - p) + 1 : avail;
            pass_through(s, p, n);
            s->start += n;
            did = true;
            if (nl) {
                s->long_line = false;
                s->res->lines++;
            }
            continue;
        }
        if (window_full(s))
            break;
        size_t scan = avail < s->o->max_line + 2 ? avail : s->o->max_line + 2;
        char *nl = memchr(p, '\n', scan);
        size_t len = nl ? (size_t)(nl - p) + 1 : 0;
        /* The limit counts the line without its terminator. */
        size_t content = len ? len - 1 - (len >= 2 && p[len - 2] == '\r') : avail;
        /* Without a '\n' yet, the line may still end in "\r\n": it is too long
         * only once more than max_line + 1 bytes are in (or at the end). */
        bool too_long =
            nl ? content > s->o->max_line : avail > s->o->max_line + (s->in_eof ? 0 : 1);
        if (too_long) {
            if (s->qlen)
                break; /* order first: wait until the FIFO is empty */
            if (!s->warned_long) {
                ce_warn("a line longer than %zu bytes (--max-line) passed through "
                        "unannotated",
                        s->o->max_line);
                s->warned_long = true;
            }
            s->res->long_lines++;
            s->long_line = true;
            continue;
        }
        if (!nl) {
            if (!s->in_eof)
                break;   /* wait for the rest of the line */
            len = avail; /* last line of the input, without terminator */
        }
        handle_line(s, p, len);
        s->start += len;
        did = true;
    }
    if (s->start == s->end)
        s->start = s->end = 0;
    return did;
}

static void close_input(struct pipe_state *s)
{
    ce_prefetch_stop(s->pf);
    s->pf = NULL;
    ce_input_close(s->in);
    s->in = NULL;
}

/* Opens the next input; false when there is none. */
static bool open_next(struct pipe_state *s)
{
    while (s->next_file < s->nfiles) {
        char err[512];
        const char *path = s->files[s->next_file++];
        s->in = ce_input_open(path, err, sizeof err);
        if (s->in) {
            s->in_eof = false;
            /* Reading a file never blocks the loop, so it may go ahead in
             * its own thread; a pipe stays in the poll loop. */
            if (ce_input_is_regular(s->in))
                s->pf = ce_prefetch_start(s->in);
            return true;
        }
        ce_err("%s", err);
        s->res->input_failed = true;
    }
    s->all_done = true;
    return false;
}

/* Reads one chunk from the current input into the buffer; false when the
 * buffer has no room (a long line must be passed through first). */
static bool read_chunk(struct pipe_state *s)
{
    if (s->start > 0 && s->start == s->end)
        s->start = s->end = 0;
    if (s->cap - s->end < READ_CHUNK / 4 && s->start > 0) {
        memmove(s->buf, s->buf + s->start, s->end - s->start);
        s->end -= s->start;
        s->start = 0;
    }
    size_t room = s->cap - s->end;
    if (room == 0)
        return false;
    ssize_t n = s->pf ? ce_prefetch_read(s->pf, s->buf + s->end, room)
                      : ce_input_read(s->in, s->buf + s->end, room);
    if (n > 0) {
        s->end += (size_t)n;
        return true;
    }
    if (n < 0) {
        ce_err("%s", ce_input_error(s->in));
        s->res->input_failed = true;
    }
    /* End of this input: a last line without terminator is complete now. */
    s->in_eof = true;
    return true;
}

void ce_pipeline_run(const struct ce_pipeline_opts *o, struct ce_extractor *x,
                     const struct ce_parser *parser, struct ce_resolver *r, char *const *files,
                     size_t nfiles, struct ce_pipeline_result *res)
{
    static char *const stdin_only[] = {"-"};
    struct pipe_state s = {
        .o = o, .x = x, .parser = parser, .r = r, .res = res, .out_fd = o->out_fd};
    memset(res, 0, sizeof *res);
    if (nfiles == 0) {
        files = stdin_only;
        nfiles = 1;
    }
    s.files = files;
    s.nfiles = nfiles;
    s.cap = o->max_line + 2 > READ_CHUNK ? o->max_line + 2 + READ_CHUNK : 2 * READ_CHUNK;
    s.buf = ce_xmalloc(s.cap);
    s.q = ce_xcalloc(o->window_lines, sizeof *s.q);
    ce_buf_reserve(&s.out, OUT_BLOCK * 2);

    bool readable = false;
    open_next(&s);
    while (!output_gone(&s)) {
        if (stop_requested && !res->stopped) {
            /* Finish with what was read: no more input, no more lookups. */
            res->stopped = true;
            ce_resolver_abandon(r);
            if (s.in) {
                s.in_eof = true; /* a partial last line is written as it is */
                s.next_file = s.nfiles;
            }
        }
        bool did = consume(&s);

        if (s.in && s.in_eof && s.start == s.end) {
            close_input(&s);
            s.long_line = false;
            open_next(&s);
            did = true;
            continue;
        }
        /* Read when the buffer holds no complete line the window can take. */
        bool want = s.in && !s.in_eof && !res->stopped && !window_full(&s) &&
                    !(s.start < s.end && s.long_line);
        if (want && (readable || ce_input_is_regular(s.in) || ce_input_buffered(s.in))) {
            readable = false;
            if (read_chunk(&s))
                did = true;
            else
                want = false;
        }
        if (s.all_done && s.qlen == 0 && s.start == s.end && !ce_resolver_pending(r))
            break;
        int poll_fd = want && !did ? ce_input_fd(s.in) : -1;
        if (!did)
            out_flush(&s); /* about to wait: show what is ready */
        if (!did || ce_resolver_pending(r))
            readable = ce_resolver_run(r, poll_fd, did ? 0 : IDLE_WAIT_MS) || readable;
        drain(&s);
        if (s.qlen == 0)
            ce_resolver_trim(r); /* no line refers to an annotation now */
    }
    if (output_gone(&s))
        ce_resolver_abandon(r); /* no lookup is worth a token now */
    else
        out_flush(&s);

    close_input(&s);
    for (size_t i = 0; i < s.qlen; i++)
        free(s.q[(s.qhead + i) % o->window_lines].data);
    free(s.q);
    free(s.buf);
    ce_buf_free(&s.out);
}
