/* test_ann.c — the approximate vector index: the FAISS shim's round trip
 * and refusals, recall on a clustered set at the default parameters,
 * filtered search with its exact fallback, and, through real builds on
 * SQLite and PostgreSQL, the size threshold and a damaged or missing
 * ann.bin keeping the previous version active. */
#include "db/db_fixture.h"

#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <sys/stat.h>

#include "db/migrations.h"
#include "ml/ann.h"
#include "ml/artefact.h"
#include "ml/build.h"
#include "ml/search.h"
#include "ml/snapshot.h"
#include "ml/vindex.h"
#include "shop/seed.h"

static uint64_t g_rng = 88172645463325252ull;

static float gauss(void)
{
    /* sum of uniforms: close enough to normal for test data */
    float s = 0;
    for (int i = 0; i < 6; i++) {
        g_rng ^= g_rng << 13, g_rng ^= g_rng >> 7, g_rng ^= g_rng << 17;
        s += (float)(g_rng >> 40) / (float)(1u << 24);
    }
    return s - 3.0f;
}

/* n unit rows of `dim` around `clusters` random centres (noise ≈ centre
 * spread / 2), the shape of real embeddings: topical groups. */
static float *clustered(uint32_t n, uint32_t dim, uint32_t clusters)
{
    float *c = malloc(sizeof(float) * clusters * dim), *m = malloc(sizeof(float) * n * dim);
    assert_non_null(c);
    assert_non_null(m);
    for (uint32_t i = 0; i < clusters * dim; i++)
        c[i] = gauss();
    for (uint32_t r = 0; r < n; r++) {
        uint32_t k = (uint32_t)(g_rng % clusters);
        float norm = 0;
        for (uint32_t j = 0; j < dim; j++) {
            float x = c[k * dim + j] + 0.5f * gauss();
            m[(size_t)r * dim + j] = x;
            norm += x * x;
        }
        for (uint32_t j = 0; j < dim; j++)
            m[(size_t)r * dim + j] /= sqrtf(norm);
    }
    free(c);
    return m;
}

static void tmpdir(char *out, size_t cap)
{
    snprintf(out, cap, "/tmp/sm-ann-test-XXXXXX");
    assert_non_null(mkdtemp(out));
}

static void rmdir_all(const char *dir)
{
    nftw(dir, fixture_unlink_cb, 16, FTW_DEPTH | FTW_PHYS);
}

static void ann_round_trip_and_refusals(void **state)
{
    (void)state;
    enum { N = 3000, DIM = 16, K = 10 };
    float *m = clustered(N, DIM, 30);
    char dir[64], path[128];
    tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/%s", dir, ANN_FILE);

    ann_index *a = NULL, *b = NULL;
    OK(ann_build(m, N, DIM, 0, &a, &g_err));
    assert_int_equal(ann_rows(a), N);
    assert_int_equal(ann_dim(a), DIM);
    assert_int_equal(ann_nlist(a), ann_nlist_for(N));
    OK(ann_save(a, path, &g_err));
    OK(ann_load(path, N, DIM, &b, &g_err));
    assert_int_equal(ann_nlist(b), ann_nlist(a));
    for (uint32_t r = 0; r < 50; r++) { /* the loaded index answers as the built one */
        const float *q = m + (size_t)(r * 37) * DIM;
        vindex_hit x[K], y[K];
        int nx = ann_search(a, q, K, 8, NULL, NULL, x), ny = ann_search(b, q, K, 8, NULL, NULL, y);
        assert_int_equal(nx, K);
        assert_int_equal(nx, ny);
        for (int i = 0; i < nx; i++) {
            assert_int_equal(x[i].row, y[i].row);
            assert_true(x[i].score == y[i].score);
        }
        assert_int_equal(x[0].row, r * 37); /* a row is its own nearest neighbour */
        assert_true(fabsf(x[0].score - 1.0f) < 1e-4f);
    }
    ann_free(a);
    ann_free(b);

    /* refusals: another shape, a missing file, garbage, a truncated file */
    b = NULL;
    assert_int_equal(ann_load(path, N + 1, DIM, &b, &g_err), SM_EINVAL);
    assert_int_equal(ann_load(path, N, DIM * 2, &b, &g_err), SM_EINVAL);
    assert_null(b);
    char other[160];
    snprintf(other, sizeof other, "%s/missing.bin", dir);
    assert_int_equal(ann_load(other, N, DIM, &b, &g_err), SM_EIO);
    FILE *f = fopen(other, "wb");
    assert_non_null(f);
    fputs("definitely not a FAISS index", f);
    fclose(f);
    assert_int_equal(ann_load(other, N, DIM, &b, &g_err), SM_EIO);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    f = fopen(path, "r+b"); /* one byte changed in the payload: the CRC catches it */
    assert_non_null(f);
    assert_int_equal(fseek(f, st.st_size / 2, SEEK_SET), 0);
    int c = fgetc(f);
    assert_int_equal(fseek(f, st.st_size / 2, SEEK_SET), 0);
    fputc(c ^ 0x40, f);
    fclose(f);
    assert_int_equal(ann_load(path, N, DIM, &b, &g_err), SM_EIO);
    assert_non_null(strstr(g_err.message, "checksum"));
    assert_int_equal(truncate(path, st.st_size / 2), 0);
    assert_int_equal(ann_load(path, N, DIM, &b, &g_err), SM_EIO);
    assert_null(b);
    assert_int_equal(ann_build(m, 0, DIM, 0, &b, &g_err), SM_EINVAL);
    assert_int_equal(ann_build(m, 10, DIM, 11, &b, &g_err), SM_EINVAL);
    rmdir_all(dir);
    free(m);
}

static void ann_recall_on_a_clustered_set_at_default_parameters(void **state)
{
    (void)state;
    enum { N = 30000, DIM = 64 };
    float *m = clustered(N, DIM, 300);
    char dir[64];
    tmpdir(dir, sizeof dir);
    json_t *info = NULL;
    OK(vindex_ann_write(m, N, DIM, dir, ANN_NPROBE_DEFAULT, &info, &g_err));
    double recall = json_real_value(json_object_get(info, "recall@10"));
    print_message("recall@10 %.3f over %lld queries, nlist %lld, ann %lld us, exact %lld us\n",
                  recall, json_integer_value(json_object_get(info, "recall_queries")),
                  json_integer_value(json_object_get(info, "nlist")),
                  json_integer_value(json_object_get(info, "ann_query_us")),
                  json_integer_value(json_object_get(info, "exact_query_us")));
    assert_true(recall >= 0.9);
    assert_int_equal(json_integer_value(json_object_get(info, "recall_queries")),
                     VINDEX_RECALL_QUERIES);
    assert_string_equal(json_string_value(json_object_get(info, "kind")), "faiss-ivf-flat");
    json_decref(info);

    /* one probed cell of many: recall measurably lower, so the measure can fail */
    OK(vindex_ann_write(m, N, DIM, dir, 1, &info, &g_err));
    assert_true(json_real_value(json_object_get(info, "recall@10")) < recall);
    json_decref(info);
    rmdir_all(dir);
    free(m);
}

static bool keep_every_nth(uint32_t row, void *ctx)
{
    return row % *(uint32_t *)ctx == 0;
}

static void vindex_search_filters_and_falls_back_to_exact(void **state)
{
    (void)state;
    enum { N = 20000, DIM = 32, K = 50 };
    float *m = clustered(N, DIM, 100);
    float *scratch = malloc(sizeof(float) * N);
    assert_non_null(scratch);
    ann_index *a = NULL;
    OK(ann_build(m, N, DIM, 0, &a, &g_err));
    vindex exact = {.m = m, .n = N, .dim = DIM}, approx = exact;
    approx.ann = a;
    approx.nprobe = ANN_NPROBE_DEFAULT;
    vindex_hit x[K], y[K];
    for (uint32_t every = 2; every <= 2000; every *= 10) {
        for (uint32_t r = 1; r < 20; r++) {
            const float *q = m + (size_t)(r * 911) * DIM;
            size_t nx = vindex_search(&approx, q, K, -INFINITY, keep_every_nth, &every, scratch, x);
            size_t ny = vindex_search(&exact, q, K, -INFINITY, keep_every_nth, &every, scratch, y);
            assert_true(nx > 0);
            for (size_t i = 0; i < nx; i++)
                assert_int_equal(x[i].row % every, 0);
            /* 2000: ten rows pass in all, fewer than K in any probed
             * cells, so the answer is the exact one */
            if (every == 2000) {
                assert_int_equal(nx, N / every);
                assert_int_equal(nx, ny);
                for (size_t i = 0; i < nx; i++)
                    assert_int_equal(x[i].row, y[i].row);
            }
        }
    }
    /* min_score cuts the approximate answer like the exact one */
    size_t n = vindex_search(&approx, m, K, 0.99f, NULL, NULL, scratch, x);
    assert_true(n >= 1);
    for (size_t i = 0; i < n; i++)
        assert_true(x[i].score > 0.99f);
    ann_free(a);
    free(scratch);
    free(m);
}

/* ---- through real builds ---- */

static void load_config(const char *min_docs)
{
    setenv("ML_ANN_MIN_DOCS", min_docs, 1);
    OK(config_load(&g_config, &g_err));
}

static json_t *manifest(const char *data_dir, char *dir, char *version)
{
    OK(artefact_current(data_dir, dir, version, &g_err));
    char path[ARTEFACT_PATH_MAX];
    OK(artefact_path(dir, "manifest.json", path, &g_err));
    json_t *m = json_load_file(path, 0, NULL);
    assert_non_null(m);
    return m;
}

static bool has_file(const char *dir, const char *name)
{
    char path[ARTEFACT_PATH_MAX];
    OK(artefact_path(dir, name, path, &g_err));
    return access(path, F_OK) == 0;
}

typedef struct querier {
    pthread_t thread;
    const char *data;
    int stop; /* atomic */
    int queries, errors;
} querier;

/* Queries the active snapshot, with and without filters, until stopped:
 * each query holds its version (and its ANN index) while a switch
 * releases it. */
static void *query_loop(void *arg)
{
    querier *c = arg;
    static const char *const words[] = {"smartphone", "casque bluetooth", "tente", "coque"};
    for (int i = 0; !__atomic_load_n(&c->stop, __ATOMIC_ACQUIRE); i++) {
        snapshot *s = snapshot_acquire(c->data);
        if (!s)
            continue;
        search_params p;
        search_params_init(&p);
        p.q = words[i % 4];
        p.in_stock = i % 2 ? 1 : -1;
        json_t *out = NULL;
        if (search_run(s, &p, &out, NULL) != 0 || !json_object_get(out, "items"))
            c->errors++;
        c->queries++;
        json_decref(out);
        snapshot_release(s);
    }
    return NULL;
}

static void build_uses_the_threshold_and_keeps_the_old_version_on_a_bad_ann(void **state)
{
    fixture *f = *state;
    seed_options o;
    seed_options_init(&o);
    o.products = 400;
    OK(db_migrate(f->d, NULL, &g_err));
    OK(seed_run(f->d, &o, NULL, &g_err));
    char data[64], dir[ARTEFACT_PATH_MAX], version[ARTEFACT_VERSION_MAX];
    char v_exact[ARTEFACT_VERSION_MAX], v_ann[ARTEFACT_VERSION_MAX];
    tmpdir(data, sizeof data);
    db_result *r = NULL;
    OK(db_query(f->d, "SELECT COUNT(*) FROM products WHERE active = 1", NULL, 0, &r, &g_err));
    int64_t active = db_result_int(r, 0, 0);
    db_result_free(r);
    char above[32], at[32];
    snprintf(above, sizeof above, "%lld", (long long)active + 1);
    snprintf(at, sizeof at, "%lld", (long long)active);

    /* below the threshold: exact only */
    load_config(above);
    OK(ml_build_indexes(f->d, data, NULL, NULL, v_exact, &g_err));
    json_t *m = manifest(data, dir, version);
    json_t *ann = json_object_get(json_object_get(m, "parameters"), "ann");
    assert_string_equal(json_string_value(json_object_get(ann, "kind")), "exact");
    assert_false(has_file(dir, ANN_FILE));
    json_decref(m);
    OK(snapshot_refresh(data, &g_err));
    snapshot *s = snapshot_acquire(data);
    assert_non_null(s);
    assert_string_equal(s->version, v_exact);
    assert_null(s->ann);
    search_params p;
    search_params_init(&p);
    p.q = "smartphone";
    json_t *exact_res = NULL, *ann_res = NULL;
    OK(search_run(s, &p, &exact_res, &g_err));
    snapshot_release(s);

    /* at the threshold: the index, in the manifest with its recall */
    load_config(at);
    OK(ml_build_indexes(f->d, data, NULL, NULL, v_ann, &g_err));
    m = manifest(data, dir, version);
    ann = json_object_get(json_object_get(m, "parameters"), "ann");
    assert_string_equal(json_string_value(json_object_get(ann, "kind")), "faiss-ivf-flat");
    assert_true(json_real_value(json_object_get(ann, "recall@10")) >= 0.9);
    assert_non_null(json_object_get(json_object_get(m, "files"), ANN_FILE));
    assert_true(has_file(dir, ANN_FILE));
    json_decref(m);
    OK(snapshot_refresh(data, &g_err));
    s = snapshot_acquire(data);
    assert_string_equal(s->version, v_ann);
    assert_non_null(s->ann);
    OK(search_run(s, &p, &ann_res, &g_err));
    /* a few hundred rows in √n cells: the lexical side decides the top */
    assert_int_equal(json_integer_value(json_object_get(
                         json_array_get(json_object_get(exact_res, "items"), 0), "id")),
                     json_integer_value(json_object_get(
                         json_array_get(json_object_get(ann_res, "items"), 0), "id")));
    json_decref(exact_res);
    json_decref(ann_res);
    snapshot_release(s);

    /* hot swaps between versions with an index, under two querying threads */
    querier q[2] = {{.data = data}, {.data = data}};
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&q[i].thread, NULL, query_loop, &q[i]), 0);
    for (int i = 0; i < 2; i++) {
        OK(ml_build_indexes(f->d, data, NULL, NULL, version, &g_err));
        OK(snapshot_refresh(data, &g_err));
    }
    for (int i = 0; i < 2; i++) {
        __atomic_store_n(&q[i].stop, 1, __ATOMIC_RELEASE);
        assert_int_equal(pthread_join(q[i].thread, NULL), 0);
        assert_int_equal(q[i].errors, 0);
        assert_true(q[i].queries > 0);
    }
    s = snapshot_acquire(data);
    assert_string_equal(s->version, version);
    assert_non_null(s->ann);
    snapshot_release(s);
    snprintf(v_ann, sizeof v_ann, "%s", version); /* the good version from here on */

    /* a damaged ann.bin in the next version: verification refuses it and
     * the version with a good index keeps serving */
    OK(ml_build_indexes(f->d, data, NULL, NULL, version, &g_err));
    OK(artefact_current(data, dir, version, &g_err));
    char path[ARTEFACT_PATH_MAX];
    OK(artefact_path(dir, ANN_FILE, path, &g_err));
    FILE *fp = fopen(path, "r+b");
    assert_non_null(fp);
    assert_int_equal(fseek(fp, 100, SEEK_SET), 0);
    fputs("XXXXXXXX", fp);
    fclose(fp);
    assert_int_not_equal(snapshot_refresh(data, &g_err), 0);
    s = snapshot_acquire(data);
    assert_string_equal(s->version, v_ann);
    snapshot_release(s);
    /* unverified, the damage is caught by the index's own checks or not at
     * all: the checksum is the guarantee, so only the verified path counts */

    /* a missing ann.bin listed in the manifest: refused the same way */
    OK(ml_build_indexes(f->d, data, NULL, NULL, version, &g_err));
    OK(artefact_current(data, dir, version, &g_err));
    OK(artefact_path(dir, ANN_FILE, path, &g_err));
    assert_int_equal(remove(path), 0);
    assert_int_not_equal(snapshot_refresh(data, &g_err), 0);
    s = snapshot_acquire(data);
    assert_string_equal(s->version, v_ann);
    snapshot_release(s);
    /* and a snapshot loaded without the manifest (the build's own check)
     * refuses a garbage ann.bin */
    fp = fopen(path, "wb");
    assert_non_null(fp);
    fputs("garbage", fp);
    fclose(fp);
    snapshot *bad = NULL;
    assert_int_not_equal(snapshot_load(dir, version, 0, &bad, &g_err), 0);
    assert_null(bad);
    rmdir_all(data);
}

int main(void)
{
    const struct CMUnitTest plain[] = {
        cmocka_unit_test(ann_round_trip_and_refusals),
        cmocka_unit_test(ann_recall_on_a_clustered_set_at_default_parameters),
        cmocka_unit_test(vindex_search_filters_and_falls_back_to_exact),
    };
    const struct CMUnitTest db_tests[] = {
        FIXTURE_TEST(build_uses_the_threshold_and_keeps_the_old_version_on_a_bad_ann),
    };
    int failed = cmocka_run_group_tests_name("ann", plain, NULL, NULL);
    return failed + fixture_run_both("ann_build", db_tests, 1);
}
