/* arena.c — region allocator.
 *
 * A linked list of blocks; allocation bumps a pointer in the newest block.
 * When a request does not fit, a new block of max(2 × last, request) is
 * chained in. arena_reset() keeps only the first block so that a connection
 * can reuse its arena across keep-alive requests without touching malloc. */
#include "core/arena.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARENA_ALIGN 16
#define ARENA_DEFAULT 4096

typedef struct arena_block {
    struct arena_block *next;
    size_t size;
    size_t used;
    _Alignas(ARENA_ALIGN) unsigned char data[];
} arena_block;

struct arena {
    arena_block *head; /* newest block, where allocation happens */
    arena_block *first;
    size_t last_size;
};

static arena_block *block_new(size_t size)
{
    arena_block *b = malloc(sizeof *b + size);
    if (!b)
        return NULL;
    b->next = NULL;
    b->size = size;
    b->used = 0;
    return b;
}

arena *arena_new(size_t initial)
{
    arena *a = malloc(sizeof *a);
    if (!a)
        return NULL;
    if (initial == 0)
        initial = ARENA_DEFAULT;
    a->first = a->head = block_new(initial);
    if (!a->first) {
        free(a);
        return NULL;
    }
    a->last_size = initial;
    return a;
}

static void free_chain(arena_block *b, arena_block *stop)
{
    while (b && b != stop) {
        arena_block *next = b->next;
        free(b);
        b = next;
    }
}

void arena_free(arena *a)
{
    if (!a)
        return;
    free_chain(a->head, NULL);
    free(a);
}

void arena_reset(arena *a)
{
    /* Blocks are chained newest → oldest, so everything before `first`. */
    free_chain(a->head, a->first);
    a->head = a->first;
    a->first->used = 0;
    a->first->next = NULL;
    a->last_size = a->first->size;
}

void *arena_alloc(arena *a, size_t size)
{
    size_t need = (size + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
    if (need < size)
        return NULL; /* overflow */
    arena_block *b = a->head;
    if (b->size - b->used < need) {
        size_t grow = a->last_size * 2;
        if (grow < need)
            grow = need;
        arena_block *nb = block_new(grow);
        if (!nb)
            return NULL;
        nb->next = a->head;
        a->head = nb;
        a->last_size = grow;
        b = nb;
    }
    void *p = b->data + b->used;
    b->used += need;
    return p;
}

void *arena_calloc(arena *a, size_t count, size_t size)
{
    if (size && count > SIZE_MAX / size)
        return NULL;
    void *p = arena_alloc(a, count * size);
    if (p)
        memset(p, 0, count * size);
    return p;
}

char *arena_strndup(arena *a, const char *s, size_t len)
{
    char *p = arena_alloc(a, len + 1);
    if (!p)
        return NULL;
    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

char *arena_strdup(arena *a, const char *s)
{
    return s ? arena_strndup(a, s, strlen(s)) : NULL;
}

char *arena_vsprintf(arena *a, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        return NULL;
    char *p = arena_alloc(a, (size_t)n + 1);
    if (p)
        vsnprintf(p, (size_t)n + 1, fmt, ap);
    return p;
}

char *arena_sprintf(arena *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *p = arena_vsprintf(a, fmt, ap);
    va_end(ap);
    return p;
}
