/* metrics.c — see metrics.h. */
#include "metrics.h"

#include "notify.h"

#include "plan.h"
#include "schema.h"

#include <string.h>

const double metrics_bucket_le[METRICS_BUCKETS] = { 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120,
                                                    300 };

const char *const metrics_node_states[METRICS_NODE_STATES] = {
    "unknown", "ready", "suspect", "failed", "fenced", "maintenance" };

size_t metrics_kind(struct metrics *m, const char *kind)
{
    for (size_t k = 0; k < m->nkinds; k++)
        if (strcmp(m->kinds[k], kind) == 0)
            return k;
    if (m->nkinds == METRICS_KINDS)
        return METRICS_KINDS - 1;
    m->kinds[m->nkinds] = kind;
    return m->nkinds++;
}

void metrics_run(struct metrics *m, const char *kind, enum store_result r, double secs)
{
    size_t k = metrics_kind(m, kind), b = 0;
    m->runs[k][r]++;
    while (b < METRICS_BUCKETS && secs > metrics_bucket_le[b])
        b++;
    m->hist[k][b]++;
    m->hist_sum[k] += secs;
}

void metrics_finding(struct metrics *m, const char *kind, unsigned cat)
{
    size_t k = 0;
    while (k < m->nfkinds && strcmp(m->fkinds[k], kind) != 0)
        k++;
    if (k == m->nfkinds) {
        if (m->nfkinds == METRICS_FINDING_KINDS || cat >= 16)
            return;
        m->fkinds[m->nfkinds++] = kind;
    }
    m->findings[k][cat]++;
}

/* A label value as the text format wants it: \\, \" and \n escaped. */
static void label_value(FILE *f, const char *v)
{
    for (; *v; v++) {
        if (*v == '\\' || *v == '"')
            fprintf(f, "\\%c", *v);
        else if (*v == '\n')
            fputs("\\n", f);
        else
            fputc(*v, f);
    }
}

void metrics_write(FILE *f, const struct metrics *m)
{
    fputs("# HELP qkvm_runs_total Runs, by kind and result.\n"
          "# TYPE qkvm_runs_total counter\n", f);
    for (size_t k = 0; k < m->nkinds; k++)
        for (int r = STORE_RUN_OK; r < STORE_RESULT_COUNT; r++)
            if (r != STORE_RUN_INTERRUPTED && r != STORE_RUN_INVALID)
                fprintf(f, "qkvm_runs_total{kind=\"%s\",result=\"%s\"} %lu\n", m->kinds[k],
                        store_result_name((enum store_result)r), m->runs[k][r]);
    fputs("# HELP qkvm_run_duration_seconds How long the runs took.\n"
          "# TYPE qkvm_run_duration_seconds histogram\n", f);
    for (size_t k = 0; k < m->nkinds; k++) {
        unsigned long cum = 0;
        for (size_t b = 0; b <= METRICS_BUCKETS; b++) {
            cum += m->hist[k][b];
            if (b < METRICS_BUCKETS)
                fprintf(f, "qkvm_run_duration_seconds_bucket{kind=\"%s\",le=\"%g\"} %lu\n",
                        m->kinds[k], metrics_bucket_le[b], cum);
            else
                fprintf(f, "qkvm_run_duration_seconds_bucket{kind=\"%s\",le=\"+Inf\"} %lu\n",
                        m->kinds[k], cum);
        }
        fprintf(f, "qkvm_run_duration_seconds_sum{kind=\"%s\"} %.6f\n", m->kinds[k],
                m->hist_sum[k]);
        fprintf(f, "qkvm_run_duration_seconds_count{kind=\"%s\"} %lu\n", m->kinds[k], cum);
    }
    fprintf(f, "# HELP qkvm_last_successful_sync_timestamp_seconds When a sync last "
               "succeeded (0: never).\n"
               "# TYPE qkvm_last_successful_sync_timestamp_seconds gauge\n"
               "qkvm_last_successful_sync_timestamp_seconds %.3f\n", m->last_sync_ok);
    fputs("# HELP qkvm_sync_info The revision applied by the last successful sync.\n"
          "# TYPE qkvm_sync_info gauge\n", f);
    if (m->synced_rev || m->synced_commit) {
        fputs("qkvm_sync_info{revision=\"", f);
        label_value(f, m->synced_rev ? m->synced_rev : "");
        fputs("\",commit=\"", f);
        label_value(f, m->synced_commit ? m->synced_commit : "");
        fputs("\"} 1\n", f);
    }
    fprintf(f, "# HELP qkvm_manifest_errors Errors in the last revision read (0: valid).\n"
               "# TYPE qkvm_manifest_errors gauge\n"
               "qkvm_manifest_errors %zu\n", m->manifest_errors);
    if (m->source_errors_known)
        fprintf(f, "# HELP qkvm_source_errors_total Revisions read that were invalid.\n"
                   "# TYPE qkvm_source_errors_total counter\n"
                   "qkvm_source_errors_total %lu\n", m->source_errors);
    fputs("# HELP qkvm_drift_findings Drift found by the last run, by object kind and "
          "category.\n# TYPE qkvm_drift_findings gauge\n", f);
    for (unsigned cat = 0; cat < DRIFT_CATEGORY_COUNT && cat < 16; cat++)
        for (size_t k = 0; k < m->nfkinds; k++)
            if (m->findings[k][cat]) {
                fputs("qkvm_drift_findings{kind=\"", f);
                label_value(f, m->fkinds[k]);
                fprintf(f, "\",category=\"%s\"} %zu\n",
                        drift_category_name((enum drift_category)cat), m->findings[k][cat]);
            }
    fputs("# HELP qkvm_objects Objects of the last run (declared, and what it found), by kind "
          "and sync state.\n# TYPE qkvm_objects gauge\n", f);
    for (int k = 0; k < MODEL_KIND_COUNT; k++) {
        size_t any = 0;
        for (int y = 0; y < INVENTORY_SYNC_COUNT; y++)
            any += m->objects[k][y];
        for (int y = 0; any && y < INVENTORY_SYNC_COUNT; y++)
            fprintf(f, "qkvm_objects{kind=\"%s\",sync=\"%s\"} %zu\n",
                    schema_kind_of((enum model_kind)k)->name,
                    inventory_sync_name((enum inventory_sync)y), m->objects[k][y]);
    }
    fputs("# HELP qkvm_nodes Nodes by health (unknown: not connected yet).\n"
          "# TYPE qkvm_nodes gauge\n", f);
    for (size_t h = 0; h < m->nstates; h++)
        fprintf(f, "qkvm_nodes{state=\"%s\"} %zu\n", m->states[h], m->nodes[h]);
    fprintf(f, "# HELP qkvm_fences_total Fences of failed nodes, by result.\n"
               "# TYPE qkvm_fences_total counter\n"
               "qkvm_fences_total{result=\"success\"} %lu\n"
               "qkvm_fences_total{result=\"failure\"} %lu\n", m->fences_ok, m->fences_failed);
    fprintf(f, "# HELP qkvm_failovers_total VMs started on another node after theirs was "
               "fenced, by result.\n"
               "# TYPE qkvm_failovers_total counter\n"
               "qkvm_failovers_total{result=\"success\"} %lu\n"
               "qkvm_failovers_total{result=\"failure\"} %lu\n", m->failovers_ok,
            m->failovers_failed);
    fprintf(f, "# HELP qkvm_stale_copies_removed_total Copies of moved VMs removed from nodes "
               "that came back after a fence.\n"
               "# TYPE qkvm_stale_copies_removed_total counter\n"
               "qkvm_stale_copies_removed_total %lu\n", m->stale_removed);
    fprintf(f, "# HELP qkvm_apply_failures_total Actions that failed.\n"
               "# TYPE qkvm_apply_failures_total counter\n"
               "qkvm_apply_failures_total %lu\n", m->apply_failures);
    fprintf(f, "# HELP qkvm_heals_total Drift repairs (drift.mode heal), by result.\n"
               "# TYPE qkvm_heals_total counter\n"
               "qkvm_heals_total{result=\"done\"} %lu\nqkvm_heals_total{result=\"failed\"} %lu\n",
            m->heals_done, m->heals_failed);
    if (!m->controller)
        return;
    fprintf(f, "# HELP qkvm_webhooks_total Webhook requests, by result.\n"
               "# TYPE qkvm_webhooks_total counter\n"
               "qkvm_webhooks_total{result=\"accepted\"} %lu\n"
               "qkvm_webhooks_total{result=\"refused\"} %lu\n", m->hooks_ok, m->hooks_refused);
    fprintf(f, "# HELP qkvm_ready Whether a sync has succeeded since the controller started.\n"
               "# TYPE qkvm_ready gauge\nqkvm_ready %d\n", m->ready ? 1 : 0);
}

void metrics_write_notify(FILE *f, const struct notify_stats *st)
{
    static const char *const receivers[2] = { "alertmanager", "webhook" };
    fputs("# HELP qkvm_notifications_total Requests to Alertmanager and webhooks, by result "
          "(sent, failed: tried again or dropped, rejected by the receiver, dropped).\n"
          "# TYPE qkvm_notifications_total counter\n", f);
    for (int r = 0; r < 2; r++) {
        fprintf(f, "qkvm_notifications_total{receiver=\"%s\",result=\"sent\"} %lu\n",
                receivers[r], st->sent[r]);
        fprintf(f, "qkvm_notifications_total{receiver=\"%s\",result=\"failed\"} %lu\n",
                receivers[r], st->failed[r]);
        fprintf(f, "qkvm_notifications_total{receiver=\"%s\",result=\"rejected\"} %lu\n",
                receivers[r], st->rejected[r]);
        fprintf(f, "qkvm_notifications_total{receiver=\"%s\",result=\"dropped\"} %lu\n",
                receivers[r], st->dropped[r]);
    }
    fprintf(f, "# HELP qkvm_notifications_queued Webhook deliveries waiting to be made.\n"
               "# TYPE qkvm_notifications_queued gauge\nqkvm_notifications_queued %zu\n",
            st->queued);
    fprintf(f, "# HELP qkvm_alerts_active Alerts standing now (drift, failed nodes, fences "
               "and applies, recent failovers).\n"
               "# TYPE qkvm_alerts_active gauge\nqkvm_alerts_active %zu\n", st->active);
}
