/* input.c: one input (a file or stdin), plain or gzip, read in large chunks.
 *
 * Design:
 * - Every byte read from the descriptor goes through one raw buffer whose
 *   unread part is z.next_in/z.avail_in, whatever the mode; that is how the
 *   bytes read for detection on a pipe (which cannot seek back) reach the
 *   decoder or the caller. Plain data after the first chunk is read straight
 *   into the caller's buffer, and inflate writes straight into it too.
 * - The format is decided from the first two bytes. A first byte other than
 *   0x1f settles it alone; if the first read returns just 0x1f, the next read
 *   may block until the second byte arrives (see ce_input_read).
 * - Concatenated gzip members are decoded in a row. After the last one, zero
 *   bytes are skipped silently (tar pads archives with them, and gzip accepts
 *   them); anything else is "trailing garbage": like gzip, which warns and
 *   exits 2, it is an error, reported after all the good data.
 * - EOF inside a member is reported as truncation, after the data decoded up
 *   to it. Errors are sticky: every later call returns -1 again.
 */
#define ZLIB_CONST
#include "input.h"

#include "util.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

/* Few syscalls per megabyte; 32 KiB to 256 KiB measured the same speed on a
 * 200 MB archive, so the middle was taken. */
#define RAW_SIZE (128 * 1024)

enum state {
    ST_DETECT,     /* nothing decided yet */
    ST_PLAIN,      /* raw bytes are content */
    ST_INFLATE,    /* inside a gzip member */
    ST_MEMBER_END, /* after a member: another one, zero padding, garbage or EOF */
    ST_ZEROS,      /* skipping zero padding after the last member */
    ST_END,
    ST_FAILED,
};

struct ce_input {
    int fd;
    bool own_fd;
    bool regular;
    bool gzip;
    bool z_ready; /* inflateInit2 done, so inflateEnd is due */
    bool eof;     /* read() returned 0: never read again */
    /* The last decode stopped because it needs bytes from the descriptor. */
    bool need_input;
    /* One decoded byte held back by the look-ahead that makes
     * ce_input_buffered exact (see probe in ce_input_read). */
    bool spill_full;
    char spill;
    enum state state;
    z_stream z;
    unsigned char *raw;
    char *name;
    char error[1024];
};

static void fail(struct ce_input *in, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void fail(struct ce_input *in, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(in->error, sizeof in->error, fmt, ap);
    va_end(ap);
    in->state = ST_FAILED;
}

/* zlib's allocations go through ce_xmalloc so that running out of memory
 * aborts in the one place the rest of the program uses. */
static voidpf zalloc(voidpf opaque, uInt items, uInt size)
{
    (void)opaque;
    return ce_xmalloc((size_t)items * size);
}

static void zfree(voidpf opaque, voidpf p)
{
    (void)opaque;
    free(p);
}

struct ce_input *ce_input_open(const char *path, char *err, size_t errlen)
{
    bool is_stdin = strcmp(path, "-") == 0;
    const char *name = is_stdin ? "stdin" : path;
    int fd = 0;
    if (!is_stdin) {
        do
            fd = open(path, O_RDONLY | O_CLOEXEC);
        while (fd < 0 && errno == EINTR);
    }
    struct stat st;
    int e = 0;
    if (fd < 0 || fstat(fd, &st) != 0)
        e = errno;
    else if (S_ISDIR(st.st_mode))
        e = EISDIR; /* caught here rather than at the first read, for one message */
    if (e) {
        if (errlen)
            snprintf(err, errlen, "cannot open '%s': %s", name, strerror(e));
        if (!is_stdin && fd >= 0)
            close(fd);
        return NULL;
    }

    struct ce_input *in = ce_xcalloc(1, sizeof *in);
    in->fd = fd;
    in->own_fd = !is_stdin;
    in->regular = S_ISREG(st.st_mode);
    in->state = ST_DETECT;
    in->need_input = true;
    in->name = ce_xstrdup(name);
    in->raw = ce_xmalloc(RAW_SIZE);
    in->z.zalloc = zalloc;
    in->z.zfree = zfree;
    in->z.next_in = in->raw;
    in->z.avail_in = 0;
    if (in->regular)
        (void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL); /* a hint: failure is harmless */
    return in;
}

static ssize_t read_fd(struct ce_input *in, void *buf, size_t n)
{
    ssize_t r;
    do
        r = read(in->fd, buf, n);
    while (r < 0 && errno == EINTR);
    if (r < 0)
        fail(in, "cannot read '%s': %s", in->name, strerror(errno));
    else if (r == 0)
        in->eof = true;
    return r;
}

/* Appends one read's worth of bytes to the unread raw bytes (at most one is
 * left when a decision needs a second byte). */
static int refill(struct ce_input *in)
{
    size_t keep = in->z.avail_in;
    if (keep && in->z.next_in != in->raw)
        memmove(in->raw, in->z.next_in, keep);
    in->z.next_in = in->raw;
    ssize_t r = read_fd(in, in->raw + keep, RAW_SIZE - keep);
    if (r < 0)
        return -1;
    in->z.avail_in = (uInt)(keep + (size_t)r);
    return 0;
}

static void start_gzip(struct ce_input *in)
{
    in->gzip = true;
    int ret = inflateInit2(&in->z, 16 + MAX_WBITS); /* 16: gzip wrapper only */
    if (ret != Z_OK) {
        fail(in, "%s: cannot start gzip decoder: %s", in->name, in->z.msg ? in->z.msg : "?");
        return;
    }
    in->z_ready = true;
    in->state = ST_INFLATE;
}

/* Decodes the raw bytes already read into out[got..cap), never touching the
 * descriptor. Returns the new fill level; sets need_input when it stopped only
 * for lack of bytes (never once EOF was seen: then every state resolves). */
static size_t decode(struct ce_input *in, char *out, size_t got, size_t cap)
{
    z_stream *z = &in->z;
    in->need_input = false;
    for (;;) {
        switch (in->state) {
        case ST_DETECT:
            if (z->avail_in >= 2 || (z->avail_in == 1 && (z->next_in[0] != 0x1f || in->eof))) {
                if (z->avail_in >= 2 && z->next_in[0] == 0x1f && z->next_in[1] == 0x8b)
                    start_gzip(in);
                else
                    in->state = ST_PLAIN;
            } else if (in->eof) {
                in->state = ST_END;
            } else {
                in->need_input = true;
                return got;
            }
            break;

        case ST_PLAIN: {
            size_t n = z->avail_in < cap - got ? z->avail_in : cap - got;
            memcpy(out + got, z->next_in, n);
            z->next_in += n;
            z->avail_in -= (uInt)n;
            got += n;
            if (z->avail_in == 0) {
                if (in->eof)
                    in->state = ST_END;
                else
                    in->need_input = true;
            }
            return got;
        }

        case ST_INFLATE: {
            if (got == cap)
                return got;
            size_t room = cap - got < UINT_MAX ? cap - got : UINT_MAX;
            z->next_out = (Bytef *)out + got;
            z->avail_out = (uInt)room;
            int ret = inflate(z, Z_NO_FLUSH);
            got += room - z->avail_out;
            if (ret == Z_STREAM_END) {
                in->state = ST_MEMBER_END;
            } else if (ret == Z_BUF_ERROR) {
                /* No progress with room left: the input is used up. */
                if (!in->eof) {
                    in->need_input = true;
                    return got;
                }
                fail(in, "%s: unexpected end of compressed data (truncated gzip?)", in->name);
            } else if (ret != Z_OK) {
                fail(in, "%s: corrupt gzip data: %s", in->name, z->msg ? z->msg : "unknown error");
            }
            break;
        }

        case ST_MEMBER_END:
            if (z->avail_in == 0) {
                if (in->eof) {
                    in->state = ST_END;
                    break;
                }
                in->need_input = true;
                return got;
            }
            if (z->next_in[0] == 0) {
                in->state = ST_ZEROS;
            } else if (z->next_in[0] != 0x1f || (z->avail_in >= 2 && z->next_in[1] != 0x8b) ||
                       (z->avail_in == 1 && in->eof)) {
                fail(in, "%s: trailing garbage after gzip data", in->name);
            } else if (z->avail_in == 1) {
                in->need_input = true;
                return got;
            } else {
                inflateReset(z); /* keeps the gzip-only window bits */
                in->state = ST_INFLATE;
            }
            break;

        case ST_ZEROS:
            while (z->avail_in && z->next_in[0] == 0) {
                z->next_in++;
                z->avail_in--;
            }
            if (z->avail_in) {
                fail(in, "%s: trailing garbage after gzip data", in->name);
            } else if (in->eof) {
                in->state = ST_END;
            } else {
                in->need_input = true;
                return got;
            }
            break;

        case ST_END:
        case ST_FAILED:
            return got;
        }
    }
}

/* Reads the descriptor only when nothing can be returned from what was read
 * before. The first such read follows the caller's poll and does not block.
 * A second read in the same call happens only when the first one brought
 * bytes that decode to nothing yet (a lone 0x1f to detect, a gzip header or
 * a few compressed bits from a pipe), since 0 would mean EOF; it may block
 * until the writer sends more. The descriptor must be blocking: EAGAIN would
 * be reported as a read error. */
ssize_t ce_input_read(struct ce_input *in, char *buf, size_t cap)
{
    assert(cap > 0);
    if (cap > SSIZE_MAX)
        cap = SSIZE_MAX;
    size_t got = 0;
    if (in->spill_full) {
        buf[got++] = in->spill;
        in->spill_full = false;
    }
    for (;;) {
        got = decode(in, buf, got, cap);
        if (got > 0 || !in->need_input)
            break;
        if (in->state == ST_PLAIN) {
            /* The common plain case: no copy at all. */
            ssize_t r = read_fd(in, buf, cap);
            if (r == 0)
                in->state = ST_END;
            return r;
        }
        if (refill(in) < 0)
            return -1;
    }
    /* A full buffer does not tell whether inflate has more to give from the
     * bytes it holds. Decoding one byte ahead tells, so that
     * ce_input_buffered never sends the caller to a read that needs the
     * descriptor without polling it first. */
    if (got == cap && in->state == ST_INFLATE) {
        char c;
        if (decode(in, &c, 0, 1) == 1) {
            in->spill = c;
            in->spill_full = true;
        }
    }
    if (got > 0)
        return (ssize_t)got;
    return in->state == ST_END ? 0 : -1;
}

int ce_input_fd(const struct ce_input *in)
{
    return in->fd;
}

bool ce_input_is_regular(const struct ce_input *in)
{
    return in->regular;
}

/* Also true when the end or an error is already known: the next read then
 * returns it without touching the descriptor. */
bool ce_input_buffered(const struct ce_input *in)
{
    return in->spill_full || in->state == ST_END || in->state == ST_FAILED || !in->need_input;
}

bool ce_input_is_gzip(const struct ce_input *in)
{
    return in->gzip;
}

const char *ce_input_name(const struct ce_input *in)
{
    return in->name;
}

const char *ce_input_error(const struct ce_input *in)
{
    return in->error;
}

void ce_input_close(struct ce_input *in)
{
    if (!in)
        return;
    if (in->z_ready)
        inflateEnd(&in->z);
    /* A read-only descriptor has nothing to lose at close: its result is moot. */
    if (in->own_fd)
        close(in->fd);
    free(in->raw);
    free(in->name);
    free(in);
}
