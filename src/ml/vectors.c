/* vectors.c — randomised truncated SVD of the TF-IDF matrix (see vectors.h).
 *
 * X is never materialised: it is the lexical index's postings, weighted on
 * the fly by weight(). The two sparse products are
 *   X·A  (n × l): for each term t, each posting (d, w): out[d] += w · A[t]
 *   Xᵀ·B (m × l): for each term t, out[t] = Σ over postings w · B[d]
 * both O(postings × l). Everything dense is row-major float32 for LAPACKE.
 *
 * Also here: the file format shared with vectors computed elsewhere (the
 * writer puts rows at their fixed offsets with pwrite, so an embeddings
 * build can write answers in the order they come), and vectors_build, the
 * build's choice between LSI and the embeddings service (ml/embed.h). */
#include "ml/vectors.h"

#include <cblas.h>
#include <errno.h>
#include <fcntl.h>
#include <lapacke.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ml/artefact.h"
#include "ml/docs.h"
#include "ml/embed.h"

#define VECTORS_MAGIC "SMVEC02"
#define VECTORS_MAGIC_V1 "SMVEC01"
#define OVERSAMPLE 10

typedef struct vectors_header {
    char magic[8];
    uint32_t ndocs, nterms, dim, source;
    char model[VECTORS_MODEL_MAX]; /* NUL-terminated; "" for LSI */
} vectors_header;

/* The first format: LSI only, no model. */
typedef struct vectors_header_v1 {
    char magic[8];
    uint32_t ndocs, nterms, dim, reserved;
} vectors_header_v1;

size_t vectors_data_offset(void)
{
    return sizeof(vectors_header);
}

static float weight(const lexical_index *ix, uint64_t p, float idf, const float *inv_norm)
{
    return (1.0f + logf(1.0f + ix->post_tf[p])) * idf * inv_norm[ix->post_doc[p]];
}

/* out (n × l) = X · a (m × l) */
static void mul_x(const lexical_index *ix, const float *idf, const float *inv_norm, const float *a,
                  int l, float *out)
{
    memset(out, 0, sizeof *out * ix->ndocs * (size_t)l);
    for (uint32_t t = 0; t < ix->nterms; t++)
        for (uint64_t p = ix->post_off[t]; p < ix->post_off[t + 1]; p++)
            cblas_saxpy(l, weight(ix, p, idf[t], inv_norm), a + (size_t)t * l, 1,
                        out + (size_t)ix->post_doc[p] * l, 1);
}

/* out (m × l) = Xᵀ · b (n × l) */
static void mul_xt(const lexical_index *ix, const float *idf, const float *inv_norm, const float *b,
                   int l, float *out)
{
    memset(out, 0, sizeof *out * ix->nterms * (size_t)l);
    for (uint32_t t = 0; t < ix->nterms; t++)
        for (uint64_t p = ix->post_off[t]; p < ix->post_off[t + 1]; p++)
            cblas_saxpy(l, weight(ix, p, idf[t], inv_norm), b + (size_t)ix->post_doc[p] * l, 1,
                        out + (size_t)t * l, 1);
}

/* Replaces a (rows × l, rows ≥ l) by an orthonormal basis of its columns. */
static int orthonormalise(float *a, int rows, int l)
{
    float *tau = malloc(sizeof *tau * (size_t)l);
    if (!tau)
        return SM_ENOMEM;
    int rc = LAPACKE_sgeqrf(LAPACK_ROW_MAJOR, rows, l, a, l, tau);
    if (rc == 0)
        rc = LAPACKE_sorgqr(LAPACK_ROW_MAJOR, rows, l, l, a, l, tau);
    free(tau);
    return rc == 0 ? 0 : SM_EINTERNAL;
}

/* Gaussian numbers from a fixed-seed xorshift + Box–Muller: the same
 * catalogue always gives the same vectors. */
static void gaussian_fill(float *a, size_t n)
{
    uint64_t s = 0x9E3779B97F4A7C15ull;
    for (size_t i = 0; i < n; i += 2) {
        double u[2];
        for (int k = 0; k < 2; k++) {
            s ^= s << 13, s ^= s >> 7, s ^= s << 17;
            u[k] = ((double)(s >> 11) + 0.5) / 9007199254740992.0;
        }
        double r = sqrt(-2.0 * log(u[0]));
        a[i] = (float)(r * cos(2 * M_PI * u[1]));
        if (i + 1 < n)
            a[i + 1] = (float)(r * sin(2 * M_PI * u[1]));
    }
}

static int write_file(const char *path, const vectors_header *h, const float *docs,
                      const float *terms, sm_error *err)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return sm_error_set(err, SM_EIO, "%s: cannot create", path);
    size_t nd = (size_t)h->ndocs * h->dim, nt = (size_t)h->nterms * h->dim;
    /* Empty arrays may be NULL, and fwrite's pointer must never be. */
    int ok = fwrite(h, sizeof *h, 1, f) == 1 &&
             (nd == 0 || fwrite(docs, sizeof *docs, nd, f) == nd) &&
             (nt == 0 || fwrite(terms, sizeof *terms, nt, f) == nt) && fflush(f) == 0 &&
             fsync(fileno(f)) == 0;
    if (fclose(f) != 0)
        ok = 0;
    return ok ? 0 : sm_error_set(err, SM_EIO, "%s: write failed", path);
}

int vectors_build_lsi(const lexical_index *ix, uint32_t dim, const char *path, sm_error *err)
{
    uint32_t n = ix->ndocs, m = ix->nterms;
    if (dim < 2)
        dim = 2;
    if (dim > VECTORS_LSI_DIM_MAX)
        dim = VECTORS_LSI_DIM_MAX;
    uint32_t rank = n < m ? n : m;
    int l = (int)(dim + OVERSAMPLE);
    if ((uint32_t)l > rank) /* tiny corpus: as many dimensions as it has */
        l = (int)rank;
    if (dim > (uint32_t)l)
        dim = (uint32_t)(l > 0 ? l : 0);
    vectors_header h = {
        .magic = VECTORS_MAGIC, .ndocs = n, .nterms = m, .dim = dim, .source = VECTORS_SOURCE_LSI};
    float *idf = malloc(sizeof *idf * (m + 1)), *inv_norm = calloc(n + 1, sizeof *inv_norm);
    float *omega = NULL, *y = NULL, *z = NULL, *s = NULL, *u = NULL, *vt = NULL, *superb = NULL;
    float *docs = NULL, *terms = NULL;
    int rc = SM_ENOMEM;
    if (!idf || !inv_norm)
        goto fail;
    if (dim == 0) { /* an empty catalogue: an empty, valid file */
        rc = write_file(path, &h, NULL, NULL, err);
        goto done;
    }
    for (uint32_t t = 0; t < m; t++)
        idf[t] = lexical_idf(ix, t);
    for (uint32_t d = 0; d < n; d++)
        inv_norm[d] = 1.0f;
    /* squared row norms, then their inverse square roots */
    float *sq = calloc((size_t)n + 1, sizeof *sq);
    if (!sq)
        goto fail;
    for (uint32_t t = 0; t < m; t++)
        for (uint64_t p = ix->post_off[t]; p < ix->post_off[t + 1]; p++) {
            float w = weight(ix, p, idf[t], inv_norm);
            sq[ix->post_doc[p]] += w * w;
        }
    for (uint32_t d = 0; d < n; d++)
        inv_norm[d] = sq[d] > 0 ? 1.0f / sqrtf(sq[d]) : 0.0f;
    free(sq);

    omega = malloc(sizeof *omega * (size_t)m * l);
    y = malloc(sizeof *y * (size_t)n * l);
    z = malloc(sizeof *z * (size_t)m * l);
    s = malloc(sizeof *s * (size_t)l);
    u = malloc(sizeof *u * (size_t)m * l);
    vt = malloc(sizeof *vt * (size_t)l * l);
    superb = malloc(sizeof *superb * (size_t)l);
    docs = calloc((size_t)n * dim, sizeof *docs);
    terms = malloc(sizeof *terms * (size_t)m * dim);
    if (!omega || !y || !z || !s || !u || !vt || !superb || !docs || !terms)
        goto fail;
    gaussian_fill(omega, (size_t)m * l);
    mul_x(ix, idf, inv_norm, omega, l, y); /* Y = X Ω */
    rc = SM_EINTERNAL;
    if (orthonormalise(y, (int)n, l))
        goto fail;
    mul_xt(ix, idf, inv_norm, y, l, z); /* one power iteration: Y = X Xᵀ Y */
    if (orthonormalise(z, (int)m, l))
        goto fail;
    mul_x(ix, idf, inv_norm, z, l, y);
    if (orthonormalise(y, (int)n, l))
        goto fail;
    mul_xt(ix, idf, inv_norm, y, l, z); /* Z = Xᵀ Q (m × l) = U_b S V_bᵀ */
    if (LAPACKE_sgesvd(LAPACK_ROW_MAJOR, 'S', 'N', (int)m, l, z, l, s, u, l, vt, l, superb) != 0) {
        sm_error_fill(err, rc, "LAPACK sgesvd failed");
        goto fail;
    }
    for (uint32_t t = 0; t < m; t++)
        memcpy(terms + (size_t)t * dim, u + (size_t)t * l, sizeof *terms * dim);
    /* document vectors X V_k, then unit length */
    for (uint32_t t = 0; t < m; t++)
        for (uint64_t p = ix->post_off[t]; p < ix->post_off[t + 1]; p++)
            cblas_saxpy((int)dim, weight(ix, p, idf[t], inv_norm), terms + (size_t)t * dim, 1,
                        docs + (size_t)ix->post_doc[p] * dim, 1);
    for (uint32_t d = 0; d < n; d++) {
        float nrm = cblas_snrm2((int)dim, docs + (size_t)d * dim, 1);
        if (nrm > 0)
            cblas_sscal((int)dim, 1.0f / nrm, docs + (size_t)d * dim, 1);
    }
    rc = write_file(path, &h, docs, terms, err);
    goto done;
fail:
    if (rc == SM_ENOMEM)
        sm_error_fill(err, rc, "out of memory computing vectors");
    else if (rc == SM_EINTERNAL && err && !err->code)
        sm_error_fill(err, rc, "LAPACK QR failed");
done:
    free(idf);
    free(inv_norm);
    free(omega);
    free(y);
    free(z);
    free(s);
    free(u);
    free(vt);
    free(superb);
    free(docs);
    free(terms);
    return rc;
}

int vectors_index_open(const void *data, size_t len, const lexical_index *ix, vectors_index *out,
                       sm_error *err)
{
    const vectors_header *h = data;
    size_t hlen = sizeof *h;
    vectors_header v1 = {.source = VECTORS_SOURCE_LSI};
    if (len >= sizeof(vectors_header_v1) && memcmp(h->magic, VECTORS_MAGIC_V1, 8) == 0) {
        const vectors_header_v1 *old = data;
        v1.ndocs = old->ndocs, v1.nterms = old->nterms, v1.dim = old->dim;
        h = &v1;
        hlen = sizeof *old;
    } else if (len < sizeof *h || memcmp(h->magic, VECTORS_MAGIC, 8) != 0) {
        return sm_error_set(err, SM_EINVAL, "not a vectors file");
    }
    if (memchr(h->model, '\0', sizeof h->model) == NULL ||
        (h->source != VECTORS_SOURCE_LSI && h->source != VECTORS_SOURCE_EMBEDDINGS))
        return sm_error_set(err, SM_EINVAL, "vectors file: bad header");
    bool lsi = h->source == VECTORS_SOURCE_LSI;
    uint64_t need = hlen + ((uint64_t)h->ndocs + h->nterms) * h->dim * sizeof(float);
    if (h->dim > (lsi ? VECTORS_LSI_DIM_MAX : VECTORS_DIM_MAX) || need != len ||
        h->ndocs != ix->ndocs || h->nterms != (lsi ? ix->nterms : 0))
        return sm_error_set(err, SM_EINVAL, "vectors file does not match the lexical index");
    out->ndocs = h->ndocs;
    out->nterms = h->nterms;
    out->dim = h->dim;
    out->source = (vectors_source)h->source;
    /* the model string of a v1 file would point at the stack: LSI has none */
    out->model = lsi ? "" : ((const vectors_header *)data)->model;
    out->docs = (const float *)((const char *)data + hlen);
    out->terms = out->docs + (size_t)h->ndocs * h->dim;
    return 0;
}

/* ---- the writer of computed vectors ---- */

struct vectors_writer {
    int fd;
    uint32_t ndocs, dim, put;
    uint8_t *done; /* one flag per row */
    char path[1024];
};

int vectors_writer_open(const char *path, uint32_t ndocs, uint32_t dim, const char *model,
                        vectors_writer **out, sm_error *err)
{
    if (dim > VECTORS_DIM_MAX || (dim == 0 && ndocs > 0) || strlen(model) >= VECTORS_MODEL_MAX)
        return sm_error_set(err, SM_EINVAL, "vectors: dimension %u or model name out of bounds",
                            dim);
    vectors_writer *w = calloc(1, sizeof *w);
    if (!w || !(w->done = calloc((size_t)ndocs + 1, 1))) {
        free(w);
        return sm_error_set(err, SM_ENOMEM, "out of memory");
    }
    vectors_header h = {
        .magic = VECTORS_MAGIC, .ndocs = ndocs, .dim = dim, .source = VECTORS_SOURCE_EMBEDDINGS};
    snprintf(h.model, sizeof h.model, "%s", model);
    snprintf(w->path, sizeof w->path, "%s", path);
    w->ndocs = ndocs;
    w->dim = dim;
    w->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (w->fd < 0 || pwrite(w->fd, &h, sizeof h, 0) != (ssize_t)sizeof h ||
        ftruncate(w->fd, (off_t)(sizeof h + (uint64_t)ndocs * dim * sizeof(float))) != 0) {
        int e = errno;
        vectors_writer_free(w);
        return sm_error_set(err, SM_EIO, "%s: %s", path, strerror(e));
    }
    *out = w;
    return 0;
}

int vectors_writer_put(vectors_writer *w, uint32_t row, const float *v, sm_error *err)
{
    if (row >= w->ndocs)
        return sm_error_set(err, SM_EINTERNAL, "vectors: row %u out of %u", row, w->ndocs);
    size_t bytes = sizeof *v * w->dim;
    if (pwrite(w->fd, v, bytes, (off_t)(sizeof(vectors_header) + (uint64_t)row * bytes)) !=
        (ssize_t)bytes)
        return sm_error_set(err, SM_EIO, "%s: %s", w->path, strerror(errno));
    if (!w->done[row]) {
        w->done[row] = 1;
        w->put++;
    }
    return 0;
}

int vectors_writer_finish(vectors_writer *w, sm_error *err)
{
    if (w->put != w->ndocs)
        return sm_error_set(err, SM_EINTERNAL, "vectors: %u of %u rows written", w->put, w->ndocs);
    if (fsync(w->fd) != 0)
        return sm_error_set(err, SM_EIO, "%s: %s", w->path, strerror(errno));
    return 0;
}

void vectors_writer_free(vectors_writer *w)
{
    if (!w)
        return;
    if (w->fd >= 0)
        close(w->fd);
    free(w->done);
    free(w);
}

int vectors_query(const vectors_index *v, const lexical_index *ix, const uint32_t *terms,
                  const float *weights, size_t n, float *out)
{
    if (v->dim == 0 || v->nterms == 0)
        return 0;
    memset(out, 0, sizeof *out * v->dim);
    for (size_t i = 0; i < n; i++)
        if (terms[i] < v->nterms)
            cblas_saxpy((int)v->dim, weights[i] * lexical_idf(ix, terms[i]),
                        v->terms + (size_t)terms[i] * v->dim, 1, out, 1);
    float nrm = cblas_snrm2((int)v->dim, out, 1);
    if (nrm <= 0)
        return 0;
    cblas_sscal((int)v->dim, 1.0f / nrm, out, 1);
    return 1;
}

int vectors_query_text(const vectors_index *v, const lexical_index *ix, const char *text,
                       const uint32_t *terms, const float *weights, size_t n, float *out)
{
    if (v->source == VECTORS_SOURCE_EMBEDDINGS)
        return v->dim > 0 && text && embed_query(NULL, v->model, text, v->dim, out);
    return vectors_query(v, ix, terms, weights, n, out);
}

/* The dimension written in a finished vectors file. */
static int file_dim(const char *path, uint32_t *dim)
{
    vectors_header h;
    FILE *f = fopen(path, "rb");
    size_t got = f ? fread(&h, 1, sizeof h, f) : 0;
    if (f)
        fclose(f);
    if (got < sizeof(vectors_header_v1))
        return SM_EIO;
    *dim = h.dim;
    return 0;
}

int vectors_build(struct db *d, const lexical_index *ix, const char *version_dir,
                  const char *cache_dir, json_t *counts, sm_error *err)
{
    embed_config ec;
    char path[ARTEFACT_PATH_MAX];
    int rc = artefact_path(version_dir, "vectors.bin", path, err);
    if (rc)
        return rc;
    json_t *info = json_object();
    if (!info)
        return sm_error_set(err, SM_ENOMEM, "out of memory");
    if (!embed_config_load(&ec)) {
        rc = vectors_build_lsi(ix, VECTORS_DIM_DEFAULT, path, err);
        json_object_set_new(info, "source", json_string("lsi"));
    } else {
        artefact_map dm = {0};
        docs_store docs;
        if ((rc = artefact_map_file(version_dir, "docs.bin", &dm, err)) == 0 &&
            (rc = docs_store_open(dm.data, dm.len, &docs, err)) == 0)
            rc = embed_build_vectors(d, &ec, &docs, cache_dir, path, info, err);
        artefact_unmap(&dm);
        json_object_set_new(info, "source", json_string("embeddings"));
        json_object_set_new(info, "model", json_string(ec.model));
    }
    uint32_t dim = 0;
    if (rc == 0 && (rc = file_dim(path, &dim)) != 0)
        sm_error_fill(err, rc, "%s: cannot read back", path);
    json_object_set_new(info, "dim", json_integer(dim));
    if (rc == 0 && counts)
        json_object_set(counts, "vectors", info);
    json_decref(info);
    return rc;
}

void vectors_manifest_params(json_t *counts, json_t *params)
{
    json_t *info = json_object_get(counts, "vectors");
    if (!info || !params)
        return;
    json_object_set(params, "vector_source", json_object_get(info, "source"));
    json_object_set(params, "vector_dim", json_object_get(info, "dim"));
    if (json_object_get(info, "model"))
        json_object_set(params, "vector_model", json_object_get(info, "model"));
    if (json_object_get(info, "embedded")) { /* how much of the catalogue went to the service */
        json_object_set(counts, "vectors_embedded", json_object_get(info, "embedded"));
        json_object_set(counts, "vectors_cached", json_object_get(info, "cached"));
    }
    json_object_del(counts, "vectors");
}
