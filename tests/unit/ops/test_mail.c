/* test_mail.c — RFC 5322/MIME rendering (headers, encoded-words, base64
 * parts, CRLF), header-injection refusals, the .eml outbox, and delivery
 * over SMTP to a real server (aiosmtpd) started on 127.0.0.1. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <dirent.h>
#include <sodium.h>

#include "ops/mail.h"
#include "ops/smtp_sink.h"

#define FROM "SmartMarket <no-reply@shop.example>"
#define ID "<abc123.1700000000000@shop.example>"

static mail_message sample(void)
{
    return (mail_message){
        .from = FROM,
        .to_name = "Zoé Dupont",
        .to_addr = "zoe@example.org",
        .subject = "Votre commande n°42 — merci",
        .text = "Bonjour Zoé,\nTotal: EUR 12.34\n",
        .html = "<p>Bonjour Zo&eacute;</p>\n",
        .message_id = ID,
        .date_ms = 1700000000000LL, /* Tue, 14 Nov 2023 22:13:20 +0000 */
    };
}

/* Decodes the base64 body following `after` (up to the next blank line or
 * boundary) into a malloc'ed string. */
static char *decode_part(const char *msg, const char *after)
{
    const char *p = strstr(msg, after);
    assert_non_null(p);
    p = strstr(p, "\r\n\r\n");
    assert_non_null(p);
    p += 4;
    const char *end = strstr(p, "\r\n--");
    if (!end)
        end = p + strlen(p);
    size_t cap = (size_t)(end - p);
    unsigned char *out = malloc(cap + 1);
    size_t len = 0;
    assert_int_equal(sodium_base642bin(out, cap, p, (size_t)(end - p), "\r\n", &len, NULL,
                                       sodium_base64_VARIANT_ORIGINAL),
                     0);
    out[len] = '\0';
    return (char *)out;
}

static void mail_render_writes_headers_and_both_parts(void **state)
{
    (void)state;
    mail_message m = sample();
    char *msg = NULL;
    size_t len = 0;
    sm_error err = {0};
    assert_int_equal(mail_render(&m, &msg, &len, &err), 0);
    assert_int_equal(strlen(msg), len);
    assert_non_null(strstr(msg, "From: \"SmartMarket\" <no-reply@shop.example>\r\n"));
    /* "Zoé Dupont" as a UTF-8 B encoded-word */
    assert_non_null(strstr(msg, "To: =?UTF-8?B?Wm/DqSBEdXBvbnQ=?= <zoe@example.org>\r\n"));
    assert_non_null(strstr(msg, "Subject: =?UTF-8?B?"));
    assert_non_null(strstr(msg, "Date: Tue, 14 Nov 2023 22:13:20 +0000\r\n"));
    assert_non_null(strstr(msg, "Message-ID: " ID "\r\n"));
    assert_non_null(strstr(msg, "MIME-Version: 1.0\r\n"));
    assert_non_null(strstr(msg, "Content-Type: multipart/alternative; boundary=\"=_sm_"));
    assert_non_null(strstr(msg, "Content-Type: text/plain; charset=UTF-8\r\n"));
    assert_non_null(strstr(msg, "Content-Type: text/html; charset=UTF-8\r\n"));
    /* every line ends in CRLF and fits in 78 columns */
    for (const char *p = msg, *nl; *p; p = nl + 1) {
        nl = strchr(p, '\n');
        assert_non_null(nl);
        assert_true(nl > p && nl[-1] == '\r');
        assert_true(nl - p <= 79);
    }
    char *text = decode_part(msg, "text/plain");
    assert_string_equal(text, "Bonjour Zoé,\r\nTotal: EUR 12.34\r\n");
    char *html = decode_part(msg, "text/html");
    assert_string_equal(html, "<p>Bonjour Zo&eacute;</p>\r\n");
    free(text);
    free(html);
    free(msg);
}

/* Subject decoded back from its encoded-words equals the input. */
static void mail_render_splits_long_subject_on_utf8_boundaries(void **state)
{
    (void)state;
    char subject[400] = "";
    for (int i = 0; i < 40; i++)
        strcat(subject, "été ");
    mail_message m = sample();
    m.subject = subject;
    char *msg = NULL;
    size_t len = 0;
    assert_int_equal(mail_render(&m, &msg, &len, NULL), 0);
    const char *p = strstr(msg, "Subject: ") + 9;
    char decoded[800] = "";
    int words = 0;
    while ((p = strstr(p, "=?UTF-8?B?")) && p < strstr(msg, "Date:")) {
        p += 10;
        const char *e = strstr(p, "?=");
        assert_true(e - p + 12 <= 75); /* RFC 2047: a word is at most 75 */
        unsigned char buf[100];
        size_t n = 0;
        assert_int_equal(sodium_base642bin(buf, sizeof buf, p, (size_t)(e - p), NULL, &n, NULL,
                                           sodium_base64_VARIANT_ORIGINAL),
                         0);
        strncat(decoded, (char *)buf, n);
        words++;
        p = e + 2;
    }
    assert_true(words > 1);
    assert_string_equal(decoded, subject);
    free(msg);
}

static void mail_render_refuses_header_injection_and_bad_input(void **state)
{
    (void)state;
    char *msg = NULL;
    size_t len = 0;
    mail_message m = sample();
    m.subject = "Hello\r\nBcc: victim@example.org";
    assert_int_equal(mail_render(&m, &msg, &len, NULL), SM_EINVAL);
    m = sample();
    m.to_name = "x\nBcc: a@b.c";
    assert_int_equal(mail_render(&m, &msg, &len, NULL), SM_EINVAL);
    m = sample();
    m.to_addr = "zoe@example.org>\r\nBcc: a@b.c";
    assert_int_equal(mail_render(&m, &msg, &len, NULL), SM_EINVAL);
    m = sample();
    m.text = "bad \xff utf-8";
    assert_int_equal(mail_render(&m, &msg, &len, NULL), SM_EINVAL);
    m = sample();
    m.message_id = "<no/slash@x>";
    assert_int_equal(mail_render(&m, &msg, &len, NULL), SM_EINVAL);
    m = sample();
    m.subject = NULL;
    assert_int_equal(mail_render(&m, &msg, &len, NULL), SM_EINVAL);
    assert_null(msg);
}

static void mail_address_parse_takes_the_addr_spec(void **state)
{
    (void)state;
    char a[MAIL_ADDR_MAX + 1];
    assert_int_equal(mail_address_parse("Shop <a.b+c@x.example>", a, NULL), 0);
    assert_string_equal(a, "a.b+c@x.example");
    assert_int_equal(mail_address_parse("plain@x.io", a, NULL), 0);
    assert_string_equal(a, "plain@x.io");
    assert_int_equal(mail_address_parse("Bad <a@b", a, NULL), SM_EINVAL);
    assert_int_equal(mail_address_parse("no-at-sign", a, NULL), SM_EINVAL);
    assert_int_equal(mail_address_parse("a@b@c.d", a, NULL), SM_EINVAL);
    assert_int_equal(mail_address_parse("a b@c.d", a, NULL), SM_EINVAL);
    assert_int_equal(mail_address_parse("a@-bad.d", a, NULL), SM_EINVAL);
    assert_false(mail_address_valid(""));
    char id[MAIL_ID_MAX], id2[MAIL_ID_MAX];
    assert_int_equal(mail_make_message_id("a@shop.example", id, NULL), 0);
    assert_int_equal(mail_make_message_id("a@shop.example", id2, NULL), 0);
    assert_string_not_equal(id, id2);
    assert_non_null(strstr(id, "@shop.example>"));
}

static void mail_deliver_outbox_writes_one_eml_atomically(void **state)
{
    (void)state;
    char dir[] = "/tmp/sm-outbox-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char sub[64];
    snprintf(sub, sizeof sub, "%s/a/b", dir); /* created on demand */
    mail_transport t = {.outbox_dir = sub};
    mail_message m = sample();
    char *msg = NULL;
    size_t len = 0;
    sm_error err = {0};
    assert_int_equal(mail_render(&m, &msg, &len, NULL), 0);
    assert_int_equal(mail_deliver(&t, "no-reply@shop.example", m.to_addr, ID, msg, len, &err), 0);
    assert_int_equal(mail_deliver(&t, "no-reply@shop.example", m.to_addr, ID, msg, len, &err), 0);
    DIR *dp = opendir(sub);
    assert_non_null(dp);
    int files = 0;
    struct dirent *e;
    while ((e = readdir(dp)))
        if (e->d_name[0] != '.') {
            assert_string_equal(e->d_name, "abc123.1700000000000@shop.example.eml");
            files++;
        } else {
            assert_true(!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."));
        }
    closedir(dp);
    assert_int_equal(files, 1);
    char path[256];
    snprintf(path, sizeof path, "%s/abc123.1700000000000@shop.example.eml", sub);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char *back = calloc(1, len + 1);
    assert_int_equal(fread(back, 1, len + 1, f), len);
    fclose(f);
    assert_memory_equal(back, msg, len);
    free(back);
    free(msg);
    snprintf(path, sizeof path, "rm -rf '%s'", dir);
    assert_int_equal(system(path), 0);
}

static void mail_deliver_smtp_reaches_a_real_server(void **state)
{
    (void)state;
    smtp_sink s;
    if (smtp_sink_start(&s) != 0)
        skip(); /* no /usr/bin/python3 with aiosmtpd here */
    mail_transport t = {.smtp_url = s.url, .timeout_ms = 10000};
    mail_message m = sample();
    m.text = "line one\n.line starting with a dot\n";
    char *msg = NULL;
    size_t len = 0;
    sm_error err = {0};
    assert_int_equal(mail_render(&m, &msg, &len, NULL), 0);
    int rc = mail_deliver(&t, "no-reply@shop.example", m.to_addr, ID, msg, len, &err);
    if (rc != 0)
        fail_msg("deliver: %s", err.message);
    char *meta = smtp_sink_read(&s, 1, "json");
    char *got = smtp_sink_read(&s, 1, "eml");
    assert_non_null(meta);
    assert_non_null(got);
    assert_non_null(strstr(meta, "\"mail_from\": \"no-reply@shop.example\""));
    assert_non_null(strstr(meta, "\"rcpt_tos\": [\"zoe@example.org\"]"));
    assert_non_null(strstr(got, "Message-ID: " ID));
    char *text = decode_part(got, "text/plain");
    assert_string_equal(text, "line one\r\n.line starting with a dot\r\n");
    free(text);
    free(meta);
    free(got);

    /* SMTP_REQUIRE_TLS: this server offers no STARTTLS, so nothing is sent */
    t.require_tls = true;
    rc = mail_deliver(&t, "no-reply@shop.example", m.to_addr, ID, msg, len, &err);
    assert_true(rc == SM_EIO || rc == SM_EUNAVAILABLE);
    assert_null(smtp_sink_read(&s, 2, "eml"));
    smtp_sink_stop(&s);

    /* nobody listening: unavailable, retried later by the queue */
    t.require_tls = false;
    rc = mail_deliver(&t, "no-reply@shop.example", m.to_addr, ID, msg, len, &err);
    assert_int_equal(rc, SM_EUNAVAILABLE);
    free(msg);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(mail_render_writes_headers_and_both_parts),
        cmocka_unit_test(mail_render_splits_long_subject_on_utf8_boundaries),
        cmocka_unit_test(mail_render_refuses_header_injection_and_bad_input),
        cmocka_unit_test(mail_address_parse_takes_the_addr_spec),
        cmocka_unit_test(mail_deliver_outbox_writes_one_eml_atomically),
        cmocka_unit_test(mail_deliver_smtp_reaches_a_real_server),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
