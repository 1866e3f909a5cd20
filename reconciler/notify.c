/* notify.c — see notify.h. One mutex guards everything; the thread drops
 * it while a request is under way, so the controller's calls never wait
 * for a receiver. JSON is built as trees (jsondoc.c), requests are made by
 * fetch_request (libcurl), signatures by digest.c.
 */
#include "notify.h"

#include "arena.h"
#include "digest.h"
#include "fetch.h"
#include "jsondoc.h"
#include "tree.h"
#include "vec.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define RETRY_MAX_MS (5 * 60 * 1000)
#define TRIES_MAX 10

struct alert {
    char *key;                          /* its labels, joined */
    char *group;
    char *labels[NOTIFY_LABELS_MAX][2];
    size_t nlabels;
    char *severity, *summary, *description, *fired, *resolved;
    int64_t starts, ends;               /* wall ms; ends 0: it stands */
    bool done;                          /* resolved: Alertmanager is told once, then it goes */
    bool closing;                       /* in the request under way as resolved or ended */
};

struct delivery {
    char *id, *event, *body, *what;
    size_t hook;
    int tries;
    int64_t due;                        /* monotonic ms */
};

struct notify {
    struct notify_opts o;
    char *am_url, *am_shown, *gen_url, *secret;
    char **hooks, **hooks_shown;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t th;
    bool running, stop;
    atomic_int cancel;
    VEC(struct alert) alerts;
    VEC(struct delivery) queue;         /* in order of arrival */
    bool am_failing;                    /* the last request failed: retrying with backoff */
    bool am_changed;                    /* fired or resolved since the request was built */
    int am_tries;
    int64_t am_due;                     /* the next request, monotonic ms */
    bool *hook_failing;                 /* per webhook: its last delivery failed */
    int64_t started;                    /* wall ms: delivery ids are unique across restarts */
    unsigned long seq;
    struct notify_stats st;
};

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* RFC 3339, UTC, milliseconds. */
static const char *rfc3339(char *buf, size_t size, int64_t ms)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    char s[32];
    strftime(s, sizeof(s), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf, size, "%s.%03dZ", s, (int)(ms % 1000));
    return buf;
}

static void say(struct notify *n, const char *level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void say(struct notify *n, const char *level, const char *fmt, ...)
{
    if (!n->o.log)
        return;
    char msg[1200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    n->o.log(n->o.log_payload, level, msg);
}

const char *notify_shown_url(const char *url, char *buf, size_t size)
{
    const char *p = strstr(url, "://");
    const char *host = p ? p + 3 : url;
    const char *end = host + strcspn(host, "/?#");
    const char *at = NULL;
    for (const char *q = host; q < end; q++)
        if (*q == '@')
            at = q;
    if (at)
        host = at + 1;
    snprintf(buf, size, "%.*s%.*s%s", p ? (int)(p + 3 - url) : 0, url, (int)(end - host), host,
             *end ? "/…" : "");
    return buf;
}

static char *dup_or_null(const char *s)
{
    return s ? xstrdup(s) : NULL;
}

/* ---- the alerts ---- */

static char *key_of(const char *const labels[][2])
{
    size_t len = 1;
    for (size_t i = 0; i < NOTIFY_LABELS_MAX && labels[i][0]; i++)
        len += strlen(labels[i][0]) + strlen(labels[i][1] ? labels[i][1] : "") + 2;
    char *k = xmalloc(len);
    size_t at = 0;
    k[0] = '\0';
    for (size_t i = 0; i < NOTIFY_LABELS_MAX && labels[i][0]; i++)
        if (labels[i][1] && *labels[i][1])        /* an empty label is no label */
            at += (size_t)snprintf(k + at, len - at, "%s=%s\x1f", labels[i][0], labels[i][1]);
    return k;
}

static void alert_dispose(struct alert *a)
{
    free(a->key);
    free(a->group);
    for (size_t i = 0; i < a->nlabels; i++) {
        free(a->labels[i][0]);
        free(a->labels[i][1]);
    }
    free(a->severity);
    free(a->summary);
    free(a->description);
    free(a->fired);
    free(a->resolved);
}

static void delivery_dispose(struct delivery *d)
{
    free(d->id);
    free(d->event);
    free(d->body);
    free(d->what);
}

static struct tree *labels_tree(struct arena *a, const struct alert *x)
{
    struct tree *l = tree_new_map(a);
    for (size_t i = 0; i < x->nlabels; i++)
        tree_map_str(a, l, x->labels[i][0], x->labels[i][1]);
    if (x->severity)
        tree_map_str(a, l, "severity", x->severity);
    return l;
}

static struct tree *annotations_tree(struct arena *a, const struct alert *x)
{
    struct tree *m = tree_new_map(a);
    if (x->summary)
        tree_map_str(a, m, "summary", x->summary);
    if (x->description)
        tree_map_str(a, m, "description", x->description);
    return m;
}

/* A webhook delivery of x's firing (fired) or resolution, to every hook. */
static void enqueue(struct notify *n, const struct alert *x, bool fired)
{
    const char *event = fired ? x->fired : x->resolved;
    if (!n->o.nwebhooks || !event)
        return;
    struct arena *a = arena_new();
    char id[80], t[40], s[40], e[40];
    snprintf(id, sizeof(id), "qkvm-%lld-%ld-%lu", (long long)n->started, (long)getpid(), ++n->seq);
    int64_t now = wall_ms();
    struct tree *b = tree_new_map(a);
    tree_map_int(a, b, "version", 1);
    tree_map_str(a, b, "id", id);
    tree_map_str(a, b, "event", event);
    tree_map_str(a, b, "status", fired ? "firing" : "resolved");
    tree_map_str(a, b, "time", rfc3339(t, sizeof(t), now));
    tree_map_str(a, b, "severity", x->severity ? x->severity : "");
    tree_map_add(a, b, "labels", labels_tree(a, x));
    tree_map_add(a, b, "annotations", annotations_tree(a, x));
    tree_map_str(a, b, "startsAt", rfc3339(s, sizeof(s), x->starts));
    tree_map_add(a, b, "endsAt", fired && !x->ends ? tree_new_null(a)
                                                 : tree_new_str(a, rfc3339(e, sizeof(e),
                                                                           x->ends ? x->ends
                                                                                   : now)));
    if (n->gen_url)
        tree_map_str(a, b, "generatorURL", n->gen_url);
    /* Slack's incoming webhooks (and Mattermost's, Rocket.Chat's) show
     * "text", where <...> is markup (<!channel>, <url|label>): &, < and >
     * of names and messages are escaped as Slack asks */
    const char *raw = arena_printf(a, "[qkvm] %s: %s%s%s", fired ? "FIRING" : "RESOLVED",
                                   x->summary ? x->summary : event,
                                   x->description && fired ? "\n" : "",
                                   x->description && fired ? x->description : "");
    size_t rl = strlen(raw), k = 0;
    char *text = arena_alloc(a, rl * 5 + 1);
    for (size_t i = 0; i < rl; i++) {
        const char *esc = raw[i] == '&' ? "&amp;" : raw[i] == '<' ? "&lt;" : raw[i] == '>' ? "&gt;"
                                                                                          : NULL;
        if (esc) {
            memcpy(text + k, esc, strlen(esc));
            k += strlen(esc);
        } else {
            text[k++] = raw[i];
        }
    }
    text[k] = '\0';
    tree_map_str(a, b, "text", text);
    char *body = jsondoc_string(b);
    size_t dropped = 0;
    for (size_t h = 0; body && h < n->o.nwebhooks; h++) {
        if (n->queue.n >= NOTIFY_QUEUE_MAX) {
            struct delivery *old = &n->queue.v[0];
            if (!dropped++)
                say(n, "error", "notify: the queue is full (%d deliveries): the oldest, %s to "
                    "webhook %s, is dropped", NOTIFY_QUEUE_MAX, old->what,
                    n->hooks_shown[old->hook]);
            n->st.dropped[1]++;
            delivery_dispose(old);
            memmove(n->queue.v, n->queue.v + 1, (n->queue.n - 1) * sizeof(*n->queue.v));
            n->queue.n--;
        }
        *vec_push(&n->queue) = (struct delivery){
            .id = xstrdup(id), .event = xstrdup(event), .body = xstrdup(body),
            .what = xstrdup(arena_printf(a, "%s (%s)", event, x->summary ? x->summary : x->key)),
            .hook = h, .due = 0 };
    }
    free(body);
    arena_free(a);
}

/* The alert of key that stands: not resolved, not an event that has ended. */
static struct alert *find(struct notify *n, const char *key, int64_t now)
{
    for (size_t i = 0; i < n->alerts.n; i++) {
        struct alert *x = &n->alerts.v[i];
        if (!x->done && !(x->ends && x->ends <= now) && strcmp(x->key, key) == 0)
            return x;
    }
    return NULL;
}

/* Alertmanager is told at once, unless it is being retried after a
 * failure (its backoff holds) */
static void am_soon(struct notify *n)
{
    n->am_changed = true;
    if (n->am_url && !n->am_failing)
        n->am_due = 0;
}

/* Without Alertmanager nothing needs a resolved or ended alert any more. */
static void prune(struct notify *n, int64_t now)
{
    if (n->am_url)
        return;
    size_t k = 0;
    for (size_t i = 0; i < n->alerts.n; i++) {
        struct alert *x = &n->alerts.v[i];
        if (x->done || (x->ends && x->ends <= now))
            alert_dispose(x);
        else
            n->alerts.v[k++] = *x;
    }
    n->alerts.n = k;
}

static bool same_text(const char *a, const char *b)
{
    return strcmp(a ? a : "", b ? b : "") == 0;
}

static void fire_locked(struct notify *n, const struct notify_alert *a, char *key)
{
    int64_t now = wall_ms();
    struct alert *x = find(n, key, now);
    if (x) {                                   /* it stands already: no news, but what it
                                                * says may have changed (Alertmanager's copy) */
        if (!same_text(x->summary, a->summary) || !same_text(x->description, a->description)) {
            free(x->summary);
            free(x->description);
            x->summary = dup_or_null(a->summary);
            x->description = dup_or_null(a->description);
            am_soon(n);
        }
        free(key);
        return;
    }
    struct alert y = { .key = key, .group = dup_or_null(a->group),
                       .severity = dup_or_null(a->severity), .summary = dup_or_null(a->summary),
                       .description = dup_or_null(a->description),
                       .fired = dup_or_null(a->fired), .resolved = dup_or_null(a->resolved),
                       .starts = a->starts_ms ? a->starts_ms : wall_ms(), .ends = a->ends_ms };
    for (size_t i = 0; i < NOTIFY_LABELS_MAX && a->labels[i][0]; i++) {
        if (!a->labels[i][1] || !*a->labels[i][1])
            continue;                             /* an empty label is no label */
        y.labels[y.nlabels][0] = xstrdup(a->labels[i][0]);
        y.labels[y.nlabels][1] = xstrdup(a->labels[i][1]);
        y.nlabels++;
    }
    *vec_push(&n->alerts) = y;
    enqueue(n, &y, true);
    am_soon(n);
}

static void resolve_locked(struct notify *n, struct alert *x)
{
    x->done = true;
    x->ends = wall_ms();
    enqueue(n, x, false);
    am_soon(n);
}

void notify_fire(struct notify *n, const struct notify_alert *a)
{
    if (!n)
        return;
    pthread_mutex_lock(&n->mu);
    fire_locked(n, a, key_of(a->labels));
    prune(n, wall_ms());
    pthread_cond_signal(&n->cv);
    pthread_mutex_unlock(&n->mu);
}

/* Does alert x carry label name=value for a value of keep? */
static bool kept(const struct alert *x, const char *name, const char *const *keep)
{
    for (size_t i = 0; name && keep && i < x->nlabels; i++)
        if (strcmp(x->labels[i][0], name) == 0)
            for (const char *const *k = keep; *k; k++)
                if (strcmp(*k, x->labels[i][1]) == 0)
                    return true;
    return false;
}

void notify_group(struct notify *n, const char *group, const struct notify_alert *v, size_t count,
                  const char *keep_label, const char *const *keep)
{
    if (!n)
        return;
    char **keys = xcalloc(count + 1, sizeof(*keys));
    for (size_t k = 0; k < count; k++)
        keys[k] = key_of(v[k].labels);
    pthread_mutex_lock(&n->mu);
    int64_t now = wall_ms();
    for (size_t i = 0; i < n->alerts.n; i++) {
        struct alert *x = &n->alerts.v[i];
        if (x->done || !x->group || strcmp(x->group, group) != 0 || kept(x, keep_label, keep))
            continue;
        bool still = false;
        for (size_t k = 0; k < count && !still; k++)
            still = strcmp(keys[k], x->key) == 0;
        if (!still)
            resolve_locked(n, x);
    }
    for (size_t k = 0; k < count; k++)
        fire_locked(n, &v[k], keys[k]);         /* takes the key */
    free(keys);
    prune(n, now);
    pthread_cond_signal(&n->cv);
    pthread_mutex_unlock(&n->mu);
}

void notify_resolve(struct notify *n, const char *const labels[][2])
{
    if (!n)
        return;
    char *key = key_of(labels);
    pthread_mutex_lock(&n->mu);
    int64_t now = wall_ms();
    struct alert *x = find(n, key, now);
    if (x)
        resolve_locked(n, x);
    prune(n, now);
    pthread_cond_signal(&n->cv);
    pthread_mutex_unlock(&n->mu);
    free(key);
}

void notify_stats(struct notify *n, struct notify_stats *out)
{
    memset(out, 0, sizeof(*out));
    if (!n)
        return;
    pthread_mutex_lock(&n->mu);
    *out = n->st;
    out->queued = n->queue.n;
    int64_t now = wall_ms();
    for (size_t i = 0; i < n->alerts.n; i++)
        out->active += !n->alerts.v[i].done && !(n->alerts.v[i].ends && n->alerts.v[i].ends <= now);
    pthread_mutex_unlock(&n->mu);
}

/* ---- the thread ---- */

static int64_t backoff(const struct notify *n, int tries)
{
    int64_t d = n->o.retry_first_ms > 0 ? n->o.retry_first_ms : 1000;
    for (int i = 1; i < tries && d < RETRY_MAX_MS; i++)
        d *= 2;
    return d < RETRY_MAX_MS ? d : RETRY_MAX_MS;
}

/* What a receiver answered, for a log line: the status and the start of
 * the body, on one line. */
static const char *answer(char *buf, size_t size, const struct fetch_response *rs)
{
    size_t k = 0;
    for (size_t i = 0; rs->body && i < rs->len && k + 1 < size && i < 200; i++)
        buf[k++] = rs->body[i] == '\n' || rs->body[i] == '\r' ? ' ' : rs->body[i];
    buf[k] = '\0';
    return buf;
}

static bool retryable(long status)
{
    return status >= 500 || status == 408 || status == 429;
}

/* Alertmanager: every standing alert and the resolved ones not told yet.
 * Called and returns with the lock held; drops it during the request. */
static void send_alertmanager(struct notify *n)
{
    struct arena *a = arena_new();
    struct tree *list = tree_new_seq(a);
    int64_t now = wall_ms();
    long resend = n->o.resend_ms > 0 ? n->o.resend_ms : 60000;
    size_t told = n->alerts.n;              /* alerts[0..told) are in this request */
    for (size_t i = 0; i < told; i++) {
        struct alert *x = &n->alerts.v[i];
        x->closing = x->done || (x->ends && x->ends <= now);
        char t[40];
        struct tree *m = tree_new_map(a);
        tree_map_add(a, m, "labels", labels_tree(a, x));
        tree_map_add(a, m, "annotations", annotations_tree(a, x));
        tree_map_str(a, m, "startsAt", rfc3339(t, sizeof(t), x->starts));
        tree_map_str(a, m, "endsAt", rfc3339(t, sizeof(t), x->ends ? x->ends : now + 3 * resend));
        if (n->gen_url)
            tree_map_str(a, m, "generatorURL", n->gen_url);
        tree_seq_add(a, list, m);
    }
    char *body = jsondoc_string(list);
    arena_free(a);
    n->am_due = INT64_MAX;                  /* a change meanwhile sets it again */
    n->am_changed = false;
    pthread_mutex_unlock(&n->mu);
    struct fetch_request rq = { .method = "POST", .url = n->am_url, .shown_url = n->am_shown,
                                .content_type = "application/json", .body = body,
                                .timeout_ms = n->o.timeout_ms > 0 ? n->o.timeout_ms : 10000,
                                .cancel = &n->cancel };
    struct fetch_response rs;
    char err[1024], ans[256];
    int rc = body ? fetch_request(&rq, &rs, err, sizeof(err)) : -1;
    if (!body)
        snprintf(err, sizeof(err), "the alerts could not be written as JSON");
    free(body);
    pthread_mutex_lock(&n->mu);
    int64_t mnow = mono_ms();
    bool changed = n->am_changed;           /* fired or resolved during the request */
    bool told_ok = rc == 0 && rs.status >= 200 && rs.status < 300;
    bool refused = rc == 0 && !told_ok && !retryable(rs.status);
    if (told_ok || refused) {
        if (told_ok) {
            n->st.sent[0]++;
            if (n->am_failing)
                say(n, "info", "notify: alertmanager %s takes the alerts again", n->am_shown);
        } else {
            /* not sooner than the resend: the same request would be refused */
            n->st.rejected[0]++;
            say(n, "error", "notify: alertmanager %s refused the alerts: HTTP %ld: %s; sending "
                "them again in %lds", n->am_shown, rs.status, answer(ans, sizeof(ans), &rs),
                resend / 1000);
        }
        n->am_failing = false;
        n->am_tries = 0;
        n->am_due = changed && told_ok ? 0 : mnow + resend;
        /* what was resolved, or has ended, and is now told (or refused:
         * one bad alert must not hold the others back for ever) goes */
        size_t k = 0;
        for (size_t i = 0; i < n->alerts.n; i++) {
            struct alert *x = &n->alerts.v[i];
            if (i < told && x->closing)
                alert_dispose(x);
            else
                n->alerts.v[k++] = *x;
        }
        n->alerts.n = k;
    } else if (n->stop) {
        n->am_due = mnow;                   /* abandoned: stopping */
    } else {
        n->st.failed[0]++;
        n->am_tries++;
        char why[400];
        if (rc == 0)
            snprintf(why, sizeof(why), "HTTP %ld: %s", rs.status, answer(ans, sizeof(ans), &rs));
        if (!n->am_failing || n->am_tries % 10 == 0)
            say(n, "error", "notify: alertmanager %s: %s; trying again in %.1fs (try %d)",
                n->am_shown, rc == 0 ? why : err,
                (double)(backoff(n, n->am_tries) < resend ? backoff(n, n->am_tries) : resend) / 1000,
                n->am_tries);
        n->am_failing = true;
        /* at most the resend interval: the standing alerts' endsAt is
         * three of them ahead, and they must not lapse while it is down */
        int64_t wait = backoff(n, n->am_tries);
        n->am_due = mnow + (wait < resend ? wait : resend);
    }
    if (rc == 0)
        free(rs.body);
}

/* Put d back before the first delivery of its webhook still waiting, so
 * that each webhook gets its deliveries in the order they were made (a
 * resolution never overtakes its firing). */
static void requeue(struct notify *n, struct delivery d)
{
    size_t at = n->queue.n;
    for (size_t i = 0; i < n->queue.n; i++)
        if (n->queue.v[i].hook == d.hook) {
            at = i;
            break;
        }
    *vec_push(&n->queue) = d;
    memmove(n->queue.v + at + 1, n->queue.v + at, (n->queue.n - 1 - at) * sizeof(*n->queue.v));
    n->queue.v[at] = d;
}

/* The delivery at `at`, sent. Lock held, dropped meanwhile. */
static void send_webhook(struct notify *n, size_t at)
{
    struct delivery d = n->queue.v[at];
    memmove(n->queue.v + at, n->queue.v + at + 1, (n->queue.n - at - 1) * sizeof(*n->queue.v));
    n->queue.n--;
    pthread_mutex_unlock(&n->mu);
    char sig[72] = "", h_sig[128], h_id[128], h_ev[128];
    const char *headers[4] = { NULL };
    size_t nh = 0;
    snprintf(h_id, sizeof(h_id), "X-Qkvm-Delivery: %s", d.id);
    snprintf(h_ev, sizeof(h_ev), "X-Qkvm-Event: %s", d.event);
    headers[nh++] = h_id;
    headers[nh++] = h_ev;
    if (n->secret) {
        digest_hmac(n->secret, n->o.secret_len, d.body, strlen(d.body), sig);
        snprintf(h_sig, sizeof(h_sig), "X-Qkvm-Signature-256: %s", sig);
        headers[nh++] = h_sig;
    }
    struct fetch_request rq = { .method = "POST", .url = n->hooks[d.hook],
                                .shown_url = n->hooks_shown[d.hook],
                                .content_type = "application/json", .body = d.body,
                                .timeout_ms = n->o.timeout_ms > 0 ? n->o.timeout_ms : 10000,
                                .cancel = &n->cancel, .headers = headers };
    struct fetch_response rs;
    char err[1024], ans[256], why[1100];
    int rc = fetch_request(&rq, &rs, err, sizeof(err));
    pthread_mutex_lock(&n->mu);
    if (rc == 0)
        snprintf(why, sizeof(why), "HTTP %ld: %s", rs.status, answer(ans, sizeof(ans), &rs));
    else
        snprintf(why, sizeof(why), "%s", err);
    d.tries++;
    const char *shown = n->hooks_shown[d.hook];
    bool *failing = &n->hook_failing[d.hook];
    if (rc == 0 && rs.status >= 200 && rs.status < 300) {
        n->st.sent[1]++;
        if (*failing)
            say(n, "info", "notify: webhook %s takes deliveries again: %s delivered (try %d)",
                shown, d.what, d.tries);
        *failing = false;
        delivery_dispose(&d);
    } else if (n->stop) {
        requeue(n, d);                      /* abandoned: stopping; counted as not made */
    } else if (rc == 0 && !retryable(rs.status)) {
        n->st.rejected[1]++;
        say(n, "error", "notify: webhook %s refused %s: %s; not sent again", shown, d.what, why);
        delivery_dispose(&d);
    } else if (d.tries >= TRIES_MAX) {
        n->st.failed[1]++;
        n->st.dropped[1]++;
        say(n, "error", "notify: webhook %s: %s: %s; dropped after %d tries", shown, d.what, why,
            d.tries);
        delivery_dispose(&d);
    } else {
        n->st.failed[1]++;
        /* said when the webhook starts failing, then only when a delivery
         * is dropped or it takes them again: a dead receiver is one line,
         * not one per try */
        if (!*failing)
            say(n, "warn", "notify: webhook %s: %s: %s; trying again in %.1fs (its later "
                "deliveries wait)", shown, d.what, why, (double)backoff(n, d.tries) / 1000);
        *failing = true;
        d.due = mono_ms() + backoff(n, d.tries);
        requeue(n, d);
    }
    if (rc == 0)
        free(rs.body);
}

static void *thread_main(void *arg)
{
    struct notify *n = arg;
    pthread_mutex_lock(&n->mu);
    while (!n->stop) {
        int64_t now = mono_ms(), next = now + 3600 * 1000;
        long resend = n->o.resend_ms > 0 ? n->o.resend_ms : 60000;
        prune(n, wall_ms());
        if (n->am_url && n->am_due <= now) {
            if (n->alerts.n) {
                send_alertmanager(n);
                continue;
            }
            n->am_due = now + resend;           /* nothing to tell */
        }
        if (n->am_url && n->am_due < next)
            next = n->am_due;
        /* the first delivery due, a webhook at a time in its order: one
         * whose first delivery waits (a retry) holds its later ones */
        size_t due = n->queue.n;
        bool *held = xcalloc(n->o.nwebhooks + 1, sizeof(*held));
        for (size_t i = 0; i < n->queue.n && due == n->queue.n; i++) {
            const struct delivery *d = &n->queue.v[i];
            if (held[d->hook])
                continue;
            if (d->due <= now)
                due = i;
            else {
                held[d->hook] = true;
                if (d->due < next)
                    next = d->due;
            }
        }
        free(held);
        if (due < n->queue.n) {
            send_webhook(n, due);
            continue;
        }
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        int64_t wait = next - now;
        ts.tv_sec += wait / 1000;
        ts.tv_nsec += (wait % 1000) * 1000000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&n->cv, &n->mu, &ts);
    }
    pthread_mutex_unlock(&n->mu);
    return NULL;
}

struct notify *notify_new(const struct notify_opts *o)
{
    struct notify *n = xcalloc(1, sizeof(*n));
    n->o = *o;
    if (o->alertmanager) {
        size_t len = strlen(o->alertmanager);
        while (len && o->alertmanager[len - 1] == '/')
            len--;
        if (asprintf(&n->am_url, "%.*s/api/v2/alerts", (int)len, o->alertmanager) < 0)
            abort();
        char b[512];
        n->am_shown = xstrdup(notify_shown_url(o->alertmanager, b, sizeof(b)));
    }
    n->gen_url = dup_or_null(o->generator_url);
    if (o->secret) {
        n->secret = xmalloc(o->secret_len + 1);
        memcpy(n->secret, o->secret, o->secret_len);
        n->secret[o->secret_len] = '\0';
    }
    n->started = wall_ms();
    n->hook_failing = xcalloc(o->nwebhooks + 1, sizeof(*n->hook_failing));
    n->hooks = xcalloc(o->nwebhooks + 1, sizeof(*n->hooks));
    n->hooks_shown = xcalloc(o->nwebhooks + 1, sizeof(*n->hooks_shown));
    for (size_t i = 0; i < o->nwebhooks; i++) {
        char b[512];
        n->hooks[i] = xstrdup(o->webhooks[i]);
        if (asprintf(&n->hooks_shown[i], "#%zu (%s)", i + 1,           /* the i+1-th URL */
                     notify_shown_url(o->webhooks[i], b, sizeof(b))) < 0)
            abort();
    }
    n->o.webhooks = (const char *const *)n->hooks;
    n->o.secret = n->secret;
    n->o.alertmanager = NULL;
    n->o.generator_url = n->gen_url;
    pthread_mutex_init(&n->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&n->cv, &ca);
    pthread_condattr_destroy(&ca);
    int e = pthread_create(&n->th, NULL, thread_main, n);
    n->running = e == 0;
    if (e) {
        say(n, "error", "notify: the notifier cannot start: %s", strerror(e));
        notify_free(n);
        return NULL;
    }
    return n;
}

void notify_free(struct notify *n)
{
    if (!n)
        return;
    pthread_mutex_lock(&n->mu);
    n->stop = true;
    atomic_store(&n->cancel, 1);
    pthread_cond_signal(&n->cv);
    pthread_mutex_unlock(&n->mu);
    if (n->running)
        pthread_join(n->th, NULL);
    if (n->queue.n)
        say(n, "warn", "notify: stopping with %zu webhook deliver%s not made", n->queue.n,
            n->queue.n == 1 ? "y" : "ies");
    for (size_t i = 0; i < n->queue.n; i++)
        delivery_dispose(&n->queue.v[i]);
    for (size_t i = 0; i < n->alerts.n; i++)
        alert_dispose(&n->alerts.v[i]);
    vec_free(&n->queue);
    vec_free(&n->alerts);
    for (size_t i = 0; i < n->o.nwebhooks; i++) {
        free(n->hooks[i]);
        free(n->hooks_shown[i]);
    }
    free(n->hooks);
    free(n->hooks_shown);
    free(n->hook_failing);
    free(n->am_url);
    free(n->am_shown);
    free(n->gen_url);
    if (n->secret)
        memset(n->secret, 0, n->o.secret_len);
    free(n->secret);
    pthread_cond_destroy(&n->cv);
    pthread_mutex_destroy(&n->mu);
    free(n);
}
