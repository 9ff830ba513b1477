/* arena.h — region allocator for per-request and per-job memory.
 *
 * Everything allocated from an arena is freed at once by arena_free(). Blocks
 * grow geometrically; a single large allocation gets its own block. Not
 * thread-safe: an arena belongs to one request or job at a time. */
#ifndef SM_CORE_ARENA_H
#define SM_CORE_ARENA_H

#include <stdarg.h>
#include <stddef.h>

typedef struct arena arena;

/* Creates an arena whose first block holds `initial` bytes (0: 4 KiB).
 * Returns NULL when out of memory. Free with arena_free(). */
arena *arena_new(size_t initial);

/* Frees the arena and everything allocated from it. NULL is a no-op. */
void arena_free(arena *a);

/* Releases all allocations but keeps the first block for reuse. */
void arena_reset(arena *a);

/* Returns `size` bytes aligned for any type, or NULL when out of memory.
 * The memory lives until arena_free()/arena_reset(). */
void *arena_alloc(arena *a, size_t size);

/* Like arena_alloc() but zeroed. */
void *arena_calloc(arena *a, size_t count, size_t size);

/* Copies `len` bytes of `s` plus a NUL terminator into the arena. */
char *arena_strndup(arena *a, const char *s, size_t len);

/* Copies the NUL-terminated `s` into the arena. NULL gives NULL. */
char *arena_strdup(arena *a, const char *s);

/* printf into the arena. Returns NULL when out of memory. */
char *arena_sprintf(arena *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
char *arena_vsprintf(arena *a, const char *fmt, va_list ap);

#endif
