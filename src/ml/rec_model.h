/* rec_model.h — the recommendation artefact: one binary file of fixed-size
 * arrays, written by the build and memory-mapped by every serving process.
 *
 * File `recommend.bin` in an artefact version folder (docs/ML.md has the
 * same table). Native byte order and IEEE floats; the header records an
 * endianness probe so a file moved to another architecture is refused.
 *
 *   header (REC_HEADER_SIZE bytes)        rec_file_header below
 *   section  0 item_ids      int64[n_items]           product ids, ascending
 *   section  1 item_category int64[n_items]           0 = none
 *   section  2 item_active   uint8[n_items]           1 = active at build time
 *   section  3 pop_score     float[n_items]           popularity+trend in [0,1]
 *   section  4 cp_item       int32[n_items * k_cp]    co-purchase neighbours, -1 pad
 *   section  5 cp_score      float[n_items * k_cp]    their scores, decreasing
 *   section  6 popular       int32[n_popular]         items by popularity, -1 pad
 *   section  7 cat_ids       int64[n_categories]      category ids, ascending
 *   section  8 cat_top       int32[n_categories * k_cat]  best sellers per category
 *   section  9 user_ids      int64[n_users]           customers, ascending
 *   section 10 als_item      int32[n_users * k_als]   ALS top items per user, -1 pad
 *   section 11 als_score     float[n_users * k_als]
 *
 * Every section starts at a multiple of 64 bytes; the CRC-32 (zlib) of
 * everything after the header is in the header. Opening checks the
 * header, the sizes, the CRC and every index (so that serving never reads
 * out of bounds, whatever the file holds): a few milliseconds per version,
 * paid once. After that, lookups are binary searches and array reads into
 * the page cache, shared by every process serving the same version. */
#ifndef SM_ML_REC_MODEL_H
#define SM_ML_REC_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define REC_MODEL_FILE "recommend.bin"
#define REC_MODEL_MAGIC "SMREC01"
#define REC_MODEL_FORMAT 1
#define REC_HEADER_SIZE 256
#define REC_SECTIONS 12

typedef struct rec_file_header {
    char magic[8];   /* REC_MODEL_MAGIC, NUL-terminated */
    uint32_t format; /* REC_MODEL_FORMAT */
    uint32_t endian; /* 0x01020304 as written */
    uint32_t n_items, n_users, n_categories, n_popular;
    uint32_t k_cp, k_als, k_cat, crc32;
    uint64_t payload_bytes; /* file size - REC_HEADER_SIZE */
    int64_t built_ms;
    uint64_t offset[REC_SECTIONS]; /* from the start of the file */
    uint8_t reserved[REC_HEADER_SIZE - 64 - 8 * REC_SECTIONS];
} rec_file_header;

/* What the build hands to rec_model_write(): the arrays of the sections
 * above, all borrowed. */
typedef struct rec_model_parts {
    uint32_t n_items, n_users, n_categories, n_popular, k_cp, k_als, k_cat;
    int64_t built_ms;
    const int64_t *item_ids, *item_category;
    const uint8_t *item_active;
    const float *pop_score;
    const int32_t *cp_item;
    const float *cp_score;
    const int32_t *popular;
    const int64_t *cat_ids;
    const int32_t *cat_top;
    const int64_t *user_ids;
    const int32_t *als_item;
    const float *als_score;
} rec_model_parts;

/* A mapped, validated model. Fields point into the mapping; read-only. */
typedef struct rec_model {
    rec_file_header h;
    const int64_t *item_ids, *item_category;
    const uint8_t *item_active;
    const float *pop_score;
    const int32_t *cp_item;
    const float *cp_score;
    const int32_t *popular;
    const int64_t *cat_ids;
    const int32_t *cat_top;
    const int64_t *user_ids;
    const int32_t *als_item;
    const float *als_score;
    void *map;
    size_t map_len;
} rec_model;

/* Writes `parts` to `path` (through path.tmp, fsync, rename), returning its
 * size in *bytes and its payload CRC in *crc (both may be NULL). Returns 0,
 * SM_EINVAL (inconsistent sizes), SM_EIO. Blocking. */
int rec_model_write(const char *path, const rec_model_parts *parts, uint64_t *bytes, uint32_t *crc,
                    sm_error *err);

/* Maps and validates `path`. Returns 0 and *out (rec_model_close), SM_EIO
 * (cannot read), SM_EINVAL (not a valid model), SM_ENOMEM. Blocking. */
int rec_model_open(const char *path, rec_model **out, sm_error *err);

/* Unmaps and frees; NULL is a no-op. No reader may still use it. */
void rec_model_close(rec_model *m);

/* Item index of product `id` / user index of customer `id`, or -1. */
int32_t rec_model_item(const rec_model *m, int64_t id);
int32_t rec_model_user(const rec_model *m, int64_t id);

#endif
