/* channel.c — channel names and subscription rules; see channel.h.
 *
 * The rules live in one table so that a reviewer reads every permission in
 * one place. A rule names a channel (or the "user." prefix) and the roles
 * it lets in; "owner" additionally lets the user whose id ends the name
 * in. A name without a rule matches nothing and is refused. */
#include "realtime/channel.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"

enum { ALLOW_CUSTOMER = 1, ALLOW_STAFF = 2, ALLOW_ADMIN = 4, ALLOW_OWNER = 8 };

typedef struct rule {
    const char *name; /* exact name, or a prefix when `prefix` */
    bool prefix;
    unsigned allow;
} rule;

static const rule rules[] = {
    {"admin.orders", false, ALLOW_STAFF | ALLOW_ADMIN},
    {"admin.notifications", false, ALLOW_ADMIN},
    {"user.", true, ALLOW_OWNER | ALLOW_ADMIN},
};

rt_role rt_role_from_name(const char *name)
{
    if (name && !strcmp(name, "admin"))
        return RT_ROLE_ADMIN;
    if (name && !strcmp(name, "staff"))
        return RT_ROLE_STAFF;
    return RT_ROLE_CUSTOMER;
}

/* True when `s` is 1–18 digits without a leading zero (a positive id). */
static bool id_valid(const char *s)
{
    size_t n = strspn(s, "0123456789");
    return n >= 1 && n <= 18 && s[n] == '\0' && s[0] != '0';
}

static const rule *rule_find(const char *name)
{
    if (!name)
        return NULL;
    for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++) {
        const rule *r = &rules[i];
        size_t len = strlen(r->name);
        if (!r->prefix && !strcmp(name, r->name))
            return r;
        if (r->prefix && !strncmp(name, r->name, len) && id_valid(name + len))
            return r;
    }
    return NULL;
}

bool rt_channel_valid(const char *name)
{
    return rule_find(name) != NULL && strlen(name) < RT_CHANNEL_MAX;
}

int rt_channel_authorize(const char *channel, int64_t user_id, rt_role role)
{
    const rule *r = rule_find(channel);
    if (!r)
        return SM_EFORBIDDEN;
    unsigned bit = role == RT_ROLE_ADMIN   ? ALLOW_ADMIN
                   : role == RT_ROLE_STAFF ? ALLOW_STAFF
                                           : ALLOW_CUSTOMER;
    if (r->allow & bit)
        return 0;
    if ((r->allow & ALLOW_OWNER) && user_id > 0 &&
        strtoll(channel + strlen(r->name), NULL, 10) == user_id)
        return 0;
    return SM_EFORBIDDEN;
}

int rt_channel_from_path(const char *kind, const char *param, char out[RT_CHANNEL_MAX])
{
    if (!kind || !param)
        return SM_ENOTFOUND;
    if (!strcmp(kind, "admin") && (!strcmp(param, "orders") || !strcmp(param, "notifications"))) {
        snprintf(out, RT_CHANNEL_MAX, "admin.%s", param);
        return 0;
    }
    if (!strcmp(kind, "user") && id_valid(param)) {
        snprintf(out, RT_CHANNEL_MAX, "user.%s", param);
        return 0;
    }
    return SM_ENOTFOUND;
}
