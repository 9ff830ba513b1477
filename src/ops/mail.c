/* mail.c — rendering and delivering e-mail; see mail.h.
 *
 * Rendering writes into an open_memstream buffer. Bodies are converted to
 * CRLF line endings (the canonical form of MIME text parts), then base64'd
 * by libsodium and wrapped at 76 columns. The multipart boundary is random
 * and starts with "=_", which base64 text can never contain. Non-ASCII
 * header text becomes a sequence of RFC 2047 "B" encoded-words of at most
 * 45 input bytes each (≤ 72 columns), split only between UTF-8 characters,
 * one per folded line.
 *
 * Delivery over SMTP is one libcurl easy handle per message: MAIL FROM and
 * RCPT TO from the envelope addresses, the message streamed from memory by
 * a read callback (libcurl does the dot-stuffing), CURLOPT_USE_SSL TRY (or
 * ALL when TLS is required) so STARTTLS is used whenever the server offers
 * it, and only smtp/smtps allowed as protocols. curl_global_init runs once
 * per process (ops/curl_global.h). */
#include "ops/mail.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <sodium.h>

#include "core/clock.h"
#include "ops/atomic_file.h"
#include "ops/curl_global.h"

#define B64_LINE 76
#define WORD_BYTES 45 /* input bytes per encoded-word */

void mail_transport_from_config(const sm_config *cfg, mail_transport *t)
{
    memset(t, 0, sizeof *t);
    t->smtp_url = cfg->smtp_url;
    t->user = cfg->smtp_user;
    t->password = cfg->smtp_password;
    t->require_tls = cfg->smtp_require_tls != 0;
    t->timeout_ms = cfg->smtp_timeout_ms;
    t->outbox_dir = cfg->mail_outbox_dir;
}

/* ---- addresses ---- */

static bool domain_valid(const char *d)
{
    size_t n = strlen(d), label = 0;
    if (n == 0 || d[0] == '.' || d[n - 1] == '.' || d[0] == '-')
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = d[i];
        if (c == '.') {
            if (label == 0)
                return false;
            label = 0;
        } else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                   c == '-') {
            if (++label > 63)
                return false;
        } else {
            return false;
        }
    }
    return true;
}

bool mail_address_valid(const char *addr)
{
    size_t n = addr ? strnlen(addr, MAIL_ADDR_MAX + 1) : 0;
    if (n == 0 || n > MAIL_ADDR_MAX)
        return false;
    const char *at = strrchr(addr, '@');
    if (!at || at == addr || strchr(addr, '@') != at)
        return false;
    for (const char *p = addr; p < at; p++) {
        unsigned char c = (unsigned char)*p;
        if (c <= 0x20 || c >= 0x7f || strchr("\"<>()[]\\,;:", c))
            return false;
    }
    return domain_valid(at + 1);
}

int mail_address_parse(const char *value, char *out, sm_error *err)
{
    const char *lt = value ? strrchr(value, '<') : NULL;
    const char *start = value, *end = value ? value + strlen(value) : NULL;
    if (lt) {
        start = lt + 1;
        end = strchr(start, '>');
        if (!end || end[1] != '\0')
            return sm_error_set(err, SM_EINVAL, "address: unbalanced '<'");
    }
    size_t n = value ? (size_t)(end - start) : 0;
    if (n == 0 || n > MAIL_ADDR_MAX)
        return sm_error_set(err, SM_EINVAL, "address: missing or too long");
    memcpy(out, start, n);
    out[n] = '\0';
    if (!mail_address_valid(out))
        return sm_error_set(err, SM_EINVAL, "address '%s' is not valid", out);
    return 0;
}

int mail_make_message_id(const char *from_addr, char *out, sm_error *err)
{
    if (!mail_address_valid(from_addr))
        return sm_error_set(err, SM_EINVAL, "Message-ID: bad sender address");
    unsigned char raw[16];
    char hex[sizeof raw * 2 + 1];
    randombytes_buf(raw, sizeof raw);
    sodium_bin2hex(hex, sizeof hex, raw, sizeof raw);
    int w = snprintf(out, MAIL_ID_MAX, "<%s.%lld@%s>", hex, (long long)clock_now_ms(),
                     strrchr(from_addr, '@') + 1);
    if (w < 0 || w >= MAIL_ID_MAX)
        return sm_error_set(err, SM_EINVAL, "Message-ID: domain too long");
    return 0;
}

/* "<local@domain>" with an id-left of [A-Za-z0-9.] and a valid domain. */
static bool message_id_valid(const char *id)
{
    size_t n = id ? strnlen(id, MAIL_ID_MAX) : 0;
    if (n < 5 || n >= MAIL_ID_MAX || id[0] != '<' || id[n - 1] != '>')
        return false;
    const char *at = strchr(id, '@');
    if (!at || at == id + 1)
        return false;
    for (const char *p = id + 1; p < at; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '.'))
            return false;
    char dom[MAIL_ID_MAX];
    size_t dl = (size_t)(id + n - 1 - (at + 1));
    memcpy(dom, at + 1, dl);
    dom[dl] = '\0';
    return domain_valid(dom);
}

/* ---- header text ---- */

/* Length of the UTF-8 sequence at p (1–4), or 0 when invalid. */
static size_t utf8_len(const unsigned char *p, size_t avail)
{
    size_t n;
    if (p[0] < 0x80)
        return 1;
    if ((p[0] & 0xe0) == 0xc0 && p[0] >= 0xc2)
        n = 2;
    else if ((p[0] & 0xf0) == 0xe0)
        n = 3;
    else if ((p[0] & 0xf8) == 0xf0 && p[0] <= 0xf4)
        n = 4;
    else
        return 0;
    if (n > avail)
        return 0;
    for (size_t i = 1; i < n; i++)
        if ((p[i] & 0xc0) != 0x80)
            return 0;
    return n;
}

/* Checks header text: valid UTF-8, no control characters, bounded. Sets
 * *ascii when it is printable ASCII without "=?" (so it may go verbatim). */
static int header_text_check(const char *s, bool *ascii, sm_error *err)
{
    size_t n = strnlen(s, MAIL_HEADER_MAX + 1);
    if (n > MAIL_HEADER_MAX)
        return sm_error_set(err, SM_EINVAL, "header text over %d bytes", MAIL_HEADER_MAX);
    *ascii = strstr(s, "=?") == NULL;
    for (size_t i = 0; i < n;) {
        size_t l = utf8_len((const unsigned char *)s + i, n - i);
        if (l == 0)
            return sm_error_set(err, SM_EINVAL, "header text is not valid UTF-8");
        if (l == 1 && ((unsigned char)s[i] < 0x20 || s[i] == 0x7f))
            return sm_error_set(err, SM_EINVAL, "control character in header text");
        if (l > 1)
            *ascii = false;
        i += l;
    }
    return 0;
}

/* Writes `s` as folded encoded-words ("=?UTF-8?B?…?="), each on its own
 * line after the first. `s` was checked by header_text_check. */
static void put_encoded_words(FILE *f, const char *s)
{
    size_t n = strlen(s), i = 0;
    bool first = true;
    while (i < n) {
        size_t chunk = 0;
        while (i + chunk < n) {
            size_t l = utf8_len((const unsigned char *)s + i + chunk, n - i - chunk);
            if (chunk + l > WORD_BYTES)
                break;
            chunk += l;
        }
        char b64[sodium_base64_ENCODED_LEN(WORD_BYTES, sodium_base64_VARIANT_ORIGINAL)];
        sodium_bin2base64(b64, sizeof b64, (const unsigned char *)s + i, chunk,
                          sodium_base64_VARIANT_ORIGINAL);
        fprintf(f, "%s=?UTF-8?B?%s?=", first ? "" : "\r\n ", b64);
        first = false;
        i += chunk;
    }
}

/* A display name: verbatim atoms when they are letters/digits/spaces,
 * a quoted-string for other ASCII, encoded-words for anything else. */
static void put_display_name(FILE *f, const char *name, bool ascii)
{
    if (!ascii) {
        put_encoded_words(f, name);
        return;
    }
    fputc('"', f);
    for (const char *p = name; *p; p++) {
        if (*p == '"' || *p == '\\')
            fputc('\\', f);
        fputc(*p, f);
    }
    fputc('"', f);
}

static void put_date(FILE *f, int64_t ms)
{
    static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    fprintf(f, "Date: %s, %02d %s %04d %02d:%02d:%02d +0000\r\n", days[tm.tm_wday], tm.tm_mday,
            months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* ---- bodies ---- */

/* One MIME part: headers, then the body converted to CRLF lines and
 * base64'd in lines of B64_LINE. */
static int put_part(FILE *f, const char *boundary, const char *type, const char *body,
                    sm_error *err)
{
    size_t n = strnlen(body, MAIL_BODY_MAX + 1);
    if (n > MAIL_BODY_MAX)
        return sm_error_set(err, SM_ETOOLARGE, "%s part over %d bytes", type, MAIL_BODY_MAX);
    for (size_t i = 0; i < n;) {
        size_t l = utf8_len((const unsigned char *)body + i, n - i);
        if (l == 0)
            return sm_error_set(err, SM_EINVAL, "%s part is not valid UTF-8", type);
        i += l;
    }
    size_t lfs = 0;
    for (size_t i = 0; i < n; i++)
        lfs += body[i] == '\n' && (i == 0 || body[i - 1] != '\r');
    unsigned char *crlf = malloc(n + lfs + 1);
    size_t b64cap = sodium_base64_ENCODED_LEN(n + lfs, sodium_base64_VARIANT_ORIGINAL);
    char *b64 = malloc(b64cap);
    if (!crlf || !b64) {
        free(crlf);
        free(b64);
        return sm_error_set(err, SM_ENOMEM, "out of memory");
    }
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (body[i] == '\n' && (i == 0 || body[i - 1] != '\r'))
            crlf[m++] = '\r';
        crlf[m++] = (unsigned char)body[i];
    }
    sodium_bin2base64(b64, b64cap, crlf, m, sodium_base64_VARIANT_ORIGINAL);
    fprintf(f,
            "--%s\r\nContent-Type: %s; charset=UTF-8\r\n"
            "Content-Transfer-Encoding: base64\r\n\r\n",
            boundary, type);
    size_t bl = strlen(b64);
    for (size_t i = 0; i < bl; i += B64_LINE)
        fprintf(f, "%.*s\r\n", (int)(bl - i < B64_LINE ? bl - i : B64_LINE), b64 + i);
    free(crlf);
    free(b64);
    return 0;
}

int mail_render(const mail_message *m, char **out, size_t *len, sm_error *err)
{
    char from_addr[MAIL_ADDR_MAX + 1];
    bool ascii;
    int rc;
    *out = NULL;
    *len = 0;
    if (!m->from || !m->to_addr || !m->subject || !m->text)
        return sm_error_set(err, SM_EINVAL, "mail: from, to, subject and text are required");
    if ((rc = mail_address_parse(m->from, from_addr, err)) < 0)
        return rc;
    if (!mail_address_valid(m->to_addr))
        return sm_error_set(err, SM_EINVAL, "mail: recipient address is not valid");
    if (!message_id_valid(m->message_id))
        return sm_error_set(err, SM_EINVAL, "mail: Message-ID is not valid");
    if (strpbrk(m->from, "\r\n") || strnlen(m->from, MAIL_HEADER_MAX + 1) > MAIL_HEADER_MAX)
        return sm_error_set(err, SM_EINVAL, "mail: bad From header");

    char *buf = NULL;
    size_t blen = 0;
    FILE *f = open_memstream(&buf, &blen);
    if (!f)
        return sm_error_set(err, SM_ENOMEM, "out of memory");

    /* From: the configured value, its display name encoded when needed. */
    const char *lt = strrchr(m->from, '<');
    if (lt && lt > m->from) {
        char name[MAIL_HEADER_MAX + 1];
        size_t nl = (size_t)(lt - m->from);
        memcpy(name, m->from, nl);
        while (nl > 0 && name[nl - 1] == ' ')
            nl--;
        name[nl] = '\0';
        if (nl > 1 && name[0] == '"' && name[nl - 1] == '"') { /* already quoted */
            memmove(name, name + 1, nl - 2);
            name[nl - 2] = '\0';
        }
        if ((rc = header_text_check(name, &ascii, err)) < 0)
            goto fail;
        fputs("From: ", f);
        put_display_name(f, name, ascii);
        fprintf(f, " <%s>\r\n", from_addr);
    } else {
        fprintf(f, "From: <%s>\r\n", from_addr);
    }

    fputs("To: ", f);
    if (m->to_name && *m->to_name) {
        if ((rc = header_text_check(m->to_name, &ascii, err)) < 0)
            goto fail;
        put_display_name(f, m->to_name, ascii);
        fputc(' ', f);
    }
    fprintf(f, "<%s>\r\n", m->to_addr);

    if ((rc = header_text_check(m->subject, &ascii, err)) < 0)
        goto fail;
    fputs("Subject: ", f);
    if (ascii)
        fputs(m->subject, f);
    else
        put_encoded_words(f, m->subject);
    fputs("\r\n", f);
    put_date(f, m->date_ms ? m->date_ms : clock_now_ms());
    fprintf(f, "Message-ID: %s\r\nMIME-Version: 1.0\r\n", m->message_id);

    unsigned char raw[12];
    char boundary[sizeof raw * 2 + 8];
    randombytes_buf(raw, sizeof raw);
    memcpy(boundary, "=_sm_", 6);
    sodium_bin2hex(boundary + 5, sizeof boundary - 5, raw, sizeof raw);

    if (m->html) {
        fprintf(f, "Content-Type: multipart/alternative; boundary=\"%s\"\r\n\r\n", boundary);
        fputs("This is a MIME message with a text and an HTML version.\r\n\r\n", f);
        if ((rc = put_part(f, boundary, "text/plain", m->text, err)) < 0 ||
            (rc = put_part(f, boundary, "text/html", m->html, err)) < 0)
            goto fail;
        fprintf(f, "--%s--\r\n", boundary);
    } else {
        /* One part: its headers become the message's own. */
        char *part = NULL;
        size_t plen = 0;
        FILE *pf = open_memstream(&part, &plen);
        if (!pf) {
            rc = sm_error_set(err, SM_ENOMEM, "out of memory");
            goto fail;
        }
        rc = put_part(pf, boundary, "text/plain", m->text, err);
        fclose(pf);
        if (rc == 0)
            fputs(strstr(part, "\r\n") + 2, f); /* drop the boundary line */
        free(part);
        if (rc < 0)
            goto fail;
    }
    if (fclose(f) != 0 || !buf) {
        free(buf);
        return sm_error_set(err, SM_ENOMEM, "out of memory");
    }
    *out = buf;
    *len = blen;
    return 0;

fail:
    fclose(f);
    free(buf);
    return rc;
}

/* ---- delivery ---- */

typedef struct reader {
    const char *p;
    size_t left;
} reader;

static size_t read_cb(char *dst, size_t size, size_t nmemb, void *arg)
{
    reader *r = arg;
    size_t n = size * nmemb < r->left ? size * nmemb : r->left;
    memcpy(dst, r->p, n);
    r->p += n;
    r->left -= n;
    return n;
}

static int deliver_smtp(const mail_transport *t, const char *from_addr, const char *to_addr,
                        const char *msg, size_t len, sm_error *err)
{
    char envelope_from[MAIL_ADDR_MAX + 3], rcpt[MAIL_ADDR_MAX + 3];
    char errbuf[CURL_ERROR_SIZE] = "";
    struct curl_slist *rcpts = NULL;
    reader r = {msg, len};
    int rc = 0;

    if ((rc = curl_global_once(err)))
        return rc;
    snprintf(envelope_from, sizeof envelope_from, "<%s>", from_addr);
    snprintf(rcpt, sizeof rcpt, "<%s>", to_addr);
    CURL *c = curl_easy_init();
    if (!c || !(rcpts = curl_slist_append(NULL, rcpt))) {
        rc = sm_error_set(err, SM_ENOMEM, "out of memory");
        goto done;
    }
    long timeout = t->timeout_ms > 0 ? t->timeout_ms : 30000;
    bool ok =
        curl_easy_setopt(c, CURLOPT_URL, t->smtp_url) == CURLE_OK &&
        curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "smtp,smtps") == CURLE_OK &&
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L) == CURLE_OK &&
        curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf) == CURLE_OK &&
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, timeout) == CURLE_OK &&
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout) == CURLE_OK &&
        curl_easy_setopt(c, CURLOPT_USE_SSL,
                         (long)(t->require_tls ? CURLUSESSL_ALL : CURLUSESSL_TRY)) == CURLE_OK &&
        curl_easy_setopt(c, CURLOPT_MAIL_FROM, envelope_from) == CURLE_OK &&
        curl_easy_setopt(c, CURLOPT_MAIL_RCPT, rcpts) == CURLE_OK &&
        curl_easy_setopt(c, CURLOPT_UPLOAD, 1L) == CURLE_OK &&
        curl_easy_setopt(c, CURLOPT_READFUNCTION, read_cb) == CURLE_OK &&
        curl_easy_setopt(c, CURLOPT_READDATA, &r) == CURLE_OK &&
        curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)len) == CURLE_OK;
    if (ok && t->user && *t->user)
        ok = curl_easy_setopt(c, CURLOPT_USERNAME, t->user) == CURLE_OK &&
             curl_easy_setopt(c, CURLOPT_PASSWORD, t->password ? t->password : "") == CURLE_OK;
    if (!ok) {
        rc = sm_error_set(err, SM_EINTERNAL, "libcurl lacks an SMTP option");
        goto done;
    }
    CURLcode cc = curl_easy_perform(c);
    switch (cc) {
    case CURLE_OK: break;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_GOT_NOTHING:
        rc = sm_error_set(err, SM_EUNAVAILABLE, "smtp: %s",
                          *errbuf ? errbuf : curl_easy_strerror(cc));
        break;
    default:
        rc = sm_error_set(err, SM_EIO, "smtp: %s", *errbuf ? errbuf : curl_easy_strerror(cc));
        break;
    }
done:
    curl_slist_free_all(rcpts);
    if (c)
        curl_easy_cleanup(c);
    return rc;
}

int mail_deliver(const mail_transport *t, const char *from_addr, const char *to_addr,
                 const char *message_id, const char *msg, size_t len, sm_error *err)
{
    if (!mail_address_valid(from_addr) || !mail_address_valid(to_addr))
        return sm_error_set(err, SM_EINVAL, "mail: bad envelope address");
    if (!message_id_valid(message_id))
        return sm_error_set(err, SM_EINVAL, "mail: bad Message-ID");
    if (t->smtp_url && *t->smtp_url)
        return deliver_smtp(t, from_addr, to_addr, msg, len, err);
    if (!t->outbox_dir || !*t->outbox_dir)
        return sm_error_set(err, SM_ECONFIG, "mail: neither SMTP_URL nor an outbox folder");
    /* "<abc.123@host>" → "abc.123@host.eml" (validated: no '/', no leading '.') */
    char name[MAIL_ID_MAX + 8];
    snprintf(name, sizeof name, "%.*s.eml", (int)strlen(message_id) - 2, message_id + 1);
    return atomic_file_write(t->outbox_dir, name, msg, len, err);
}
