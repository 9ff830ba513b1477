/* test_embed.c — the embeddings client against a stand-in service: a
 * small HTTP server on 127.0.0.1 in a thread of this process, speaking the
 * OpenAI /v1/embeddings API with hashed bag-of-words vectors. Covers the
 * endpoint rule, the answer checks (order by index, dimensions, numbers,
 * counts, JSON), retries of 5xx and not of 4xx, deadlines, the build with
 * its cache on both databases, and the query cache and pause. */
#include "db/db_fixture.h"

#include <arpa/inet.h>
#include <jansson.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>

#include "ml/artefact.h"
#include "ml/docs.h"
#include "ml/embed.h"
#include "ml/lexical.h"
#include "ml/text.h"
#include "ml/vectors.h"

#define DIM 16

typedef enum mode {
    M_OK,
    M_SHUFFLED,
    M_HTTP500,
    M_HTTP400,
    M_MALFORMED,
    M_WRONGDIM,
    M_BIGDIM,
    M_NONFINITE,
    M_MISSING,
    M_SLOW,
    M_SMALLDIM, /* a different model behind the same name: 8 dimensions */
} mode;

static struct {
    int fd, port;
    pthread_t thread;
    mode mode;            /* atomic */
    int requests, inputs; /* atomic */
    char auth[256];
} g_srv;

/* word → ±1 at a hashed coordinate, plus a constant: related texts are close */
static void bag_of_words(const char *text, float *v)
{
    memset(v, 0, sizeof *v * DIM);
    v[0] = 0.05f;
    const char *p = text;
    while (*p) {
        while (*p && !((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')))
            p++;
        uint32_t h = 2166136261u;
        int len = 0;
        for (; (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z'); p++, len++)
            h = (h ^ (uint32_t)(*p | 0x20)) * 16777619u;
        if (len)
            v[1 + h % (DIM - 1)] += (h >> 31) ? -1.0f : 1.0f;
    }
}

static void answer(int c, int status, const char *body)
{
    char head[256];
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: "
                     "%zu\r\nConnection: close\r\n\r\n",
                     status, strlen(body));
    if (write(c, head, (size_t)n) < 0 || write(c, body, strlen(body)) < 0)
        return;
}

static char *ok_body(json_t *input, mode m)
{
    size_t n = json_array_size(input);
    json_t *data = json_array();
    for (size_t i = 0; i < n; i++) {
        if (m == M_MISSING && i == 0)
            continue;
        float v[DIM];
        bag_of_words(json_string_value(json_array_get(input, i)), v);
        json_t *emb = json_array();
        int dim = m == M_BIGDIM                     ? EMBED_DIM_MAX + 1
                  : m == M_SMALLDIM                 ? 8
                  : (m == M_WRONGDIM && i == n - 1) ? DIM - 1
                                                    : DIM;
        for (int k = 0; k < dim; k++)
            json_array_append_new(emb, json_real(k < DIM ? v[k] : 0.5));
        json_t *item = json_pack("{sIso}", "index", (json_int_t)i, "embedding", emb);
        if (m == M_SHUFFLED)
            json_array_insert_new(data, 0, item);
        else
            json_array_append_new(data, item);
    }
    json_t *root = json_pack("{so}", "data", data);
    char *s = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    return s;
}

static void serve_one(int c)
{
    char buf[1 << 16];
    size_t len = 0;
    char *end = NULL;
    while (len < sizeof buf - 1 && !end) {
        ssize_t n = read(c, buf + len, sizeof buf - 1 - len);
        if (n <= 0)
            return;
        len += (size_t)n;
        buf[len] = '\0';
        end = strstr(buf, "\r\n\r\n");
    }
    const char *cl = strcasestr(buf, "Content-Length:");
    size_t want = cl ? strtoul(cl + 15, NULL, 10) : 0, have = len - (size_t)(end + 4 - buf);
    while (have < want && len < sizeof buf - 1) {
        ssize_t n = read(c, buf + len, sizeof buf - 1 - len);
        if (n <= 0)
            return;
        len += (size_t)n;
        have += (size_t)n;
    }
    buf[len] = '\0';
    const char *auth = strcasestr(buf, "Authorization: ");
    if (auth)
        snprintf(g_srv.auth, sizeof g_srv.auth, "%.*s", (int)strcspn(auth + 15, "\r"), auth + 15);
    json_t *req = json_loadb(end + 4, have, 0, NULL);
    json_t *input = json_object_get(req, "input");
    __atomic_add_fetch(&g_srv.requests, 1, __ATOMIC_SEQ_CST);
    __atomic_add_fetch(&g_srv.inputs, (int)json_array_size(input), __ATOMIC_SEQ_CST);
    mode m = __atomic_load_n(&g_srv.mode, __ATOMIC_SEQ_CST);
    if (m == M_HTTP500)
        answer(c, 500, "{\"error\":{\"message\":\"down\"}}");
    else if (m == M_HTTP400)
        answer(c, 400, "{\"error\":{\"message\":\"bad model\"}}");
    else if (m == M_MALFORMED)
        answer(c, 200, "{\"data\": [");
    else if (m == M_NONFINITE)
        answer(c, 200, "{\"data\": [{\"index\": 0, \"embedding\": [1e999, 0.5]}]}");
    else {
        if (m == M_SLOW)
            usleep(400 * 1000);
        char *body = ok_body(input, m);
        answer(c, 200, body ? body : "");
        free(body);
    }
    json_decref(req);
}

static void *server_main(void *arg)
{
    (void)arg;
    for (;;) {
        int c = accept(g_srv.fd, NULL, NULL);
        if (c < 0)
            return NULL;
        serve_one(c);
        close(c);
    }
}

static void server_start(void)
{
    g_srv.fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    assert_int_equal(bind(g_srv.fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(g_srv.fd, 16), 0);
    assert_int_equal(getsockname(g_srv.fd, (struct sockaddr *)&a, &al), 0);
    g_srv.port = ntohs(a.sin_port);
    assert_int_equal(pthread_create(&g_srv.thread, NULL, server_main, NULL), 0);
    pthread_detach(g_srv.thread);
}

static void set_mode(mode m)
{
    __atomic_store_n(&g_srv.mode, m, __ATOMIC_SEQ_CST);
    __atomic_store_n(&g_srv.requests, 0, __ATOMIC_SEQ_CST);
    __atomic_store_n(&g_srv.inputs, 0, __ATOMIC_SEQ_CST);
}

static int requests(void)
{
    return __atomic_load_n(&g_srv.requests, __ATOMIC_SEQ_CST);
}

static embed_config config(void)
{
    embed_config c = {.timeout_ms = 2000, .batch = 3};
    char base[64];
    snprintf(base, sizeof base, "http://127.0.0.1:%d", g_srv.port);
    assert_int_equal(embed_endpoint(base, c.url, sizeof c.url), 0);
    snprintf(c.model, sizeof c.model, "stand-in");
    snprintf(c.api_key, sizeof c.api_key, "sk-unit");
    return c;
}

static const char *const texts[] = {"red cotton shirt", "blue cotton shirt", "steel kettle"};

static void endpoint_appends_the_path_unless_given(void **state)
{
    (void)state;
    char out[128];
    assert_int_equal(embed_endpoint("http://h:1", out, sizeof out), 0);
    assert_string_equal(out, "http://h:1/v1/embeddings");
    assert_int_equal(embed_endpoint("http://h:1/", out, sizeof out), 0);
    assert_string_equal(out, "http://h:1/v1/embeddings");
    assert_int_equal(embed_endpoint("https://h/api/v2/embeddings/", out, sizeof out), 0);
    assert_string_equal(out, "https://h/api/v2/embeddings");
    assert_int_equal(embed_endpoint("http://a-very-long-host-name", out, 20), SM_ETOOLARGE);
}

static void texts_are_embedded_in_order_and_normalised(void **state)
{
    (void)state;
    for (int m = M_OK; m <= M_SHUFFLED; m++) { /* shuffled: placed by "index" */
        set_mode((mode)m);
        embed_config c = config();
        float *v = NULL;
        uint32_t dim = 0;
        sm_error err = {0};
        if (embed_texts(&c, texts, 3, 2000, &v, &dim, &err) != 0)
            fail_msg("embed_texts: %s", err.message);
        assert_int_equal(dim, DIM);
        assert_int_equal(requests(), 1);
        assert_string_equal(g_srv.auth, "Bearer sk-unit");
        for (int i = 0; i < 3; i++) {
            float want[DIM], n = 0, dot = 0;
            bag_of_words(texts[i], want);
            for (int k = 0; k < DIM; k++)
                n += want[k] * want[k];
            for (int k = 0; k < DIM; k++)
                dot += v[i * DIM + k] * want[k] / sqrtf(n);
            assert_float_equal(dot, 1.0f, 1e-4); /* the same direction, unit length */
        }
        free(v);
    }
}

static void bad_answers_are_refused(void **state)
{
    (void)state;
    static const struct {
        mode m;
        int rc, tries;
    } cases[] = {
        {M_HTTP500, SM_EUNAVAILABLE, 1 + EMBED_RETRIES}, /* retried, then given up */
        {M_HTTP400, SM_EUNAVAILABLE, 1},                 /* a 4xx is not retried */
        {M_MALFORMED, SM_EINVAL, 1},
        {M_WRONGDIM, SM_EINVAL, 1},
        {M_BIGDIM, SM_EINVAL, 1},
        {M_NONFINITE, SM_EINVAL, 1},
        {M_MISSING, SM_EINVAL, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        set_mode(cases[i].m);
        embed_config c = config();
        float *v = NULL;
        uint32_t dim = 0;
        sm_error err = {0};
        assert_int_equal(embed_texts(&c, texts, 3, 2000, &v, &dim, &err), cases[i].rc);
        assert_null(v);
        assert_true(strstr(err.message, "embeddings") != NULL);
        assert_int_equal(requests(), cases[i].tries);
    }
    set_mode(M_OK);
}

static void a_slow_service_times_out(void **state)
{
    (void)state;
    set_mode(M_SLOW);
    embed_config c = config();
    float *v = NULL;
    uint32_t dim = 0;
    sm_error err = {0};
    assert_int_equal(embed_texts(&c, texts, 1, 100, &v, &dim, &err), SM_ETIMEOUT);
    for (int i = 0; i < 100 && requests() < 1 + EMBED_RETRIES; i++) /* the stand-in lags */
        usleep(20 * 1000);
    assert_int_equal(requests(), 1 + EMBED_RETRIES);
    usleep(500 * 1000); /* let it finish the last one */
    set_mode(M_OK);
}

static void queries_are_cached_and_pause_after_a_failure(void **state)
{
    (void)state;
    embed_query_reset();
    set_mode(M_OK);
    embed_config c = config();
    float q[DIM], again[DIM];
    assert_int_equal(embed_query(&c, "stand-in", "cotton shirt", DIM, q), 1);
    assert_int_equal(embed_query(&c, "stand-in", "cotton shirt", DIM, again), 1);
    assert_int_equal(requests(), 1); /* the second from the LRU */
    assert_memory_equal(q, again, sizeof q);
    set_mode(M_HTTP500);
    assert_int_equal(embed_query(&c, "stand-in", "teapot", DIM, q), 0);
    assert_int_equal(requests(), 1); /* no retries at query time */
    assert_int_equal(embed_query(&c, "stand-in", "mug", DIM, q), 0);
    assert_int_equal(requests(), 1); /* paused: not even asked */
    assert_int_equal(embed_query(&c, "stand-in", "cotton shirt", DIM, q), 1); /* cached */
    embed_query_reset();
    set_mode(M_OK);
    assert_int_equal(embed_query(&c, "stand-in", "kettle", DIM + 1, q), 0); /* other dimension */
    assert_int_equal(embed_query(&c, "stand-in", "kettle", DIM, q), 0);     /* paused since */
    assert_int_equal(requests(), 1);
    embed_query_reset();
}

/* ---- the build, on both databases ---- */

static const char *const catalogue[][3] = {
    {"Red cotton shirt", "Brume", "Soft cotton."}, {"Blue cotton shirt", "Brume", "Light."},
    {"Steel kettle", "Kaffa", "Boils fast."},      {"Glass teapot", "Kaffa", "Heat resistant."},
    {"Wireless headphones", "Acme", "Over-ear."},  {"Desk lamp", "Lumo", "LED."},
    {"Paper notebook", "Scriba", "A5, dotted."},
};
#define CATALOGUE_N (sizeof catalogue / sizeof *catalogue)

/* lexical.bin and docs.bin of `catalogue` (ids 1..n) into `dir`, as the build does. */
static void write_catalogue(const char *dir)
{
    text_analyzer *a = NULL;
    lexical_builder *lb = lexical_builder_new();
    docs_builder *dbld = docs_builder_new();
    char path[ARTEFACT_PATH_MAX];
    OK(text_analyzer_new(&a, &g_err));
    for (size_t i = 0; i < CATALOGUE_N; i++) {
        const char *fields[LEXICAL_FIELDS] = {catalogue[i][0], catalogue[i][1], "",
                                              catalogue[i][2]};
        ml_doc d = {.id = (int64_t)i + 1, .price_cents = 100, .stock = 1};
        OK(lexical_builder_add(lb, a, fields));
        OK(docs_builder_add(dbld, &d, catalogue[i][0], catalogue[i][1], "EUR", ""));
    }
    OK(artefact_path(dir, "lexical.bin", path, &g_err));
    OK(lexical_builder_write(lb, path, &g_err));
    OK(artefact_path(dir, "docs.bin", path, &g_err));
    OK(docs_builder_write(dbld, path, &g_err));
    lexical_builder_free(lb);
    docs_builder_free(dbld);
    text_analyzer_free(a);
}

static void build_once(db *d, const char *dir, const embed_config *c, long long *embedded,
                       long long *cached, int expect_rc, uint32_t expect_dim)
{
    artefact_map dm = {0}, lm = {0}, vm = {0};
    docs_store docs;
    lexical_index ix;
    vectors_index v;
    char path[ARTEFACT_PATH_MAX];
    OK(artefact_map_file(dir, "docs.bin", &dm, &g_err));
    OK(docs_store_open(dm.data, dm.len, &docs, &g_err));
    OK(artefact_path(dir, "vectors.bin", path, &g_err));
    json_t *info = json_object();
    sm_error err = {0};
    int rc = embed_build_vectors(d, c, &docs, dir, path, info, &err);
    if (rc != expect_rc)
        fail_msg("embed_build_vectors -> %d (%s), expected %d", rc, err.message, expect_rc);
    if (rc == 0) {
        *embedded = json_integer_value(json_object_get(info, "embedded"));
        *cached = json_integer_value(json_object_get(info, "cached"));
        OK(artefact_map_file(dir, "lexical.bin", &lm, &g_err));
        OK(lexical_index_open(lm.data, lm.len, &ix, &g_err));
        OK(artefact_map_file(dir, "vectors.bin", &vm, &g_err));
        OK(vectors_index_open(vm.data, vm.len, &ix, &v, &g_err));
        assert_int_equal(v.source, VECTORS_SOURCE_EMBEDDINGS);
        assert_string_equal(v.model, "stand-in");
        assert_int_equal(v.dim, expect_dim);
        assert_int_equal(v.nterms, 0);
        for (uint32_t r = 0; r < v.ndocs; r++) {
            float n = 0;
            for (uint32_t k = 0; k < v.dim; k++)
                n += v.docs[r * v.dim + k] * v.docs[r * v.dim + k];
            assert_float_equal(n, 1.0f, 1e-4);
        }
        float q[VECTORS_DIM_MAX];
        uint32_t t = 0;
        float w = 1;
        assert_int_equal(vectors_query(&v, &ix, &t, &w, 1, q), 0); /* no term projection */
    }
    json_decref(info);
    artefact_unmap(&vm);
    artefact_unmap(&lm);
    artefact_unmap(&dm);
}

static void build_sends_only_changed_texts(void **state)
{
    fixture *f = *state;
    OK(db_exec(f->d,
               "CREATE TABLE products (id BIGINT PRIMARY KEY, description TEXT, active INTEGER)",
               NULL, 0, NULL, &g_err));
    for (size_t i = 0; i < CATALOGUE_N; i++) {
        db_value p[] = {DB_I(i + 1), DB_T(catalogue[i][2])};
        OK(db_exec(f->d, "INSERT INTO products (id, description, active) VALUES ($1, $2, 1)", p, 2,
                   NULL, &g_err));
    }
    char dir[64] = "/tmp/sm-embed-test-XXXXXX";
    assert_non_null(mkdtemp(dir));
    write_catalogue(dir);
    embed_config c = config();
    long long embedded = 0, cached = 0;
    set_mode(M_OK);
    build_once(f->d, dir, &c, &embedded, &cached, 0, DIM);
    assert_int_equal(embedded, CATALOGUE_N);
    assert_int_equal(cached, 0);
    assert_int_equal(requests(), (CATALOGUE_N + 2) / 3); /* batches of 3 */

    set_mode(M_OK);
    build_once(f->d, dir, &c, &embedded, &cached, 0, DIM);
    assert_int_equal(embedded, 0);
    assert_int_equal(cached, CATALOGUE_N);
    assert_int_equal(requests(), 0);

    OK(db_exec(f->d, "UPDATE products SET description = 'Changed' WHERE id = 2", NULL, 0, NULL,
               &g_err));
    OK(db_exec(f->d, "UPDATE products SET active = 0 WHERE id = 3", NULL, 0, NULL, &g_err));
    set_mode(M_OK);
    build_once(f->d, dir, &c, &embedded, &cached, 0, DIM);
    /* 2: new description; 3: no longer active, so embedded without one */
    assert_int_equal(embedded, 2);
    assert_int_equal(cached, CATALOGUE_N - 2);

    OK(db_exec(f->d, "UPDATE products SET description = 'Again' WHERE id = 1", NULL, 0, NULL,
               &g_err));
    set_mode(M_HTTP400);
    build_once(f->d, dir, &c, &embedded, &cached, SM_EUNAVAILABLE, DIM);
    /* the service now answers another dimension than the cache holds: the
     * cache is dropped and everything embedded again, once */
    set_mode(M_SMALLDIM);
    build_once(f->d, dir, &c, &embedded, &cached, 0, 8);
    assert_int_equal(embedded, CATALOGUE_N);
    assert_int_equal(cached, 0);
    set_mode(M_SMALLDIM);
    build_once(f->d, dir, &c, &embedded, &cached, 0, 8);
    assert_int_equal(cached, CATALOGUE_N); /* the new cache */
    set_mode(M_OK);
    nftw(dir, fixture_unlink_cb, 16, FTW_DEPTH | FTW_PHYS);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN); /* the stand-in writes to clients that gave up */
    server_start();
    const struct CMUnitTest plain[] = {
        cmocka_unit_test(endpoint_appends_the_path_unless_given),
        cmocka_unit_test(texts_are_embedded_in_order_and_normalised),
        cmocka_unit_test(bad_answers_are_refused),
        cmocka_unit_test(a_slow_service_times_out),
        cmocka_unit_test(queries_are_cached_and_pause_after_a_failure),
    };
    int failed = cmocka_run_group_tests_name("embed", plain, NULL, NULL);
    const struct CMUnitTest with_db[] = {FIXTURE_TEST(build_sends_only_changed_texts)};
    return failed + fixture_run_both("embed_build", with_db, sizeof with_db / sizeof *with_db);
}
