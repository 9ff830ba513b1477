/* docs.h — the document store: what search needs to filter, sort, facet
 * and render a product without a database round trip.
 *
 * Document number d in every index of a version is record d here. Fields
 * are those of the build: price and stock are as of the last build (the
 * hourly rebuild keeps them fresh enough for ranking and filtering; the
 * product page reads the live row). File "docs.bin": header, categories,
 * documents, strings (NUL-terminated); lookups are bounds-checked once at
 * open. */
#ifndef SM_ML_DOCS_H
#define SM_ML_DOCS_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

typedef struct ml_doc {
    int64_t id, price_cents, created_at, stock, category_id, parent_category_id;
    uint32_t name, brand, currency, category; /* offsets into strings */
} ml_doc;

typedef struct ml_category {
    int64_t id, parent_id;
    uint32_t name, slug;
} ml_category;

typedef struct docs_store {
    uint32_t ndocs, ncats;
    const ml_doc *docs;
    const ml_category *cats;
    const char *strings;
    uint64_t strings_len;
} docs_store;

typedef struct docs_builder docs_builder;

docs_builder *docs_builder_new(void);
void docs_builder_free(docs_builder *b);

/* Appends a category / a document; strings are copied. 0 or SM_ENOMEM. */
int docs_builder_add_category(docs_builder *b, int64_t id, int64_t parent_id, const char *name,
                              const char *slug);
int docs_builder_add(docs_builder *b, const ml_doc *fields, const char *name, const char *brand,
                     const char *currency, const char *category);

/* Writes "docs.bin" at `path`. 0 or SM_EIO. */
int docs_builder_write(docs_builder *b, const char *path, sm_error *err);

/* Views a mapped docs file. 0 or SM_EINVAL. */
int docs_store_open(const void *data, size_t len, docs_store *out, sm_error *err);

/* A string of the store by offset (checked at open). */
static inline const char *docs_str(const docs_store *s, uint32_t off)
{
    return s->strings + off;
}

/* Category id for `key` (decimal id or slug); -1 when unknown. */
int64_t docs_category_find(const docs_store *s, const char *key);

#endif
