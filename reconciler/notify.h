/* notify.h — telling people: alerts to Alertmanager's API v2 and events to
 * webhooks, from the controller, in a thread of their own so that a slow
 * or dead receiver never holds up a reconcile.
 *
 * An alert is what stands (drift, a failed node, a failed apply) or what
 * happened (a failover: it ends by itself). It is known by its labels. The
 * controller says which alerts stand now (notify_fire, notify_resolve, or
 * a whole group at once with notify_group); only a change is news:
 *   - Alertmanager gets every standing alert again every resend interval
 *     (its endsAt a few intervals ahead, so that it resolves them by itself
 *     if qkvm goes away), and a resolved one once with its endsAt; the
 *     same labels are the same alert there, so a standing drift is one
 *     alert however many runs see it;
 *   - a webhook gets one delivery when an alert fires and one when it is
 *     resolved: a JSON payload (the README documents it) with a Slack-
 *     compatible "text", signed with HMAC-SHA256 when a secret is given
 *     (X-Qkvm-Signature-256: sha256=HEX), with an id to deduplicate by
 *     (X-Qkvm-Delivery).
 * A request that fails for the network, a timeout or a 5xx/408/429 is
 * tried again with backoff (1 s doubling to 5 min, at most 10 tries for a
 * webhook; Alertmanager's wait is at most its resend interval, so that the
 * standing alerts never lapse); one refused with another 4xx is not (a
 * clear log line says what the receiver answered). Each webhook gets its
 * deliveries in order: a retry holds that webhook's later ones, not the
 * others'. The queue holds at most NOTIFY_QUEUE_MAX deliveries; beyond,
 * the oldest is dropped and said. Nothing of this touches the state
 * database. Restarted, the controller fires what stands again (new ids),
 * and what was resolved while it was down is not told.
 */
#ifndef QKVM_NOTIFY_H
#define QKVM_NOTIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NOTIFY_QUEUE_MAX 1000
#define NOTIFY_LABELS_MAX 10

struct notify;

struct notify_opts {
    const char *alertmanager;          /* base URL (http://host:9093), or NULL */
    const char *const *webhooks;       /* URLs (secrets: from a file), or NULL */
    size_t nwebhooks;
    const char *secret;                /* HMAC-SHA256 key of webhook deliveries, or NULL */
    size_t secret_len;
    const char *generator_url;         /* the dashboard's URL, or NULL */
    long resend_ms;                    /* Alertmanager's resend interval; 0: 60 s */
    long timeout_ms;                   /* a request's; 0: 10 s */
    long retry_first_ms;               /* the first retry's delay; 0: 1 s (tests go faster) */
    /* a line for the controller's log (level "info", "warn", "error"); called
     * from the notifier's thread */
    void (*log)(void *payload, const char *level, const char *msg);
    void *log_payload;
};

struct notify_alert {
    const char *group;                 /* "drift", "node"...: what notify_group replaces */
    const char *labels[NOTIFY_LABELS_MAX][2];   /* alertname first; {NULL, NULL} ends */
    const char *severity;              /* critical, warning, info */
    const char *summary, *description;
    const char *fired, *resolved;      /* the webhook's event names (DriftDetected...) */
    int64_t starts_ms;                 /* 0: now */
    int64_t ends_ms;                   /* an event: it ends by itself then; 0: it stands */
};

/* NULL when its thread cannot start (said through o->log). */
struct notify *notify_new(const struct notify_opts *o);
/* Stop the thread (a request under way is abandoned) and free; what is
 * still queued is said in the log. NULL is fine. */
void notify_free(struct notify *n);

/* It stands (again): news only when it did not. */
void notify_fire(struct notify *n, const struct notify_alert *a);
/* These are what stands in the group now: the others of the group are
 * resolved, the new ones fire; but an alert whose label keep_label has a
 * value of keep (NULL-terminated; a node that could not be seen) stays
 * as it is. */
void notify_group(struct notify *n, const char *group, const struct notify_alert *v, size_t count,
                  const char *keep_label, const char *const *keep);
/* The alert of these labels (as notify_alert's) is resolved, if it stood. */
void notify_resolve(struct notify *n, const char *const labels[][2]);

struct notify_stats {
    unsigned long sent[2], failed[2], rejected[2], dropped[2];   /* [0] alertmanager, [1] webhooks */
    size_t queued;                     /* webhook deliveries waiting */
    size_t active;                     /* standing alerts */
};
void notify_stats(struct notify *n, struct notify_stats *out);

/* The URL as logs say it: scheme://host[:port]/… (a token in the path or
 * the query, or user:password@, is never said). In buf. */
const char *notify_shown_url(const char *url, char *buf, size_t size);

#endif
