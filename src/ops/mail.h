/* mail.h — e-mail messages: building them (RFC 5322 + MIME) and delivering
 * them (SMTP through libcurl, or the embedded outbox folder).
 *
 * mail_render() turns a message description into the exact bytes that go
 * on the wire: CRLF line endings, a multipart/alternative body with a
 * text/plain and a text/html part, both UTF-8 and base64-encoded (so no line
 * is ever too long and no byte needs escaping), a Subject and display names
 * as RFC 2047 encoded-words when they are not plain ASCII, a Date, a
 * Message-ID and MIME-Version. Every header value is checked for CR/LF, so
 * no input can inject a header.
 *
 * mail_deliver() hands rendered bytes over: with an SMTP URL, libcurl's
 * SMTP client (STARTTLS when offered, or required; AUTH when credentials
 * are given; connect and total timeouts); without one, an .eml file named
 * after the Message-ID, written atomically into the outbox folder — what
 * the embedded mode and the tests read. */
#ifndef SM_OPS_MAIL_H
#define SM_OPS_MAIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/config.h"
#include "core/err.h"

#define MAIL_ADDR_MAX 254           /* an addr-spec, RFC 5321 path limit */
#define MAIL_ID_MAX 160             /* "<…@…>" with the brackets */
#define MAIL_HEADER_MAX 900         /* a Subject or display name, bytes of UTF-8 */
#define MAIL_BODY_MAX (1024 * 1024) /* one part, bytes */

typedef struct mail_message {
    const char *from;       /* header value: "Name <addr>" or "addr" */
    const char *to_name;    /* display name, UTF-8; NULL or "" for none */
    const char *to_addr;    /* addr-spec */
    const char *subject;    /* UTF-8 */
    const char *text;       /* the text/plain part, UTF-8, LF or CRLF lines */
    const char *html;       /* the text/html part, UTF-8; NULL: text only */
    const char *message_id; /* "<…@…>" from mail_make_message_id() */
    int64_t date_ms;        /* the Date header; 0: now */
} mail_message;

/* Where mail_deliver() sends. Strings are borrowed. */
typedef struct mail_transport {
    const char *smtp_url; /* smtp://host:port or smtps://…; NULL/"": outbox */
    const char *user;     /* NULL/"": none (or in the URL) */
    const char *password;
    bool require_tls; /* refuse to send without STARTTLS (smtp://) */
    int timeout_ms;   /* connect and whole-transfer deadline */
    const char *outbox_dir;
} mail_transport;

/* Fills *t from the configuration (SMTP_*, MAIL_OUTBOX_DIR); `cfg` must
 * outlive *t. */
void mail_transport_from_config(const sm_config *cfg, mail_transport *t);

/* Copies the addr-spec of a header value ("Name <a@b.c>" or "a@b.c") into
 * `out` (MAIL_ADDR_MAX + 1 bytes). Returns 0 or SM_EINVAL when there is no
 * valid address. */
int mail_address_parse(const char *value, char *out, sm_error *err);

/* True for a plausible addr-spec: printable ASCII without spaces, quotes,
 * angle brackets or control characters, one '@' with a non-empty local
 * part and a dotted-atom domain, at most MAIL_ADDR_MAX bytes. */
bool mail_address_valid(const char *addr);

/* Writes a new globally unique Message-ID "<random.ms@domain>" into `out`
 * (MAIL_ID_MAX bytes), the domain taken from the addr-spec `from_addr`.
 * Returns 0 or SM_EINVAL. */
int mail_make_message_id(const char *from_addr, char *out, sm_error *err);

/* Renders `m` to a NUL-terminated RFC 5322 message: *out is malloc'ed (the
 * caller frees it), *len its length. SM_EINVAL for a missing field, an
 * invalid address or Message-ID, a header with CR/LF or over
 * MAIL_HEADER_MAX, or invalid UTF-8; SM_ETOOLARGE for a part over
 * MAIL_BODY_MAX; SM_ENOMEM. Thread-safe. */
int mail_render(const mail_message *m, char **out, size_t *len, sm_error *err);

/* Delivers the rendered message `msg` (`len` bytes, CRLF lines) from the
 * addr-spec `from_addr` to `to_addr`. SMTP: SM_EUNAVAILABLE when the server
 * cannot be reached or times out, SM_EIO when it refuses the message (the
 * reason in err). Outbox: writes <message_id without brackets>.eml
 * atomically (replacing a previous attempt's file), SM_EIO on failure.
 * Blocking (network or file I/O); thread-safe. */
int mail_deliver(const mail_transport *t, const char *from_addr, const char *to_addr,
                 const char *message_id, const char *msg, size_t len, sm_error *err);

#endif
