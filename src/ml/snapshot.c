/* snapshot.c — loading versions and the refcounted swap (see snapshot.h).
 *
 * Shared state: g_current (the active snapshot, holding one reference of
 * its own) and g_dir (the data directory watched), both under g_lock, which
 * is held for a pointer copy and an increment only. Loads and refreshes are
 * serialised by g_load_lock so two refreshes never load the same version
 * twice. The watcher is a detached thread that lives as long as the
 * process. */
#include "ml/snapshot.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/config.h"
#include "core/log.h"

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t g_load_lock = PTHREAD_MUTEX_INITIALIZER;
static snapshot *g_current;
static char g_dir[ARTEFACT_PATH_MAX];
static int g_watching;

static const char *const files[3] = {"lexical.bin", "vectors.bin", "docs.bin"};

static void snapshot_free(snapshot *s)
{
    ann_free(s->ann);
    for (int i = 0; i < 3; i++)
        artefact_unmap(&s->maps[i]);
    free(s);
}

int snapshot_load(const char *dir, const char *version, int verify, snapshot **out, sm_error *err)
{
    snapshot *s = calloc(1, sizeof *s);
    if (!s)
        return sm_error_set(err, SM_ENOMEM, "out of memory");
    int rc = verify ? artefact_verify(dir, err) : 0;
    for (int i = 0; rc == 0 && i < 3; i++)
        rc = artefact_map_file(dir, files[i], &s->maps[i], err);
    if (rc == 0)
        rc = lexical_index_open(s->maps[0].data, s->maps[0].len, &s->lex, err);
    if (rc == 0)
        rc = vectors_index_open(s->maps[1].data, s->maps[1].len, &s->lex, &s->vec, err);
    if (rc == 0)
        rc = docs_store_open(s->maps[2].data, s->maps[2].len, &s->docs, err);
    if (rc == 0 && s->docs.ndocs != s->lex.ndocs)
        rc = sm_error_set(err, SM_EINVAL, "%s: documents and index disagree", dir);
    char path[ARTEFACT_PATH_MAX];
    if (rc == 0 && s->vec.dim > 0 && (rc = artefact_path(dir, ANN_FILE, path, err)) == 0 &&
        access(path, F_OK) == 0)
        rc = ann_load(path, s->vec.ndocs, s->vec.dim, &s->ann, err);
    if (rc == 0) {
        const sm_config *cfg = config_get();
        s->vi = (vindex){.m = s->vec.docs,
                         .n = s->vec.ndocs,
                         .dim = s->vec.dim,
                         .ann = s->ann,
                         .nprobe = cfg ? (uint32_t)cfg->ml_ann_nprobe : ANN_NPROBE_DEFAULT};
    }
    if (rc) {
        snapshot_free(s);
        return rc;
    }
    snprintf(s->version, sizeof s->version, "%s", version);
    s->refs = 1;
    *out = s;
    return 0;
}

void snapshot_release(snapshot *s)
{
    if (s && __atomic_sub_fetch(&s->refs, 1, __ATOMIC_ACQ_REL) == 0)
        snapshot_free(s);
}

static snapshot *take(void)
{
    pthread_mutex_lock(&g_lock);
    snapshot *s = g_current;
    if (s)
        __atomic_add_fetch(&s->refs, 1, __ATOMIC_ACQ_REL);
    pthread_mutex_unlock(&g_lock);
    return s;
}

int snapshot_refresh(const char *data_dir, sm_error *err)
{
    char dir[ARTEFACT_PATH_MAX], version[ARTEFACT_VERSION_MAX];
    int rc = artefact_current(data_dir, dir, version, err);
    if (rc)
        return rc == SM_ENOTFOUND ? 0 : rc;
    pthread_mutex_lock(&g_load_lock);
    snapshot *cur = take();
    int same = cur && strcmp(cur->version, version) == 0;
    snapshot_release(cur);
    snapshot *next = NULL;
    if (!same && (rc = snapshot_load(dir, version, 1, &next, err)) == 0) {
        pthread_mutex_lock(&g_lock);
        snapshot *old = g_current;
        g_current = next;
        pthread_mutex_unlock(&g_lock);
        snapshot_release(old); /* unmapped once its last query is done */
        log_info("ml search: loaded version %s (%u documents, vectors %s)", version,
                 next->lex.ndocs, next->ann ? "approximate" : "exact");
    }
    pthread_mutex_unlock(&g_load_lock);
    return rc;
}

static void *watch(void *arg)
{
    (void)arg;
    for (;;) {
        sleep(1);
        sm_error err = {0};
        if (snapshot_refresh(g_dir, &err) != 0)
            log_warning("ml search: load failed: %s", err.message);
    }
    return NULL;
}

snapshot *snapshot_acquire(const char *data_dir)
{
    pthread_mutex_lock(&g_lock);
    int start = !g_watching;
    if (start) {
        g_watching = 1;
        snprintf(g_dir, sizeof g_dir, "%s", data_dir);
    }
    pthread_mutex_unlock(&g_lock);
    if (start) {
        sm_error err = {0};
        if (snapshot_refresh(data_dir, &err) != 0)
            log_warning("ml search: load failed: %s", err.message);
        pthread_t t;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        if (pthread_create(&t, &attr, watch, NULL) != 0)
            log_warning("ml search: no watcher thread; new versions need a restart");
        pthread_attr_destroy(&attr);
    }
    return take();
}
