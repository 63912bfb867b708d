/* test_input.c: plain and gzip inputs from files and pipes, damaged streams,
 * and the read/poll contract. Test files live in a mkdtemp directory and the
 * gzip data is made with zlib here, so no external tool is needed. */
#include "check.h"
#include "input.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

static char tmpdir[] = "/tmp/test_input.XXXXXX";
static char made[64][32];
static int nmade;

struct result {
    struct ce_buf data;
    int rc; /* 0 clean end, -1 error, 1 open failed */
    bool gzip;
    char error[1100];
};

static void path_of(char *out, size_t n, const char *name)
{
    int w = snprintf(out, n, "%s/%s", tmpdir, name);
    if (w < 0 || (size_t)w >= n) {
        fprintf(stderr, "test_input: temp path too long\n");
        exit(2);
    }
}

static void write_file(const char *name, const void *data, size_t len)
{
    char path[256];
    path_of(path, sizeof path, name);
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (!f)
        return;
    CHECK(fwrite(data, 1, len, f) == len);
    fclose(f);
    if (nmade < 64)
        snprintf(made[nmade++], sizeof made[0], "%s", name);
}

static void gz_append(struct ce_buf *out, const void *data, size_t len, int level)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    CHECK(deflateInit2(&z, level, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) == Z_OK);
    z.next_in = (Bytef *)(uintptr_t)data; /* zlib's API is not const-correct */
    z.avail_in = (uInt)len;
    int ret;
    do {
        ce_buf_reserve(out, 65536);
        z.next_out = (Bytef *)out->data + out->len;
        z.avail_out = (uInt)(out->cap - out->len);
        ret = deflate(&z, Z_FINISH);
        out->len = out->cap - z.avail_out;
    } while (ret == Z_OK);
    CHECK(ret == Z_STREAM_END);
    deflateEnd(&z);
}

/* Log-like lines with varying addresses, so the compressed form is not tiny. */
static void gen_log(struct ce_buf *out, size_t len)
{
    uint32_t x = 2463534242u;
    while (out->len < len) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        ce_buf_printf(out,
                      "2024-05-01T12:%02u:%02uZ web%u sshd[%u]: Failed password for root from "
                      "%u.%u.%u.%u port %u ssh2\n",
                      x % 60, (x >> 6) % 60, x % 7, (x >> 3) % 30000, 1 + (x >> 24) % 223,
                      (x >> 16) & 255, (x >> 8) & 255, x & 255, 1024 + (x >> 9) % 60000);
    }
    out->len = len;
}

static void drain(struct ce_input *in, size_t cap, struct result *res)
{
    char *buf = ce_xmalloc(cap); /* exactly cap, so an overrun shows under ASan */
    for (;;) {
        ssize_t r = ce_input_read(in, buf, cap);
        if (r > (ssize_t)cap)
            CHECK(!"read returned more than cap");
        if (r > 0) {
            ce_buf_add(&res->data, buf, (size_t)r);
            continue;
        }
        res->rc = r == 0 ? 0 : -1;
        snprintf(res->error, sizeof res->error, "%s", ce_input_error(in));
        /* Both outcomes are final. */
        CHECK(ce_input_buffered(in));
        CHECK(ce_input_read(in, buf, cap) == r);
        break;
    }
    res->gzip = ce_input_is_gzip(in);
    free(buf);
}

static void run(const char *name, size_t cap, struct result *res)
{
    char path[256];
    path_of(path, sizeof path, name);
    memset(res, 0, sizeof *res);
    struct ce_input *in = ce_input_open(path, res->error, sizeof res->error);
    if (!in) {
        res->rc = 1;
        return;
    }
    CHECK_STR(ce_input_name(in), path);
    CHECK(ce_input_is_regular(in));
    CHECK(fcntl(ce_input_fd(in), F_GETFD) & FD_CLOEXEC);
    CHECK(!ce_input_buffered(in)); /* nothing read at open */
    drain(in, cap, res);
    ce_input_close(in);
}

/* Reads the file with several buffer sizes and expects the same outcome. */
static void expect_file(const char *name, const void *want, size_t wlen, int rc, bool gzip)
{
    static const size_t caps[] = {1, 2, 3, 7, 4096, 65536, 1 << 20};
    for (size_t i = 0; i < sizeof caps / sizeof caps[0]; i++) {
        struct result res;
        run(name, caps[i], &res);
        CHECK(res.rc == rc);
        CHECK(res.gzip == gzip);
        CHECK_MEM(ce_buf_cstr(&res.data), res.data.len, want, wlen);
        if (rc == 0)
            CHECK_STR(res.error, "");
        ce_buf_free(&res.data);
    }
}

static void test_plain(void)
{
    static const char text[] = "line one\r\n\0NUL\xff\xfe\xc3(invalid utf-8\nno final newline";
    write_file("plain.log", text, sizeof text - 1);
    expect_file("plain.log", text, sizeof text - 1, 0, false);

    write_file("empty.log", "", 0);
    expect_file("empty.log", "", 0, 0, false);

    write_file("one.log", "x", 1);
    expect_file("one.log", "x", 1, 0, false);

    /* A lone 0x1f cannot be gzip. */
    write_file("lone1f.log", "\x1f", 1);
    expect_file("lone1f.log", "\x1f", 1, 0, false);

    write_file("not-gzip.log", "\x1f\x8a plain", 8);
    expect_file("not-gzip.log", "\x1f\x8a plain", 8, 0, false);
}

static void test_gzip(void)
{
    static const char a[] = "first member\n1.2.3.4 hello\n";
    static const char b[] = "second member, no newline";
    struct ce_buf z = {0};

    gz_append(&z, a, sizeof a - 1, 6);
    write_file("single.gz", z.data, z.len);
    expect_file("single.gz", a, sizeof a - 1, 0, true);

    /* Members in a row, an empty one among them, as `cat a.gz b.gz` makes. */
    gz_append(&z, "", 0, 6);
    gz_append(&z, b, sizeof b - 1, 1);
    write_file("members.gz", z.data, z.len);
    struct ce_buf want = {0};
    ce_buf_adds(&want, a);
    ce_buf_adds(&want, b);
    expect_file("members.gz", want.data, want.len, 0, true);

    /* Zero padding after the last member (tar does it) is not garbage. */
    size_t good = z.len;
    ce_buf_add(&z, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 16);
    write_file("padded.gz", z.data, z.len);
    expect_file("padded.gz", want.data, want.len, 0, true);

    /* Trailing garbage: all the good data, then an error naming the file. */
    z.len = good;
    ce_buf_adds(&z, "garbage\n");
    write_file("garbage.gz", z.data, z.len);
    expect_file("garbage.gz", want.data, want.len, -1, true);
    struct result res;
    run("garbage.gz", 4096, &res);
    char msg[512];
    snprintf(msg, sizeof msg, "%s/garbage.gz: trailing garbage after gzip data", tmpdir);
    CHECK_STR(res.error, msg);
    ce_buf_free(&res.data);

    /* Garbage after zeros, or a single byte that starts like a magic. */
    z.len = good;
    ce_buf_add(&z, "\0\0x", 3);
    write_file("garbage2.gz", z.data, z.len);
    expect_file("garbage2.gz", want.data, want.len, -1, true);
    z.len = good;
    ce_buf_add(&z, "\x1f", 1);
    write_file("garbage3.gz", z.data, z.len);
    expect_file("garbage3.gz", want.data, want.len, -1, true);

    /* A second magic and nothing more is a truncated member. */
    z.len = good;
    ce_buf_add(&z, "\x1f\x8b", 2);
    write_file("magic-only.gz", z.data, z.len);
    expect_file("magic-only.gz", want.data, want.len, -1, true);
    run("magic-only.gz", 3, &res);
    CHECK(strstr(res.error, "unexpected end of compressed data") != NULL);
    ce_buf_free(&res.data);

    ce_buf_free(&z);
    ce_buf_free(&want);
}

static void test_damaged(void)
{
    struct ce_buf text = {0}, z = {0};
    gen_log(&text, 300000);
    gz_append(&z, text.data, text.len, 6);
    CHECK(z.len > 20000);

    /* Truncated in the middle: a non-empty prefix of the content, then the
     * error, for every buffer size. */
    write_file("cut.gz", z.data, z.len / 2);
    char msg[512];
    snprintf(msg, sizeof msg, "%s/cut.gz: unexpected end of compressed data (truncated gzip?)",
             tmpdir);
    static const size_t caps[] = {1, 5, 4096, 1 << 20};
    size_t prefix = 0;
    for (size_t i = 0; i < sizeof caps / sizeof caps[0]; i++) {
        struct result res;
        run("cut.gz", caps[i], &res);
        CHECK(res.rc == -1);
        CHECK_STR(res.error, msg);
        CHECK(res.data.len > text.len / 4 && res.data.len < text.len);
        CHECK(memcmp(res.data.data, text.data, res.data.len) == 0);
        if (i == 0)
            prefix = res.data.len;
        CHECK(res.data.len == prefix); /* the buffer size changes nothing */
        ce_buf_free(&res.data);
    }

    /* Cut inside the header and inside the trailer. */
    write_file("cut-header.gz", z.data, 5);
    expect_file("cut-header.gz", "", 0, -1, true);
    write_file("cut-trailer.gz", z.data, z.len - 3);
    expect_file("cut-trailer.gz", text.data, text.len, -1, true);

    /* Flipped bytes in the middle. */
    struct ce_buf bad = {0};
    ce_buf_add(&bad, z.data, z.len);
    for (size_t i = 0; i < 16; i++)
        bad.data[bad.len / 2 + i] ^= 0x5a;
    write_file("corrupt.gz", bad.data, bad.len);
    struct result res;
    run("corrupt.gz", 65536, &res);
    CHECK(res.rc == -1);
    snprintf(msg, sizeof msg, "%s/corrupt.gz: corrupt gzip data: ", tmpdir);
    CHECK(strncmp(res.error, msg, strlen(msg)) == 0);
    /* What decoded before the check failed is returned: gzip -dc does the same. */
    ce_buf_free(&res.data);

    /* An invalid block type in the first block: nothing decodes. */
    bad.len = 0;
    ce_buf_add(&bad, z.data, z.len);
    bad.data[10] |= 0x06;
    write_file("badblock.gz", bad.data, bad.len);
    expect_file("badblock.gz", "", 0, -1, true);
    run("badblock.gz", 4096, &res);
    CHECK(strstr(res.error, "corrupt gzip data: invalid block type") != NULL);
    ce_buf_free(&res.data);

    /* A wrong CRC: every byte decodes, the check at the end fails. */
    bad.len = 0;
    ce_buf_add(&bad, z.data, z.len);
    bad.data[bad.len - 8] ^= 1;
    write_file("badcrc.gz", bad.data, bad.len);
    run("badcrc.gz", 4096, &res);
    CHECK(res.rc == -1);
    CHECK(strstr(res.error, "corrupt gzip data: incorrect data check") != NULL);
    CHECK(res.data.len == text.len);
    ce_buf_free(&res.data);

    /* The magic, then a header with an unknown method. */
    write_file("badmethod.gz", "\x1f\x8b\x07\0\0\0\0\0\0\3xxxx", 14);
    run("badmethod.gz", 4096, &res);
    CHECK(res.rc == -1);
    CHECK(res.gzip);
    CHECK(strstr(res.error, "corrupt gzip data: unknown compression method") != NULL);
    ce_buf_free(&res.data);

    ce_buf_free(&bad);
    ce_buf_free(&text);
    ce_buf_free(&z);
}

static void test_open_errors(void)
{
    char path[256], err[512], want[600];
    path_of(path, sizeof path, "missing.log");
    CHECK(ce_input_open(path, err, sizeof err) == NULL);
    snprintf(want, sizeof want, "cannot open '%s': No such file or directory", path);
    CHECK_STR(err, want);

    CHECK(ce_input_open(tmpdir, err, sizeof err) == NULL);
    snprintf(want, sizeof want, "cannot open '%s': Is a directory", tmpdir);
    CHECK_STR(err, want);

    CHECK(ce_input_open(path, NULL, 0) == NULL); /* no room for a message is fine */
    ce_input_close(NULL);
}

/* Runs f with fd 0 replaced by fd, then puts stdin back. */
static void with_stdin(int fd, void (*f)(void *), void *arg)
{
    int saved = dup(0);
    CHECK(saved >= 0);
    CHECK(dup2(fd, 0) == 0);
    close(fd);
    f(arg);
    CHECK(fcntl(0, F_GETFD) != -1); /* ce_input_close left stdin open */
    dup2(saved, 0);
    close(saved);
}

static void stdin_dir(void *arg)
{
    char err[256];
    (void)arg;
    CHECK(ce_input_open("-", err, sizeof err) == NULL);
    CHECK_STR(err, "cannot open 'stdin': Is a directory");
}

static void stdin_write_only(void *arg)
{
    char err[256];
    (void)arg;
    struct ce_input *in = ce_input_open("-", err, sizeof err);
    CHECK(in != NULL);
    if (!in)
        return;
    CHECK_STR(ce_input_name(in), "stdin");
    CHECK(ce_input_fd(in) == 0);
    struct result res;
    memset(&res, 0, sizeof res);
    drain(in, 100, &res);
    CHECK(res.rc == -1);
    CHECK_STR(res.error, "cannot read 'stdin': Bad file descriptor");
    ce_input_close(in);
}

static void test_stdin_errors(void)
{
    with_stdin(open(tmpdir, O_RDONLY), stdin_dir, NULL);
    char path[256];
    path_of(path, sizeof path, "write-only.log");
    write_file("write-only.log", "data", 4);
    /* A descriptor open for writing only makes read() fail: a read error. */
    with_stdin(open(path, O_WRONLY), stdin_write_only, NULL);
}

struct pipe_case {
    const struct ce_buf *in;
    struct result res;
};

static void stdin_blocking(void *arg)
{
    struct pipe_case *pc = arg;
    char err[256];
    struct ce_input *in = ce_input_open("-", err, sizeof err);
    CHECK(in != NULL);
    if (!in)
        return;
    CHECK(!ce_input_is_regular(in));
    drain(in, 1000, &pc->res);
    ce_input_close(in);
}

/* A writer process sends the data one byte a write, pausing after the first
 * bytes so that the reader sees a lone 0x1f and has to wait for the second. */
static void pipe_bytewise(const struct ce_buf *data, struct result *res)
{
    int p[2];
    CHECK(pipe(p) == 0);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        close(p[0]);
        const struct timespec pause = {0, 20 * 1000 * 1000};
        for (size_t i = 0; i < data->len; i++) {
            if (write(p[1], data->data + i, 1) != 1)
                _exit(1);
            if (i < 3)
                nanosleep(&pause, NULL);
        }
        _exit(0);
    }
    close(p[1]);
    struct pipe_case pc = {data, {{0}, 0, false, ""}};
    with_stdin(p[0], stdin_blocking, &pc);
    int status;
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    *res = pc.res;
}

struct poll_case {
    const struct ce_buf *data;
    size_t chunk, cap;
    int wfd;
    struct result res;
};

/* The caller's discipline: poll unless buffered, read once. The pipe is
 * non-blocking, so a read that touched an empty pipe would fail with EAGAIN;
 * the writer (this process) adds a chunk only when the reader has nothing. */
static void stdin_polled(void *arg)
{
    struct poll_case *pc = arg;
    char err[256];
    struct ce_input *in = ce_input_open("-", err, sizeof err);
    CHECK(in != NULL);
    if (!in)
        return;
    char *buf = ce_xmalloc(pc->cap);
    size_t off = 0;
    for (;;) {
        struct pollfd pfd = {0, POLLIN, 0};
        if (!ce_input_buffered(in) && poll(&pfd, 1, 0) == 0) {
            CHECK(pc->wfd >= 0);
            if (pc->wfd < 0)
                break;
            size_t n = pc->data->len - off < pc->chunk ? pc->data->len - off : pc->chunk;
            CHECK(write(pc->wfd, pc->data->data + off, n) == (ssize_t)n);
            off += n;
            if (off == pc->data->len) {
                /* With the last chunk, so that bytes that decode to nothing
                 * (a bare trailer) meet EOF rather than an empty pipe. */
                close(pc->wfd);
                pc->wfd = -1;
            }
            continue;
        }
        ssize_t r = ce_input_read(in, buf, pc->cap);
        if (r > 0) {
            ce_buf_add(&pc->res.data, buf, (size_t)r);
            continue;
        }
        pc->res.rc = r == 0 ? 0 : -1;
        snprintf(pc->res.error, sizeof pc->res.error, "%s", ce_input_error(in));
        break;
    }
    pc->res.gzip = ce_input_is_gzip(in);
    free(buf);
    ce_input_close(in);
}

static void pipe_polled(const struct ce_buf *data, size_t chunk, size_t cap, struct result *res)
{
    int p[2];
    CHECK(pipe(p) == 0);
    CHECK(fcntl(p[0], F_SETFL, O_NONBLOCK) == 0);
    struct poll_case pc = {data, chunk, cap, p[1], {{0}, 0, false, ""}};
    with_stdin(p[0], stdin_polled, &pc);
    if (pc.wfd >= 0)
        close(pc.wfd);
    *res = pc.res;
}

static void test_pipes(void)
{
    struct ce_buf text = {0}, z = {0};
    gen_log(&text, 200000);
    gz_append(&z, text.data, text.len / 2, 9);
    gz_append(&z, text.data + text.len / 2, text.len - text.len / 2, 1);

    struct result res;
    pipe_bytewise(&z, &res);
    CHECK(res.rc == 0);
    CHECK(res.gzip);
    CHECK(res.data.len == text.len && memcmp(res.data.data, text.data, text.len) == 0);
    ce_buf_free(&res.data);

    /* A pipe with a lone 0x1f is plain. */
    struct ce_buf one = {0};
    ce_buf_add(&one, "\x1f", 1);
    pipe_bytewise(&one, &res);
    CHECK(res.rc == 0);
    CHECK(!res.gzip);
    CHECK_MEM(ce_buf_cstr(&res.data), res.data.len, "\x1f", 1);
    ce_buf_free(&res.data);
    ce_buf_free(&one);

    static const size_t chunks[] = {1000, 4093, 65536};
    static const size_t caps[] = {1, 4096, 65536};
    for (size_t i = 0; i < 3; i++) {
        for (size_t j = 0; j < 3; j++) {
            pipe_polled(&z, chunks[i], caps[j], &res);
            CHECK(res.rc == 0);
            CHECK_STR(res.error, "");
            CHECK(res.gzip);
            CHECK(res.data.len == text.len && memcmp(res.data.data, text.data, text.len) == 0);
            ce_buf_free(&res.data);

            pipe_polled(&text, chunks[i], caps[j], &res);
            CHECK(res.rc == 0);
            CHECK(!res.gzip);
            CHECK(res.data.len == text.len && memcmp(res.data.data, text.data, text.len) == 0);
            ce_buf_free(&res.data);
        }
    }

    /* Truncated on a pipe: the prefix, then the error naming stdin. */
    struct ce_buf cut = {0};
    ce_buf_add(&cut, z.data, z.len / 3);
    pipe_polled(&cut, 4096, 4096, &res);
    CHECK(res.rc == -1);
    CHECK_STR(res.error, "stdin: unexpected end of compressed data (truncated gzip?)");
    CHECK(res.data.len > 0 && memcmp(res.data.data, text.data, res.data.len) == 0);
    ce_buf_free(&res.data);
    ce_buf_free(&cut);

    ce_buf_free(&text);
    ce_buf_free(&z);
}

static void test_large(void)
{
    struct ce_buf text = {0}, z = {0};
    gen_log(&text, 20 * 1024 * 1024 + 123);
    gz_append(&z, text.data, text.len, 1);
    write_file("large.gz", z.data, z.len);
    write_file("large.log", text.data, text.len);
    static const size_t caps[] = {65536, 1000003};
    for (size_t i = 0; i < 2; i++) {
        struct result res;
        run("large.gz", caps[i], &res);
        CHECK(res.rc == 0);
        CHECK(res.gzip);
        CHECK(res.data.len == text.len && memcmp(res.data.data, text.data, text.len) == 0);
        ce_buf_free(&res.data);
        run("large.log", caps[i], &res);
        CHECK(res.rc == 0);
        CHECK(!res.gzip);
        CHECK(res.data.len == text.len && memcmp(res.data.data, text.data, text.len) == 0);
        ce_buf_free(&res.data);
    }
    ce_buf_free(&text);
    ce_buf_free(&z);
}

int main(void)
{
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    test_plain();
    test_gzip();
    test_damaged();
    test_open_errors();
    test_stdin_errors();
    test_pipes();
    test_large();
    for (int i = 0; i < nmade; i++) {
        char path[256];
        path_of(path, sizeof path, made[i]);
        unlink(path);
    }
    rmdir(tmpdir);
    return check_summary("test_input");
}
