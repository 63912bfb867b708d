#include "prefetch.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

/* Four blocks of 512 KiB: enough to ride out jitter between the two threads,
 * and a fixed bound on memory. */
#define SLOTS 4
#define SLOT_SIZE (512 * 1024)

struct slot {
    char *data;
    ssize_t len; /* > 0 data, 0 end, -1 error */
    size_t off;  /* bytes already handed out */
};

struct ce_prefetch {
    struct ce_input *in;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t not_empty, not_full;
    struct slot slots[SLOTS];
    size_t head, count; /* ring of filled slots */
    bool stop;
};

static void *reader(void *arg)
{
    struct ce_prefetch *p = arg;
    size_t tail = 0;
    for (;;) {
        pthread_mutex_lock(&p->mu);
        while (p->count == SLOTS && !p->stop)
            pthread_cond_wait(&p->not_full, &p->mu);
        bool stop = p->stop;
        pthread_mutex_unlock(&p->mu);
        if (stop)
            break;
        /* The slot at tail is free: only this thread writes it until it is
         * published below. */
        struct slot *s = &p->slots[tail];
        ssize_t n = ce_input_read(p->in, s->data, SLOT_SIZE);
        pthread_mutex_lock(&p->mu);
        s->len = n;
        s->off = 0;
        p->count++;
        pthread_cond_signal(&p->not_empty);
        pthread_mutex_unlock(&p->mu);
        tail = (tail + 1) % SLOTS;
        if (n <= 0)
            break; /* end or error: the last slot says which */
    }
    return NULL;
}

static void prefetch_free(struct ce_prefetch *p)
{
    pthread_cond_destroy(&p->not_full);
    pthread_cond_destroy(&p->not_empty);
    pthread_mutex_destroy(&p->mu);
    for (size_t i = 0; i < SLOTS; i++)
        free(p->slots[i].data);
    free(p);
}

struct ce_prefetch *ce_prefetch_start(struct ce_input *in)
{
    struct ce_prefetch *p = ce_xcalloc(1, sizeof *p);
    p->in = in;
    for (size_t i = 0; i < SLOTS; i++)
        p->slots[i].data = ce_xmalloc(SLOT_SIZE);
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->not_empty, NULL);
    pthread_cond_init(&p->not_full, NULL);
    if (pthread_create(&p->thread, NULL, reader, p) != 0) {
        prefetch_free(p);
        return NULL;
    }
    return p;
}

ssize_t ce_prefetch_read(struct ce_prefetch *p, char *buf, size_t cap)
{
    pthread_mutex_lock(&p->mu);
    while (p->count == 0)
        pthread_cond_wait(&p->not_empty, &p->mu);
    struct slot *s = &p->slots[p->head];
    ssize_t r = s->len;
    if (r > 0) {
        /* The consumer owns a published slot until it releases it. */
        size_t n = (size_t)s->len - s->off;
        if (n > cap)
            n = cap;
        memcpy(buf, s->data + s->off, n);
        s->off += n;
        r = (ssize_t)n;
        if (s->off == (size_t)s->len) {
            p->head = (p->head + 1) % SLOTS;
            p->count--;
            pthread_cond_signal(&p->not_full);
        }
    }
    /* End and error stay in place: every later call sees them again. */
    pthread_mutex_unlock(&p->mu);
    return r;
}

void ce_prefetch_stop(struct ce_prefetch *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->stop = true;
    pthread_cond_signal(&p->not_full);
    pthread_mutex_unlock(&p->mu);
    pthread_join(p->thread, NULL);
    prefetch_free(p);
}
