/* build.c — one build: read the catalogue, write every artefact, switch.
 *
 * Products are read in keyset pages of BUILD_PAGE rows (by id), so memory
 * is bounded by the indexes being built, not by a result set of the whole
 * catalogue. Each product becomes one document of the lexical builder and
 * one record of the document store, in the same order. The lexical index
 * is written, then mapped back and opened exactly as a server would, and
 * the vectors are computed from that mapping. Extra builders (registered
 * by other modules) run last; then the whole folder is loaded as a
 * snapshot — the verification, which reads the approximate index back
 * when there is one — and only then committed and switched. */
#include "ml/build.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "core/config.h"
#include "ml/ann.h"
#include "ml/artefact.h"
#include "ml/docs.h"
#include "ml/lexical.h"
#include "ml/snapshot.h"
#include "ml/text.h"
#include "ml/vectors.h"
#include "ml/vindex.h"

#define BUILD_PAGE 5000

static pthread_mutex_t builders_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t build_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
    const char *name;
    ml_builder_fn fn;
} builders[ML_BUILDERS_MAX];
static int nbuilders;

int ml_builder_register(const char *name, ml_builder_fn fn)
{
    int rc = 0;
    pthread_mutex_lock(&builders_lock);
    int i = 0;
    while (i < nbuilders && strcmp(builders[i].name, name) != 0)
        i++;
    if (i == ML_BUILDERS_MAX)
        rc = SM_ETOOLARGE;
    else {
        builders[i].name = name;
        builders[i].fn = fn;
        if (i == nbuilders)
            nbuilders++;
    }
    pthread_mutex_unlock(&builders_lock);
    return rc;
}

static void progress(ml_progress_fn fn, void *ctx, const char *stage, long long done,
                     long long total)
{
    if (fn)
        fn(stage, done, total, ctx);
}

static const char CATEGORIES_SQL[] =
    "SELECT id, COALESCE(parent_id, 0), name, slug FROM categories ORDER BY id";

static const char PRODUCTS_SQL[] =
    "SELECT p.id, p.name, p.description, p.price_cents, p.currency, p.stock, "
    "COALESCE(p.category_id, 0), COALESCE(c.parent_id, 0), COALESCE(c.name, ''), "
    "COALESCE(pc.name, ''), p.brand, p.created_at FROM products p "
    "LEFT JOIN categories c ON c.id = p.category_id "
    "LEFT JOIN categories pc ON pc.id = c.parent_id "
    "WHERE p.active = 1 AND p.id > $1 ORDER BY p.id LIMIT $2";

/* Reads categories and products into the two builders. */
static int read_catalogue(db *d, text_analyzer *a, lexical_builder *lb, docs_builder *db_,
                          ml_progress_fn pf, void *pctx, long long *nproducts, sm_error *err)
{
    db_result *r = NULL;
    int rc = db_query(d, CATEGORIES_SQL, NULL, 0, &r, err);
    for (int i = 0; rc == 0 && i < db_result_rows(r); i++)
        rc = docs_builder_add_category(db_, db_result_int(r, i, 0), db_result_int(r, i, 1),
                                       db_result_text(r, i, 2), db_result_text(r, i, 3));
    db_result_free(r);
    r = NULL;
    long long total = 0;
    db_result *cnt = NULL;
    if (rc == 0 &&
        db_query(d, "SELECT COUNT(*) FROM products WHERE active = 1", NULL, 0, &cnt, NULL) == 0)
        total = db_result_int(cnt, 0, 0);
    db_result_free(cnt);
    int64_t after = 0;
    long long done = 0;
    while (rc == 0) {
        db_value params[2] = {DB_I(after), DB_I(BUILD_PAGE)};
        if ((rc = db_query(d, PRODUCTS_SQL, params, 2, &r, err)) != 0)
            break;
        int rows = db_result_rows(r);
        for (int i = 0; rc == 0 && i < rows; i++) {
            char category[1024];
            snprintf(category, sizeof category, "%s %s", db_result_text(r, i, 8),
                     db_result_text(r, i, 9));
            const char *fields[LEXICAL_FIELDS] = {db_result_text(r, i, 1), db_result_text(r, i, 10),
                                                  category, db_result_text(r, i, 2)};
            ml_doc doc = {.id = db_result_int(r, i, 0),
                          .price_cents = db_result_int(r, i, 3),
                          .stock = db_result_int(r, i, 5),
                          .category_id = db_result_int(r, i, 6),
                          .parent_category_id = db_result_int(r, i, 7),
                          .created_at = db_result_int(r, i, 11)};
            rc = lexical_builder_add(lb, a, fields);
            if (rc == 0)
                rc = docs_builder_add(db_, &doc, fields[0], fields[1], db_result_text(r, i, 4),
                                      db_result_text(r, i, 8));
            after = doc.id;
        }
        db_result_free(r);
        r = NULL;
        done += rows;
        progress(pf, pctx, "read", done, total);
        if (rows < BUILD_PAGE)
            break;
    }
    if (rc && err && !err->code)
        sm_error_fill(err, rc, "indexing the catalogue: %s", sm_strerror(rc));
    *nproducts = done;
    return rc;
}

/* The approximate vector index, when the catalogue is large enough: built
 * from vectors.bin as written, its parameters and measured recall into the
 * manifest's parameters ("ann"), or {"kind": "exact"} below the threshold. */
static int build_ann(const char *dir, const lexical_index *ix, ml_progress_fn pf, void *pctx,
                     json_t *params, sm_error *err)
{
    const sm_config *cfg = config_get();
    uint32_t min_docs = cfg ? (uint32_t)cfg->ml_ann_min_docs : VINDEX_ANN_MIN_DOCS_DEFAULT;
    uint32_t nprobe = cfg ? (uint32_t)cfg->ml_ann_nprobe : ANN_NPROBE_DEFAULT;
    artefact_map map = {0};
    vectors_index v;
    int rc = artefact_map_file(dir, "vectors.bin", &map, err);
    if (rc == 0)
        rc = vectors_index_open(map.data, map.len, ix, &v, err);
    if (rc == 0 && (v.ndocs < min_docs || v.dim == 0)) {
        json_t *o = json_pack("{sssi}", "kind", "exact", "min_docs", (int)min_docs);
        if (!o || json_object_set_new(params, "ann", o) != 0)
            rc = sm_error_set(err, SM_ENOMEM, "out of memory");
    } else if (rc == 0) {
        json_t *info = NULL;
        progress(pf, pctx, "ann", 0, 1);
        rc = vindex_ann_write(v.docs, v.ndocs, v.dim, dir, nprobe, &info, err);
        if (rc == 0) {
            json_object_set_new(info, "min_docs", json_integer(min_docs));
            json_object_set_new(params, "ann", info);
        }
        progress(pf, pctx, "ann", 1, 1);
    }
    artefact_unmap(&map);
    return rc;
}

static int build_into(db *d, artefact_build *b, ml_progress_fn pf, void *pctx, json_t *counts,
                      json_t *params, sm_error *err)
{
    text_analyzer *a = NULL;
    lexical_builder *lb = lexical_builder_new();
    docs_builder *dbld = docs_builder_new();
    artefact_map lexmap = {0};
    char path[ARTEFACT_PATH_MAX];
    long long nproducts = 0;
    int rc = SM_ENOMEM;
    if (!lb || !dbld) {
        sm_error_fill(err, rc, "out of memory");
        goto done;
    }
    if ((rc = text_analyzer_new(&a, err)) != 0 ||
        (rc = read_catalogue(d, a, lb, dbld, pf, pctx, &nproducts, err)) != 0)
        goto done;
    progress(pf, pctx, "lexical", 0, 1);
    if ((rc = artefact_path(b->dir, "lexical.bin", path, err)) != 0 ||
        (rc = lexical_builder_write(lb, path, err)) != 0)
        goto done;
    lexical_builder_free(lb);
    lb = NULL;
    if ((rc = artefact_path(b->dir, "docs.bin", path, err)) != 0 ||
        (rc = docs_builder_write(dbld, path, err)) != 0)
        goto done;
    docs_builder_free(dbld);
    dbld = NULL;
    progress(pf, pctx, "lexical", 1, 1);

    lexical_index ix;
    if ((rc = artefact_map_file(b->dir, "lexical.bin", &lexmap, err)) != 0 ||
        (rc = lexical_index_open(lexmap.data, lexmap.len, &ix, err)) != 0)
        goto done;
    progress(pf, pctx, "vectors", 0, 1);
    if ((rc = vectors_build(d, &ix, b->dir, b->root, counts, err)) != 0) /* LSI or embeddings */
        goto done;
    progress(pf, pctx, "vectors", 1, 1);
    if ((rc = build_ann(b->dir, &ix, pf, pctx, params, err)) != 0)
        goto done;
    json_object_set_new(counts, "products", json_integer(nproducts));
    json_object_set_new(counts, "terms", json_integer(ix.nterms));
    json_object_set_new(counts, "postings", json_integer((json_int_t)ix.npostings));

    pthread_mutex_lock(&builders_lock);
    int n = nbuilders;
    pthread_mutex_unlock(&builders_lock);
    for (int i = 0; i < n && rc == 0; i++) {
        progress(pf, pctx, builders[i].name, 0, 0);
        rc = builders[i].fn(d, b->dir, counts, pf, pctx, err);
        if (rc && err && !err->code)
            sm_error_fill(err, rc, "builder %s failed", builders[i].name);
    }
done:
    artefact_unmap(&lexmap);
    text_analyzer_free(a);
    lexical_builder_free(lb);
    docs_builder_free(dbld);
    return rc;
}

int ml_build_indexes(db *d, const char *data_dir, ml_progress_fn pf, void *ctx, char *version_out,
                     sm_error *err)
{
    artefact_build b;
    json_t *counts = json_object();
    json_t *params =
        json_pack("{sfsfs[ffff]sisf}", "bm25_k1", (double)LEXICAL_K1, "bm25_b", (double)LEXICAL_B,
                  "field_weights", (double)lexical_field_weight[0], (double)lexical_field_weight[1],
                  (double)lexical_field_weight[2], (double)lexical_field_weight[3], "vector_dim",
                  VECTORS_DIM_DEFAULT, "rrf_k", 60.0);
    if (!counts || !params) {
        json_decref(counts);
        json_decref(params);
        return sm_error_set(err, SM_ENOMEM, "out of memory");
    }
    json_object_set_new(params, "vector_source", json_string("lsi"));
    json_object_set_new(params, "stemming", json_string("french, then english"));
    pthread_mutex_lock(&build_lock);
    int rc = artefact_build_begin(data_dir, &b, err);
    if (rc == 0)
        rc = build_into(d, &b, pf, ctx, counts, params, err);
    if (rc == 0) { /* verification: the folder loads as a server would load it */
        snapshot *s = NULL;
        progress(pf, ctx, "verify", 0, 1);
        rc = snapshot_load(b.dir, b.version, 0, &s, err);
        snapshot_release(s);
    }
    if (rc == 0) {
        progress(pf, ctx, "switch", 0, 1);
        vectors_manifest_params(counts, params); /* vector_source, vector_model, vector_dim */
        rc = artefact_build_commit(&b, counts, params, err);
    }
    if (rc)
        artefact_build_abort(&b);
    else if (version_out)
        snprintf(version_out, ARTEFACT_VERSION_MAX, "%s", b.version);
    pthread_mutex_unlock(&build_lock);
    json_decref(counts);
    json_decref(params);
    return rc;
}
