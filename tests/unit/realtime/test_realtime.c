/* test_realtime.c — channels and their rules, sequence numbers, bounded
 * history and gap-free resume over the in-process bus and the hub. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <unistd.h>
#include <jansson.h>

#include "core/err.h"
#include "realtime/bus.h"
#include "realtime/channel.h"
#include "realtime/hub.h"
#include "realtime/limits.h"

/* ---- a recording subscriber ---- */

#define REC_MAX 64

typedef struct recorder {
    int n;
    rt_frame_kind kind[REC_MAX];
    uint64_t seq[REC_MAX];
    char text[REC_MAX][512];
    int busy_after; /* answer SM_EBUSY from this frame on (0: never) */
    int slow_calls;
} recorder;

static int rec_send(void *ctx, rt_frame_kind kind, uint64_t seq, const char *epoch,
                    const char *text, size_t len)
{
    recorder *r = ctx;
    (void)epoch;
    if (r->busy_after && r->n >= r->busy_after)
        return SM_EBUSY;
    if (r->n < REC_MAX) {
        r->kind[r->n] = kind;
        r->seq[r->n] = seq;
        snprintf(r->text[r->n], sizeof r->text[r->n], "%.*s", (int)len, text);
        r->n++;
    }
    return 0;
}

static void rec_slow(void *ctx)
{
    ((recorder *)ctx)->slow_calls++;
}

static const rt_sub_callbacks rec_cb = {.send = rec_send, .slow = rec_slow};

/* Publishes and waits for the fan-out thread, so that each step below sees
 * the state it names (the concurrent case has its own test). */
static void publish(rt_bus *b, const char *channel, int i)
{
    json_t *data = json_pack("{si}", "i", i);
    assert_int_equal(rt_bus_publish(b, channel, "order.created", data), 0);
    json_decref(data);
    rt_bus_flush(b);
}

/* ---- channels ---- */

static void channel_rules_deny_by_default(void **state)
{
    (void)state;
    assert_true(rt_channel_valid("admin.orders"));
    assert_true(rt_channel_valid("admin.notifications"));
    assert_true(rt_channel_valid("user.42"));
    assert_false(rt_channel_valid("user.042"));
    assert_false(rt_channel_valid("user."));
    assert_false(rt_channel_valid("user.1x"));
    assert_false(rt_channel_valid("admin.secret"));
    assert_false(rt_channel_valid(""));

    assert_int_equal(rt_channel_authorize("admin.orders", 1, RT_ROLE_STAFF), 0);
    assert_int_equal(rt_channel_authorize("admin.orders", 1, RT_ROLE_ADMIN), 0);
    assert_int_equal(rt_channel_authorize("admin.orders", 1, RT_ROLE_CUSTOMER), SM_EFORBIDDEN);
    assert_int_equal(rt_channel_authorize("admin.notifications", 1, RT_ROLE_ADMIN), 0);
    assert_int_equal(rt_channel_authorize("admin.notifications", 1, RT_ROLE_STAFF), SM_EFORBIDDEN);
    assert_int_equal(rt_channel_authorize("user.7", 7, RT_ROLE_CUSTOMER), 0);
    assert_int_equal(rt_channel_authorize("user.7", 8, RT_ROLE_CUSTOMER), SM_EFORBIDDEN);
    assert_int_equal(rt_channel_authorize("user.7", 8, RT_ROLE_STAFF), SM_EFORBIDDEN);
    assert_int_equal(rt_channel_authorize("user.7", 8, RT_ROLE_ADMIN), 0);
    assert_int_equal(rt_channel_authorize("admin.secret", 1, RT_ROLE_ADMIN), SM_EFORBIDDEN);

    char out[RT_CHANNEL_MAX];
    assert_int_equal(rt_channel_from_path("user", "12", out), 0);
    assert_string_equal(out, "user.12");
    assert_int_equal(rt_channel_from_path("user", "0", out), SM_ENOTFOUND);
    assert_int_equal(rt_channel_from_path("admin", "orders", out), 0);
    assert_string_equal(out, "admin.orders");
    assert_int_equal(rt_channel_from_path("admin", "x", out), SM_ENOTFOUND);
}

/* ---- bus and hub ---- */

static void publish_numbers_events_and_refuses_bad_input(void **state)
{
    (void)state;
    rt_bus *b = rt_bus_inproc_new(10, 3600000);
    assert_non_null(b);
    assert_int_equal(rt_bus_publish(b, "admin.secret", "x", NULL), SM_EINVAL);
    assert_int_equal(rt_bus_publish(b, "admin.orders", "Bad Type", NULL), SM_EINVAL);
    for (int i = 1; i <= 3; i++)
        publish(b, "admin.orders", i);
    rt_replay r;
    assert_int_equal(rt_bus_replay(b, "admin.orders", false, 0, NULL, &r), 0);
    assert_int_equal(r.seq, 3);
    assert_true(rt_epoch_valid(r.epoch));
    char epoch[RT_EPOCH_LEN + 1];
    memcpy(epoch, r.epoch, sizeof epoch);
    rt_replay_free(&r);

    assert_int_equal(rt_bus_replay(b, "admin.orders", true, 1, epoch, &r), 0);
    assert_false(r.gone);
    assert_int_equal(r.count, 2);
    assert_int_equal(r.events[0].seq, 2);
    assert_int_equal(r.events[1].seq, 3);
    json_t *f = json_loads(r.events[1].frame, 0, NULL);
    assert_non_null(f);
    assert_string_equal(json_string_value(json_object_get(f, "channel")), "admin.orders");
    assert_string_equal(json_string_value(json_object_get(f, "epoch")), epoch);
    assert_int_equal(json_integer_value(json_object_get(f, "seq")), 3);
    assert_string_equal(json_string_value(json_object_get(f, "type")), "order.created");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(f, "data"), "i")), 3);
    json_decref(f);
    rt_replay_free(&r);

    /* Other channels have their own numbering and epoch. */
    publish(b, "user.5", 1);
    assert_int_equal(rt_bus_replay(b, "user.5", false, 0, NULL, &r), 0);
    assert_int_equal(r.seq, 1);
    assert_string_not_equal(r.epoch, epoch);
    rt_replay_free(&r);
    rt_bus_free(b);
}

static void history_gone_when_evicted_wrong_epoch_or_ahead(void **state)
{
    (void)state;
    rt_bus *b = rt_bus_inproc_new(3, 3600000);
    for (int i = 1; i <= 5; i++)
        publish(b, "admin.orders", i);
    rt_replay r;
    assert_int_equal(rt_bus_replay(b, "admin.orders", false, 0, NULL, &r), 0);
    char epoch[RT_EPOCH_LEN + 1];
    memcpy(epoch, r.epoch, sizeof epoch);
    rt_replay_free(&r);

    assert_int_equal(rt_bus_replay(b, "admin.orders", true, 1, epoch, &r), 0);
    assert_true(r.gone); /* 2 was evicted */
    assert_int_equal(r.count, 0);
    rt_replay_free(&r);
    assert_int_equal(rt_bus_replay(b, "admin.orders", true, 2, epoch, &r), 0);
    assert_false(r.gone); /* 3..5 are all there */
    assert_int_equal(r.count, 3);
    rt_replay_free(&r);
    assert_int_equal(rt_bus_replay(b, "admin.orders", true, 5, epoch, &r), 0);
    assert_false(r.gone);
    assert_int_equal(r.count, 0);
    rt_replay_free(&r);
    assert_int_equal(rt_bus_replay(b, "admin.orders", true, 6, epoch, &r), 0);
    assert_true(r.gone);
    rt_replay_free(&r);
    assert_int_equal(rt_bus_replay(b, "admin.orders", true, 5, "0123456789abcdef", &r), 0);
    assert_true(r.gone);
    rt_replay_free(&r);
    rt_bus_free(b);
}

static void history_expires_by_age(void **state)
{
    (void)state;
    rt_bus *b = rt_bus_inproc_new(100, 1); /* 1 ms */
    publish(b, "admin.orders", 1);
    publish(b, "admin.orders", 2);
    struct timespec ts = {0, 5 * 1000000L};
    nanosleep(&ts, NULL);
    rt_replay r;
    assert_int_equal(rt_bus_replay(b, "admin.orders", false, 0, NULL, &r), 0);
    char epoch[RT_EPOCH_LEN + 1];
    memcpy(epoch, r.epoch, sizeof epoch);
    rt_replay_free(&r);
    assert_int_equal(rt_bus_replay(b, "admin.orders", true, 1, epoch, &r), 0);
    assert_true(r.gone);
    rt_replay_free(&r);
    rt_bus_free(b);
}

/* Events published between subscribe and attach are neither lost nor
 * doubled: the replay covers some, the queue the rest. */
static void resume_has_no_gap_and_no_duplicate(void **state)
{
    (void)state;
    rt_bus *b = rt_bus_inproc_new(100, 3600000);
    publish(b, "admin.orders", 1);
    publish(b, "admin.orders", 2);
    rt_replay r;
    assert_int_equal(rt_bus_replay(b, "admin.orders", false, 0, NULL, &r), 0);
    char epoch[RT_EPOCH_LEN + 1];
    memcpy(epoch, r.epoch, sizeof epoch);
    rt_replay_free(&r);
    publish(b, "admin.orders", 3);

    recorder rec = {0};
    rt_sub *s = rt_sub_open("admin.orders", &rec_cb, &rec);
    assert_non_null(s);
    publish(b, "admin.orders", 4); /* queued, and also in the replay */
    assert_int_equal(rt_sub_replay(s, b, true, 1, epoch), 0);
    publish(b, "admin.orders", 5); /* queued after the replay */
    assert_int_equal(rec.n, 0);    /* nothing flows before attach */
    rt_sub_attach(s);
    publish(b, "admin.orders", 6); /* live */

    assert_int_equal(rec.n, 6);
    assert_int_equal(rec.kind[0], RT_FRAME_WELCOME);
    assert_non_null(strstr(rec.text[0], "\"resumed\":true"));
    for (int i = 1; i < 6; i++) {
        assert_int_equal(rec.kind[i], RT_FRAME_EVENT);
        assert_int_equal(rec.seq[i], (uint64_t)i + 1);
    }
    assert_int_equal(rt_hub_count(), 1);
    rt_sub_close(s);
    assert_int_equal(rt_hub_count(), 0);
    rt_bus_free(b);
}

static void resume_from_gone_position_says_so(void **state)
{
    (void)state;
    rt_bus *b = rt_bus_inproc_new(100, 3600000);
    publish(b, "user.9", 1);
    recorder rec = {0};
    rt_sub *s = rt_sub_open("user.9", &rec_cb, &rec);
    assert_int_equal(rt_sub_replay(s, b, true, 7, "ffffffffffffffff"), 0);
    rt_sub_attach(s);
    publish(b, "user.9", 2);
    assert_int_equal(rec.n, 3);
    assert_int_equal(rec.kind[0], RT_FRAME_WELCOME);
    assert_non_null(strstr(rec.text[0], "\"resumed\":false"));
    assert_int_equal(rec.kind[1], RT_FRAME_GONE);
    assert_non_null(strstr(rec.text[1], "\"type\":\"history_gone\""));
    assert_int_equal(rec.seq[1], 1);
    assert_int_equal(rec.kind[2], RT_FRAME_EVENT);
    assert_int_equal(rec.seq[2], 2);
    rt_sub_close(s);
    rt_bus_free(b);
}

/* A subscriber that only checks the order of what it gets. */
typedef struct checker {
    uint64_t first, last; /* sequence numbers of the first and last event */
    int events, out_of_order, gone;
} checker;

static int check_send(void *ctx, rt_frame_kind kind, uint64_t seq, const char *epoch,
                      const char *text, size_t len)
{
    checker *c = ctx;
    (void)epoch, (void)text, (void)len;
    if (kind == RT_FRAME_GONE)
        c->gone++;
    if (kind != RT_FRAME_EVENT)
        return 0;
    if (c->events == 0)
        c->first = seq;
    else if (seq != c->last + 1)
        c->out_of_order++;
    c->last = seq;
    c->events++;
    return 0;
}

static const rt_sub_callbacks check_cb = {.send = check_send, .slow = rec_slow};

typedef struct burst {
    rt_bus *b;
    int n;
} burst;

static void *publish_burst(void *arg)
{
    burst *p = arg;
    for (int i = 1; i <= p->n; i++) {
        json_t *data = json_pack("{si}", "i", i);
        if (rt_bus_publish(p->b, "admin.orders", "order.created", data) != 0)
            abort();
        json_decref(data);
    }
    return NULL;
}

/* Fan-out runs on the bus's thread, after publish returns: subscribers
 * that join, replay and attach while events are published and still
 * queued for fan-out get every event after their position once, in order. */
static void concurrent_publish_and_resume_has_no_gap_and_no_duplicate(void **state)
{
    (void)state;
    enum { N = 3000, SUBS = 8 };
    rt_bus *b = rt_bus_inproc_new(N, 3600000);
    burst p = {b, N};
    pthread_t t;
    checker c[SUBS] = {0};
    rt_sub *s[SUBS];
    uint64_t from[SUBS];
    assert_int_equal(pthread_create(&t, NULL, publish_burst, &p), 0);
    for (int k = 0; k < SUBS; k++) {
        rt_replay r;
        assert_int_equal(rt_bus_replay(b, "admin.orders", false, 0, NULL, &r), 0);
        from[k] = r.seq > 5 ? r.seq - 5 : 0; /* a client a few events behind */
        s[k] = rt_sub_open("admin.orders", &check_cb, &c[k]);
        assert_non_null(s[k]);
        assert_int_equal(rt_sub_replay(s[k], b, true, from[k], r.epoch), 0);
        rt_replay_free(&r);
        rt_sub_attach(s[k]);
        struct timespec ts = {0, 200 * 1000L};
        nanosleep(&ts, NULL);
    }
    pthread_join(t, NULL);
    rt_bus_flush(b);
    for (int k = 0; k < SUBS; k++) {
        assert_int_equal(c[k].gone, 0);
        assert_int_equal(c[k].out_of_order, 0);
        assert_int_equal(c[k].last, N);
        assert_int_equal(c[k].first, from[k] + 1);
        assert_int_equal(c[k].events, (int)(N - from[k]));
        rt_sub_close(s[k]);
    }
    rt_bus_free(b);
}

/* A subscriber whose first event blocks the fan-out thread until released. */
typedef struct gate {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool open;
    int events;
} gate;

static int gate_send(void *ctx, rt_frame_kind kind, uint64_t seq, const char *epoch,
                     const char *text, size_t len)
{
    gate *g = ctx;
    (void)seq, (void)epoch, (void)text, (void)len;
    if (kind != RT_FRAME_EVENT)
        return 0;
    pthread_mutex_lock(&g->mu);
    while (!g->open)
        pthread_cond_wait(&g->cv, &g->mu);
    g->events++;
    pthread_mutex_unlock(&g->mu);
    return 0;
}

static const rt_sub_callbacks gate_cb = {.send = gate_send, .slow = rec_slow};

typedef struct big_burst {
    rt_bus *b;
    int n;
    atomic_int done;
} big_burst;

static void *publish_big(void *arg)
{
    big_burst *p = arg;
    char *text = malloc(60001);
    memset(text, 'x', 60000);
    text[60000] = '\0';
    json_t *data = json_pack("{ss}", "blob", text);
    for (int i = 0; i < p->n; i++) {
        if (rt_bus_publish(p->b, "admin.orders", "order.created", data) != 0)
            abort();
        atomic_fetch_add(&p->done, 1);
    }
    json_decref(data);
    free(text);
    return NULL;
}

static void on_watchdog(int sig)
{
    (void)sig;
    static const char msg[] = "test_realtime: blocked for 20 s (deadlock)\n";
    if (write(2, msg, sizeof msg - 1) < 0)
        _exit(3);
    _exit(2);
}

/* A subscriber that stops reading stalls the fan-out thread: publishers
 * then wait once the FIFO holds its bound (8 MiB), and replays, which
 * connection set-ups run, still answer. Nothing is lost once it reads. */
static void full_fanout_queue_holds_publishers_not_replays(void **state)
{
    (void)state;
    enum { N = 200 }; /* 200 frames of ~60 KB: more than the bound */
    rt_bus *b = rt_bus_inproc_new(N, 3600000);
    gate g = {.open = false};
    pthread_mutex_init(&g.mu, NULL);
    pthread_cond_init(&g.cv, NULL);
    rt_sub *s = rt_sub_open("admin.orders", &gate_cb, &g);
    assert_int_equal(rt_sub_replay(s, b, false, 0, NULL), 0);
    rt_sub_attach(s);

    signal(SIGALRM, on_watchdog);
    alarm(20);
    big_burst p = {.b = b, .n = N};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, publish_big, &p), 0);
    /* Until the publisher has stopped advancing for three looks in a row
     * (one 100 ms look can fall in a moment a loaded machine did not run
     * it). */
    int seen = -1, now = 0;
    for (int still = 0; still < 3;) {
        struct timespec ts = {0, 100 * 1000000L};
        nanosleep(&ts, NULL);
        now = atomic_load(&p.done);
        still = now == seen ? still + 1 : 0;
        seen = now;
    }
    assert_true(now > 100 && now < N); /* held back near the bound, not at once */
    rt_replay r;
    assert_int_equal(rt_bus_replay(b, "admin.orders", false, 0, NULL, &r), 0);
    assert_int_equal(r.seq, (uint64_t)now);
    rt_replay_free(&r);

    pthread_mutex_lock(&g.mu);
    g.open = true;
    pthread_cond_broadcast(&g.cv);
    pthread_mutex_unlock(&g.mu);
    pthread_join(t, NULL);
    rt_bus_flush(b);
    alarm(0);
    assert_int_equal(g.events, N);
    rt_sub_close(s);
    rt_bus_free(b);
    pthread_cond_destroy(&g.cv);
    pthread_mutex_destroy(&g.mu);
}

static void slow_consumer_is_cut_once(void **state)
{
    (void)state;
    rt_bus *b = rt_bus_inproc_new(100, 3600000);
    recorder rec = {.busy_after = 2};
    rt_sub *s = rt_sub_open("admin.orders", &rec_cb, &rec);
    assert_int_equal(rt_sub_replay(s, b, false, 0, NULL), 0);
    rt_sub_attach(s);
    for (int i = 0; i < 5; i++)
        publish(b, "admin.orders", i);
    assert_int_equal(rec.n, 2); /* welcome + one event */
    assert_int_equal(rec.slow_calls, 1);
    rt_sub_close(s);
    rt_bus_free(b);
}

/* ---- limits ---- */

static void connection_limits_and_token_bucket(void **state)
{
    (void)state;
    assert_int_equal(rt_limits_acquire(1, "10.0.0.1", 2, 3), 0);
    assert_int_equal(rt_limits_acquire(1, "10.0.0.1", 2, 3), 0);
    assert_int_equal(rt_limits_acquire(1, "10.0.0.1", 2, 3), SM_ERATELIMIT); /* user */
    assert_int_equal(rt_limits_acquire(2, "10.0.0.1", 2, 3), 0);
    assert_int_equal(rt_limits_acquire(3, "10.0.0.1", 2, 3), SM_ERATELIMIT); /* ip */
    assert_int_equal(rt_limits_acquire(3, "10.0.0.2", 2, 3), 0);
    rt_limits_release(1, "10.0.0.1");
    assert_int_equal(rt_limits_acquire(1, "10.0.0.1", 2, 3), 0);
    rt_limits_release(1, "10.0.0.1");
    rt_limits_release(1, "10.0.0.1");
    rt_limits_release(2, "10.0.0.1");
    rt_limits_release(3, "10.0.0.2");

    rt_bucket bk;
    uint64_t t = 1000000000ull;
    rt_bucket_init(&bk, 3, t);
    assert_true(rt_bucket_take(&bk, t));
    assert_true(rt_bucket_take(&bk, t));
    assert_true(rt_bucket_take(&bk, t));
    assert_false(rt_bucket_take(&bk, t));
    assert_true(rt_bucket_take(&bk, t + 400000000ull)); /* 1.2 tokens refilled */
    assert_false(rt_bucket_take(&bk, t + 400000000ull));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(channel_rules_deny_by_default),
        cmocka_unit_test(publish_numbers_events_and_refuses_bad_input),
        cmocka_unit_test(history_gone_when_evicted_wrong_epoch_or_ahead),
        cmocka_unit_test(history_expires_by_age),
        cmocka_unit_test(resume_has_no_gap_and_no_duplicate),
        cmocka_unit_test(resume_from_gone_position_says_so),
        cmocka_unit_test(concurrent_publish_and_resume_has_no_gap_and_no_duplicate),
        cmocka_unit_test(full_fanout_queue_holds_publishers_not_replays),
        cmocka_unit_test(slow_consumer_is_cut_once),
        cmocka_unit_test(connection_limits_and_token_bucket),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
