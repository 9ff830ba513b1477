/* channel.h — the realtime channels, their names and who may subscribe.
 *
 * Three kinds of channel exist, and nothing else:
 *   "admin.orders"         order events           staff and admins
 *   "admin.notifications"  system notifications   admins
 *   "user.<id>"            one customer's events  that user, or an admin
 * Rules are a table, deny by default: a name that matches no rule is
 * closed to everyone, for subscribing and for publishing alike. Pure
 * functions, no state: thread-safe. */
#ifndef SM_REALTIME_CHANNEL_H
#define SM_REALTIME_CHANNEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RT_CHANNEL_MAX 32 /* bytes of the longest name, NUL included ("user." + 19 digits) */

/* Who asks: the roles of src/shop/users.h. */
typedef enum rt_role { RT_ROLE_CUSTOMER, RT_ROLE_STAFF, RT_ROLE_ADMIN } rt_role;

/* Maps "admin"/"staff"/"customer" to the role; anything else is a customer. */
rt_role rt_role_from_name(const char *name);

/* True when `name` is a channel some rule covers: "admin.orders",
 * "admin.notifications", or "user." followed by 1–18 digits without a
 * leading zero. */
bool rt_channel_valid(const char *name);

/* Decides whether `user_id` with `role` may subscribe to `channel`.
 * Returns 0 when allowed, SM_EFORBIDDEN otherwise (unknown channels too). */
int rt_channel_authorize(const char *channel, int64_t user_id, rt_role role);

/* Maps the channel part of a URL to a channel name into `out`
 * (RT_CHANNEL_MAX bytes): kind "admin" with name "orders" or
 * "notifications", or kind "user" with the decimal `user_id` parameter.
 * Returns 0 or SM_ENOTFOUND for anything else. */
int rt_channel_from_path(const char *kind, const char *param, char out[RT_CHANNEL_MAX]);

#endif
