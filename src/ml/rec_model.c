/* rec_model.c — writing, mapping and checking recommend.bin (layout in
 * rec_model.h).
 *
 * One table, section_shape(), says how many elements of what size each
 * section holds given the header's counts; the writer and the reader both
 * derive offsets from it, so they cannot disagree. The reader trusts
 * nothing: header fields are bounded, offsets must match the computed
 * layout exactly, the CRC must match, and every stored index must be -1 or
 * within its range before the model is handed out. */
#include "ml/rec_model.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zlib.h>

#define ENDIAN_PROBE 0x01020304u
#define ALIGN 64
#define COUNT_MAX 100000000u /* any count in a header */
#define K_MAX 1000u

static_assert(sizeof(rec_file_header) == REC_HEADER_SIZE, "header size");

/* What each section's element count is a multiple of. */
enum { PER_ITEM, PER_ITEM_CP, PER_POPULAR, PER_CATEGORY, PER_CATEGORY_TOP, PER_USER, PER_USER_ALS };

static const struct {
    size_t size; /* bytes per element */
    int per;     /* PER_* */
} section_table[REC_SECTIONS] = {
    {8, PER_ITEM},         {8, PER_ITEM},    {1, PER_ITEM},     {4, PER_ITEM},
    {4, PER_ITEM_CP},      {4, PER_ITEM_CP}, {4, PER_POPULAR},  {8, PER_CATEGORY},
    {4, PER_CATEGORY_TOP}, {8, PER_USER},    {4, PER_USER_ALS}, {4, PER_USER_ALS},
};

/* Element size and count of section `s` for the counts in `h`. */
static void section_shape(const rec_file_header *h, int s, size_t *size, uint64_t *count)
{
    uint64_t n = 0;
    *size = section_table[s].size;
    switch (section_table[s].per) {
    case PER_ITEM: n = h->n_items; break;
    case PER_ITEM_CP: n = (uint64_t)h->n_items * h->k_cp; break;
    case PER_POPULAR: n = h->n_popular; break;
    case PER_CATEGORY: n = h->n_categories; break;
    case PER_CATEGORY_TOP: n = (uint64_t)h->n_categories * h->k_cat; break;
    case PER_USER: n = h->n_users; break;
    default: n = (uint64_t)h->n_users * h->k_als; break;
    }
    *count = n;
}

/* Fills h->offset and h->payload_bytes from the counts. */
static void layout(rec_file_header *h)
{
    uint64_t at = REC_HEADER_SIZE;
    for (int s = 0; s < REC_SECTIONS; s++) {
        size_t size;
        uint64_t count;
        section_shape(h, s, &size, &count);
        at = (at + ALIGN - 1) / ALIGN * ALIGN;
        h->offset[s] = at;
        at += size * count;
    }
    h->payload_bytes = at - REC_HEADER_SIZE;
}

static bool counts_valid(const rec_file_header *h)
{
    return h->n_items <= COUNT_MAX && h->n_users <= COUNT_MAX && h->n_categories <= COUNT_MAX &&
           h->n_popular <= COUNT_MAX && h->k_cp <= K_MAX && h->k_als <= K_MAX && h->k_cat <= K_MAX;
}

static int write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int rec_model_write(const char *path, const rec_model_parts *parts, uint64_t *bytes, uint32_t *crc,
                    sm_error *err)
{
    rec_file_header h = {.format = REC_MODEL_FORMAT, .endian = ENDIAN_PROBE};
    memcpy(h.magic, REC_MODEL_MAGIC, sizeof REC_MODEL_MAGIC);
    h.n_items = parts->n_items;
    h.n_users = parts->n_users;
    h.n_categories = parts->n_categories;
    h.n_popular = parts->n_popular;
    h.k_cp = parts->k_cp;
    h.k_als = parts->k_als;
    h.k_cat = parts->k_cat;
    h.built_ms = parts->built_ms;
    if (!counts_valid(&h))
        return sm_error_set(err, SM_EINVAL, "recommendation model counts out of bounds");
    layout(&h);
    const void *data[REC_SECTIONS] = {
        parts->item_ids, parts->item_category, parts->item_active, parts->pop_score,
        parts->cp_item,  parts->cp_score,      parts->popular,     parts->cat_ids,
        parts->cat_top,  parts->user_ids,      parts->als_item,    parts->als_score,
    };
    uLong sum = crc32(0L, Z_NULL, 0);
    static const unsigned char zeros[ALIGN];
    uint64_t at = REC_HEADER_SIZE;
    /* First pass: the CRC, so the header can be written first. */
    for (int s = 0; s < REC_SECTIONS; s++) {
        size_t size;
        uint64_t count;
        section_shape(&h, s, &size, &count);
        if (count > 0 && !data[s])
            return sm_error_set(err, SM_EINVAL, "recommendation model section %d missing", s);
        sum = crc32(sum, zeros, (uInt)(h.offset[s] - at));
        for (uint64_t done = 0; done < size * count;) {
            uint64_t chunk = size * count - done > (1u << 30) ? (1u << 30) : size * count - done;
            sum = crc32(sum, (const Bytef *)data[s] + done, (uInt)chunk);
            done += chunk;
        }
        at = h.offset[s] + size * count;
    }
    h.crc32 = (uint32_t)sum;

    char tmp[4096];
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp", path) >= sizeof tmp)
        return sm_error_set(err, SM_EINVAL, "model path too long");
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return sm_error_set(err, SM_EIO, "%s: %s", tmp, strerror(errno));
    int bad = write_all(fd, &h, sizeof h);
    at = REC_HEADER_SIZE;
    for (int s = 0; s < REC_SECTIONS && !bad; s++) {
        size_t size;
        uint64_t count;
        section_shape(&h, s, &size, &count);
        bad = write_all(fd, zeros, (size_t)(h.offset[s] - at)) ||
              (count > 0 && write_all(fd, data[s], size * count));
        at = h.offset[s] + size * count;
    }
    if (bad || fsync(fd) != 0) {
        int e = errno;
        close(fd);
        unlink(tmp);
        return sm_error_set(err, SM_EIO, "%s: %s", tmp, strerror(e));
    }
    if (close(fd) != 0 || rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        return sm_error_set(err, SM_EIO, "%s: %s", path, strerror(e));
    }
    if (bytes)
        *bytes = REC_HEADER_SIZE + h.payload_bytes;
    if (crc)
        *crc = h.crc32;
    return 0;
}

/* True when every entry of `a[0..n)` is -1 or in [0, limit). */
static bool indices_valid(const int32_t *a, uint64_t n, uint32_t limit)
{
    for (uint64_t i = 0; i < n; i++)
        if (a[i] < -1 || (a[i] >= 0 && (uint32_t)a[i] >= limit))
            return false;
    return true;
}

static bool ascending(const int64_t *a, uint32_t n)
{
    for (uint32_t i = 1; i < n; i++)
        if (a[i] <= a[i - 1])
            return false;
    return true;
}

int rec_model_open(const char *path, rec_model **out, sm_error *err)
{
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return sm_error_set(err, errno == ENOENT ? SM_ENOTFOUND : SM_EIO, "%s: %s", path,
                            strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || st.st_size < REC_HEADER_SIZE) {
        close(fd);
        return sm_error_set(err, SM_EINVAL, "%s: not a recommendation model", path);
    }
    void *map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
    close(fd);
    if (map == MAP_FAILED)
        return sm_error_set(err, SM_EIO, "%s: mmap: %s", path, strerror(errno));
    rec_model *m = calloc(1, sizeof *m);
    if (!m) {
        munmap(map, (size_t)st.st_size);
        return sm_error_set(err, SM_ENOMEM, "out of memory");
    }
    m->map = map;
    m->map_len = (size_t)st.st_size;
    memcpy(&m->h, map, sizeof m->h);
    rec_file_header want = m->h;
    const rec_file_header *h = &m->h;
    if (memcmp(h->magic, REC_MODEL_MAGIC, sizeof REC_MODEL_MAGIC) != 0 ||
        h->format != REC_MODEL_FORMAT || h->endian != ENDIAN_PROBE || !counts_valid(h))
        goto invalid;
    layout(&want);
    if (memcmp(want.offset, h->offset, sizeof want.offset) != 0 ||
        want.payload_bytes != h->payload_bytes ||
        REC_HEADER_SIZE + h->payload_bytes != (uint64_t)st.st_size)
        goto invalid;
    const unsigned char *base = map;
    uLong sum = crc32(0L, Z_NULL, 0);
    for (uint64_t done = 0; done < h->payload_bytes;) {
        uint64_t chunk =
            h->payload_bytes - done > (1u << 30) ? (1u << 30) : h->payload_bytes - done;
        sum = crc32(sum, base + REC_HEADER_SIZE + done, (uInt)chunk);
        done += chunk;
    }
    if ((uint32_t)sum != h->crc32)
        goto invalid;
    m->item_ids = (const void *)(base + h->offset[0]);
    m->item_category = (const void *)(base + h->offset[1]);
    m->item_active = base + h->offset[2];
    m->pop_score = (const void *)(base + h->offset[3]);
    m->cp_item = (const void *)(base + h->offset[4]);
    m->cp_score = (const void *)(base + h->offset[5]);
    m->popular = (const void *)(base + h->offset[6]);
    m->cat_ids = (const void *)(base + h->offset[7]);
    m->cat_top = (const void *)(base + h->offset[8]);
    m->user_ids = (const void *)(base + h->offset[9]);
    m->als_item = (const void *)(base + h->offset[10]);
    m->als_score = (const void *)(base + h->offset[11]);
    if (!ascending(m->item_ids, h->n_items) || !ascending(m->cat_ids, h->n_categories) ||
        !ascending(m->user_ids, h->n_users) ||
        !indices_valid(m->cp_item, (uint64_t)h->n_items * h->k_cp, h->n_items) ||
        !indices_valid(m->popular, h->n_popular, h->n_items) ||
        !indices_valid(m->cat_top, (uint64_t)h->n_categories * h->k_cat, h->n_items) ||
        !indices_valid(m->als_item, (uint64_t)h->n_users * h->k_als, h->n_items))
        goto invalid;
    *out = m;
    return 0;
invalid:
    rec_model_close(m);
    return sm_error_set(err, SM_EINVAL, "%s: not a valid recommendation model", path);
}

void rec_model_close(rec_model *m)
{
    if (!m)
        return;
    if (m->map)
        munmap(m->map, m->map_len);
    free(m);
}

static int32_t search_ids(const int64_t *ids, uint32_t n, int64_t id)
{
    uint32_t lo = 0, hi = n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (ids[mid] < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n && ids[lo] == id ? (int32_t)lo : -1;
}

int32_t rec_model_item(const rec_model *m, int64_t id)
{
    return search_ids(m->item_ids, m->h.n_items, id);
}

int32_t rec_model_user(const rec_model *m, int64_t id)
{
    return search_ids(m->user_ids, m->h.n_users, id);
}
