/* atomic_file.h — writing a whole file so that readers see either the old
 * content or the new, never a part (the mail outbox, the daily reports).
 *
 * The bytes go to a temporary name in the same folder, are fsync'ed, then
 * renamed over the final name, and the folder is fsync'ed so the rename
 * itself survives a crash. A crash leaves at most a stray ".tmp-" file,
 * which readers ignore by name. */
#ifndef SM_OPS_ATOMIC_FILE_H
#define SM_OPS_ATOMIC_FILE_H

#include <stddef.h>

#include "core/err.h"

#define ATOMIC_FILE_NAME_MAX 200
#define ATOMIC_FILE_TMP_PREFIX ".tmp-"

/* Creates `dir` and its missing parents (mode 0750). Returns 0, SM_EINVAL
 * (empty or over-long path) or SM_EIO naming the failing path. */
int atomic_file_mkdirs(const char *dir, sm_error *err);

/* Writes `len` bytes of `data` to dir/name atomically (file mode 0640),
 * creating `dir` when missing. `name` is one path component: no '/', not
 * starting with '.', at most ATOMIC_FILE_NAME_MAX bytes, else SM_EINVAL.
 * Returns 0 or SM_EIO; on error nothing is left behind. Thread-safe. */
int atomic_file_write(const char *dir, const char *name, const void *data, size_t len,
                      sm_error *err);

#endif
