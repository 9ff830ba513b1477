/* snapshot.h — the loaded search version, swapped without pausing queries.
 *
 * A snapshot is one artefact version mapped and opened: lexical index,
 * vectors, document store, and the approximate vector index (ann.bin,
 * read into memory) when the version has one. Queries take a reference (snapshot_acquire),
 * use it, and drop it (snapshot_release); the last reference unmaps it.
 *
 * The swap is RCU-like: a watcher thread (started on the first acquire)
 * polls readlink(DATA_DIR/ml/current) every second; when the target
 * changes it verifies and loads the new version off the query path, then
 * replaces the global pointer under a mutex held only for a pointer copy
 * and a reference increment. A query in flight keeps using the version it
 * took; the next query gets the new one. Nobody waits for a load. */
#ifndef SM_ML_SNAPSHOT_H
#define SM_ML_SNAPSHOT_H

#include "core/err.h"
#include "ml/artefact.h"
#include "ml/ann.h"
#include "ml/docs.h"
#include "ml/lexical.h"
#include "ml/vectors.h"
#include "ml/vindex.h"

typedef struct snapshot {
    char version[ARTEFACT_VERSION_MAX];
    lexical_index lex;
    vectors_index vec;
    docs_store docs;
    ann_index *ann; /* NULL: the version has none (a small catalogue) */
    vindex vi;      /* the vectors as searched: exact or through `ann` */
    artefact_map maps[3];
    int refs; /* atomic */
} snapshot;

/* Loads the version in `dir` (verified against its manifest when `verify`).
 * An ann.bin present must load and match the vectors, or the load fails.
 * The probe count comes from ML_ANN_NPROBE (the default without a loaded
 * configuration). Returns 0 and *out with one reference, or an error. */
int snapshot_load(const char *dir, const char *version, int verify, snapshot **out, sm_error *err);

/* The active snapshot of `data_dir` with a reference, or NULL when none is
 * loaded (cold start). The first call loads synchronously and starts the
 * watcher. Thread-safe. */
snapshot *snapshot_acquire(const char *data_dir);

/* Drops a reference; NULL is a no-op. Thread-safe. */
void snapshot_release(snapshot *s);

/* Checks the `current` link now and swaps if it changed (what the watcher
 * does every second). Returns 0, or an error when the new version failed
 * to load (the old one stays). Thread-safe. */
int snapshot_refresh(const char *data_dir, sm_error *err);

#endif
