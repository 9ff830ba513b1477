/* result.c — db_result, the materialised rows of a query.
 *
 * Both drivers hand rows over as text (PostgreSQL's text format; SQLite
 * values formatted the same way), so one representation serves both: every
 * cell is a pointer to a NUL-terminated copy in the result's arena, or NULL
 * for SQL NULL. The cell array is row-major and grows geometrically; the
 * arena holds column names and cell text and is freed at once. Readers
 * convert on access (db_result_int/real), so a caller never sees which
 * engine produced the value. A result is bounded by DB_RESULT_MAX_BYTES so
 * one unbounded SELECT cannot take the process's memory. */
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "db/driver.h"

struct db_result {
    int ncols;
    int nrows;
    const char **colnames; /* ncols entries, in mem */
    const char **cells;    /* nrows * ncols entries; NULL = SQL NULL */
    size_t cap_rows;       /* rows the cells array has room for */
    size_t bytes;          /* text accounted against DB_RESULT_MAX_BYTES */
    arena *mem;
};

db_result *db_result_new(int ncols)
{
    if (ncols < 0)
        return NULL;
    db_result *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->ncols = ncols;
    r->mem = arena_new(0);
    if (!r->mem)
        goto fail;
    if (ncols > 0) {
        r->colnames = arena_calloc(r->mem, (size_t)ncols, sizeof *r->colnames);
        if (!r->colnames)
            goto fail;
    }
    return r;
fail:
    db_result_free(r);
    return NULL;
}

int db_result_set_colname(db_result *r, int col, const char *name)
{
    if (col < 0 || col >= r->ncols)
        return SM_EINVAL;
    const char *copy = arena_strdup(r->mem, name ? name : "");
    if (!copy)
        return SM_ENOMEM;
    r->colnames[col] = copy;
    return 0;
}

int db_result_add_row(db_result *r, sm_error *err)
{
    if (r->nrows == INT32_MAX)
        return sm_error_set(err, SM_ETOOLARGE, "result has too many rows");
    if ((size_t)r->nrows == r->cap_rows && r->ncols > 0) {
        size_t cap = r->cap_rows ? r->cap_rows * 2 : 16;
        if (cap > SIZE_MAX / sizeof *r->cells / (size_t)r->ncols)
            return sm_error_set(err, SM_ETOOLARGE, "result too large");
        const char **cells = realloc(r->cells, cap * (size_t)r->ncols * sizeof *cells);
        if (!cells)
            return sm_error_set(err, SM_ENOMEM, "out of memory reading a result");
        r->cells = cells;
        r->cap_rows = cap;
    }
    /* Each cell pointer counts too, so many tiny rows are bounded as well. */
    r->bytes += (size_t)r->ncols * sizeof *r->cells;
    if (r->bytes > DB_RESULT_MAX_BYTES)
        return sm_error_set(err, SM_ETOOLARGE, "result exceeds %zu bytes", DB_RESULT_MAX_BYTES);
    for (int c = 0; c < r->ncols; c++)
        r->cells[(size_t)r->nrows * (size_t)r->ncols + (size_t)c] = NULL;
    r->nrows++;
    return 0;
}

int db_result_set_cell(db_result *r, int col, const char *text, size_t len, sm_error *err)
{
    if (r->nrows == 0 || col < 0 || col >= r->ncols)
        return sm_error_set(err, SM_EINTERNAL, "result cell out of range");
    if (len > DB_RESULT_MAX_BYTES - r->bytes)
        return sm_error_set(err, SM_ETOOLARGE, "result exceeds %zu bytes", DB_RESULT_MAX_BYTES);
    char *copy = arena_strndup(r->mem, text ? text : "", len);
    if (!copy)
        return sm_error_set(err, SM_ENOMEM, "out of memory reading a result");
    r->bytes += len + 1;
    r->cells[(size_t)(r->nrows - 1) * (size_t)r->ncols + (size_t)col] = copy;
    return 0;
}

void db_format_real(double v, char *buf, size_t len)
{
    /* Shortest of 15, 16, 17 significant digits that reads back exactly:
     * 0.1 prints as "0.1" (as PostgreSQL does), never "0.10000000000000001". */
    for (int prec = DBL_DIG; prec <= 17; prec++) {
        snprintf(buf, len, "%.*g", prec, v);
        if (!isfinite(v) || strtod(buf, NULL) == v)
            return;
    }
}

void db_result_free(db_result *r)
{
    if (!r)
        return;
    free(r->cells);
    arena_free(r->mem);
    free(r);
}

int db_result_rows(const db_result *r)
{
    return r ? r->nrows : 0;
}

int db_result_cols(const db_result *r)
{
    return r ? r->ncols : 0;
}

const char *db_result_colname(const db_result *r, int col)
{
    if (!r || col < 0 || col >= r->ncols)
        return NULL;
    return r->colnames[col];
}

static const char *cell(const db_result *r, int row, int col)
{
    if (!r || row < 0 || row >= r->nrows || col < 0 || col >= r->ncols)
        return NULL;
    return r->cells[(size_t)row * (size_t)r->ncols + (size_t)col];
}

bool db_result_isnull(const db_result *r, int row, int col)
{
    return cell(r, row, col) == NULL;
}

const char *db_result_text(const db_result *r, int row, int col)
{
    return cell(r, row, col);
}

int64_t db_result_int(const db_result *r, int row, int col)
{
    const char *s = cell(r, row, col);
    if (!s)
        return 0;
    /* PostgreSQL booleans (from EXISTS, comparisons) read as 1/0. */
    if (s[0] == 't' && s[1] == '\0')
        return 1;
    if (s[0] == 'f' && s[1] == '\0')
        return 0;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (*end == '\0' && end != s && errno == 0)
        return v;
    /* A real (AVG, division) or numeric: truncate toward zero, clamped. */
    double d = strtod(s, &end);
    if (end == s || isnan(d))
        return 0;
    if (d >= 9223372036854775807.0)
        return INT64_MAX;
    if (d <= -9223372036854775808.0)
        return INT64_MIN;
    return (int64_t)d;
}

double db_result_real(const db_result *r, int row, int col)
{
    const char *s = cell(r, row, col);
    if (!s)
        return 0;
    char *end;
    double d = strtod(s, &end);
    return end == s ? 0 : d;
}
