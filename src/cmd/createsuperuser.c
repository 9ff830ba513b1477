/* createsuperuser.c — `smartmarket createsuperuser`: the first admin.
 *
 * Two ways in. On a terminal it asks for what is missing: the email, then
 * the password twice with echo off (termios). Without a terminal (scripts,
 * containers, CI) --password-stdin reads the password as one line from
 * standard input, so it never appears in argv, the environment or shell
 * history. An existing email is refused unless --update is given, which
 * resets that account's password, makes it an active admin and revokes
 * its API tokens and sessions. Passwords are wiped from memory after use. */
#include "cmd/cmd.h"

#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <sodium.h>

#include "core/clock.h"
#include "shop/users.h"

#define LINE_MAX_BYTES (USERS_PASSWORD_MAX_BYTES + 2)

static void createsuperuser_help(void)
{
    printf("Usage: smartmarket createsuperuser [--email EMAIL] [--name NAME]\n"
           "                                   [--password-stdin] [--update]\n\n"
           "Creates an admin account. On a terminal, prompts for the email (when not\n"
           "given) and the password, twice, without echo.\n\n"
           "Options:\n"
           "  --email EMAIL      the admin's email (required with --password-stdin)\n"
           "  --name NAME        display name (default: empty)\n"
           "  --password-stdin   read the password as one line from standard input\n"
           "                     (no terminal needed: scripts and containers)\n"
           "  --update           if the email exists, reset its password, make it an\n"
           "                     active admin and revoke its tokens and sessions\n"
           "  -h, --help         this help\n\n"
           "Passwords are %d to %d bytes.\n\n"
           "Environment: DATABASE_URL, DB_TIMEOUT_MS, LOG_LEVEL; see env.example.\n\n"
           "Exit status: 0 created (or updated), 1 failure (email already exists\n"
           "without --update, invalid email or password, database error), 2 bad usage.\n",
           USERS_PASSWORD_MIN, USERS_PASSWORD_MAX_BYTES);
}

/* Reads one line of at most LINE_MAX_BYTES - 2 bytes into buf, without the
 * line end. Returns 0, or -1 on EOF before anything or an over-long line. */
static int read_line(FILE *in, char *buf, size_t len)
{
    if (!fgets(buf, (int)len, in))
        return -1;
    size_t n = strlen(buf);
    bool complete = n > 0 && buf[n - 1] == '\n';
    if (!complete && !feof(in)) {
        sodium_memzero(buf, len);
        return -1; /* longer than the buffer */
    }
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        buf[--n] = '\0';
    return 0;
}

/* Prompts on stderr and reads a line from the terminal with echo off. */
static int read_secret(const char *prompt, char *buf, size_t len)
{
    struct termios old, quiet;
    fputs(prompt, stderr);
    fflush(stderr);
    if (tcgetattr(STDIN_FILENO, &old) < 0)
        return -1;
    quiet = old;
    quiet.c_lflag &= (tcflag_t) ~(ECHO | ECHONL);
    if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet) < 0)
        return -1;
    int rc = read_line(stdin, buf, len);
    tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
    fputc('\n', stderr);
    return rc;
}

/* --update of an existing account: new hash, admin, active, tokens revoked,
 * in one transaction. */
static int reset_password(db *d, const char *email, const char *password, sm_error *err)
{
    size_t plen = strlen(password);
    if (plen < USERS_PASSWORD_MIN || plen > USERS_PASSWORD_MAX_BYTES)
        return sm_error_set(err, SM_EINVAL, "password must be %d to %d bytes", USERS_PASSWORD_MIN,
                            USERS_PASSWORD_MAX_BYTES);
    users_record u;
    int rc = users_get_by_email(d, email, &u, err);
    if (rc < 0)
        return rc;
    char hash[crypto_pwhash_STRBYTES];
    if (crypto_pwhash_str(hash, password, plen, crypto_pwhash_OPSLIMIT_INTERACTIVE,
                          crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0)
        return sm_error_set(err, SM_ENOMEM, "password hashing ran out of memory");
    int64_t now = clock_now_ms();
    const char *hash_text = hash;
    db_value up[] = {DB_T(hash_text), DB_I(now), DB_I(u.id)};
    db_value rv[] = {DB_I(now), DB_I(u.id)};
    if ((rc = db_begin(d, true, err)) < 0)
        goto done;
    if ((rc = db_exec(d,
                      "UPDATE users SET password_hash = $1, role = 'admin', is_active = 1, "
                      "updated_at = $2 WHERE id = $3",
                      up, 3, NULL, err)) < 0 ||
        (rc = db_exec(d,
                      "UPDATE auth_tokens SET revoked_at = $1 WHERE user_id = $2 "
                      "AND revoked_at IS NULL",
                      rv, 2, NULL, err)) < 0 ||
        (rc = db_commit(d, err)) < 0)
        db_rollback(d);
done:
    sodium_memzero(hash, sizeof hash);
    return rc;
}

int cmd_createsuperuser(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"email", required_argument, NULL, 'e'},    {"name", required_argument, NULL, 'n'},
        {"password-stdin", no_argument, NULL, 'p'}, {"update", no_argument, NULL, 'u'},
        {"help", no_argument, NULL, 'h'},           {NULL, 0, NULL, 0},
    };
    const char *cmd = "createsuperuser";
    const char *email_arg = NULL, *name = "";
    bool from_stdin = false, update = false;
    int c, rc;
    cmd_getopt_reset();
    while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        switch (c) {
        case 'h': createsuperuser_help(); return CMD_OK;
        case 'e': email_arg = optarg; break;
        case 'n': name = optarg; break;
        case 'p': from_stdin = true; break;
        case 'u': update = true; break;
        default: return cmd_getopt_error(cmd, argv, c);
        }
    }
    if (optind < argc)
        return cmd_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
    if (from_stdin && !email_arg)
        return cmd_usage_error(cmd, "--email is required with --password-stdin");
    if (!from_stdin && !isatty(STDIN_FILENO))
        return cmd_usage_error(cmd, "no terminal to prompt on: use --password-stdin");
    if (strlen(name) > USERS_NAME_MAX_BYTES)
        return cmd_usage_error(cmd, "--name is longer than %d bytes", USERS_NAME_MAX_BYTES);
    if ((rc = cmd_setup()) != CMD_OK)
        return rc;

    char email[USERS_EMAIL_MAX + 2];
    char password[LINE_MAX_BYTES + 1], again[LINE_MAX_BYTES + 1];
    sm_error err = {0};
    db *d = NULL;
    rc = CMD_FAIL;
    if (email_arg) {
        snprintf(email, sizeof email, "%s", email_arg);
    } else {
        fputs("Email: ", stderr);
        fflush(stderr);
        if (read_line(stdin, email, sizeof email) < 0) {
            cmd_fail(cmd, "no email given");
            goto done;
        }
    }
    if (users_validate_email(email, &err) < 0) {
        cmd_fail(cmd, "invalid email: %s", err.message);
        goto done;
    }
    for (char *p = email; *p; p++) /* stored lower-cased: say what is stored */
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    if (from_stdin) {
        if (read_line(stdin, password, sizeof password) < 0) {
            cmd_fail(cmd, "no password on standard input (or longer than %d bytes)",
                     USERS_PASSWORD_MAX_BYTES);
            goto done;
        }
    } else {
        if (read_secret("Password: ", password, sizeof password) < 0 ||
            read_secret("Password (again): ", again, sizeof again) < 0) {
            cmd_fail(cmd, "cannot read the password");
            goto done;
        }
        if (strcmp(password, again) != 0) {
            cmd_fail(cmd, "the passwords do not match");
            goto done;
        }
    }
    if (cmd_open_db(cmd, &d) != CMD_OK)
        goto done;

    int64_t id = 0;
    int urc = users_create(d, email, password, name, "admin", &id, &err);
    if (urc == SM_ECONFLICT && update) {
        if (reset_password(d, email, password, &err) == 0) {
            printf("admin %s updated: new password set, tokens revoked\n", email);
            rc = CMD_OK;
        } else {
            cmd_fail(cmd, "cannot update %s: %s", email, err.message);
        }
    } else if (urc == SM_ECONFLICT) {
        cmd_fail(cmd, "user %s already exists (use --update to reset its password)", email);
    } else if (urc < 0) {
        cmd_fail(cmd, "cannot create %s: %s", email, err.message);
    } else {
        printf("admin %s created (id %lld)\n", email, (long long)id);
        rc = CMD_OK;
    }

done:
    sodium_memzero(password, sizeof password);
    sodium_memzero(again, sizeof again);
    db_close(d);
    return rc;
}
