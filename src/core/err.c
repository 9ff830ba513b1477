/* err.c — error codes and messages; see err.h for the convention. */
#include "core/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *sm_strerror(int code)
{
    switch (code) {
    case SM_OK: return "success";
    case SM_ENOMEM: return "out of memory";
    case SM_EINVAL: return "invalid input";
    case SM_ENOTFOUND: return "not found";
    case SM_ECONFLICT: return "conflict";
    case SM_EDB: return "database error";
    case SM_EIO: return "input/output error";
    case SM_EUNAUTHORIZED: return "unauthorized";
    case SM_EFORBIDDEN: return "forbidden";
    case SM_ETOOLARGE: return "too large";
    case SM_ERATELIMIT: return "rate limited";
    case SM_EBUSY: return "busy";
    case SM_ETIMEOUT: return "timed out";
    case SM_EUNAVAILABLE: return "unavailable";
    case SM_ECONFIG: return "invalid configuration";
    case SM_EINTERNAL: return "internal error";
    case SM_ESTOCK: return "insufficient stock";
    default: return "unknown error";
    }
}

void sm_error_fill(sm_error *err, int code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        err->code = code;
        va_start(ap, fmt);
        vsnprintf(err->message, sizeof err->message, fmt, ap);
        va_end(ap);
    }
}

void sm_error_clear(sm_error *err)
{
    if (err) {
        err->code = 0;
        err->message[0] = '\0';
    }
}
