/* rec_build.c — from the purchase history to recommend.bin (see
 * rec_build.h), and the registration of that step into every ML build.
 *
 * The stages run one after another, each multi-threaded inside: co-
 * purchase counting, popularity, per-category best sellers (a sort of the
 * selling items by category and score), ALS training, then each
 * customer's ALS top list by blocked sgemm. Every array is allocated here
 * and freed here; only the file survives. The builder registers itself
 * from a constructor, so that linking this file is what enables
 * recommendations in `build_ml_indexes` and in the rebuild job alike. */
#include "ml/rec_build.h"

#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "ml/artefact.h"
#include "ml/rec_model.h"

void rec_build_params_init(rec_build_params *p)
{
    copurchase_params_init(&p->copurchase);
    als_params_init(&p->als);
    popular_params_init(&p->popular);
    p->k_als = 50;
    p->n_popular = 1000;
    p->k_cat = 50;
}

static double seconds_since(uint64_t start_ns)
{
    return (double)(clock_mono_ns() - start_ns) / 1e9;
}

typedef struct cat_entry {
    int64_t cat;
    float score;
    int32_t item;
} cat_entry;

static int cmp_cat(const void *x, const void *y)
{
    const cat_entry *a = x, *b = y;
    if (a->cat != b->cat)
        return (a->cat > b->cat) - (a->cat < b->cat);
    if (a->score != b->score)
        return a->score < b->score ? 1 : -1;
    return (a->item > b->item) - (a->item < b->item);
}

/* Best sellers per category: *ids (ascending) and *top (k per category). */
static int category_tops(const rec_data *rd, const float *pop, int k, int64_t **ids, int32_t **top,
                         uint32_t *ncat)
{
    cat_entry *e = malloc(((size_t)rd->n_items + 1) * sizeof *e);
    size_t n = 0;
    if (!e)
        return SM_ENOMEM;
    for (int32_t i = 0; i < rd->n_items; i++)
        if (rd->item_category[i] != 0 && pop[i] > 0)
            e[n++] = (cat_entry){rd->item_category[i], pop[i], i};
    qsort(e, n, sizeof *e, cmp_cat);
    uint32_t c = 0;
    for (size_t t = 0; t < n; t++)
        c += t == 0 || e[t].cat != e[t - 1].cat;
    *ids = malloc(((size_t)c + 1) * sizeof **ids);
    *top = malloc(((size_t)c * (size_t)k + 1) * sizeof **top);
    if (!*ids || !*top) {
        free(e);
        return SM_ENOMEM;
    }
    memset(*top, 0xff, ((size_t)c * (size_t)k + 1) * sizeof **top);
    int64_t at = -1;
    int used = 0;
    for (size_t t = 0; t < n; t++) {
        if (t == 0 || e[t].cat != e[t - 1].cat) {
            (*ids)[++at] = e[t].cat;
            used = 0;
        }
        if (used < k)
            (*top)[(size_t)at * (size_t)k + (size_t)used++] = e[t].item;
    }
    *ncat = c;
    free(e);
    return 0;
}

int rec_build_models(const rec_data *rd, const rec_build_params *p, const char *path,
                     rec_build_stats *stats, sm_error *err)
{
    rec_build_stats local = {0};
    if (!stats)
        stats = &local;
    memset(stats, 0, sizeof *stats);
    if (p->k_als < 0 || p->k_als > 1000 || p->n_popular < 1 || p->n_popular > 100000 ||
        p->k_cat < 0 || p->k_cat > 1000)
        return sm_error_set(err, SM_EINVAL, "invalid recommendation build parameters");
    size_t ni = (size_t)rd->n_items + 1, nu = (size_t)rd->n_users + 1;
    size_t kcp = (size_t)p->copurchase.k, kals = (size_t)p->k_als;
    int32_t *cp_item = malloc(ni * kcp * sizeof *cp_item), *popular = NULL, *als_item = NULL,
            *cat_top = NULL;
    float *cp_score = malloc(ni * kcp * sizeof *cp_score), *pop = NULL, *als_score = NULL;
    int64_t *cat_ids = NULL;
    als_model *als = NULL;
    uint32_t ncat = 0;
    int32_t ranked = 0;
    int rc;
    popular = malloc((size_t)p->n_popular * sizeof *popular);
    pop = malloc(ni * sizeof *pop);
    als_item = malloc(nu * (kals ? kals : 1) * sizeof *als_item);
    als_score = malloc(nu * (kals ? kals : 1) * sizeof *als_score);
    if (!cp_item || !cp_score || !popular || !pop || !als_item || !als_score) {
        rc = sm_error_set(err, SM_ENOMEM, "out of memory building recommendations");
        goto done;
    }

    uint64_t t0 = clock_mono_ns();
    if ((rc = copurchase_build(rd, &p->copurchase, cp_item, cp_score, err)) < 0)
        goto done;
    for (size_t q = 0; q < (size_t)rd->n_items * kcp; q++)
        stats->copurchase_pairs += cp_item[q] >= 0;
    stats->copurchase_s = seconds_since(t0);

    t0 = clock_mono_ns();
    if ((rc = popular_build(rd, &p->popular, pop, popular, p->n_popular, &ranked, err)) < 0)
        goto done;
    if (p->k_cat > 0 && category_tops(rd, pop, p->k_cat, &cat_ids, &cat_top, &ncat) < 0) {
        rc = sm_error_set(err, SM_ENOMEM, "out of memory ranking categories");
        goto done;
    }
    stats->popular_s = seconds_since(t0);

    memset(als_item, 0xff, nu * (kals ? kals : 1) * sizeof *als_item);
    memset(als_score, 0, nu * (kals ? kals : 1) * sizeof *als_score);
    if (p->als.iterations > 0 && kals > 0 && rd->n_users > 0) {
        t0 = clock_mono_ns();
        if ((rc = als_train(rd, &p->als, &als, NULL, err)) < 0)
            goto done;
        stats->als_s = seconds_since(t0);
        t0 = clock_mono_ns();
        if ((rc = als_top_items(als, rd, p->k_als, als_item, als_score, err)) < 0)
            goto done;
        stats->als_top_s = seconds_since(t0);
    }

    t0 = clock_mono_ns();
    rec_model_parts parts = {
        .n_items = (uint32_t)rd->n_items,
        .n_users = (uint32_t)rd->n_users,
        .n_categories = ncat,
        .n_popular = (uint32_t)p->n_popular,
        .k_cp = (uint32_t)kcp,
        .k_als = (uint32_t)kals,
        .k_cat = ncat ? (uint32_t)p->k_cat : 0,
        .built_ms = clock_now_ms(),
        .item_ids = rd->item_ids,
        .item_category = rd->item_category,
        .item_active = rd->item_active,
        .pop_score = pop,
        .cp_item = cp_item,
        .cp_score = cp_score,
        .popular = popular,
        .cat_ids = cat_ids,
        .cat_top = cat_top,
        .user_ids = rd->user_ids,
        .als_item = als_item,
        .als_score = als_score,
    };
    uint64_t bytes = 0;
    uint32_t crc = 0;
    rc = rec_model_write(path, &parts, &bytes, &crc, err);
    stats->bytes = bytes;
    stats->crc32 = crc;
    stats->write_s = seconds_since(t0);
done:
    free(cp_item);
    free(cp_score);
    free(popular);
    free(pop);
    free(als_item);
    free(als_score);
    free(cat_ids);
    free(cat_top);
    als_model_free(als);
    return rc;
}

/* Adds the build's counts, parameters and timings to the manifest. */
static int describe(json_t *counts, const rec_data *rd, const rec_build_params *p,
                    const rec_build_stats *st, double load_s)
{
    json_t *o = json_pack(
        "{sI sI sI sI sI sI s{si sf si si} s{si sf sf si} s{sf sf} s{sf sf sf sf sf sf} sI}",
        "items", (json_int_t)rd->n_items, "customers", (json_int_t)rd->n_users, "orders",
        (json_int_t)rd->n_orders, "order_lines", (json_int_t)rd->n_lines, "copurchase_pairs",
        (json_int_t)st->copurchase_pairs, "file_bytes", (json_int_t)st->bytes, "copurchase", "k",
        p->copurchase.k, "shrink", (double)p->copurchase.shrink, "min_count",
        p->copurchase.min_count, "max_basket", p->copurchase.max_basket, "als", "factors",
        p->als.factors, "reg", (double)p->als.reg, "alpha", (double)p->als.alpha, "iterations",
        p->als.iterations, "popular", "half_life_days", p->popular.half_life_days, "trend_weight",
        p->popular.trend_weight, "seconds", "load", load_s, "copurchase", st->copurchase_s,
        "popular", st->popular_s, "als", st->als_s, "als_top", st->als_top_s, "write", st->write_s,
        "crc32", (json_int_t)st->crc32);
    if (!o)
        return SM_ENOMEM;
    return json_object_set_new(counts, "recommendations", o) == 0 ? 0 : SM_ENOMEM;
}

int rec_build_artefact(db *d, const char *version_dir, json_t *counts, ml_progress_fn progress,
                       void *progress_ctx, sm_error *err)
{
    rec_build_params p;
    rec_build_stats st = {0};
    rec_data *rd = NULL;
    char path[ARTEFACT_PATH_MAX];
    int rc = artefact_path(version_dir, REC_MODEL_FILE, path, err);
    if (rc < 0)
        return rc;
    rec_build_params_init(&p);
    if (progress)
        progress("recommendations", 0, 3, progress_ctx);
    uint64_t t0 = clock_mono_ns();
    if ((rc = rec_data_load(d, &rd, err)) < 0)
        return rc;
    double load_s = seconds_since(t0);
    if (progress)
        progress("recommendations", 1, 3, progress_ctx);
    rc = rec_build_models(rd, &p, path, &st, err);
    if (rc == 0 && progress)
        progress("recommendations", 3, 3, progress_ctx);
    if (rc == 0 && counts && describe(counts, rd, &p, &st, load_s) < 0)
        rc = sm_error_set(err, SM_ENOMEM, "out of memory describing recommendations");
    rec_data_free(rd);
    return rc;
}

__attribute__((constructor)) static void rec_build_register(void)
{
    /* Only fails past ML_BUILDERS_MAX, which a fixed set of modules cannot
     * reach; the build would then simply lack recommend.bin and serving
     * would fall back to "not built", never crash. */
    (void)ml_builder_register("recommendations", rec_build_artefact);
}
