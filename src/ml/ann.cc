/* ann.cc — the C++ shim over FAISS behind ml/ann.h.
 *
 * The only C++ of the project, kept to what the C side cannot reach: the
 * IndexIVFFlat object, its training, its inverted lists and its file
 * format. Every call into FAISS runs in a try block (guarded(), or
 * ann_search's own, which has no error to fill); FAISS reports errors by
 * throwing faiss::FaissException (and std::bad_alloc), both turned into
 * SM_E* codes there.
 *
 * The query itself does not call IndexIVF::search: Debian's libfaiss is
 * built for baseline x86-64, where its distance kernels are the scalar
 * reference loops (fvec_inner_product_ref: one dependent add per
 * component), and they were 20 % of the server's CPU under the search
 * benchmark. ann_search() reads the same centroids and inverted lists and
 * runs the same algorithm — rank the cells by centroid, score every row of
 * the best nprobe — with a dot product the compiler vectorises. */
extern "C" {
#include "core/err.h"
#include "ml/vindex.h"
}
#include "ml/ann.h"

#include <faiss/IndexFlat.h>
#include <faiss/IndexIVFFlat.h>
#include <faiss/impl/FaissException.h>
#include <faiss/impl/io.h>
#include <faiss/index_io.h>
#include <fcntl.h>
#include <omp.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <exception>
#include <memory>
#include <new>
#include <vector>

struct ann_index {
    std::unique_ptr<faiss::IndexIVFFlat> ivf;
    const float *centroids; /* nlist × d, the flat quantizer's rows */
};

namespace
{

/* Clustering: at most 64 training rows per cell (FAISS samples them with
 * its fixed seed), 12 Lloyd iterations, centroids on the sphere since the
 * rows are. Build time is linear in both; recall is measured on every
 * build and recorded in the manifest (docs/ML.md "Approximate index"). */
constexpr int kTrainRowsPerCell = 64;
constexpr int kTrainIterations = 12;
constexpr int kSeed = 1234;

float dot(const float *a, const float *b, size_t d)
{
    float s = 0;
#pragma omp simd reduction(+ : s)
    for (size_t i = 0; i < d; i++)
        s += a[i] * b[i];
    return s;
}

/* Best first; ties by row, so results are deterministic. */
bool better(const vindex_hit &x, const vindex_hit &y)
{
    return x.score > y.score || (x.score == y.score && x.row < y.row);
}

/* The best k of v, sorted, moved to its front; returns min(k, size). */
size_t keep_best(std::vector<vindex_hit> &v, size_t k)
{
    k = std::min(k, v.size());
    if (k < v.size())
        std::nth_element(v.begin(), v.begin() + (std::ptrdiff_t)k, v.end(), better);
    std::sort(v.begin(), v.begin() + (std::ptrdiff_t)k, better);
    return k;
}

/* The flat quantizer's centroids, or null when it is not a flat index. */
const float *centroids_of(const faiss::IndexIVFFlat &ivf)
{
    const auto *flat = dynamic_cast<const faiss::IndexFlat *>(ivf.quantizer);
    return flat && flat->ntotal == (faiss::Index::idx_t)ivf.nlist ? flat->get_xb() : nullptr;
}

int fail(sm_error *err, int code, const char *what, const char *detail)
{
    sm_error_fill(err, code, "ann: %s: %s", what, detail);
    return code;
}

/* Runs `body` (0 or an SM_E* code) and turns what it throws into `code`
 * (SM_ENOMEM for an allocation failure) with the exception's text. */
template <class F> int guarded(sm_error *err, const char *what, int code, F &&body)
{
    try {
        return body();
    } catch (const std::bad_alloc &) {
        return fail(err, SM_ENOMEM, what, "out of memory");
    } catch (const std::exception &e) {
        return fail(err, code, what, e.what());
    } catch (...) {
        return fail(err, code, what, "unknown exception");
    }
}

/* Every row id of every cell is one of the n rows: a loaded index is used
 * to index the document arrays, so nothing out of range may come out. */
bool ids_in_range(const faiss::IndexIVFFlat &ivf, uint32_t n)
{
    const faiss::InvertedLists *il = ivf.invlists;
    if (!il)
        return false;
    size_t total = 0;
    for (size_t l = 0; l < il->nlist; l++) {
        size_t len = il->list_size(l);
        total += len;
        if (len == 0)
            continue;
        faiss::InvertedLists::ScopedIds ids(il, l);
        for (size_t i = 0; i < len; i++)
            if (ids[i] < 0 || ids[i] >= (faiss::Index::idx_t)n)
                return false;
    }
    return total == n;
}

/* ann.bin: this header, then the index in FAISS's own format. FAISS
 * reads a truncated or damaged file partway and throws, leaking what it
 * had allocated (and trusts the sizes it reads), so the payload's length
 * and CRC-32 are checked before FAISS sees a byte of it; the manifest's
 * SHA-256 is the guarantee between versions, this one holds for any
 * caller of ann_load(). */
constexpr char kMagic[8] = {'S', 'M', 'A', 'N', 'N', '0', '0', '1'};

struct FileHeader {
    char magic[8];
    uint64_t payload; /* bytes after the header */
    uint32_t crc;     /* zlib CRC-32 of them */
    uint32_t reserved;
};

uint32_t crc_of(const uint8_t *p, size_t len)
{
    uLong crc = crc32(0L, Z_NULL, 0);
    while (len > 0) {
        auto chunk = (uInt)std::min<size_t>(len, 1u << 30);
        crc = crc32(crc, p, chunk);
        p += chunk;
        len -= chunk;
    }
    return (uint32_t)crc;
}

/* faiss::IOReader over a mapped payload (no copy of the whole file). */
struct SpanReader : faiss::IOReader {
    const uint8_t *p;
    size_t len, pos = 0;
    SpanReader(const uint8_t *data, size_t n) : p(data), len(n)
    {
    }
    size_t operator()(void *ptr, size_t size, size_t nitems) override
    {
        if (size == 0 || nitems == 0)
            return 0;
        size_t avail = (len - pos) / size, take = std::min(avail, nitems);
        std::memcpy(ptr, p + pos, take * size);
        pos += take * size;
        return take;
    }
};

int load_mapped(const uint8_t *data, size_t len, const char *path, uint32_t n, uint32_t dim,
                ann_index **out, sm_error *err)
{
    FileHeader h;
    std::memcpy(&h, data, sizeof h);
    if (std::memcmp(h.magic, kMagic, sizeof h.magic) != 0)
        return fail(err, SM_EIO, path, "not an ann.bin file");
    if (h.payload != len - sizeof h)
        return fail(err, SM_EIO, path, "truncated or padded");
    if (crc_of(data + sizeof h, (size_t)h.payload) != h.crc)
        return fail(err, SM_EIO, path, "checksum mismatch");
    return guarded(err, path, SM_EIO, [&]() -> int {
        SpanReader reader(data + sizeof h, (size_t)h.payload);
        std::unique_ptr<faiss::Index> ix(faiss::read_index(&reader));
        auto *ivf = dynamic_cast<faiss::IndexIVFFlat *>(ix.get());
        if (!ivf || ivf->metric_type != faiss::METRIC_INNER_PRODUCT || !ivf->quantizer)
            return fail(err, SM_EINVAL, path, "not an inner-product IVF-Flat index");
        if (ivf->d != (int)dim || ivf->ntotal != (faiss::Index::idx_t)n ||
            ivf->nlist > ANN_NLIST_MAX || ivf->nlist == 0 ||
            ivf->quantizer->ntotal != (faiss::Index::idx_t)ivf->nlist || !ivf->is_trained)
            return fail(err, SM_EINVAL, path, "does not match the vectors");
        if (!ids_in_range(*ivf, n))
            return fail(err, SM_EINVAL, path, "row ids out of range");
        if (!centroids_of(*ivf) || ivf->invlists->code_size != sizeof(float) * dim)
            return fail(err, SM_EINVAL, path, "not a flat-quantizer IVF-Flat index");
        std::unique_ptr<ann_index> a(new ann_index);
        a->ivf.reset(ivf);
        (void)ix.release(); /* now owned by a->ivf */
        a->centroids = centroids_of(*ivf);
        *out = a.release();
        return 0;
    });
}

} // namespace

extern "C" uint32_t ann_nlist_for(uint32_t n)
{
    /* about 2·√n, but at least 39 rows per cell (FAISS's floor for a
     * meaningful k-means) so that small catalogues get few cells */
    auto nlist = (uint32_t)std::floor(2.0 * std::sqrt((double)n));
    nlist = std::min(nlist, n / 39);
    nlist = std::max(nlist, 1u);
    if (nlist > n)
        nlist = n;
    if (nlist > ANN_NLIST_MAX)
        nlist = ANN_NLIST_MAX;
    return nlist;
}

extern "C" int ann_build(const float *m, uint32_t n, uint32_t dim, uint32_t nlist, ann_index **out,
                         sm_error *err)
{
    *out = nullptr;
    if (n == 0 || dim == 0 || n > ANN_ROWS_MAX)
        return fail(err, SM_EINVAL, "build", "no rows, no dimensions or too many rows");
    if (nlist == 0)
        nlist = ann_nlist_for(n);
    if (nlist > n || nlist > ANN_NLIST_MAX)
        return fail(err, SM_EINVAL, "build", "more cells than rows");
    return guarded(err, "build", SM_EINTERNAL, [&]() -> int {
        std::unique_ptr<ann_index> a(new ann_index);
        std::unique_ptr<faiss::IndexFlatIP> quantizer(
            new faiss::IndexFlatIP((faiss::Index::idx_t)dim));
        a->ivf.reset(
            new faiss::IndexIVFFlat(quantizer.get(), dim, nlist, faiss::METRIC_INNER_PRODUCT));
        (void)quantizer.release(); /* now owned by the IVF index */
        a->ivf->own_fields = true;
        a->ivf->cp.niter = kTrainIterations;
        a->ivf->cp.max_points_per_centroid = kTrainRowsPerCell;
        a->ivf->cp.spherical = true;
        a->ivf->cp.seed = kSeed;
        a->ivf->cp.verbose = false;
        a->ivf->verbose = false;
        /* a build runs alone (a command or a job): every core */
        omp_set_num_threads(omp_get_num_procs());
        a->ivf->train((faiss::Index::idx_t)n, m);
        a->ivf->add((faiss::Index::idx_t)n, m);
        a->centroids = centroids_of(*a->ivf);
        if (!a->centroids)
            return fail(err, SM_EINTERNAL, "build", "no flat quantizer");
        *out = a.release();
        return 0;
    });
}

extern "C" int ann_save(const ann_index *a, const char *path, sm_error *err)
{
    faiss::VectorIOWriter payload;
    int rc = guarded(err, path, SM_EIO, [&] {
        faiss::write_index(a->ivf.get(), &payload);
        return 0;
    });
    if (rc != 0)
        return rc;
    FileHeader h{};
    std::memcpy(h.magic, kMagic, sizeof h.magic);
    h.payload = payload.data.size();
    h.crc = crc_of(payload.data.data(), payload.data.size());
    FILE *f = std::fopen(path, "wb");
    if (!f)
        return fail(err, SM_EIO, path, "cannot create");
    bool ok = std::fwrite(&h, sizeof h, 1, f) == 1 &&
              std::fwrite(payload.data.data(), 1, payload.data.size(), f) == payload.data.size() &&
              std::fflush(f) == 0 && fsync(fileno(f)) == 0;
    ok = std::fclose(f) == 0 && ok;
    return ok ? 0 : fail(err, SM_EIO, path, "write failed");
}

extern "C" int ann_load(const char *path, uint32_t n, uint32_t dim, ann_index **out, sm_error *err)
{
    *out = nullptr;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return fail(err, SM_EIO, path, "cannot open");
    struct stat st;
    if (fstat(fd, &st) != 0 || st.st_size < (off_t)sizeof(FileHeader) ||
        (uint64_t)st.st_size > ANN_FILE_MAX) {
        close(fd);
        return fail(err, SM_EIO, path, "missing header or too large");
    }
    auto len = (size_t)st.st_size;
    void *map = mmap(nullptr, len, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED)
        return fail(err, SM_EIO, path, "cannot map");
    int rc = load_mapped(static_cast<const uint8_t *>(map), len, path, n, dim, out, err);
    munmap(map, len);
    return rc;
}

extern "C" int ann_search(const ann_index *a, const float *q, size_t k, uint32_t nprobe,
                          ann_filter_fn keep, void *keep_ctx, vindex_hit *out)
{
    if (k == 0)
        return 0;
    if (k > VINDEX_K_MAX)
        k = VINDEX_K_MAX;
    try {
        const faiss::IndexIVFFlat &ivf = *a->ivf;
        const size_t d = (size_t)ivf.d, nlist = ivf.nlist;
        /* per-thread buffers: a query allocates nothing once warm */
        static thread_local std::vector<vindex_hit> cells, cand;
        cells.resize(nlist);
        for (size_t c = 0; c < nlist; c++)
            cells[c] = vindex_hit{(uint32_t)c, dot(a->centroids + c * d, q, d)};
        size_t probes = keep_best(cells, nprobe < 1 ? 1 : nprobe);
        cand.clear();
        const faiss::InvertedLists *il = ivf.invlists;
        for (size_t p = 0; p < probes; p++) {
            size_t l = cells[p].row, len = il->list_size(l);
            if (len == 0)
                continue;
            faiss::InvertedLists::ScopedCodes codes(il, l);
            faiss::InvertedLists::ScopedIds ids(il, l);
            const float *rows = reinterpret_cast<const float *>(codes.get());
            for (size_t i = 0; i < len; i++) {
                auto row = (uint32_t)ids[i]; /* in [0, n): checked at load */
                if (!keep || keep(row, keep_ctx))
                    cand.push_back(vindex_hit{row, dot(rows + i * d, q, d)});
            }
        }
        size_t len = keep_best(cand, k);
        std::copy(cand.begin(), cand.begin() + (std::ptrdiff_t)len, out);
        return (int)len;
    } catch (const std::bad_alloc &) {
        return SM_ENOMEM;
    } catch (...) {
        return SM_EINTERNAL;
    }
}

extern "C" uint32_t ann_rows(const ann_index *a)
{
    return (uint32_t)a->ivf->ntotal;
}

extern "C" uint32_t ann_dim(const ann_index *a)
{
    return (uint32_t)a->ivf->d;
}

extern "C" uint32_t ann_nlist(const ann_index *a)
{
    return (uint32_t)a->ivf->nlist;
}

extern "C" void ann_free(ann_index *a)
{
    delete a;
}
