/* router.c — maps (method, path) to a handler with a segment trie.
 *
 * A pattern is split on '/' into segments; each trie node has literal
 * children, at most one "{param}" child and an optional "*" tail that takes
 * the rest of the path. A trailing slash is a segment of its own (the empty
 * literal), so "/api/products/" and "/api/products" are different routes,
 * as the API contract wants.
 *
 * Matching walks the path segment by segment, trying the literal child
 * first, then the parameter, then the tail, and backtracks when a branch
 * dead-ends: "/a/b/c" and "/a/{x}/d" both match what they should. The first
 * complete match that has the method wins, so a literal always beats a
 * parameter whatever the order of registration. When paths match but no
 * method does, the most specific matching node's methods make the Allow
 * header of the 405 (HEAD added wherever GET is).
 *
 * The trie is built before the server starts and only read afterwards, so
 * matching takes no lock. Depth is bounded by HTTP_PATH_SEGMENTS_MAX. */
#include "http/http_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct route_method {
    char method[16]; /* "GET", …, or "*" */
    http_handler_fn fn;
    void *ctx;
    unsigned flags;
} route_method;

typedef struct route_set {
    route_method *items;
    size_t count;
} route_set;

typedef struct route_node route_node;
struct route_node {
    char *segment; /* literal text; NULL for the root */
    route_node **children;
    size_t child_count;
    route_node *param; /* "{name}" child */
    char *param_name;
    route_set here; /* routes ending at this node */
    route_set tail; /* routes whose pattern ends with "*" here */
};

struct http_router {
    route_node root;
};

http_router *http_router_new(void)
{
    return calloc(1, sizeof(http_router));
}

static void node_deinit(route_node *n)
{
    for (size_t i = 0; i < n->child_count; i++) {
        node_deinit(n->children[i]);
        free(n->children[i]);
    }
    free(n->children);
    if (n->param) {
        node_deinit(n->param);
        free(n->param);
    }
    free(n->segment);
    free(n->param_name);
    free(n->here.items);
    free(n->tail.items);
}

void http_router_free(http_router *r)
{
    if (!r)
        return;
    node_deinit(&r->root);
    free(r);
}

static int set_add(route_set *s, const char *method, http_handler_fn fn, void *ctx, unsigned flags)
{
    for (size_t i = 0; i < s->count; i++) {
        if (strcmp(s->items[i].method, method) == 0)
            return SM_EINVAL; /* registered twice */
    }
    route_method *grown = realloc(s->items, (s->count + 1) * sizeof *grown);
    if (!grown)
        return SM_ENOMEM;
    s->items = grown;
    route_method *m = &s->items[s->count++];
    snprintf(m->method, sizeof m->method, "%s", method);
    m->fn = fn;
    m->ctx = ctx;
    m->flags = flags;
    return 0;
}

static route_node *child_literal(route_node *n, const char *seg, size_t len, bool create)
{
    for (size_t i = 0; i < n->child_count; i++) {
        route_node *c = n->children[i];
        if (strlen(c->segment) == len && memcmp(c->segment, seg, len) == 0)
            return c;
    }
    if (!create)
        return NULL;
    /* An array of pointers, so sizeof a pointer is meant. */
    size_t bytes =
        (n->child_count + 1) * sizeof(route_node *); // NOLINT(bugprone-sizeof-expression)
    route_node **grown = realloc(n->children, bytes);
    if (!grown)
        return NULL;
    n->children = grown;
    route_node *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->segment = strndup(seg, len);
    if (!c->segment) {
        free(c);
        return NULL;
    }
    n->children[n->child_count++] = c;
    return c;
}

static bool method_valid(const char *m)
{
    size_t n = strlen(m);
    if (n == 0 || n >= 16)
        return false;
    if (strcmp(m, "*") == 0)
        return true;
    for (size_t i = 0; i < n; i++) {
        if (m[i] < 'A' || m[i] > 'Z')
            return false;
    }
    return true;
}

int http_router_add(http_router *r, const char *method, const char *pattern, http_handler_fn fn,
                    void *ctx, unsigned flags)
{
    if (!r || !method || !pattern || !fn || pattern[0] != '/' || !method_valid(method))
        return SM_EINVAL;
    route_node *n = &r->root;
    int params = 0;
    const char *p = pattern + 1;
    for (;;) {
        const char *slash = strchr(p, '/');
        size_t len = slash ? (size_t)(slash - p) : strlen(p);
        if (!slash && len == 1 && p[0] == '*')
            return set_add(&n->tail, method, fn, ctx, flags);
        if (memchr(p, '*', len))
            return SM_EINVAL; /* '*' only as the whole last segment */
        if (len >= 2 && p[0] == '{' && p[len - 1] == '}') {
            if (len == 2 || memchr(p + 1, '{', len - 2) || memchr(p + 1, '}', len - 2) ||
                ++params > HTTP_MAX_PARAMS)
                return SM_EINVAL;
            if (!n->param) {
                n->param = calloc(1, sizeof *n->param);
                if (!n->param)
                    return SM_ENOMEM;
                n->param_name = strndup(p + 1, len - 2);
                if (!n->param_name)
                    return SM_ENOMEM;
            } else if (strlen(n->param_name) != len - 2 ||
                       memcmp(n->param_name, p + 1, len - 2) != 0) {
                return SM_EINVAL; /* two names for one position */
            }
            n = n->param;
        } else {
            if (memchr(p, '{', len) || memchr(p, '}', len))
                return SM_EINVAL;
            n = child_literal(n, p, len, true);
            if (!n)
                return SM_ENOMEM;
        }
        if (!slash)
            break;
        p = slash + 1;
    }
    return set_add(&n->here, method, fn, ctx, flags);
}

/* The route of `s` for `method`: exact name, then GET for HEAD, then "*". */
static const route_method *set_find(const route_set *s, const char *method)
{
    const route_method *any = NULL, *get = NULL;
    for (size_t i = 0; i < s->count; i++) {
        const route_method *m = &s->items[i];
        if (strcmp(m->method, method) == 0)
            return m;
        if (strcmp(m->method, "GET") == 0)
            get = m;
        else if (strcmp(m->method, "*") == 0)
            any = m;
    }
    if (get && strcmp(method, "HEAD") == 0)
        return get;
    return any;
}

typedef struct match_state {
    const char *method; /* NULL: find any path match (for Allow) */
    const char *segs[HTTP_PATH_SEGMENTS_MAX];
    size_t lens[HTTP_PATH_SEGMENTS_MAX];
    size_t nsegs;
    const char *rest[HTTP_PATH_SEGMENTS_MAX]; /* path from segment i on */
    const route_node *param_nodes[HTTP_MAX_PARAMS];
    size_t param_segs[HTTP_MAX_PARAMS];
    int nparams;
    const route_method *found;
    const route_set *found_set;
    bool tail;     /* found via a "*" tail */
    size_t tail_i; /* its first segment */
} match_state;

static bool set_matches(match_state *st, const route_set *s)
{
    if (s->count == 0)
        return false;
    if (!st->method) {
        st->found_set = s;
        return true;
    }
    const route_method *m = set_find(s, st->method);
    if (m) {
        st->found = m;
        st->found_set = s;
    }
    return m != NULL;
}

static bool walk(match_state *st, const route_node *n, size_t i)
{
    if (i == st->nsegs)
        return set_matches(st, &n->here); /* "/static" is not under "/static/" + tail */
    const route_node *c = child_literal((route_node *)n, st->segs[i], st->lens[i], false);
    if (c && walk(st, c, i + 1))
        return true;
    if (n->param && st->lens[i] > 0 && st->nparams < HTTP_MAX_PARAMS) {
        st->param_nodes[st->nparams] = n;
        st->param_segs[st->nparams] = i;
        st->nparams++;
        if (walk(st, n->param, i + 1))
            return true;
        st->nparams--;
    }
    st->tail = true;
    st->tail_i = i;
    if (set_matches(st, &n->tail))
        return true;
    st->tail = false;
    return false;
}

static void allow_build(const route_set *s, char *out, size_t cap)
{
    size_t len = 0;
    bool get = false, head = false;
    out[0] = '\0';
    for (size_t i = 0; i < s->count; i++) {
        get |= strcmp(s->items[i].method, "GET") == 0;
        head |= strcmp(s->items[i].method, "HEAD") == 0;
    }
    for (size_t i = 0; i <= s->count; i++) {
        const char *m = i < s->count ? s->items[i].method : (get && !head ? "HEAD" : NULL);
        if (!m)
            continue;
        int n = snprintf(out + len, cap - len, "%s%s", len ? ", " : "", m);
        if (n < 0 || (size_t)n >= cap - len) {
            out[len] = '\0';
            return;
        }
        len += (size_t)n;
    }
}

int http_router_match(const http_router *r, http_request *req, http_route_match *m)
{
    memset(m, 0, sizeof *m);
    match_state st;
    st.method = req->method;
    st.nsegs = 0;
    st.nparams = 0;
    st.found = NULL;
    st.found_set = NULL;
    st.tail = false;
    const char *p = req->path;
    if (!p || p[0] != '/')
        return SM_ENOTFOUND;
    p++;
    for (;;) {
        if (st.nsegs == HTTP_PATH_SEGMENTS_MAX)
            return SM_ENOTFOUND;
        const char *slash = strchr(p, '/');
        st.rest[st.nsegs] = p;
        st.segs[st.nsegs] = p;
        st.lens[st.nsegs] = slash ? (size_t)(slash - p) : strlen(p);
        st.nsegs++;
        if (!slash)
            break;
        p = slash + 1;
    }
    if (!walk(&st, &r->root, 0)) {
        st.method = NULL;
        st.nparams = 0;
        st.tail = false;
        if (!walk(&st, &r->root, 0))
            return SM_ENOTFOUND;
        allow_build(st.found_set, m->allow, sizeof m->allow);
        return SM_EINVAL;
    }
    if (!st.found)
        return SM_EINTERNAL; /* walk() sets found whenever it succeeds */
    m->fn = st.found->fn;
    m->ctx = st.found->ctx;
    m->flags = st.found->flags;
    req->param_count = 0;
    for (int i = 0; i < st.nparams; i++) {
        size_t s = st.param_segs[i];
        char *v = arena_strndup(req->arena, st.segs[s], st.lens[s]);
        if (!v)
            return SM_ENOMEM;
        req->param_names[i] = st.param_nodes[i]->param_name;
        req->param_values[i] = v;
    }
    req->param_count = st.nparams;
    if (st.tail && req->param_count < HTTP_MAX_PARAMS) {
        const char *rest = st.tail_i < st.nsegs ? st.rest[st.tail_i] : "";
        req->param_names[req->param_count] = "*";
        req->param_values[req->param_count] = rest;
        req->param_count++;
    }
    return 0;
}
