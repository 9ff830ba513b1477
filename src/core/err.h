/* err.h — the one error convention of SmartMarket.
 *
 * Functions that can fail return int: 0 on success, a negative SM_E* code
 * otherwise, and fill an optional sm_error with a human-readable message.
 * The HTTP layer maps codes to status codes and JSON `code` strings; the
 * command layer maps them to exit status 1 and a one-line message. */
#ifndef SM_CORE_ERR_H
#define SM_CORE_ERR_H

enum {
    SM_OK = 0,
    SM_ENOMEM = -1,        /* allocation failed */
    SM_EINVAL = -2,        /* invalid argument or input */
    SM_ENOTFOUND = -3,     /* no such record */
    SM_ECONFLICT = -4,     /* unique violation, invalid state transition */
    SM_EDB = -5,           /* database error */
    SM_EIO = -6,           /* file or socket error */
    SM_EUNAUTHORIZED = -7, /* no valid identity */
    SM_EFORBIDDEN = -8,    /* identity lacks permission */
    SM_ETOOLARGE = -9,     /* input over a configured bound */
    SM_ERATELIMIT = -10,   /* too many attempts */
    SM_EBUSY = -11,        /* resource busy, try again */
    SM_ETIMEOUT = -12,     /* deadline passed */
    SM_EUNAVAILABLE = -13, /* dependency down */
    SM_ECONFIG = -14,      /* invalid configuration */
    SM_EINTERNAL = -15,    /* a bug: should not happen */
    SM_ESTOCK = -16,       /* insufficient stock */
};

#define SM_ERROR_MESSAGE_MAX 256

typedef struct sm_error {
    int code;                           /* one of SM_E*, 0 when unset */
    char message[SM_ERROR_MESSAGE_MAX]; /* human-readable, NUL-terminated */
} sm_error;

/* Returns a static string naming `code` ("not found"). Thread-safe. */
const char *sm_strerror(int code);

/* Fills `err` (which may be NULL) with `code` and a printf-style message.
 * Thread-safe. */
void sm_error_fill(sm_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Fills `err` like sm_error_fill() and evaluates to `code`, so that
 * `return sm_error_set(err, SM_EINVAL, "...");` reads naturally. A macro so
 * that static analysis sees the (negative) code returned. `code` is
 * evaluated twice: pass a value, not an expression with side effects. */
#define sm_error_set(err, code, ...) (sm_error_fill((err), (code), __VA_ARGS__), (code))

/* Clears `err` (may be NULL). */
void sm_error_clear(sm_error *err);

#endif
