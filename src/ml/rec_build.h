/* rec_build.h — building the recommendation artefact (recommend.bin).
 *
 * rec_build_models() trains every model on a rec_data (co-purchase,
 * popularity, per-category best sellers, ALS and each customer's ALS top
 * list) and writes the file; rec_build_artefact() is the builder that
 * rec_build.c registers with ml_builder_register("recommendations", …) so
 * that every `build_ml_indexes` run and `rebuild_ml_indexes` job writes it
 * into the new version folder before verification and the switch. */
#ifndef SM_ML_REC_BUILD_H
#define SM_ML_REC_BUILD_H

#include <jansson.h>

#include "core/err.h"
#include "db/db.h"
#include "ml/als.h"
#include "ml/build.h"
#include "ml/copurchase.h"
#include "ml/popular.h"
#include "ml/rec_data.h"

typedef struct rec_build_params {
    copurchase_params copurchase;
    als_params als; /* als.iterations 0 = no ALS (lists left empty) */
    popular_params popular;
    int k_als;     /* ALS items kept per customer (default 50) */
    int n_popular; /* length of the popularity ranking (default 1000) */
    int k_cat;     /* best sellers kept per category (default 50) */
} rec_build_params;

void rec_build_params_init(rec_build_params *p);

/* Seconds spent per stage by rec_build_models(). */
typedef struct rec_build_stats {
    double copurchase_s, popular_s, als_s, als_top_s, write_s;
    long long copurchase_pairs;
    unsigned long long bytes;
    unsigned crc32;
} rec_build_stats;

/* Trains on `rd` and writes the model to `path`. `stats` may be NULL.
 * Returns 0, SM_EINVAL (parameters), SM_ENOMEM, SM_EIO. Blocking. */
int rec_build_models(const rec_data *rd, const rec_build_params *p, const char *path,
                     rec_build_stats *stats, sm_error *err);

/* The registered builder (an ml_builder_fn): loads the purchase history
 * from `d`, writes version_dir/recommend.bin, and adds a "recommendations"
 * object (counts, parameters, timings, CRC) to `counts`. */
int rec_build_artefact(db *d, const char *version_dir, json_t *counts, ml_progress_fn progress,
                       void *progress_ctx, sm_error *err);

#endif
