/* curl_global.c — see curl_global.h. */
#include "ops/curl_global.h"

#include <curl/curl.h>
#include <pthread.h>

static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static CURLcode g_rc;

static void init_once(void)
{
    g_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

int curl_global_once(sm_error *err)
{
    pthread_once(&g_once, init_once);
    if (g_rc != CURLE_OK)
        return sm_error_set(err, SM_EINTERNAL, "curl_global_init failed");
    return 0;
}
