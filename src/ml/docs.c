/* docs.c — the document store's builder, file format and lookups.
 *
 * Format: header {magic, ndocs, ncats, strings_len}, ml_category × ncats,
 * ml_doc × ndocs, strings. Both record types are 8-byte aligned structs of
 * fixed layout, written and mapped as they are. */
#include "ml/docs.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DOCS_MAGIC "SMDOC01"
#define INTERN_SLOTS 65536 /* brands, currencies, category names */

typedef struct docs_header {
    char magic[8];
    uint32_t ndocs, ncats;
    uint64_t strings_len;
} docs_header;

struct docs_builder {
    ml_doc *docs;
    size_t ndocs, cap_docs;
    ml_category *cats;
    size_t ncats, cap_cats;
    char *pool;
    size_t pool_len, pool_cap;
    uint32_t intern[INTERN_SLOTS]; /* offset + 1 of repeated strings, 0 = empty */
    size_t ninterned;
};

docs_builder *docs_builder_new(void)
{
    return calloc(1, sizeof(docs_builder));
}

void docs_builder_free(docs_builder *b)
{
    if (!b)
        return;
    free(b->docs);
    free(b->cats);
    free(b->pool);
    free(b);
}

static int grow(void **p, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap)
        return 0;
    size_t n = *cap ? *cap : 1024;
    while (n < need)
        n *= 2;
    void *q = realloc(*p, n * size);
    if (!q)
        return SM_ENOMEM;
    *p = q;
    *cap = n;
    return 0;
}

static int pool_add(docs_builder *b, const char *s, uint32_t *off)
{
    size_t len = s ? strlen(s) : 0;
    if (b->pool_len + len + 1 > UINT32_MAX)
        return SM_ETOOLARGE;
    if (grow((void **)&b->pool, &b->pool_cap, b->pool_len + len + 1, 1))
        return SM_ENOMEM;
    if (len)
        memcpy(b->pool + b->pool_len, s, len);
    b->pool[b->pool_len + len] = '\0';
    *off = (uint32_t)b->pool_len;
    b->pool_len += len + 1;
    return 0;
}

/* Like pool_add(), but equal strings share one offset (so facets can
 * count brands by offset). Past half the table, strings are not shared. */
static int pool_intern(docs_builder *b, const char *s, uint32_t *off)
{
    const char *k = s ? s : "";
    uint32_t h = 2166136261u;
    for (const char *c = k; *c; c++)
        h = (h ^ (unsigned char)*c) * 16777619u;
    for (h &= INTERN_SLOTS - 1; b->intern[h]; h = (h + 1) & (INTERN_SLOTS - 1))
        if (strcmp(b->pool + b->intern[h] - 1, k) == 0) {
            *off = b->intern[h] - 1;
            return 0;
        }
    int rc = pool_add(b, k, off);
    if (rc == 0 && b->ninterned < INTERN_SLOTS / 2 && *off < UINT32_MAX - 1) {
        b->intern[h] = *off + 1;
        b->ninterned++;
    }
    return rc;
}

int docs_builder_add_category(docs_builder *b, int64_t id, int64_t parent_id, const char *name,
                              const char *slug)
{
    if (grow((void **)&b->cats, &b->cap_cats, b->ncats + 1, sizeof *b->cats))
        return SM_ENOMEM;
    ml_category *c = &b->cats[b->ncats];
    c->id = id;
    c->parent_id = parent_id;
    int rc = pool_add(b, name, &c->name);
    if (rc == 0)
        rc = pool_add(b, slug, &c->slug);
    if (rc == 0)
        b->ncats++;
    return rc;
}

int docs_builder_add(docs_builder *b, const ml_doc *fields, const char *name, const char *brand,
                     const char *currency, const char *category)
{
    if (b->ndocs >= UINT32_MAX / 2)
        return SM_ETOOLARGE;
    if (grow((void **)&b->docs, &b->cap_docs, b->ndocs + 1, sizeof *b->docs))
        return SM_ENOMEM;
    ml_doc *d = &b->docs[b->ndocs];
    *d = *fields;
    int rc = pool_add(b, name, &d->name);
    if (rc == 0)
        rc = pool_intern(b, brand, &d->brand);
    if (rc == 0)
        rc = pool_intern(b, currency, &d->currency);
    if (rc == 0)
        rc = pool_intern(b, category, &d->category);
    if (rc == 0)
        b->ndocs++;
    return rc;
}

/* fwrite of `n` items; an empty array (possibly NULL) writes nothing
 * (fwrite's pointer must not be NULL even for zero items). */
static bool write_items(const void *items, size_t size, size_t n, FILE *f)
{
    return n == 0 || fwrite(items, size, n, f) == n;
}

int docs_builder_write(docs_builder *b, const char *path, sm_error *err)
{
    docs_header h = {.magic = DOCS_MAGIC,
                     .ndocs = (uint32_t)b->ndocs,
                     .ncats = (uint32_t)b->ncats,
                     .strings_len = b->pool_len};
    FILE *f = fopen(path, "wb");
    if (!f)
        return sm_error_set(err, SM_EIO, "%s: cannot create", path);
    bool ok = fwrite(&h, sizeof h, 1, f) == 1 &&
              write_items(b->cats, sizeof *b->cats, b->ncats, f) &&
              write_items(b->docs, sizeof *b->docs, b->ndocs, f) &&
              write_items(b->pool, 1, b->pool_len, f) && fflush(f) == 0 && fsync(fileno(f)) == 0;
    if (fclose(f) != 0)
        ok = false;
    return ok ? 0 : sm_error_set(err, SM_EIO, "%s: write failed", path);
}

int docs_store_open(const void *data, size_t len, docs_store *out, sm_error *err)
{
    const docs_header *h = data;
    if (len < sizeof *h || memcmp(h->magic, DOCS_MAGIC, 8) != 0)
        return sm_error_set(err, SM_EINVAL, "not a document store");
    uint64_t need = sizeof *h + (uint64_t)h->ncats * sizeof(ml_category) +
                    (uint64_t)h->ndocs * sizeof(ml_doc) + h->strings_len;
    const char *base = data;
    docs_store s = {.ndocs = h->ndocs, .ncats = h->ncats};
    s.cats = (const ml_category *)(base + sizeof *h);
    s.docs = (const ml_doc *)(s.cats + h->ncats);
    s.strings = (const char *)(s.docs + h->ndocs);
    s.strings_len = h->strings_len;
    if (need != len || (s.strings_len && s.strings[s.strings_len - 1] != '\0'))
        return sm_error_set(err, SM_EINVAL, "document store truncated");
    for (uint32_t i = 0; i < s.ncats; i++)
        if (s.cats[i].name >= s.strings_len || s.cats[i].slug >= s.strings_len)
            return sm_error_set(err, SM_EINVAL, "document store: bad category");
    for (uint32_t i = 0; i < s.ndocs; i++) {
        const ml_doc *d = &s.docs[i];
        if (d->name >= s.strings_len || d->brand >= s.strings_len || d->currency >= s.strings_len ||
            d->category >= s.strings_len)
            return sm_error_set(err, SM_EINVAL, "document store: bad document");
    }
    *out = s;
    return 0;
}

int64_t docs_category_find(const docs_store *s, const char *key)
{
    char *end;
    long long id = strtoll(key, &end, 10);
    bool digits = *key && !*end && key[0] != '-' && key[0] != '+';
    for (uint32_t i = 0; i < s->ncats; i++)
        if ((digits && s->cats[i].id == id) ||
            (!digits && strcmp(docs_str(s, s->cats[i].slug), key) == 0))
            return s->cats[i].id;
    return -1;
}
