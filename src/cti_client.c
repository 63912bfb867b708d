#include "cti_client.h"

#include <curl/curl.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "log.h"
#include "util.h"

/* Retry-After beyond this is not waited for: the IP is reported as an error
 * in this run rather than stalling the stream. */
#define MAX_RETRY_AFTER_MS (120 * 1000)
#define MAX_BACKOFF_MS (60 * 1000)

/* One HTTP request: one IP, or several on the batch endpoint. */
struct req {
    struct req *next; /* in the queue or the retry list */
    CURL *easy;
    char **ips;
    size_t nips;
    int attempt;
    int64_t due_ms;      /* when a retry may start */
    long retry_after_ms; /* from the last answer's Retry-After, -1 if none */
    bool too_big;
    /* Sent to the batch endpoint. Kept per request because batch_refused can
     * change while it is in flight: its answer must be read the way it was
     * asked (a batch 403 is "no premium", a single 403 is "bad key"). */
    bool batch;
    struct ce_buf body;
    struct ce_client *client;
};

struct ce_client {
    struct ce_client_opts o;
    char *base_url;
    ce_client_done_fn done;
    void *ud;
    CURLM *multi;
    struct curl_slist *headers;
    /* IPs waiting to be sent, FIFO. */
    char **queue;
    size_t qhead, qlen, qcap;
    struct req *retries; /* waiting for their due time */
    struct req **inflight;
    size_t ninflight;
    size_t outstanding;
    enum ce_cti_result stopped;
    bool batch_refused; /* the batch endpoint answered 403: single lookups */
    unsigned rng;
    struct ce_client_stats stats;
};

static void queue_push(struct ce_client *c, char *ip, bool front)
{
    if (c->qlen == c->qcap) {
        size_t ncap = c->qcap ? c->qcap * 2 : 64;
        char **q = ce_xmalloc(ncap * sizeof *q);
        for (size_t i = 0; i < c->qlen; i++)
            q[i] = c->queue[(c->qhead + i) % c->qcap];
        free(c->queue);
        c->queue = q;
        c->qcap = ncap;
        c->qhead = 0;
    }
    if (front) {
        c->qhead = (c->qhead + c->qcap - 1) % c->qcap;
        c->queue[c->qhead] = ip;
    } else {
        c->queue[(c->qhead + c->qlen) % c->qcap] = ip;
    }
    c->qlen++;
}

static char *queue_pop(struct ce_client *c)
{
    if (!c->qlen)
        return NULL;
    char *ip = c->queue[c->qhead];
    c->qhead = (c->qhead + 1) % c->qcap;
    c->qlen--;
    return ip;
}

struct ce_client *ce_client_create(const struct ce_client_opts *o, ce_client_done_fn done, void *ud,
                                   char *err, size_t errlen)
{
    static bool curl_ready;
    if (!curl_ready) {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
            snprintf(err, errlen, "cannot initialise libcurl");
            return NULL;
        }
        curl_ready = true;
    }
    struct ce_client *c = ce_xcalloc(1, sizeof *c);
    c->o = *o;
    c->base_url = ce_xstrdup(o->base_url);
    size_t bl = strlen(c->base_url);
    while (bl && c->base_url[bl - 1] == '/')
        c->base_url[--bl] = '\0';
    c->done = done;
    c->ud = ud;
    c->rng = (unsigned)time(NULL) ^ (unsigned)(uintptr_t)c;
    c->inflight = ce_xcalloc((size_t)o->concurrency, sizeof *c->inflight);
    c->multi = curl_multi_init();
    if (!c->multi) {
        snprintf(err, errlen, "cannot create a curl multi handle");
        ce_client_destroy(c);
        return NULL;
    }
    curl_multi_setopt(c->multi, CURLMOPT_MAX_HOST_CONNECTIONS, o->concurrency);
    curl_multi_setopt(c->multi, CURLMOPT_MAXCONNECTS, o->concurrency);
    curl_multi_setopt(c->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);

    struct ce_buf h = {0};
    ce_buf_printf(&h, "x-api-key: %s", o->key ? o->key : "");
    c->headers = curl_slist_append(NULL, ce_buf_cstr(&h));
    ce_buf_free(&h);
    c->headers = curl_slist_append(c->headers, "Accept: application/json");
    if (!c->headers) {
        snprintf(err, errlen, "out of memory");
        ce_client_destroy(c);
        return NULL;
    }
    return c;
}

static void req_free(struct req *r)
{
    if (!r)
        return;
    if (r->easy)
        curl_easy_cleanup(r->easy);
    for (size_t i = 0; i < r->nips; i++)
        free(r->ips[i]);
    free(r->ips);
    ce_buf_free(&r->body);
    free(r);
}

static void report(struct ce_client *c, const char *ip, enum ce_cti_result res, long status,
                   const char *body, size_t len, const char *err)
{
    c->outstanding--;
    c->done(c->ud, ip, res, status, body, len, err);
}

static void report_req(struct ce_client *c, struct req *r, enum ce_cti_result res, long status,
                       const char *err)
{
    for (size_t i = 0; i < r->nips; i++)
        report(c, r->ips[i], res, status, NULL, 0, err);
}

void ce_client_destroy(struct ce_client *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->ninflight; i++) {
        curl_multi_remove_handle(c->multi, c->inflight[i]->easy);
        req_free(c->inflight[i]);
    }
    while (c->retries) {
        struct req *r = c->retries;
        c->retries = r->next;
        req_free(r);
    }
    char *ip;
    while ((ip = queue_pop(c)) != NULL)
        free(ip);
    free(c->queue);
    free(c->inflight);
    if (c->multi)
        curl_multi_cleanup(c->multi);
    curl_slist_free_all(c->headers);
    free(c->base_url);
    free(c);
}

void ce_client_submit(struct ce_client *c, const char *ip)
{
    c->outstanding++;
    queue_push(c, ce_xstrdup(ip), false);
}

size_t ce_client_outstanding(const struct ce_client *c)
{
    return c->outstanding;
}

enum ce_cti_result ce_client_stopped(const struct ce_client *c)
{
    return c->stopped;
}

void ce_client_get_stats(const struct ce_client *c, struct ce_client_stats *out)
{
    *out = c->stats;
}

/* --max-body bounds the answer about one IP; a batch answer carries up to
 * one per IP asked, so a batch call of realistic answers is not refused as a
 * whole for being the sum of many small ones. */
static long body_limit(const struct ce_client *c, const struct req *r)
{
    long n = r->nips > 1 ? (long)r->nips : 1;
    return c->o.max_body > LONG_MAX / n ? LONG_MAX : c->o.max_body * n;
}

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    struct req *r = ud;
    size_t len = size * n;
    if (r->body.len + len > (size_t)body_limit(r->client, r)) {
        r->too_big = true;
        return 0; /* aborts the transfer with CURLE_WRITE_ERROR */
    }
    ce_buf_add(&r->body, p, len);
    return len;
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
    struct req *r = ud;
    size_t len = size * n;
    static const char name[] = "retry-after:";
    if (len > sizeof name - 1 && !strncasecmp(p, name, sizeof name - 1)) {
        char v[128];
        size_t vl = len - (sizeof name - 1);
        if (vl >= sizeof v)
            vl = sizeof v - 1;
        memcpy(v, p + sizeof name - 1, vl);
        v[vl] = '\0';
        char *s = v;
        while (*s == ' ' || *s == '\t')
            s++;
        char *end;
        long secs = strtol(s, &end, 10);
        if (end != s && (*end == '\r' || *end == '\n' || *end == '\0' || *end == ' ')) {
            /* Clamped before scaling: a huge value must read as "too long to
             * wait", not overflow. */
            if (secs > MAX_RETRY_AFTER_MS / 1000)
                secs = MAX_RETRY_AFTER_MS / 1000 + 1;
            r->retry_after_ms = secs < 0 ? 0 : secs * 1000;
        } else {
            time_t when = curl_getdate(s, NULL);
            if (when != (time_t)-1) {
                long d = (long)(when - time(NULL));
                if (d > MAX_RETRY_AFTER_MS / 1000)
                    d = MAX_RETRY_AFTER_MS / 1000 + 1;
                r->retry_after_ms = d < 0 ? 0 : d * 1000;
            }
        }
    }
    return len;
}

/* Puts the IPs of r back at the head of the queue, in their order; r keeps
 * none. */
static void requeue(struct ce_client *c, struct req *r)
{
    for (size_t i = r->nips; i-- > 0;) {
        queue_push(c, r->ips[i], true);
        r->ips[i] = NULL;
    }
    r->nips = 0;
}

static bool start_req(struct ce_client *c, struct req *r)
{
    struct ce_buf url = {0};
    r->batch = r->nips > 1 || (c->o.batch_size > 1 && !c->batch_refused);
    if (!r->batch) {
        ce_buf_printf(&url, "%s/smoke/%s", c->base_url, r->ips[0]);
    } else {
        ce_buf_printf(&url, "%s/smoke?ips=", c->base_url);
        for (size_t i = 0; i < r->nips; i++)
            ce_buf_printf(&url, "%s%s", i ? "," : "", r->ips[i]);
        c->stats.batch_calls++;
    }
    ce_buf_reset(&r->body);
    r->too_big = false;
    r->retry_after_ms = -1;
    if (!r->easy)
        r->easy = curl_easy_init();
    else
        curl_easy_reset(r->easy);
    CURL *e = r->easy;
    if (!e) {
        ce_buf_free(&url);
        return false;
    }
    curl_easy_setopt(e, CURLOPT_URL, ce_buf_cstr(&url));
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, c->headers);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "cti-enrich/" CE_VERSION);
    curl_easy_setopt(e, CURLOPT_PRIVATE, r);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT, c->o.timeout_s);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, c->o.connect_timeout_s);
    curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)body_limit(c, r));
    curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
    /* A request that stalls below 1 byte/s for the whole timeout is dead. */
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, c->o.timeout_s);
    ce_buf_free(&url);
    if (curl_multi_add_handle(c->multi, e) != CURLM_OK)
        return false;
    c->inflight[c->ninflight++] = r;
    c->stats.requests++;
    return true;
}

static size_t batch_limit(const struct ce_client *c)
{
    return c->o.batch_size > 1 && !c->batch_refused ? (size_t)c->o.batch_size : 1;
}

static void start_ready(struct ce_client *c)
{
    if (c->stopped != CE_CR_OK) {
        /* After a 403 or a Limit Exceeded nothing more is asked: late
         * submissions fail at once, as promised in cti_client.h. */
        char *ip;
        while ((ip = queue_pop(c)) != NULL) {
            report(c, ip, c->stopped, 0, NULL, 0, NULL);
            free(ip);
        }
        return;
    }
    int64_t now = ce_now_ms();
    while (c->ninflight < (size_t)c->o.concurrency) {
        struct req *r = NULL;
        /* Retries that are due go first: they were asked before the queue. */
        for (struct req **pp = &c->retries; *pp; pp = &(*pp)->next)
            if ((*pp)->due_ms <= now) {
                r = *pp;
                *pp = r->next;
                r->next = NULL;
                break;
            }
        if (r && r->nips > 1 && c->batch_refused) {
            /* A batch call that failed while the endpoint was being refused
             * elsewhere: its IPs go as single lookups instead. */
            requeue(c, r);
            req_free(r);
            continue;
        }
        if (!r) {
            if (!c->qlen)
                return;
            r = ce_xcalloc(1, sizeof *r);
            r->client = c;
            size_t lim = batch_limit(c);
            r->ips = ce_xmalloc(lim * sizeof *r->ips);
            while (r->nips < lim && c->qlen)
                r->ips[r->nips++] = queue_pop(c);
        }
        if (!start_req(c, r)) {
            report_req(c, r, CE_CR_ERROR, 0, "cannot start the request");
            req_free(r);
        }
    }
}

static void remove_inflight(struct ce_client *c, struct req *r)
{
    for (size_t i = 0; i < c->ninflight; i++)
        if (c->inflight[i] == r) {
            c->inflight[i] = c->inflight[--c->ninflight];
            break;
        }
    curl_multi_remove_handle(c->multi, r->easy);
}

static bool schedule_retry(struct ce_client *c, struct req *r)
{
    if (r->attempt >= c->o.retries)
        return false;
    long delay;
    if (r->retry_after_ms >= 0) {
        if (r->retry_after_ms > MAX_RETRY_AFTER_MS)
            return false;
        delay = r->retry_after_ms;
    } else {
        long base = c->o.retry_base_ms;
        delay = base;
        for (int i = 0; i < r->attempt && delay < MAX_BACKOFF_MS; i++)
            delay *= 2;
        if (delay > MAX_BACKOFF_MS)
            delay = MAX_BACKOFF_MS;
        /* Full jitter on the upper half: clients that failed together do not
         * come back together. */
        c->rng = c->rng * 1103515245u + 12345u;
        if (delay > 1)
            delay = delay / 2 + (long)((c->rng >> 8) % (unsigned long)(delay / 2 + 1));
    }
    r->attempt++;
    c->stats.retries++;
    r->due_ms = ce_now_ms() + delay;
    r->next = c->retries;
    c->retries = r;
    return true;
}

/* Why schedule_retry declined, for the message. */
static const char *given_up(const struct ce_client *c, const struct req *r)
{
    return r->attempt < c->o.retries && r->retry_after_ms > MAX_RETRY_AFTER_MS
               ? "Retry-After too long to wait for"
               : "retries spent";
}

/* The service refused (403) or is out of quota: nothing more will be asked. */
static void stop_all(struct ce_client *c, enum ce_cti_result res, long status)
{
    c->stopped = res;
    ce_client_cancel_all(c, res, NULL);
    (void)status;
}

static bool body_says(const struct ce_buf *b, const char *needle)
{
    if (!b->len)
        return false;
    /* Bodies are small JSON messages; a bounded search is enough. */
    size_t nl = strlen(needle);
    for (size_t i = 0; i + nl <= b->len && i < 4096; i++)
        if (!memcmp(b->data + i, needle, nl))
            return true;
    return false;
}

/* Maps a batch answer's items back to the IPs asked; absent ones are not
 * found. */
static void deliver_batch(struct ce_client *c, struct req *r)
{
    struct json_tokener *tok = json_tokener_new();
    struct json_object *root = json_tokener_parse_ex(tok, r->body.data, (int)r->body.len);
    bool ok = root && json_tokener_get_error(tok) == json_tokener_success &&
              json_object_is_type(root, json_type_object);
    json_tokener_free(tok);
    struct json_object *items = NULL;
    if (ok && (!json_object_object_get_ex(root, "items", &items) ||
               !json_object_is_type(items, json_type_array)))
        ok = false;
    if (!ok) {
        json_object_put(root);
        report_req(c, r, CE_CR_ERROR, 200, "batch answer is not the expected JSON");
        return;
    }
    size_t n = json_object_array_length(items);
    for (size_t i = 0; i < r->nips; i++) {
        const char *text = NULL;
        for (size_t j = 0; j < n; j++) {
            struct json_object *it = json_object_array_get_idx(items, j), *ipo;
            if (json_object_is_type(it, json_type_object) &&
                json_object_object_get_ex(it, "ip", &ipo) &&
                json_object_is_type(ipo, json_type_string) &&
                !strcmp(json_object_get_string(ipo), r->ips[i])) {
                text = json_object_to_json_string_ext(it, JSON_C_TO_STRING_PLAIN |
                                                              JSON_C_TO_STRING_NOSLASHESCAPE);
                break;
            }
        }
        if (text)
            report(c, r->ips[i], CE_CR_OK, 200, text, strlen(text), NULL);
        else
            report(c, r->ips[i], CE_CR_NOT_FOUND, 200, NULL, 0, NULL);
    }
    json_object_put(root);
}

static bool transient(CURLcode rc)
{
    switch (rc) {
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
        return true;
    default:
        return false;
    }
}

static void finish(struct ce_client *c, struct req *r, CURLcode rc)
{
    remove_inflight(c, r);
    long status = 0;
    curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
    bool batch = r->batch;
    char err[256];

    if (rc != CURLE_OK) {
        if (r->too_big || rc == CURLE_FILESIZE_EXCEEDED) {
            snprintf(err, sizeof err, "answer larger than %ld bytes", body_limit(c, r));
            report_req(c, r, CE_CR_ERROR, status, err);
            req_free(r);
            return;
        }
        if (transient(rc) && schedule_retry(c, r))
            return;
        snprintf(err, sizeof err, "%s", curl_easy_strerror(rc));
        report_req(c, r, CE_CR_ERROR, status, err);
        req_free(r);
        return;
    }

    switch (status) {
    case 200:
        if (batch)
            deliver_batch(c, r);
        else
            report(c, r->ips[0], CE_CR_OK, status, r->body.data ? r->body.data : "", r->body.len,
                   NULL);
        break;
    case 404:
        report_req(c, r, CE_CR_NOT_FOUND, status, NULL);
        break;
    case 403:
        if (batch) {
            /* A key without the premium plan: fall back to single lookups.
             * Other batch calls already in flight get the same 403: one
             * warning is enough. */
            if (!c->batch_refused)
                ce_warn("the batch endpoint was refused (403): the key may lack the premium "
                        "plan; falling back to single lookups");
            c->batch_refused = true;
            requeue(c, r);
            /* Batch calls waiting to be retried would go to the refused
             * endpoint again: their IPs go back to the queue as singles. */
            for (struct req **pp = &c->retries; *pp;) {
                struct req *q = *pp;
                if (q->batch) {
                    *pp = q->next;
                    requeue(c, q);
                    req_free(q);
                } else {
                    pp = &q->next;
                }
            }
            break;
        }
        report_req(c, r, CE_CR_FORBIDDEN, status, "the API rejected the key (403)");
        req_free(r);
        stop_all(c, CE_CR_FORBIDDEN, status);
        return;
    case 429:
        if (body_says(&r->body, "Limit Exceeded")) {
            report_req(c, r, CE_CR_LIMIT, status, NULL);
            req_free(r);
            stop_all(c, CE_CR_LIMIT, status);
            return;
        }
        if (schedule_retry(c, r))
            return;
        snprintf(err, sizeof err, "throttled (429 Too Many Requests), %s", given_up(c, r));
        report_req(c, r, CE_CR_ERROR, status, err);
        break;
    default:
        if (status >= 500 && schedule_retry(c, r))
            return;
        snprintf(err, sizeof err, "HTTP status %ld%s%s", status, status >= 500 ? ", " : "",
                 status >= 500 ? given_up(c, r) : "");
        report_req(c, r, CE_CR_ERROR, status, err);
        break;
    }
    req_free(r);
}

/* Returns how many transfers finished. */
static size_t collect(struct ce_client *c)
{
    CURLMsg *m;
    int left;
    size_t n = 0;
    while ((m = curl_multi_info_read(c->multi, &left)) != NULL) {
        if (m->msg != CURLMSG_DONE)
            continue;
        struct req *r = NULL;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&r);
        finish(c, r, m->data.result);
        n++;
    }
    return n;
}

bool ce_client_run(struct ce_client *c, int extra_fd, int timeout_ms)
{
    int running;
    start_ready(c);
    /* A due retry only shortens the wait when a slot is free to start it;
     * otherwise the wait ends with a finished request anyway. */
    if (timeout_ms > 0 && c->retries && c->ninflight < (size_t)c->o.concurrency) {
        int64_t now = ce_now_ms(), next = INT64_MAX;
        for (struct req *r = c->retries; r; r = r->next)
            if (r->due_ms < next)
                next = r->due_ms;
        int64_t wait = next - now;
        if (wait < 0)
            wait = 0;
        if (wait < timeout_ms)
            timeout_ms = (int)wait;
    }
    struct curl_waitfd wfd = {.fd = extra_fd, .events = CURL_WAIT_POLLIN, .revents = 0};
    bool readable = false;
    if (timeout_ms > 0 || extra_fd >= 0) {
        int nfds = 0;
        curl_multi_poll(c->multi, extra_fd >= 0 ? &wfd : NULL, extra_fd >= 0 ? 1 : 0, timeout_ms,
                        &nfds);
        readable = extra_fd >= 0 && (wfd.revents & (CURL_WAIT_POLLIN)) != 0;
    }
    /* Until nothing changes: a perform that only sends a new request can also
     * finish another transfer whose answer has arrived, and a finished
     * transfer left uncollected would wait for the next socket event (or the
     * caller's whole timeout) to be reported. */
    for (;;) {
        curl_multi_perform(c->multi, &running);
        size_t before = c->stats.requests;
        size_t done = collect(c);
        start_ready(c);
        if (!done && c->stats.requests == before)
            break;
    }
    return readable;
}

void ce_client_cancel_all(struct ce_client *c, enum ce_cti_result res, const char *err)
{
    while (c->ninflight) {
        struct req *r = c->inflight[0];
        remove_inflight(c, r);
        report_req(c, r, res, 0, err);
        req_free(r);
    }
    while (c->retries) {
        struct req *r = c->retries;
        c->retries = r->next;
        report_req(c, r, res, 0, err);
        req_free(r);
    }
    char *ip;
    while ((ip = queue_pop(c)) != NULL) {
        report(c, ip, res, 0, NULL, 0, err);
        free(ip);
    }
}
