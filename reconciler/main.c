/* main.c — the qkvm command line: the table of commands, the flags, and
 * the dispatch.
 *
 * As git's git.c does with RUN_SETUP, each command's row says what setup it
 * needs (session.h: manifests, the store for reading or for recording the
 * run, the reconcile lock, the node's connection and observation, a plan)
 * and how many positional arguments it takes; main() checks the arguments,
 * opens the session, then calls the command (cmd_*.c), which only does its
 * own work. Global flags may come before or after the command: options are
 * parsed once up to the command and again after it with the command's own
 * flags allowed. Results go to stdout, problems to stderr (cli.h).
 */
#include "cli.h"

#include "arena.h"
#include "diag.h"
#include "model.h"
#include "session.h"
#include "text.h"
#include "vec.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct command {
    const char *name;
    int (*run)(struct cli *c, struct session *s, int argc, char **argv);
    unsigned need;               /* enum session_need: the setup before run */
    int min_args, max_args;      /* positional arguments */
    const char *args;
    const char *summary;
    const char *help;
};

/* What a command says when its positional arguments are wrong, and the
 * checks of their values made before any setup (a usage error never waits
 * for a host to answer). */
static const struct {
    const char *name, *usage;
} arg_usage[] = {
    { "explain", "explain takes one KIND[.FIELD...] path" },
    { "history", "history takes at most one run id" },
    { "get", "get takes KIND [NAME], e.g. 'qkvm get vms' or 'qkvm get vm web-1'" },
    { "describe", "describe takes KIND NAME, e.g. 'qkvm describe vm web-1'" },
    { "events", "events takes at most KIND and NAME" },
    { "import", "import takes KIND NAME... (e.g. 'qkvm import vm web-1'), or --all" },
};

static int check_args(const struct cli *c, const struct command *cmd, int argc, char **argv)
{
    enum model_kind k;
    if ((strcmp(cmd->name, "get") == 0 || strcmp(cmd->name, "describe") == 0 ||
         strcmp(cmd->name, "events") == 0) && argc >= 1 && cli_kind_arg(argv[0], &k) < 0)
        return -1;
    if (strcmp(cmd->name, "import") == 0 && (c->all ? argc > 0 : argc == 0)) {
        cli_error(c->all ? "--all takes no KIND or NAME"
                         : "import takes KIND NAME... (e.g. 'qkvm import vm web-1'), or --all");
        return -1;
    }
    return 0;
}

static const struct command commands[];

static const char global_help[] =
    "Global flags:\n"
    "  -f, --file PATH       manifests: a file or a directory (recursive *.yaml, *.yml);\n"
    "                        may be repeated\n"
    "  -c, --connect URI     libvirt URI of the implicit node (no Node manifests)\n"
    "  -o, --output FORMAT   table (default), wide, json, yaml or junit (plan, drift)\n"
    "      --state PATH      state database (default /var/lib/qkvm/state.db as root,\n"
    "                        else $XDG_STATE_HOME/qkvm/state.db)\n"
    "      --connect-timeout D\n"
    "                        give up connecting to libvirt after D (default 30s)\n"
    "      --keepalive-interval D\n"
    "                        probe a libvirt connection silent for D (default 5s)\n"
    "      --keepalive-count N\n"
    "                        give it up after N unanswered probes (default 3)\n"
    "  -q, --quiet           print only problems\n"
    "  -v, --verbose         print what is read and how long it took\n"
    "  -h, --help            help for qkvm or a command\n"
    "  -V, --version         print the version\n"
    "\n"
    "Exit codes: 0 success, 1 error, 2 changes or drift present, 3 invalid manifests.\n"
    "Colour is used on a terminal unless NO_COLOR is set.\n";

static void usage(FILE *f)
{
    fprintf(f, "Usage: qkvm [FLAGS] COMMAND [ARGS]\n\n"
               "qkvm reconciles KVM hosts with declarative manifests.\n\n"
               "Commands:\n");
    for (const struct command *c = commands; c->name; c++)
        fprintf(f, "  %-10s %s\n", c->name, c->summary);
    fprintf(f, "  %-10s %s\n", "help", "usage of qkvm, or of a command (help COMMAND)");
    fprintf(f, "\n%s\nRun 'qkvm COMMAND --help' for a command's flags.\n", global_help);
}

static void command_usage(FILE *f, const struct command *c)
{
    fprintf(f, "Usage: qkvm %s %s\n\n%s\n%s", c->name, c->args, c->help, global_help);
}

static const struct command commands[] = {
    { "validate", cmd_validate, SESSION_MANIFESTS | SESSION_INVALID_OK, 0, 0, "-f PATH [-o table|json|yaml]",
      "check manifests and report every problem",
      "Load the manifests under PATH and check them: YAML, types, required\n"
      "fields, allowed values, names, quantities, addresses, references between\n"
      "objects, duplicates. Every problem is printed as file:line:col: message,\n"
      "sorted. Exit 0 when valid (warnings allowed), 3 when not, 1 when PATH\n"
      "cannot be read. With -o json or yaml, the result is a document with the\n"
      "list of findings (file, line, column, severity, kind, name, field, message).\n" },
    { "render", cmd_render, SESSION_MANIFESTS | SESSION_INVALID_OK, 0, 0, "-f PATH [-o yaml|json]",
      "print the manifests as qkvm reads them, defaults filled in",
      "Print every object of PATH, normalised: defaults filled in, derived\n"
      "values (NIC MACs, network gateways) spelled out, quantities in canonical\n"
      "units, objects ordered by kind and name. The output is itself a valid\n"
      "manifest set that renders to the same text. Exit 3 when invalid.\n" },
    { "explain", cmd_explain, 0, 0, 1, "[KIND[.FIELD...]] [--reference]",
      "document a kind or a field",
      "Print a kind's or a field's type, default, documentation and sub-fields,\n"
      "from the schema, e.g. 'qkvm explain vm.spec.nics'. Without an argument,\n"
      "list the kinds. --reference prints the whole manifest reference as\n"
      "Markdown.\n" },
    { "schema", cmd_schema, 0, 0, 0, "",
      "print the JSON Schema of manifests (for editors)",
      "Print the JSON Schema (draft 2020-12) of a manifest document, generated\n"
      "from the schema, for yaml-language-server and other editors:\n"
      "  # yaml-language-server: $schema=./qkvm.schema.json\n" },
    { "plan", cmd_plan, SESSION_MANIFESTS | SESSION_RECORD | SESSION_CONNECT | SESSION_PLAN, 0, 0, "-f PATH [-c URI] [--detailed-exitcode] [--prune] [--max-deletions N] "
                        "[--adopt] [--restart] [-o json]",
      "show what apply would change on the host",
      "Observe the libvirt host, compare it with the manifests field by field and\n"
      "print the actions apply would take, in order: + create, ~ update in place\n"
      "(live, or in the definition with \"restart required\"), -/+ replace, - delete,\n"
      "and ! for what apply will not do (conflicts, blocked changes, pending\n"
      "restarts, stale objects without --prune, deletions a guard refused).\n"
      "Objects of other projects are listed apart and never touched. Nothing is\n"
      "changed.\n"
      "  --detailed-exitcode  exit 2 when there are changes, pending restarts or\n"
      "                       items needing attention; 0 when none; 1 on error\n"
      "  --prune              plan deletion of stale objects (the project's, no longer\n"
      "                       declared)\n"
      "  --max-deletions N    allow up to N deletions (default: the Project's\n"
      "                       maxDeletions, 10; deleting all of the project's objects\n"
      "                       needs it too)\n"
      "  --adopt              plan taking over same-named objects no project created\n"
      "  --restart            plan restarting VMs whose changes wait for a restart\n" },
    { "apply", cmd_apply, SESSION_MANIFESTS | SESSION_RECORD | SESSION_LOCK | SESSION_CONNECT | SESSION_PLAN, 0, 0, "-f PATH [-c URI] [--yes] [--prune] [--max-deletions N] [--adopt] "
                          "[--restart] [--shutdown-timeout S] [--cache-dir DIR] [--parallelism N] [--node NAME]",
      "make the host match the manifests",
      "Plan as 'qkvm plan' does, ask for confirmation (unless --yes), then apply\n"
      "the actions in order: pools, networks, images, disks, VMs; deletions in\n"
      "reverse. An Image a Disk to be created needs is downloaded into the image\n"
      "cache (as 'qkvm pull' does) and uploaded to its pool once.\n"
      "Independent actions go on when one fails; dependents of a failure are\n"
      "skipped. Exit 1 when anything failed, one line per failure on stderr.\n"
      "  --yes                do not ask (required when stdin is not a terminal)\n"
      "  --prune              delete stale objects (never Disks with protect: true),\n"
      "                       within the deletion guards: an empty manifest set never\n"
      "                       prunes; more than maxDeletions, or every object of the\n"
      "                       project, is refused (exit 1) unless --max-deletions\n"
      "  --max-deletions N    allow up to N deletions in this run\n"
      "  --adopt              take over same-named objects no project created\n"
      "  --restart            restart VMs whose changes wait for a restart (graceful\n"
      "                       shutdown, destroy after --shutdown-timeout, start)\n"
      "  --shutdown-timeout S graceful shutdown wait before destroy (default 60)\n"
      "  --cache-dir DIR      the image cache (see 'qkvm pull')\n"
      "  --parallelism N      actions under way at once on one node (default 10; every\n"
      "                       node of a fleet applies at the same time); one kind\n"
      "                       after another, dependencies first, one line per action\n"
      "  --lock-timeout D     wait this long for another apply on the same state file\n"
      "                       (default 30s), then fail naming its pid\n"
      "Every action is journalled in the state database before it starts; see\n"
      "'qkvm history'.\n" },
    { "drift", cmd_drift, SESSION_MANIFESTS | SESSION_RECORD | SESSION_CONNECT | SESSION_DEEP | SESSION_PLAN, 0, 0, "-f PATH [-c URI] [-o json]",
      "report drift, stale objects and orphans; exit 2 when there are any",
      "Observe the host thoroughly (running domains' persistent definitions too)\n"
      "and report: changed fields (desired vs actual), missing objects, VMs in the\n"
      "wrong power state, stale objects (qkvm's, no longer declared), orphans\n"
      "(domains, networks, pools, volumes qkvm did not create and nobody declares;\n"
      "files in managed pool directories libvirt does not know), domains whose\n"
      "disk file is missing, and qemu processes no domain accounts for. Fields in\n"
      "a selecting Policy's drift.ignore are left out. Exit 2 when anything is\n"
      "found, 0 when nothing is.\n" },
    { "metrics", cmd_metrics, SESSION_MANIFESTS | SESSION_INVALID_OK | SESSION_RECORD | SESSION_CONNECT | SESSION_DEEP | SESSION_PLAN, 0, 0, "-f PATH [-c URI] [-o FILE]",
      "print the Prometheus metrics of the manifests' nodes (node_exporter's textfile)",
      "For hosts without the controller (a systemd timer, cron): observe as\n"
      "'qkvm drift' does (the run is journalled and its findings recorded) and print\n"
      "the metrics 'qkvm run' serves at /metrics, with the same names and labels:\n"
      "drift findings, objects by sync state, nodes, and, from the state database,\n"
      "runs by kind and result with their durations, the last successful apply or\n"
      "sync, failed actions, heals, fences and failovers (over the runs the\n"
      "database keeps). Invalid manifests: qkvm_manifest_errors says how many, exit 3.\n"
      "  -o, --output FILE  write FILE instead of stdout, atomically (a temporary\n"
      "                     file in its directory, renamed over it), mode 0644\n"
      "Exit 0, or 2 when there is drift (the metrics are written either way), 1 when\n"
      "they could not be written.\n" },
    { "report", cmd_report, SESSION_MANIFESTS | SESSION_RECORD | SESSION_CONNECT | SESSION_DEEP | SESSION_PLAN, 0, 0, "-f PATH [-c URI] [--html FILE] [-o json|yaml]",
      "the drift report people look at: an HTML page, or its tree as JSON",
      "Observe as 'qkvm drift' does (the run is journalled, its findings recorded)\n"
      "and report the fleet: a summary (objects in sync, drifted, missing, stale,\n"
      "orphans, foreign; nodes by state), each node's objects, every drifted field\n"
      "(desired vs actual), orphans and what to do about them, and from the state\n"
      "database the recent runs, failovers and fences and a timeline of events.\n"
      "  --html FILE  write the report as one self-contained HTML page (no external\n"
      "               script, font or style; sortable and filterable, readable\n"
      "               without JavaScript), atomically (an earlier FILE's mode kept)\n"
      "Without --html: a short summary, or with -o json or yaml the report's tree\n"
      "(the one the page is made from, and what 'qkvm run' serves at /api/v1/report).\n"
      "Exit 2 when there is drift (the report is written either way), 3 when the\n"
      "manifests are invalid (nothing is written), 1 when it could not be written.\n" },
    { "rebalance", cmd_rebalance, SESSION_MANIFESTS | SESSION_RECORD | SESSION_LOCK | SESSION_CONNECT | SESSION_PLAN, 0, 0, "-f PATH [--threshold PCT] [--cpu-interval D] [--apply [--yes]] [-o json]",
      "even out the load of a fleet's nodes by live migration (DRS)",
      "For manifests that declare several Nodes: a node is over the threshold\n"
      "(default 80%) when the largest of its allocated CPUs and memory (its VMs'\n"
      "maximums, and the running domains qkvm does not place, over what the Node\n"
      "offers) and its measured CPU use (what its running domains kept busy over\n"
      "--cpu-interval, from libvirt's bulk domain statistics, over the host's\n"
      "CPUs; a VM that moves takes its use along) exceeds it. While one is, the\n"
      "most loaded node gives up the VM\n"
      "whose move (to a node that passes placement's rules and stays under the\n"
      "threshold) leaves the two nodes' larger load smallest. Each move is listed\n"
      "with its gain and priority (1: the node is overcommitted, over 100%; 2:\n"
      "over the threshold). Only VMs whose disks are all on shared pools move (or,\n"
      "with a Policy's placement.coldMoves, stopped VMs: a rebalance never stops a\n"
      "guest), and\n"
      "never a pinned one. A balanced fleet gets no recommendations.\n"
      "  --threshold PCT   the allocation a node may have (1-100, default 80)\n"
      "  --cpu-interval D  how long CPU use is measured over, every node at once\n"
      "                    (default 1s; 0: allocation only)\n"
      "  --apply           make the moves (live migration of running VMs, as a\n"
      "                    drain does); asks first unless --yes\n"
      "Exit 0 when balanced or balanced by the moves, 2 when moves are recommended\n"
      "(without --apply) or a node stays over the threshold, 1 on error.\n" },
    { "pull", cmd_pull, SESSION_MANIFESTS, 0, INT_MAX, "-f PATH [IMAGE...] [--cache-dir DIR] [-o json]",
      "download Images into the image cache, verified",
      "Download every Image of the manifests, or the IMAGEs named, into the image\n"
      "cache, checking each one's sha256 while it streams; libvirt is not\n"
      "contacted. An image already cached (by its sha256) is not downloaded\n"
      "again, an interrupted download is resumed, network errors are retried.\n"
      "Prints one line per image (downloaded or cached); exit 1 when any image\n"
      "failed, the others being pulled all the same.\n"
      "  --cache-dir DIR   the image cache (default: $QKVM_CACHE_DIR, else\n"
      "                    /var/cache/qkvm/images as root, else\n"
      "                    $XDG_CACHE_HOME/qkvm/images or ~/.cache/qkvm/images)\n" },
    { "history", cmd_history, SESSION_STORE, 0, 1, "[RUN] [--limit N] [--since D] [--prune-older-than D] [-o wide|json|yaml]",
      "list recorded runs, or show one run's actions",
      "Without RUN: the most recent runs (20 unless --limit; 0 for all), oldest\n"
      "first: id, kind (plan, apply, drift), start, duration, result, source,\n"
      "commit. A run whose process died shows as interrupted. With RUN: every\n"
      "action with before/after, status and error, and a drift run's findings\n"
      "with the run since which each one has been seen.\n"
      "  --since D              only runs started in the last D (90s, 30m, 1h, 7d)\n"
      "  --prune-older-than D   delete runs older than D, with their actions,\n"
      "                         findings and events, and shrink the file\n"
      "Runs beyond the newest 100000 or older than 90 days are removed\n"
      "automatically. Never waits for a running apply.\n" },
    { "get", cmd_get, SESSION_MANIFESTS_OPT | SESSION_STORE | SESSION_CONNECT_SOFT | SESSION_PLAN, 1, 2, "KIND [NAME] [-f PATH] [-c URI] [-o wide|json|yaml]",
      "list objects: desired joined with observed",
      "KIND is vms, disks, networks, pools, images, nodes or policies (singular\n"
      "works too). Rows come from the host (observed now), the manifests (with\n"
      "-f) and the state database (AGE: since qkvm first saw the object; SYNC as\n"
      "the last run recorded it when no -f is given). When the host cannot be\n"
      "reached, the last recorded state is shown with a warning. -o yaml/json\n"
      "gives spec (as declared) and status (observed). Never waits for a\n"
      "running apply and never writes.\n" },
    { "describe", cmd_describe, SESSION_MANIFESTS_OPT | SESSION_STORE | SESSION_CONNECT_SOFT | SESSION_PLAN, 2, 2, "KIND NAME [-f PATH] [-c URI] [-o json|yaml]",
      "one object: spec, observed, drift, recent events",
      "Like 'get KIND NAME', plus the drift of the object (from a plan when -f is\n"
      "given, else the findings the last 'qkvm drift' recorded) and its last ten\n"
      "events.\n" },
    { "events", cmd_events, SESSION_STORE, 0, 2, "[KIND [NAME]] [--since D] [--limit N] [-o wide|json|yaml]",
      "what happened to which object",
      "Events recorded by runs, oldest first (the last 50 unless --limit): objects\n"
      "created, updated, deleted, failed; drift detected and resolved; runs\n"
      "interrupted; locks taken over from a dead process.\n"
      "  --since D   only the last D (90s, 30m, 1h, 7d)\n" },
    { "import", cmd_import,
      SESSION_MANIFESTS_OPT | SESSION_STORE | SESSION_CONNECT | SESSION_DEEP, 0, 100000,
      "KIND NAME... | --all [-f PATH] [-c URI] [-o yaml|json]",
      "print manifests for objects of the host no project owns",
      "Print manifests (as 'qkvm render' prints them) for domains (KIND vm),\n"
      "networks, pools and volumes (KIND disk; POOL/VOLUME, or VOLUME when one\n"
      "pool has it) that no project owns, with what an imported VM uses (its\n"
      "volumes, their pools, its networks) unless the manifests given with -f\n"
      "declare it. Every value libvirt has is written out (power state, MACs,\n"
      "static leases as NIC ips...), so that after 'qkvm apply --adopt' with them\n"
      "nothing is re-created and the next plan has nothing to do.\n"
      "Refused, with the reason: another project's object (a qkvm mark, or a\n"
      "record in the state database), and what a manifest cannot express (a\n"
      "disk that is a file outside any pool, a name the schema refuses, a pool\n"
      "other than dir, a network mode or device model the schema lacks...). What\n"
      "the manifest leaves out (a cdrom, a <channel>) is a warning.\n"
      "  --all   every object of the host; what cannot be imported is skipped\n"
      "          with a warning\n"
      "Exit 1 when an object named was refused; 0 otherwise.\n" },
    { "run", cmd_run, 0, 0, 0, "-f DIR | --git URL [--ref REF] [--path DIR] [--interval D] "
                              "[--verify-commits KEYRING] [--listen [ADDR:]PORT] [--token-file F] "
                              "[--webhook-secret-file F] [--observe-interval D] [--debounce D] "
                              "[--node-grace D] [--fence-timeout D] [--log-format plain|json]",
      "the controller: keep the hosts matching a watched directory or a Git branch",
      "Run until SIGTERM: read the manifests under DIR, apply them (a sync, as\n"
      "'qkvm apply --yes' would), and apply every new valid revision as soon as a\n"
      "file is saved (inotify, recursive, debounced); or fetch a Git repository\n"
      "every --interval (and at once on a signed webhook) and apply the manifests\n"
      "of REF's commit under --path. An invalid revision or commit is\n"
      "reported (file:line:col) and the last valid one stays applied. Every\n"
      "--observe-interval, observe thoroughly: record drift, orphans, stray\n"
      "processes, missing disk files; repair the drift of objects a Policy with\n"
      "drift.mode: heal selects (with backoff), report the rest. Deletions only\n"
      "where a Policy says prune: delete, within the deletion guards. Every run\n"
      "is journalled ('qkvm history': kinds sync, observe, failover, recover). One\n"
      "controller per state database. SIGHUP reads the source again and observes\n"
      "at once. Every Node is watched: a node that stops answering is suspect,\n"
      "failed after --node-grace, then fenced by its Node's spec.fence (command,\n"
      "agent, redfish, or manual: 'qkvm node confirm-down NODE'); only then are\n"
      "its HA VMs (a Policy with ha.enabled) started on other nodes. When it\n"
      "answers again, its copies of the VMs that moved are removed first.\n"
      "  --git URL            a repository (file://, git://, https://, ssh://, a path),\n"
      "                       fetched into a bare cache (--git-cache DIR; default: the\n"
      "                       directory git beside the state database)\n"
      "  --ref REF            a branch, a tag or a commit (default: the remote's HEAD)\n"
      "  --path DIR           the manifests' directory in the repository (default: all)\n"
      "  --interval D         fetch every D (default 1m)\n"
      "  --git-token-file F   https: a token, sent as the password\n"
      "  --git-ssh-key F      ssh: a private key file\n"
      "  --verify-commits KEYRING\n"
      "                       apply only commits signed by a key of this OpenPGP\n"
      "                       keyring (exported public keys); others are reported\n"
      "  --listen [ADDR:]PORT serve the dashboard (/), /healthz, /readyz, /metrics\n"
      "                       (Prometheus), /api/v1/status, /api/v1/report and\n"
      "                       /api/v1/webhook; ADDR 127.0.0.1 by default\n"
      "  --alertmanager URL   send alerts to this Alertmanager (API v2): drift, failed\n"
      "                       nodes, fences and applies, failovers; resolved when over\n"
      "  --notify-webhook-file F\n"
      "                       POST the same as events (JSON, with a Slack-compatible\n"
      "                       \"text\") to each URL of this file, one per line\n"
      "  --notify-secret-file F\n"
      "                       sign them: X-Qkvm-Signature-256: sha256=HMAC-SHA256\n"
      "  --webhook-secret-file F\n"
      "                       POST /api/v1/webhook signed with this secret\n"
      "                       (X-Hub-Signature-256: HMAC-SHA256) fetches at once\n"
      "  --token-file F       a bearer token every request must carry (required\n"
      "                       for an address other than loopback)\n"
      "  --observe-interval D thorough observation every D (default 5m)\n"
      "  --debounce D         wait D after the last change of a file (default 500ms)\n"
      "  --node-grace D       a node whose connection is lost and that does not answer\n"
      "                       for D is failed, and fenced (default 10s)\n"
      "  --fence-timeout D    a fence that has not succeeded after D failed (default 60s)\n"
      "  --log-format F       plain (default) or json: one line per event\n"
      "  --shutdown-timeout S, --cache-dir DIR, --parallelism N, --lock-timeout D\n"
      "                       as for apply\n" },
    { "node", cmd_node, SESSION_MANIFESTS_OPT | SESSION_RECORD, 2, 2, "confirm-down NODE [-f PATH]",
      "confirm that a failed node is off (the manual fence)",
      "Record that NODE is off: powered down or cut off, none of its VMs running.\n"
      "A controller ('qkvm run') holding NODE failed, with a manual fence (or\n"
      "none declared), then counts it fenced and starts its HA VMs on other\n"
      "nodes. Only a confirmation made after the node failed counts. Be sure:\n"
      "a VM still running there would run twice. With -f, NODE must be a Node\n"
      "of the manifests.\n" },
    { "version", cmd_version, 0, 0, 0, "", "print the version", "Print the version.\n" },
    { NULL, NULL, 0, 0, 0, NULL, NULL, NULL },
};

enum { OPT_STATE = 256, OPT_REFERENCE, OPT_YES, OPT_PRUNE, OPT_ADOPT, OPT_DETAILED,
       OPT_SHUTDOWN_TIMEOUT, OPT_LOCK_TIMEOUT, OPT_SINCE, OPT_PRUNE_OLDER, OPT_LIMIT,
       OPT_MAX_DELETIONS, OPT_RESTART, OPT_CONNECT_TIMEOUT, OPT_KEEPALIVE_INTERVAL,
       OPT_KEEPALIVE_COUNT, OPT_ALL, OPT_CACHE_DIR, OPT_NODE, OPT_APPLY, OPT_THRESHOLD,
       OPT_PARALLELISM, OPT_CPU_INTERVAL, OPT_LISTEN, OPT_TOKEN_FILE, OPT_LOG_FORMAT,
       OPT_DEBOUNCE, OPT_OBSERVE_INTERVAL, OPT_NODE_GRACE, OPT_FENCE_TIMEOUT, OPT_GIT, OPT_REF,
       OPT_PATH, OPT_GIT_TOKEN_FILE, OPT_GIT_SSH_KEY, OPT_GIT_CACHE, OPT_WEBHOOK_SECRET_FILE,
       OPT_INTERVAL, OPT_VERIFY_COMMITS, OPT_HTML, OPT_ALERTMANAGER,
       OPT_NOTIFY_WEBHOOK_FILE, OPT_NOTIFY_SECRET_FILE };

static const struct option long_opts[] = {
    { "file", required_argument, NULL, 'f' },
    { "connect", required_argument, NULL, 'c' },
    { "output", required_argument, NULL, 'o' },
    { "state", required_argument, NULL, OPT_STATE },
    { "quiet", no_argument, NULL, 'q' },
    { "verbose", no_argument, NULL, 'v' },
    { "help", no_argument, NULL, 'h' },
    { "version", no_argument, NULL, 'V' },
    { "reference", no_argument, NULL, OPT_REFERENCE },
    { "yes", no_argument, NULL, OPT_YES },
    { "prune", no_argument, NULL, OPT_PRUNE },
    { "adopt", no_argument, NULL, OPT_ADOPT },
    { "detailed-exitcode", no_argument, NULL, OPT_DETAILED },
    { "shutdown-timeout", required_argument, NULL, OPT_SHUTDOWN_TIMEOUT },
    { "lock-timeout", required_argument, NULL, OPT_LOCK_TIMEOUT },
    { "since", required_argument, NULL, OPT_SINCE },
    { "prune-older-than", required_argument, NULL, OPT_PRUNE_OLDER },
    { "limit", required_argument, NULL, OPT_LIMIT },
    { "max-deletions", required_argument, NULL, OPT_MAX_DELETIONS },
    { "restart", no_argument, NULL, OPT_RESTART },
    { "all", no_argument, NULL, OPT_ALL },
    { "cache-dir", required_argument, NULL, OPT_CACHE_DIR },
    { "node", required_argument, NULL, OPT_NODE },
    { "apply", no_argument, NULL, OPT_APPLY },
    { "threshold", required_argument, NULL, OPT_THRESHOLD },
    { "cpu-interval", required_argument, NULL, OPT_CPU_INTERVAL },
    { "parallelism", required_argument, NULL, OPT_PARALLELISM },
    { "listen", required_argument, NULL, OPT_LISTEN },
    { "token-file", required_argument, NULL, OPT_TOKEN_FILE },
    { "log-format", required_argument, NULL, OPT_LOG_FORMAT },
    { "debounce", required_argument, NULL, OPT_DEBOUNCE },
    { "observe-interval", required_argument, NULL, OPT_OBSERVE_INTERVAL },
    { "node-grace", required_argument, NULL, OPT_NODE_GRACE },
    { "fence-timeout", required_argument, NULL, OPT_FENCE_TIMEOUT },
    { "git", required_argument, NULL, OPT_GIT },
    { "ref", required_argument, NULL, OPT_REF },
    { "path", required_argument, NULL, OPT_PATH },
    { "git-token-file", required_argument, NULL, OPT_GIT_TOKEN_FILE },
    { "git-ssh-key", required_argument, NULL, OPT_GIT_SSH_KEY },
    { "git-cache", required_argument, NULL, OPT_GIT_CACHE },
    { "webhook-secret-file", required_argument, NULL, OPT_WEBHOOK_SECRET_FILE },
    { "interval", required_argument, NULL, OPT_INTERVAL },
    { "verify-commits", required_argument, NULL, OPT_VERIFY_COMMITS },
    { "html", required_argument, NULL, OPT_HTML },
    { "alertmanager", required_argument, NULL, OPT_ALERTMANAGER },
    { "notify-webhook-file", required_argument, NULL, OPT_NOTIFY_WEBHOOK_FILE },
    { "notify-secret-file", required_argument, NULL, OPT_NOTIFY_SECRET_FILE },
    { "connect-timeout", required_argument, NULL, OPT_CONNECT_TIMEOUT },
    { "keepalive-interval", required_argument, NULL, OPT_KEEPALIVE_INTERVAL },
    { "keepalive-count", required_argument, NULL, OPT_KEEPALIVE_COUNT },
    { NULL, 0, NULL, 0 },
};

/* The flags only some commands take, and those commands. */
static const struct flag_cmds {
    int opt;
    const char *flag, *cmds;
} flag_cmds[] = {
    { OPT_YES, "--yes", " apply rebalance " },
    { OPT_HTML, "--html", " report " },
    { OPT_ALERTMANAGER, "--alertmanager", " run " },
    { OPT_NOTIFY_WEBHOOK_FILE, "--notify-webhook-file", " run " },
    { OPT_NOTIFY_SECRET_FILE, "--notify-secret-file", " run " },
    { OPT_PRUNE, "--prune", " apply plan " },
    { OPT_ADOPT, "--adopt", " apply plan " },
    { OPT_DETAILED, "--detailed-exitcode", " plan " },
    { OPT_SHUTDOWN_TIMEOUT, "--shutdown-timeout", " apply run " },
    { OPT_LOCK_TIMEOUT, "--lock-timeout", " apply rebalance run " },
    { OPT_SINCE, "--since", " history events " },
    { OPT_PRUNE_OLDER, "--prune-older-than", " history " },
    { OPT_LIMIT, "--limit", " history events " },
    { OPT_MAX_DELETIONS, "--max-deletions", " apply plan " },
    { OPT_RESTART, "--restart", " apply plan " },
    { OPT_ALL, "--all", " import " },
    { OPT_CACHE_DIR, "--cache-dir", " pull apply run " },
    { OPT_APPLY, "--apply", " rebalance " },
    { OPT_THRESHOLD, "--threshold", " rebalance " },
    { OPT_CPU_INTERVAL, "--cpu-interval", " rebalance " },
    { OPT_PARALLELISM, "--parallelism", " apply rebalance run " },
    { OPT_LISTEN, "--listen", " run " },
    { OPT_TOKEN_FILE, "--token-file", " run " },
    { OPT_LOG_FORMAT, "--log-format", " run " },
    { OPT_DEBOUNCE, "--debounce", " run " },
    { OPT_OBSERVE_INTERVAL, "--observe-interval", " run " },
    { OPT_NODE_GRACE, "--node-grace", " run " },
    { OPT_FENCE_TIMEOUT, "--fence-timeout", " run " },
    { OPT_GIT, "--git", " run " },
    { OPT_REF, "--ref", " run " },
    { OPT_PATH, "--path", " run " },
    { OPT_GIT_TOKEN_FILE, "--git-token-file", " run " },
    { OPT_GIT_SSH_KEY, "--git-ssh-key", " run " },
    { OPT_GIT_CACHE, "--git-cache", " run " },
    { OPT_WEBHOOK_SECRET_FILE, "--webhook-secret-file", " run " },
    { OPT_INTERVAL, "--interval", " run " },
    { OPT_VERIFY_COMMITS, "--verify-commits", " run " },
};

/* Flag c's entry, or NULL for a flag every command takes. With *refused
 * (not NULL): set when cmd is not one of its commands (said). */
static const struct flag_cmds *flag_commands(int c, const struct command *cmd, bool *refused)
{
    for (size_t i = 0; i < sizeof(flag_cmds) / sizeof(flag_cmds[0]); i++) {
        if (flag_cmds[i].opt != c)
            continue;
        char word[32];
        snprintf(word, sizeof(word), " %s ", cmd ? cmd->name : "");
        if (refused && (*refused = !cmd || !strstr(flag_cmds[i].cmds, word)))
            cli_error("%s is a flag of:%s", flag_cmds[i].flag, flag_cmds[i].cmds);
        return &flag_cmds[i];
    }
    return NULL;
}

/* Parse flags of argv (getopt's optind is left after them). Returns 0, 1
 * for "help was asked", 2 for "version", -1 for bad usage. */
static int parse_flags(struct cli *o, int argc, char **argv, bool stop_at_command,
                       const struct command *cmd)
{
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, stop_at_command ? "+:f:c:o:qvhV" : ":f:c:o:qvhV",
                            long_opts, NULL)) != -1) {
        bool refused = false;
        flag_commands(c, cmd, &refused);
        if (refused)
            return -1;
        switch (c) {
        case 'f':
            *(const char **)vec_append(NULL, o->files, o->nfiles, o->files_cap, 1) = optarg;
            break;
        case 'c':
            o->connect = optarg;
            break;
        case OPT_NODE:
            o->node = optarg;
            break;
        case 'o':
            o->output = optarg;
            o->format_unknown = false;
            if (strcmp(optarg, "table") == 0)
                o->format = CLI_TABLE;
            else if (strcmp(optarg, "wide") == 0)
                o->format = CLI_WIDE;
            else if (strcmp(optarg, "json") == 0)
                o->format = CLI_JSON;
            else if (strcmp(optarg, "yaml") == 0)
                o->format = CLI_YAML;
            else if (strcmp(optarg, "junit") == 0)
                o->format = CLI_JUNIT;
            else
                o->format_unknown = true;    /* a file for metrics; said in run() otherwise */
            break;
        case OPT_STATE:
            o->state = optarg;
            break;
        case 'q':
            o->quiet = true;
            break;
        case 'v':
            o->verbose = true;
            break;
        case 'h':
            return 1;
        case 'V':
            return 2;
        case OPT_CONNECT_TIMEOUT:
        case OPT_KEEPALIVE_INTERVAL: {
            long long ms;
            if (text_duration(optarg, &ms) < 0 || ms > 86400000LL ||
                (c == OPT_KEEPALIVE_INTERVAL && ms % 1000)) {
                cli_error("%s takes a duration like 30s or 5m%s, not '%s'",
                        c == OPT_CONNECT_TIMEOUT ? "--connect-timeout" : "--keepalive-interval",
                        c == OPT_KEEPALIVE_INTERVAL ? " (whole seconds)" : "", optarg);
                return -1;
            }
            if (c == OPT_CONNECT_TIMEOUT)
                o->virt.connect_timeout_ms = (int)ms;
            else
                o->virt.keepalive_interval = (int)(ms / 1000);
            break;
        }
        case OPT_KEEPALIVE_COUNT: {
            char *end;
            errno = 0;
            long n = strtol(optarg, &end, 10);
            if (errno || *end || end == optarg || n < 1 || n > 100) {
                cli_error("--keepalive-count takes a number from 1 to 100, not '%s'", optarg);
                return -1;
            }
            o->virt.keepalive_count = (unsigned)n;
            break;
        }
        case OPT_REFERENCE:
            if (!cmd || strcmp(cmd->name, "explain") != 0) {
                cli_error("--reference is a flag of 'explain'");
                return -1;
            }
            o->reference = true;
            break;
        case OPT_APPLY:
            o->apply = true;
            break;
        case OPT_THRESHOLD: {
            char *end;
            errno = 0;
            long pct = strtol(optarg, &end, 10);
            if (end > optarg && *end == '%')
                end++;
            if (errno || *end || end == optarg || pct < 1 || pct > 100) {
                cli_error("--threshold takes a percentage from 1 to 100, not '%s'", optarg);
                return -1;
            }
            o->threshold = (int)pct;
            break;
        }
        case OPT_CPU_INTERVAL: {
            long long ms;
            if (text_duration(optarg, &ms) < 0 || ms > 600000LL) {
                cli_error("--cpu-interval takes a duration like 1s or 500ms (at most 10m; 0: "
                          "allocation only), not '%s'", optarg);
                return -1;
            }
            o->cpu_interval_ms = (int)ms;
            break;
        }
        case OPT_PARALLELISM: {
            char *end;
            errno = 0;
            long n = strtol(optarg, &end, 10);
            if (errno || *end || end == optarg || n < 1 || n > 256) {
                cli_error("--parallelism takes a number from 1 to 256, not '%s'", optarg);
                return -1;
            }
            o->parallelism = (int)n;
            break;
        }
        case OPT_LISTEN:
            o->listen = optarg;
            break;
        case OPT_GIT:
            o->git_url = optarg;
            break;
        case OPT_REF:
            o->git_ref = optarg;
            break;
        case OPT_PATH:
            o->git_path = optarg;
            break;
        case OPT_GIT_TOKEN_FILE:
            o->git_token_file = optarg;
            break;
        case OPT_GIT_SSH_KEY:
            o->git_ssh_key = optarg;
            break;
        case OPT_GIT_CACHE:
            o->git_cache = optarg;
            break;
        case OPT_WEBHOOK_SECRET_FILE:
            o->webhook_secret_file = optarg;
            break;
        case OPT_ALERTMANAGER:
            if (strncmp(optarg, "http://", 7) != 0 && strncmp(optarg, "https://", 8) != 0) {
                cli_error("--alertmanager takes an http:// or https:// URL, not '%s'", optarg);
                return -1;
            }
            o->alertmanager = optarg;
            break;
        case OPT_NOTIFY_WEBHOOK_FILE:
            o->notify_webhook_file = optarg;
            break;
        case OPT_NOTIFY_SECRET_FILE:
            o->notify_secret_file = optarg;
            break;
        case OPT_VERIFY_COMMITS:
            o->verify_keyring = optarg;
            break;
        case OPT_INTERVAL: {
            long long ms;
            if (text_duration(optarg, &ms) < 0 || ms < 1000 || ms > 86400000LL) {
                cli_error("--interval takes a duration like 1m or 30s (at least 1s), not '%s'",
                          optarg);
                return -1;
            }
            o->interval_ms = ms;
            break;
        }
        case OPT_TOKEN_FILE:
            o->token_file = optarg;
            break;
        case OPT_HTML:
            o->html = optarg;
            break;
        case OPT_LOG_FORMAT:
            if (strcmp(optarg, "json") != 0 && strcmp(optarg, "plain") != 0) {
                cli_error("--log-format takes plain or json, not '%s'", optarg);
                return -1;
            }
            o->log_json = strcmp(optarg, "json") == 0;
            break;
        case OPT_DEBOUNCE:
        case OPT_OBSERVE_INTERVAL: {
            long long ms;
            bool deb = c == OPT_DEBOUNCE;
            if (text_duration(optarg, &ms) < 0 || ms > 86400000LL || (!deb && ms < 1000)) {
                cli_error("%s takes a duration like %s, not '%s'", deb ? "--debounce" :
                          "--observe-interval", deb ? "500ms or 2s" : "30s or 5m (at least 1s)",
                          optarg);
                return -1;
            }
            if (deb)
                o->debounce_ms = ms;
            else
                o->observe_interval_ms = ms;
            break;
        }
        case OPT_NODE_GRACE:
        case OPT_FENCE_TIMEOUT: {
            long long ms;
            bool grace = c == OPT_NODE_GRACE;
            if (text_duration(optarg, &ms) < 0 || ms > 3600000LL || (!grace && ms < 1000)) {
                cli_error("%s takes a duration like %s, not '%s'", grace ? "--node-grace" :
                          "--fence-timeout", grace ? "10s or 500ms" : "60s (at least 1s)",
                          optarg);
                return -1;
            }
            if (grace)
                o->node_grace_ms = ms;
            else
                o->fence_timeout_ms = ms;
            break;
        }
        case OPT_YES:
        case OPT_PRUNE:
        case OPT_ADOPT:
        case OPT_DETAILED:
        case OPT_SHUTDOWN_TIMEOUT:
        case OPT_LOCK_TIMEOUT:
        case OPT_SINCE:
        case OPT_PRUNE_OLDER:
        case OPT_MAX_DELETIONS:
        case OPT_RESTART:
        case OPT_ALL:
        case OPT_CACHE_DIR:
        case OPT_LIMIT: {
            const char *flag = flag_commands(c, NULL, NULL)->flag;
            if (c == OPT_YES)
                o->yes = true;
            else if (c == OPT_PRUNE)
                o->prune = true;
            else if (c == OPT_ADOPT)
                o->adopt = true;
            else if (c == OPT_DETAILED)
                o->detailed_exitcode = true;
            else if (c == OPT_RESTART)
                o->restart = true;
            else if (c == OPT_ALL)
                o->all = true;
            else if (c == OPT_CACHE_DIR)
                o->cache_dir = optarg;
            else if (c == OPT_LOCK_TIMEOUT || c == OPT_SINCE || c == OPT_PRUNE_OLDER) {
                long long ms;
                if (text_duration(optarg, &ms) < 0 ||
                    (c == OPT_LOCK_TIMEOUT && ms > 86400000LL)) {
                    cli_error("%s takes a duration like 30s, 5m, 1h or 30d, not '%s'", flag,
                              optarg);
                    return -1;
                }
                if (c == OPT_LOCK_TIMEOUT)
                    o->lock_timeout_ms = (int)ms;
                else if (c == OPT_SINCE)
                    o->since_ms = ms;
                else
                    o->prune_older_ms = ms;
            } else if (c == OPT_LIMIT || c == OPT_MAX_DELETIONS) {
                char *end;
                errno = 0;
                long n = strtol(optarg, &end, 10);
                if (errno || *end || end == optarg || n < 0) {
                    cli_error("%s takes a number%s, not '%s'",
                            c == OPT_LIMIT ? "--limit" : "--max-deletions",
                            c == OPT_LIMIT ? " (0 for all)" : "", optarg);
                    return -1;
                }
                if (c == OPT_LIMIT)
                    o->limit = n;
                else
                    o->max_deletions = n;
            } else {
                char *end;
                errno = 0;
                long t = strtol(optarg, &end, 10);
                if (errno || *end || end == optarg || t < 0 || t > 86400) {
                    cli_error("--shutdown-timeout takes seconds (0-86400), not '%s'",
                            optarg);
                    return -1;
                }
                o->shutdown_timeout = (int)t;
            }
            break;
        }
        case ':':
            cli_error("flag '%s' needs a value", argv[optind - 1]);
            return -1;
        default:
            if (optopt)
                cli_error("unknown flag '-%c'", optopt);
            else
                cli_error("unknown flag '%s'", argv[optind - 1]);
            return -1;
        }
    }
    return 0;
}

/* The session's messages, through the one error and warning path. */
static void say(void *payload, enum session_level level, const char *msg)
{
    const struct cli *c = payload;
    if (level == SESSION_ERROR)
        cli_error("%s", msg);
    else if (level == SESSION_WARNING)
        cli_warning("%s", msg);
    else if (level == SESSION_VERBOSE)
        fprintf(stderr, "qkvm: %s\n", msg);      /* asked for with -v: -q does not hide it */
    else
        cli_info(c, "%s", msg);
}

static void findings(void *payload, const struct diag *d)
{
    cli_findings(payload, d);
}

/* Check the arguments, set up what the command needs, run it. */
static int run(struct cli *c, const struct command *cmd, int argc, char **argv)
{
    /* `qkvm metrics -o FILE`: -o is its file (it prints one format) */
    if (strcmp(cmd->name, "metrics") == 0) {
        c->format = CLI_TABLE;
        c->format_unknown = false;
    } else if (c->format_unknown) {
        return cli_error("unknown output format '%s' (table, wide, json, yaml or junit)",
                         c->output);
    }
    /* -o wide only where a table has more to show */
    static const char *const wide[] = { "get", "history", "events" };
    bool has_wide = false;
    for (size_t i = 0; i < sizeof(wide) / sizeof(wide[0]); i++)
        has_wide |= strcmp(cmd->name, wide[i]) == 0;
    if (c->format == CLI_WIDE && !has_wide)
        return cli_error("-o wide is for get, history and events; %s prints table, json or yaml",
                         cmd->name);
    /* -o junit before anything runs (an apply is not undone by a refusal to print) */
    if (c->format == CLI_JUNIT && strcmp(cmd->name, "plan") != 0 && strcmp(cmd->name, "drift") != 0)
        return cli_error("-o junit is for plan and drift; %s prints table, json or yaml",
                         cmd->name);
    if (argc < cmd->min_args || argc > cmd->max_args) {
        if (cmd->need & SESSION_MANIFESTS)
            return cli_error("%s takes no arguments (use -f PATH)", cmd->name);
        for (size_t i = 0; i < sizeof(arg_usage) / sizeof(arg_usage[0]); i++)
            if (strcmp(arg_usage[i].name, cmd->name) == 0)
                return cli_error("%s", arg_usage[i].usage);
        return cli_error("%s takes no arguments", cmd->name);
    }
    if (check_args(c, cmd, argc, argv) < 0)
        return CLI_EXIT_ERROR;
    if (c->format == CLI_WIDE && strcmp(cmd->name, "history") == 0 && argc == 1)
        return cli_error("-o wide is for the list of runs; one run prints table, json or yaml");
    if (!cmd->need)
        return cmd->run(c, NULL, argc, argv);
    struct session_opts so = {
        .cmd = cmd->name,
        .files = c->files,
        .nfiles = c->nfiles,
        .connect = c->connect,
        .node = c->node,
        .state = c->state,
        .need = cmd->need,
        .plan = { .prune = c->prune, .adopt = c->adopt, .max_deletions = c->max_deletions,
                  .restart = c->restart },
        .rebalance = strcmp(cmd->name, "rebalance") == 0 ? (c->threshold ? c->threshold : 80) : 0,
        .cpu_interval_ms = c->cpu_interval_ms < 0 ? 1000 : c->cpu_interval_ms,
        .lock_timeout_ms = c->lock_timeout_ms,
        .virt = c->virt,
        .verbose = c->verbose,
        .say = say,
        .findings = findings,
        .payload = c,
    };
    struct session s;
    enum session_status st = session_open(&s, &so);
    int rc;
    if (st == SESSION_OK || (st == SESSION_INVALID && (cmd->need & SESSION_INVALID_OK)))
        rc = cmd->run(c, &s, argc, argv);
    else
        rc = st == SESSION_INVALID ? CLI_EXIT_INVALID : CLI_EXIT_ERROR;
    session_close(&s);
    return rc;
}

int main(int argc, char **argv)
{
    /* libvirt's clients must ignore SIGPIPE: a write to a daemon that died
     * would kill qkvm mid-apply, without a message or a record of the run.
     * Writes to a closed stdout then fail with EPIPE (see cli_output_end). */
    signal(SIGPIPE, SIG_IGN);
    struct cli o = { 0 };
    o.shutdown_timeout = -1;
    o.cpu_interval_ms = -1;
    o.lock_timeout_ms = 30000;
    o.since_ms = o.prune_older_ms = -1;
    o.limit = -1;
    o.max_deletions = -1;
    o.debounce_ms = o.observe_interval_ms = o.interval_ms = o.node_grace_ms = -1;
    o.virt = (struct virt_limits){ 30000, 5, 3 };
    const char *nc = getenv("NO_COLOR");
    const char *term = getenv("TERM");
    o.color = isatty(STDERR_FILENO) && !(nc && *nc) && !(term && strcmp(term, "dumb") == 0);

    int r = parse_flags(&o, argc, argv, true, NULL);
    int rc = CLI_EXIT_OK;
    const struct command *cmd = NULL;
    if (r == 1 || (r == 0 && optind >= argc)) {
        usage(r == 1 ? stdout : stderr);
        rc = r == 1 ? CLI_EXIT_OK : CLI_EXIT_ERROR;
        goto done;
    }
    if (r == 2) {
        rc = cmd_version(&o, NULL, 0, NULL);
        goto done;
    }
    if (r < 0) {
        fputc('\n', stderr);
        usage(stderr);
        rc = CLI_EXIT_ERROR;
        goto done;
    }
    const char *name = argv[optind];
    for (const struct command *c = commands; c->name; c++)
        if (strcmp(c->name, name) == 0)
            cmd = c;
    if (!cmd && strcmp(name, "help") == 0) {
        const struct command *about = NULL;
        for (const struct command *c = commands; optind + 1 < argc && c->name; c++)
            if (strcmp(c->name, argv[optind + 1]) == 0)
                about = c;
        if (about)
            command_usage(stdout, about);
        else
            usage(stdout);
        goto done;
    }
    if (!cmd) {
        cli_error("unknown command '%s'", name);
        fputc('\n', stderr);
        usage(stderr);
        rc = CLI_EXIT_ERROR;
        goto done;
    }
    /* The command's own argv: flags anywhere, then its arguments. */
    int cargc = argc - optind;
    char **cargv = argv + optind;
    optind = 0;   /* 0, not 1: GNU getopt re-reads the ordering ("+" above) */
    r = parse_flags(&o, cargc, cargv, false, cmd);
    if (r == 1) {
        command_usage(stdout, cmd);
    } else if (r == 2) {
        rc = cmd_version(&o, NULL, 0, NULL);
    } else if (r < 0) {
        fputc('\n', stderr);
        command_usage(stderr, cmd);
        rc = CLI_EXIT_ERROR;
    } else {
        rc = run(&o, cmd, cargc - optind, cargv + optind);
    }
done:
    free(o.files);
    return cli_output_end(rc);
}
