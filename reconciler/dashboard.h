/* dashboard.h — the drift report people look at: one tree (kind Report,
 * what `qkvm report -o json` prints and the controller serves at
 * /api/v1/report) and one HTML page rendered from that tree (what `qkvm
 * report --html FILE` writes and the controller serves at /).
 *
 * The page is self-contained: its style and script are in it, it loads
 * nothing, and everything but sorting, filtering and the live refresh is
 * plain HTML that reads without JavaScript. Every string of the tree is
 * user-controlled text (names, labels, libvirt messages) and goes into the
 * page through libxml2's HTML tree, which escapes it; none is ever put in
 * the script or the style.
 */
#ifndef QKVM_DASHBOARD_H
#define QKVM_DASHBOARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct arena;
struct store;
struct tree;

/* What the report is made of: the command line's observation or the
 * controller's last run. Every list may be NULL (none). */
struct dashboard_in {
    const char *project;         /* "" none */
    const char *source;          /* the manifests: a directory or a Git URL */
    const char *commit;          /* the manifests' commit, "" none */
    const char *last_sync;       /* ISO 8601 of the last sync (controller), "" none */
    const char *synced_commit;   /* its commit, "" none */
    const struct tree *nodes;    /* [{name, state, since?, message?}] */
    const struct tree *findings; /* report_finding_tree items, with node */
    const struct tree *objects;  /* report_add_object rows */
    const struct tree *foreign;  /* [{kind, name, project, node?}] */
    bool live;                   /* served by the controller: refresh itself */
    bool fleet;                  /* the manifests declare Nodes: a Policy, the Project and
                                  * an unschedulable VM are the fleet's, even with one Node */
    long long generation;        /* the controller's status generation (the page polls it) */
};

/* The Report tree: the input, the summary counts, each node's counts, and
 * from st (may be NULL) the recent runs, failovers and fences and the
 * timeline of events. A store that cannot be read is said in "errors". */
struct tree *dashboard_tree(struct arena *a, const struct dashboard_in *in, struct store *st,
                            int64_t now_ms);

/* The page of a Report tree, to out. 0, or -1 when libxml2 or the write
 * failed. */
int dashboard_html(FILE *out, const struct tree *report);

/* What to do about a finding of an orphan, stale object or stray process,
 * or NULL. */
const char *dashboard_advice(const char *category);

#endif
