/* build.h — building every ML artefact into a new version, then switching.
 *
 * FOR OTHER MODULES (recommendations, RAG): register your model builder
 * once, before ml_build_indexes() runs (e.g. from a constructor function or
 * your command/job setup), with ml_builder_register("recommendations", fn).
 * `fn` is called with the database and the temporary version folder after
 * the search artefacts are written and before verification and the switch;
 * write your files into that folder (names without '/', not starting with
 * '.'): they are checksummed into manifest.json and switched atomically
 * with the rest. A non-zero return aborts the whole build and leaves the
 * active version untouched. Read the active folder back with
 * artefact_current() (ml/artefact.h) and map files with artefact_map_file().
 *
 * ml_build_indexes() reads active products (with their category), builds
 * the lexical index, the dense vectors and the document store (ml/search.h
 * for what they are), runs the registered builders, verifies the folder,
 * and switches `current` to it. */
#ifndef SM_ML_BUILD_H
#define SM_ML_BUILD_H

#include <jansson.h>

#include "core/err.h"
#include "db/db.h"

#define ML_BUILDERS_MAX 8

/* Progress: `stage` is a short name ("read", "lexical", "vectors", …),
 * done/total in the stage's own units (total 0 = unknown). */
typedef void (*ml_progress_fn)(const char *stage, long long done, long long total, void *ctx);

/* An extra builder. `counts` is an object to which it may add counts for the
 * manifest ("co_purchase_pairs": …). Returns 0 or a negative SM_E* code. */
typedef int (*ml_builder_fn)(db *d, const char *version_dir, json_t *counts,
                             ml_progress_fn progress, void *progress_ctx, sm_error *err);

/* Registers `fn` under `name` (borrowed, static). Registering the same
 * name again replaces it. Returns 0 or SM_ETOOLARGE past ML_BUILDERS_MAX.
 * Thread-safe. */
int ml_builder_register(const char *name, ml_builder_fn fn);

/* Builds a new version under data_dir/ml/ and switches to it. Progress
 * callback `pf` may be NULL. On success *version_out (may be NULL; capacity 64) gets the
 * version name. Returns 0 or a negative SM_E* code; on failure nothing
 * changed for readers. Builds are serialised within a process. */
int ml_build_indexes(db *d, const char *data_dir, ml_progress_fn pf, void *ctx, char *version_out,
                     sm_error *err);

#endif
