/* vectors.c — randomised truncated SVD of the TF-IDF matrix (see vectors.h).
 *
 * X is never materialised: it is the lexical index's postings, weighted on
 * the fly by weight(). The two sparse products are
 *   X·A  (n × l): for each term t, each posting (d, w): out[d] += w · A[t]
 *   Xᵀ·B (m × l): for each term t, out[t] = Σ over postings w · B[d]
 * both O(postings × l). Everything dense is row-major float32 for LAPACKE. */
#include "ml/vectors.h"

#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define VECTORS_MAGIC "SMVEC01"
#define OVERSAMPLE 10

typedef struct vectors_header {
    char magic[8];
    uint32_t ndocs, nterms, dim, reserved;
} vectors_header;

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
    if (dim > VECTORS_DIM_MAX)
        dim = VECTORS_DIM_MAX;
    uint32_t rank = n < m ? n : m;
    int l = (int)(dim + OVERSAMPLE);
    if ((uint32_t)l > rank) /* tiny corpus: as many dimensions as it has */
        l = (int)rank;
    if (dim > (uint32_t)l)
        dim = (uint32_t)(l > 0 ? l : 0);
    vectors_header h = {.magic = VECTORS_MAGIC, .ndocs = n, .nterms = m, .dim = dim};
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
    if (len < sizeof *h || memcmp(h->magic, VECTORS_MAGIC, 8) != 0)
        return sm_error_set(err, SM_EINVAL, "not a vectors file");
    uint64_t need = sizeof *h + ((uint64_t)h->ndocs + h->nterms) * h->dim * sizeof(float);
    if (h->dim > VECTORS_DIM_MAX || need != len || h->ndocs != ix->ndocs || h->nterms != ix->nterms)
        return sm_error_set(err, SM_EINVAL, "vectors file does not match the lexical index");
    out->ndocs = h->ndocs;
    out->nterms = h->nterms;
    out->dim = h->dim;
    out->docs = (const float *)(h + 1);
    out->terms = out->docs + (size_t)h->ndocs * h->dim;
    return 0;
}

int vectors_query(const vectors_index *v, const lexical_index *ix, const uint32_t *terms,
                  const float *weights, size_t n, float *out)
{
    if (v->dim == 0)
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
