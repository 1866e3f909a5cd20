/* metrics.h — the Prometheus text exposition of qkvm: one writer for what
 * `qkvm run` serves at /metrics and what `qkvm metrics` prints for
 * node_exporter's textfile collector, so both carry the same names,
 * labels, help texts and types. The caller fills a struct metrics from
 * what it knows (the controller from its counters; the command from one
 * observation and the state database); what it does not know is left out
 * (a family's `known` false), never printed as a made-up zero.
 */
#ifndef QKVM_METRICS_H
#define QKVM_METRICS_H

#include "inventory.h"
#include "model.h"
#include "store.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#define METRICS_BUCKETS 11          /* run durations, seconds: metrics_bucket_le */
#define METRICS_KINDS 8             /* run kinds at most */
#define METRICS_FINDING_KINDS 32

extern const double metrics_bucket_le[METRICS_BUCKETS];
/* A node's health, as the controller tells it (qkvm_nodes{state}). */
#define METRICS_NODE_STATES 6
extern const char *const metrics_node_states[METRICS_NODE_STATES];

struct metrics {
    /* runs by kind and result, and their durations */
    size_t nkinds;
    const char *kinds[METRICS_KINDS];
    unsigned long runs[METRICS_KINDS][STORE_RESULT_COUNT];
    unsigned long hist[METRICS_KINDS][METRICS_BUCKETS + 1];   /* per bucket, not cumulative */
    double hist_sum[METRICS_KINDS];
    double last_sync_ok;            /* Unix seconds; 0: never */
    const char *synced_rev, *synced_commit;   /* NULL: no sync known */
    size_t manifest_errors;
    bool source_errors_known;
    unsigned long source_errors;
    /* drift findings by kind and category (the last observation's) */
    size_t nfkinds;
    const char *fkinds[METRICS_FINDING_KINDS];
    size_t findings[METRICS_FINDING_KINDS][16];               /* per drift category */
    size_t objects[MODEL_KIND_COUNT][INVENTORY_SYNC_COUNT];
    /* nodes by state: state names and counts, in order */
    size_t nstates;
    const char *const *states;
    const size_t *nodes;
    unsigned long fences_ok, fences_failed, failovers_ok, failovers_failed, stale_removed;
    unsigned long apply_failures, heals_done, heals_failed;
    bool controller;                /* the controller's own: webhooks, ready */
    unsigned long hooks_ok, hooks_refused;
    bool ready;
};

/* The run kind's slot (added when new; the last slot when full). */
size_t metrics_kind(struct metrics *m, const char *kind);
/* Count one run of kind, result, lasting secs. */
void metrics_run(struct metrics *m, const char *kind, enum store_result r, double secs);
/* Count one drift finding of object kind `kind`, category index `cat`. */
void metrics_finding(struct metrics *m, const char *kind, unsigned cat);
void metrics_write(FILE *f, const struct metrics *m);
/* The controller's notifier (notify.h), written when /metrics is asked
 * for: qkvm_notifications_total{receiver, result}, qkvm_notifications_queued,
 * qkvm_alerts_active. */
struct notify_stats;
void metrics_write_notify(FILE *f, const struct notify_stats *st);

#endif
