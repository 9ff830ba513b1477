/* artefact.h — versioned folders of ML artefacts, switched atomically.
 *
 * Layout under DATA_DIR/ml/:
 *
 *   20250101T120000123Z-3fa2/   one version: index files + manifest.json
 *   20250101T130000456Z-9c01/
 *   current -> 20250101T130000456Z-9c01  the active version (a symlink)
 *   .build-…/                   a build in progress (removed on failure)
 *
 * A build writes into a temporary folder, computes the SHA-256 of every
 * file, writes manifest.json (version, build time, counts, parameters,
 * files with sizes and checksums), fsyncs, renames the folder to its
 * version name, and only then replaces `current` through rename(2) of a new
 * symlink over the old one — atomic, so a reader sees the old version or
 * the new one, never neither. A crash at any step leaves `current` intact.
 * The last ARTEFACT_KEEP versions are kept (the active one always).
 *
 * Readers map files read-only (artefact_map) and check them against the
 * manifest (artefact_verify) before serving them. */
#ifndef SM_ML_ARTEFACT_H
#define SM_ML_ARTEFACT_H

#include <jansson.h>
#include <stddef.h>

#include "core/err.h"

#define ARTEFACT_KEEP 3
#define ARTEFACT_PATH_MAX 1024
#define ARTEFACT_VERSION_MAX 64
#define ARTEFACT_FILE_MAX ((size_t)16 << 30) /* a file over 16 GiB is refused */

/* A build in progress. Plain data; owned by the caller. */
typedef struct artefact_build {
    char root[ARTEFACT_PATH_MAX];       /* DATA_DIR/ml */
    char dir[ARTEFACT_PATH_MAX];        /* the temporary folder */
    char version[ARTEFACT_VERSION_MAX]; /* its final name */
    long long started_ms;
} artefact_build;

/* A read-only mapping of one file. */
typedef struct artefact_map {
    void *data;
    size_t len;
} artefact_map;

/* Creates DATA_DIR/ml (and parents) and a fresh temporary build folder.
 * Returns 0 or SM_EIO. */
int artefact_build_begin(const char *data_dir, artefact_build *b, sm_error *err);

/* "dir/name" into `out` (capacity ARTEFACT_PATH_MAX). SM_ETOOLARGE when it
 * does not fit. */
int artefact_path(const char *dir, const char *name, char *out, sm_error *err);

/* Writes manifest.json (checksums of every regular file in the folder,
 * `counts` and `parameters` borrowed), renames the folder to its version,
 * switches `current` to it and prunes old versions. Returns 0, or SM_EIO
 * with the active version untouched. */
int artefact_build_commit(artefact_build *b, json_t *counts, json_t *parameters, sm_error *err);

/* Removes the temporary folder of a failed build. */
void artefact_build_abort(artefact_build *b);

/* The active version's folder into `out` and its name into `version`
 * (capacity ARTEFACT_VERSION_MAX). SM_ENOTFOUND when there is none. */
int artefact_current(const char *data_dir, char *out, char *version, sm_error *err);

/* Checks every file listed in dir/manifest.json: present, same size, same
 * SHA-256. Returns 0, SM_EINVAL (mismatch) or SM_EIO. */
int artefact_verify(const char *dir, sm_error *err);

/* Maps dir/name read-only. An empty file maps to {NULL, 0}. Returns 0 or
 * SM_EIO. Release with artefact_unmap(). Thread-safe. */
int artefact_map_file(const char *dir, const char *name, artefact_map *m, sm_error *err);
void artefact_unmap(artefact_map *m);

#endif
