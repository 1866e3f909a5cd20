/* dashboard.c — see dashboard.h. The tree first (dashboard_tree), then
 * its page (dashboard_html), which reads nothing but that tree.
 *
 * The page is built as a libxml2 HTML document and serialised by libxml2:
 * text and attribute values are escaped there, after xmlout_valid made
 * them valid UTF-8. Its script and style are constant strings of this
 * file; the data is only ever in the document's text. Times are written
 * in UTC so that the page reads the same wherever it is opened.
 */
#include "dashboard.h"

#include "arena.h"
#include "cli.h"
#include "store.h"
#include "tree.h"
#include "xmlout.h"

#include <libxml/HTMLtree.h>

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RUNS_SHOWN 50
#define EVENTS_SHOWN 300

/* ---- the tree ---- */

static const char *const failover_reasons[] = {
    "NodeFenced", "FenceFailed", "FailedOver", "FailoverFailed", "ConfirmedDown",
    "NodeRecovered", "StaleCopyRemoved", NULL,
};

static bool is_failover(const char *reason)
{
    for (const char *const *r = failover_reasons; *r; r++)
        if (strcmp(*r, reason) == 0)
            return true;
    return false;
}

const char *dashboard_advice(const char *category)
{
    if (strcmp(category, "orphan") == 0)
        return "Nobody declared it and qkvm did not create it; qkvm never deletes it. "
               "Declare it and run 'qkvm import KIND NAME' to manage it, or remove it by hand.";
    if (strcmp(category, "orphan-file") == 0)
        return "A file in a managed pool's directory that libvirt does not know. "
               "Remove it by hand, or declare a Disk for it.";
    if (strcmp(category, "stale") == 0)
        return "qkvm created it and it is no longer declared. 'qkvm apply --prune' deletes it "
               "(within the Project's maxDeletions); declare it again to keep it.";
    if (strcmp(category, "stray-process") == 0)
        return "A qemu process no domain accounts for. Find it by its PID and end it by hand.";
    return NULL;
}

static void count(struct arena *a, struct tree *m, const char *key)
{
    for (size_t i = 0; i < m->len; i++)
        if (strcmp(m->u.pairs[i].key->u.str, key) == 0) {
            m->u.pairs[i].value = tree_new_int(a, tree_int(m, key, 0) + 1);
            return;
        }
    tree_map_int(a, m, key, 1);
}

/* The node a row or finding belongs to: its own, or the only node's (of
 * a fleet: not a Policy, the Project or a VM no node can take). */
static const char *node_of(const struct tree *x, const char *only, bool fleet)
{
    const char *n = tree_str(x, "node", NULL), *kind = tree_str(x, "kind", "");
    if (n || !only)
        return n;
    if (fleet && (strcmp(kind, "Policy") == 0 || strcmp(kind, "Project") == 0 ||
                  strcmp(tree_str(x, "sync", ""), "Unschedulable") == 0))
        return NULL;
    return only;
}

/* Not in sync: what needs someone (not another project's, not what an
 * apply has just deleted). */
static bool not_in_sync(const char *sync)
{
    return strcmp(sync, "Synced") != 0 && strcmp(sync, "Foreign") != 0 &&
           strcmp(sync, "Deleted") != 0;
}

struct tree *dashboard_tree(struct arena *a, const struct dashboard_in *in, struct store *st,
                            int64_t now_ms)
{
    struct tree *t = tree_new_map(a), *errors = tree_new_seq(a);
    struct tree *empty = tree_new_seq(a);
    const struct tree *nodes_in = in->nodes ? in->nodes : empty;
    const struct tree *findings = in->findings ? in->findings : empty;
    const struct tree *objects = in->objects ? in->objects : empty;
    const struct tree *foreign = in->foreign ? in->foreign : empty;
    tree_map_str(a, t, "apiVersion", "qkvm.dev/v1");
    tree_map_str(a, t, "kind", "Report");
    tree_map_int(a, t, "generated", now_ms / 1000);
    tree_map_bool(a, t, "live", in->live);
    tree_map_bool(a, t, "fleet", in->fleet);
    tree_map_int(a, t, "generation", in->generation);
    tree_map_str(a, t, "project", in->project ? in->project : "");
    tree_map_str(a, t, "source", in->source ? in->source : "");
    tree_map_str(a, t, "commit", in->commit ? in->commit : "");
    tree_map_str(a, t, "lastSync", in->last_sync ? in->last_sync : "");
    tree_map_str(a, t, "syncedCommit", in->synced_commit ? in->synced_commit : "");

    /* the summary: objects by sync state (the six the page always shows,
     * then any other), findings by category, nodes by state */
    struct tree *sum = tree_new_map(a), *by_sync = tree_new_map(a);
    static const char *const shown[] = { "Synced", "OutOfSync", "Missing", "Stale", "Orphan",
                                         "Foreign" };
    for (size_t i = 0; i < sizeof(shown) / sizeof(shown[0]); i++)
        tree_map_int(a, by_sync, shown[i], 0);
    for (size_t i = 0; i < objects->len; i++)
        count(a, by_sync, tree_str(objects->u.items[i], "sync", "Unknown"));
    struct tree *by_cat = tree_new_map(a), *by_state = tree_new_map(a);
    for (size_t i = 0; i < findings->len; i++)
        count(a, by_cat, tree_str(findings->u.items[i], "category", ""));
    for (size_t i = 0; i < nodes_in->len; i++)
        count(a, by_state, tree_str(nodes_in->u.items[i], "state", "unknown"));
    tree_map_add(a, sum, "objects", by_sync);
    tree_map_int(a, sum, "findings", (long long)findings->len);
    tree_map_add(a, sum, "categories", by_cat);
    tree_map_add(a, sum, "nodes", by_state);
    tree_map_int(a, sum, "foreign", (long long)foreign->len);
    tree_map_add(a, t, "summary", sum);

    /* the nodes, with their counts: with one node, what names none is its */
    const char *only = nodes_in->len == 1 ? tree_str(nodes_in->u.items[0], "name", NULL) : NULL;
    struct tree *nodes = tree_new_seq(a);
    for (size_t i = 0; i < nodes_in->len; i++) {
        const struct tree *n = nodes_in->u.items[i];
        const char *name = tree_str(n, "name", "");
        struct tree *c = tree_copy(a, n);
        long long no = 0, nd = 0, nf = 0;
        for (size_t k = 0; k < objects->len; k++) {
            const char *on = node_of(objects->u.items[k], only, in->fleet);
            if (on && strcmp(on, name) == 0) {
                no++;
                if (not_in_sync(tree_str(objects->u.items[k], "sync", "")))
                    nd++;
            }
        }
        for (size_t k = 0; k < findings->len; k++) {
            const char *fn = node_of(findings->u.items[k], only, in->fleet);
            if (fn && strcmp(fn, name) == 0)
                nf++;
        }
        tree_map_int(a, c, "objects", no);
        tree_map_int(a, c, "notInSync", nd);
        tree_map_int(a, c, "findings", nf);
        tree_seq_add(a, nodes, c);
    }
    tree_map_add(a, t, "nodes", nodes);
    tree_map_add(a, t, "objects", tree_copy(a, objects));
    struct tree *fl = tree_new_seq(a);
    for (size_t i = 0; i < findings->len; i++) {
        struct tree *f = tree_copy(a, findings->u.items[i]);
        const char *adv = dashboard_advice(tree_str(f, "category", ""));
        if (!tree_get(f, "node") && only)
            tree_map_str(a, f, "node", only);
        if (adv)
            tree_map_str(a, f, "advice", adv);
        tree_seq_add(a, fl, f);
    }
    tree_map_add(a, t, "findings", fl);
    tree_map_add(a, t, "foreign", tree_copy(a, foreign));

    /* what the state database keeps: recent runs, failovers and fences,
     * the timeline */
    struct tree *runs = tree_new_seq(a), *fo = tree_new_seq(a), *evs = tree_new_seq(a);
    char err[1024];
    struct store_run *r = NULL;
    struct store_event *ev = NULL;
    size_t nr = 0, ne = 0;
    if (st && store_runs(st, a, RUNS_SHOWN, 0, &r, &nr, err, sizeof(err)) < 0)
        tree_seq_add(a, errors, tree_new_str(a, err));
    for (size_t i = 0; i < nr; i++)
        tree_seq_add(a, runs, cli_run_tree(a, &r[i], NULL));
    if (st && store_events(st, a, 0, NULL, NULL, EVENTS_SHOWN, &ev, &ne, err, sizeof(err)) < 0)
        tree_seq_add(a, errors, tree_new_str(a, err));
    for (size_t i = ne; i-- > 0;) {                  /* newest first */
        struct tree *e = cli_event_tree(a, &ev[i]);
        tree_seq_add(a, evs, e);
        if (is_failover(ev[i].reason))
            tree_seq_add(a, fo, e);
    }
    tree_map_add(a, t, "runs", runs);
    tree_map_add(a, t, "failovers", fo);
    tree_map_add(a, t, "events", evs);
    tree_map_add(a, t, "errors", errors);
    return t;
}

/* ---- the page ---- */

static const char style[] =
    ":root{color-scheme:light dark;--bad:#c62828;--warn:#b26a00;--ok:#2e7d32;--mute:#777}"
    "body{font:14px/1.4 system-ui,sans-serif;margin:0 1.5em 3em}"
    "header{border-bottom:1px solid #8884;margin-bottom:1em}"
    "h1{font-size:1.4em;margin:.6em 0 .2em}h2{font-size:1.15em;margin:1.6em 0 .4em}"
    ".meta{color:var(--mute);margin:.2em 0 .8em}"
    ".cards{display:flex;flex-wrap:wrap;gap:.6em;margin:0;padding:0}"
    ".cards div{border:1px solid #8886;border-radius:6px;padding:.4em .8em;min-width:7em}"
    ".cards dt{color:var(--mute);font-size:.85em}.cards dd{margin:0;font-size:1.5em}"
    ".cards .bad dd{color:var(--bad)}.cards .ok dd{color:var(--ok)}"
    "table{border-collapse:collapse;margin:.3em 0 1em;width:100%}"
    "th,td{border-bottom:1px solid #8884;padding:.2em .5em;text-align:left;vertical-align:top}"
    "th{background:#8882;position:sticky;top:0}"
    "th[data-sort]{cursor:pointer;user-select:none}"
    "th[aria-sort=ascending]::after{content:' \\25B2'}"
    "th[aria-sort=descending]::after{content:' \\25BC'}"
    "td.num{text-align:right;font-variant-numeric:tabular-nums}"
    "del{color:var(--bad);text-decoration:none}ins{color:var(--ok);text-decoration:none}"
    ".s-Synced,.s-ready,.s-ok{color:var(--ok)}"
    ".s-OutOfSync,.s-Missing,.s-drift,.s-changes,.s-Stale,.s-Orphan,.s-Conflict,.s-Blocked,"
    ".s-Failed,.s-Unschedulable,.s-failed,.s-error,.s-unreachable,.s-fenced,.s-Warning,"
    ".s-interrupted{color:var(--bad)}"
    ".label{display:inline-block;border:1px solid #8886;border-radius:3px;padding:0 .3em;"
    "margin:0 .2em .1em 0;font-size:.85em}"
    "#filterbar{position:sticky;top:0;background:Canvas;padding:.4em 0;z-index:1}"
    "#filterbar input{width:24em;max-width:90%}"
    "details summary{cursor:pointer;font-weight:600;margin:.4em 0}"
    ".none{color:var(--mute)}.stale-banner{color:var(--bad)}"
    "tr.hidden{display:none}"
    "section,details.group{content-visibility:auto;contain-intrinsic-size:auto 40em}";

/* Sorting (a click on a header), filtering (the box, or #filter=TEXT in
 * the address) and, served live, the refresh: /api/v1/status is polled
 * and when it changed, / is fetched and its <main> replaces this one.
 * No data is in this text: it reads the document. */
static const char script[] =
    "(function(){'use strict';\n"
    "var box=document.getElementById('filter'),bar=document.getElementById('filterbar');\n"
    "function cellText(tr,i){var c=tr.cells[i];return c?c.textContent.trim():'';}\n"
    "function sortBy(th){var table=th.closest('table'),tb=table.tBodies[0];if(!tb)return;\n"
    " var i=th.cellIndex,asc=th.getAttribute('aria-sort')!=='ascending';\n"
    " Array.prototype.forEach.call(th.parentNode.cells,function(h){h.removeAttribute('aria-sort');});\n"
    " th.setAttribute('aria-sort',asc?'ascending':'descending');\n"
    " var rows=Array.prototype.slice.call(tb.rows);\n"
    " rows.sort(function(a,b){var x=cellText(a,i),y=cellText(b,i),nx=parseFloat(x),ny=parseFloat(y);\n"
    "  var r=(!isNaN(nx)&&!isNaN(ny)&&String(nx)===x&&String(ny)===y)?nx-ny:x.localeCompare(y,undefined,{numeric:true});\n"
    "  return asc?r:-r;});\n"
    " rows.forEach(function(r){tb.appendChild(r);});}\n"
    "function hook(){Array.prototype.forEach.call(document.querySelectorAll('th[data-sort]'),function(th){\n"
    " th.tabIndex=0;th.addEventListener('click',function(){sortBy(th);});\n"
    " th.addEventListener('keydown',function(e){if(e.key==='Enter')sortBy(th);});});}\n"
    "function filter(){var q=box.value.trim().toLowerCase(),shown=0,all=0;\n"
    " Array.prototype.forEach.call(document.querySelectorAll('table.filterable tbody tr'),function(tr){\n"
    "  all++;var hit=!q||tr.textContent.toLowerCase().indexOf(q)>=0;tr.classList.toggle('hidden',!hit);if(hit)shown++;});\n"
    " Array.prototype.forEach.call(document.querySelectorAll('details.group'),function(d){\n"
    "  d.hidden=!!q&&!d.querySelector('tbody tr:not(.hidden)');});\n"
    " document.getElementById('filtercount').textContent=q?shown+' of '+all+' rows match':'';\n"
    " var h=q?'#filter='+encodeURIComponent(box.value):'';\n"
    " if(location.hash!==h)history.replaceState(null,'',h||location.pathname+location.search);}\n"
    "bar.hidden=false;\n"
    "var m=/^#filter=(.*)$/.exec(location.hash);if(m){try{box.value=decodeURIComponent(m[1]);}catch(e){box.value=m[1];}}\n"
    "box.addEventListener('input',filter);hook();if(box.value)filter();\n"
    "if(document.body.getAttribute('data-live')!=='true'||location.protocol==='file:')return;\n"
    "var shown=document.body.getAttribute('data-generation');\n"
    "function say(t,bad){var n=document.getElementById('live');if(n){n.textContent=t;n.className=bad?'stale-banner':'';}}\n"
    "function swap(d,sel){var a=d.querySelector(sel),b=document.querySelector(sel);if(a&&b)b.replaceWith(document.importNode(a,true));}\n"
    "function refresh(){fetch('api/v1/status',{cache:'no-store'}).then(function(r){\n"
    "  if(!r.ok)throw new Error('HTTP '+r.status);return r.json();}).then(function(s){\n"
    "  if(String(s.generation)===shown){say('live',false);return;}\n"
    "  return fetch(location.pathname+location.search,{cache:'no-store'}).then(function(r){\n"
    "   if(!r.ok)throw new Error('HTTP '+r.status);return r.text();}).then(function(html){\n"
    "   var d=new DOMParser().parseFromString(html,'text/html');\n"
    "   swap(d,'header');swap(d,'main');hook();filter();\n"
    "   shown=d.body.getAttribute('data-generation');\n"
    "   say('live: updated '+new Date().toISOString().replace('T',' ').slice(0,19)+' UTC',false);});})\n"
    " .catch(function(e){say('the controller cannot be reached ('+e.message+'): this page may be out of date',true);});}\n"
    "refresh();setInterval(refresh,5000);\n"
    "})();\n";

struct page {
    htmlDocPtr doc;
    struct arena *a;               /* the page's scratch strings */
    char *buf;                     /* xmlout_valid's */
    size_t cap;
};

static const xmlChar *valid(struct page *p, const char *s)
{
    return BAD_CAST xmlout_valid(s ? s : "", &p->buf, &p->cap);
}

static xmlNodePtr el(struct page *p, xmlNodePtr parent, const char *name, const char *text)
{
    xmlNodePtr n = xmlNewDocNode(p->doc, NULL, BAD_CAST name, NULL);
    if (!n)
        abort();
    if (text) {
        xmlNodePtr tn = xmlNewDocText(p->doc, valid(p, text));
        if (!tn)
            abort();
        xmlAddChild(n, tn);
    }
    if (parent)
        xmlAddChild(parent, n);
    return n;
}

static void attr(struct page *p, xmlNodePtr n, const char *name, const char *value)
{
    xmlSetProp(n, BAD_CAST name, valid(p, value));
}

static xmlNodePtr elc(struct page *p, xmlNodePtr parent, const char *name, const char *cls,
                      const char *text)
{
    xmlNodePtr n = el(p, parent, name, text);
    if (cls)
        attr(p, n, "class", cls);
    return n;
}

static void utc(char *buf, size_t size, long long seconds)
{
    if (seconds <= 0) {
        snprintf(buf, size, "-");
        return;
    }
    time_t t = (time_t)seconds;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, size, "%Y-%m-%d %H:%M:%S", &tm);
}

/* A table with its header; returns the tbody. filterable: the filter box
 * reaches its rows. */
static xmlNodePtr table(struct page *p, xmlNodePtr parent, const char *const *cols, size_t n,
                        bool filterable)
{
    xmlNodePtr t = elc(p, parent, "table", filterable ? "filterable" : NULL, NULL);
    xmlNodePtr tr = el(p, el(p, t, "thead", NULL), "tr", NULL);
    for (size_t i = 0; i < n; i++)
        attr(p, el(p, tr, "th", cols[i]), "data-sort", "");
    return el(p, t, "tbody", NULL);
}

static void td(struct page *p, xmlNodePtr tr, const char *text)
{
    el(p, tr, "td", text && *text ? text : "-");
}

static void td_state(struct page *p, xmlNodePtr tr, const char *text)
{
    char cls[64];
    snprintf(cls, sizeof(cls), "s-%s", text && *text ? text : "none");
    for (char *c = cls; *c; c++)
        if (*c == ' ')
            *c = '-';
    elc(p, tr, "td", cls, text && *text ? text : "-");
}

static void td_num(struct page *p, xmlNodePtr tr, long long v)
{
    char b[32];
    snprintf(b, sizeof(b), "%lld", v);
    elc(p, tr, "td", "num", b);
}

static void none(struct page *p, xmlNodePtr parent, const char *text)
{
    elc(p, parent, "p", "none", text);
}

static xmlNodePtr section(struct page *p, xmlNodePtr main, const char *id, const char *title,
                          size_t n)
{
    xmlNodePtr s = el(p, main, "section", NULL);
    attr(p, s, "id", id);
    char h[160];
    if (n != (size_t)-1)
        snprintf(h, sizeof(h), "%s (%zu)", title, n);
    else
        snprintf(h, sizeof(h), "%s", title);
    el(p, s, "h2", h);
    return s;
}

static void card(struct page *p, xmlNodePtr dl, const char *label, long long v, const char *cls)
{
    xmlNodePtr d = elc(p, dl, "div", v ? cls : NULL, NULL);
    el(p, d, "dt", label);
    char b[32];
    snprintf(b, sizeof(b), "%lld", v);
    el(p, d, "dd", b);
}

static void summary(struct page *p, xmlNodePtr main, const struct tree *t)
{
    const struct tree *sum = tree_get(t, "summary");
    const struct tree *objs = tree_get(sum, "objects"), *nodes = tree_get(sum, "nodes");
    xmlNodePtr s = section(p, main, "summary", "Summary", (size_t)-1);
    xmlNodePtr dl = elc(p, s, "dl", "cards", NULL);
    static const struct {
        const char *key, *label, *cls;
    } cards[] = {
        { "Synced", "in sync", "ok" }, { "OutOfSync", "drifted", "bad" },
        { "Missing", "missing", "bad" }, { "Stale", "stale", "bad" },
        { "Orphan", "orphans", "bad" }, { "Foreign", "foreign", NULL },
    };
    for (size_t i = 0; i < sizeof(cards) / sizeof(cards[0]); i++)
        card(p, dl, cards[i].label, tree_int(objs, cards[i].key, 0), cards[i].cls);
    for (size_t i = 0; objs && i < objs->len; i++) {      /* the other states with any */
        const char *k = objs->u.pairs[i].key->u.str;
        bool known = false;
        for (size_t j = 0; j < sizeof(cards) / sizeof(cards[0]); j++)
            known |= strcmp(cards[j].key, k) == 0;
        if (!known)
            card(p, dl, k, tree_int(objs, k, 0), strcmp(k, "RestartPending") ? "bad" : NULL);
    }
    card(p, dl, "findings", tree_int(sum, "findings", 0), "bad");
    dl = elc(p, s, "dl", "cards", NULL);
    for (size_t i = 0; nodes && i < nodes->len; i++) {
        char label[160];
        const char *k = nodes->u.pairs[i].key->u.str;
        snprintf(label, sizeof(label), "nodes %s", k);
        card(p, dl, label, tree_int(nodes, k, 0), strcmp(k, "ready") == 0 ? "ok" : "bad");
    }
}

static void labels_td(struct page *p, xmlNodePtr tr, const struct tree *labels)
{
    xmlNodePtr c = el(p, tr, "td", NULL);
    for (size_t i = 0; labels && labels->type == TREE_MAP && i < labels->len; i++) {
        const char *k = labels->u.pairs[i].key->u.str;
        const struct tree *v = labels->u.pairs[i].value;
        elc(p, c, "span", "label",
            arena_printf(p->a, "%s=%s", k, v->type == TREE_SCALAR ? v->u.str : ""));
    }
}

static void drift(struct page *p, xmlNodePtr main, const struct tree *t)
{
    const struct tree *f = tree_get(t, "findings");
    size_t n = 0;
    for (size_t i = 0; f && i < f->len; i++)
        n += !tree_get(f->u.items[i], "advice");
    xmlNodePtr s = section(p, main, "drift", "Drift", n);
    if (!n) {
        none(p, s, "No drift: what runs is what is declared.");
        return;
    }
    static const char *const cols[] = { "Node", "Kind", "Name", "Category", "Field",
                                        "Desired", "Actual", "Message" };
    xmlNodePtr tb = table(p, s, cols, 8, true);
    for (size_t i = 0; i < f->len; i++) {
        const struct tree *x = f->u.items[i];
        if (tree_get(x, "advice"))
            continue;
        xmlNodePtr tr = el(p, tb, "tr", NULL);
        td(p, tr, tree_str(x, "node", ""));
        td(p, tr, tree_str(x, "kind", ""));
        td(p, tr, tree_str(x, "name", ""));
        td_state(p, tr, tree_str(x, "category", ""));
        td(p, tr, tree_str(x, "field", ""));
        const char *want = tree_str(x, "desired", NULL), *is = tree_str(x, "actual", NULL);
        xmlNodePtr c = el(p, tr, "td", NULL);
        want ? (void)el(p, c, "del", want) : (void)el(p, c, "span", "-");
        c = el(p, tr, "td", NULL);
        is ? (void)el(p, c, "ins", is) : (void)el(p, c, "span", "-");
        td(p, tr, tree_str(x, "message", ""));
    }
}

static void orphans(struct page *p, xmlNodePtr main, const struct tree *t)
{
    const struct tree *f = tree_get(t, "findings");
    size_t n = 0;
    for (size_t i = 0; f && i < f->len; i++)
        n += tree_get(f->u.items[i], "advice") != NULL;
    xmlNodePtr s = section(p, main, "orphans", "Orphans, stale objects and stray processes", n);
    if (!n) {
        none(p, s, "None.");
        return;
    }
    static const char *const cols[] = { "Node", "Category", "Kind", "Name", "Message",
                                        "What to do" };
    xmlNodePtr tb = table(p, s, cols, 6, true);
    for (size_t i = 0; i < f->len; i++) {
        const struct tree *x = f->u.items[i];
        if (!tree_get(x, "advice"))
            continue;
        xmlNodePtr tr = el(p, tb, "tr", NULL);
        td(p, tr, tree_str(x, "node", ""));
        td_state(p, tr, tree_str(x, "category", ""));
        td(p, tr, tree_str(x, "kind", ""));
        td(p, tr, tree_str(x, "name", ""));
        td(p, tr, tree_str(x, "message", ""));
        td(p, tr, tree_str(x, "advice", ""));
    }
}

static void objects_table(struct page *p, xmlNodePtr parent, const struct tree *objs,
                          const char *node, const char *only, bool fleet)
{
    static const char *const cols[] = { "Kind", "Name", "Sync", "State", "Labels" };
    xmlNodePtr tb = table(p, parent, cols, 5, true);
    for (size_t i = 0; i < objs->len; i++) {
        const struct tree *o = objs->u.items[i];
        const char *on = node_of(o, only, fleet);
        if (node ? !on || strcmp(on, node) != 0 : on != NULL)
            continue;
        xmlNodePtr tr = el(p, tb, "tr", NULL);
        td(p, tr, tree_str(o, "kind", ""));
        const char *pool = tree_str(o, "pool", NULL), *name = tree_str(o, "name", "");
        td(p, tr, pool ? arena_printf(p->a, "%s/%s", pool, name) : name);
        td_state(p, tr, tree_str(o, "sync", ""));
        td(p, tr, tree_str(o, "state", ""));
        labels_td(p, tr, tree_get(o, "labels"));
    }
}

static void nodes(struct page *p, xmlNodePtr main, const struct tree *t)
{
    const struct tree *ns = tree_get(t, "nodes"), *objs = tree_get(t, "objects");
    bool fleet = tree_bool(t, "fleet");
    size_t n = ns ? ns->len : 0;
    xmlNodePtr s = section(p, main, "nodes", "Nodes", n);
    const char *only = n == 1 ? tree_str(ns->u.items[0], "name", NULL) : NULL;
    if (n) {
        static const char *const cols[] = { "Node", "State", "Since", "Objects", "Not in sync",
                                            "Findings", "Message" };
        xmlNodePtr tb = table(p, s, cols, 7, true);
        for (size_t i = 0; i < n; i++) {
            const struct tree *x = ns->u.items[i];
            xmlNodePtr tr = el(p, tb, "tr", NULL);
            td(p, tr, tree_str(x, "name", ""));
            td_state(p, tr, tree_str(x, "state", ""));
            td(p, tr, tree_str(x, "since", ""));
            td_num(p, tr, tree_int(x, "objects", 0));
            td_num(p, tr, tree_int(x, "notInSync", 0));
            td_num(p, tr, tree_int(x, "findings", 0));
            td(p, tr, tree_str(x, "message", tree_str(x, "error", tree_str(x, "lastRunError", ""))));
        }
    }
    /* a table per node, then the fleet's own objects */
    for (size_t i = 0; i <= n && objs; i++) {
        const char *name = i < n ? tree_str(ns->u.items[i], "name", "") : NULL;
        size_t k = 0;
        for (size_t j = 0; j < objs->len; j++) {
            const char *on = node_of(objs->u.items[j], only, fleet);
            k += name ? on && strcmp(on, name) == 0 : on == NULL;
        }
        if (!k)
            continue;
        xmlNodePtr d = elc(p, s, "details", "group", NULL);
        attr(p, d, "open", "");
        el(p, d, "summary",
           arena_printf(p->a, "%s%s (%zu object%s)", name ? "node " : "",
                        name ? name : "the fleet's own objects (placed on no node)", k,
                        k == 1 ? "" : "s"));
        objects_table(p, d, objs, name, only, fleet);
    }
}

static void foreign(struct page *p, xmlNodePtr main, const struct tree *t)
{
    const struct tree *f = tree_get(t, "foreign");
    size_t n = f ? f->len : 0;
    xmlNodePtr s = section(p, main, "foreign", "Other projects' objects", n);
    if (!n) {
        none(p, s, "None.");
        return;
    }
    el(p, s, "p", "Left alone: another project owns them.");
    static const char *const cols[] = { "Node", "Kind", "Name", "Project" };
    xmlNodePtr tb = table(p, s, cols, 4, true);
    for (size_t i = 0; i < n; i++) {
        xmlNodePtr tr = el(p, tb, "tr", NULL);
        td(p, tr, tree_str(f->u.items[i], "node", ""));
        td(p, tr, tree_str(f->u.items[i], "kind", ""));
        td(p, tr, tree_str(f->u.items[i], "name", ""));
        td(p, tr, tree_str(f->u.items[i], "project", ""));
    }
}

static void runs(struct page *p, xmlNodePtr main, const struct tree *t)
{
    const struct tree *r = tree_get(t, "runs");
    size_t n = r ? r->len : 0;
    xmlNodePtr s = section(p, main, "runs", "Recent runs", n);
    if (!n) {
        none(p, s, "No run is recorded.");
        return;
    }
    static const char *const cols[] = { "Run", "Kind", "Result", "Started (UTC)", "Seconds",
                                        "Commit", "Summary", "Error" };
    xmlNodePtr tb = table(p, s, cols, 8, true);
    for (size_t i = 0; i < n; i++) {
        const struct tree *x = r->u.items[i];
        xmlNodePtr tr = el(p, tb, "tr", NULL);
        td_num(p, tr, tree_int(x, "id", 0));
        td(p, tr, tree_str(x, "kind", ""));
        td_state(p, tr, tree_str(x, "result", ""));
        char b[64];
        utc(b, sizeof(b), tree_int(x, "started", 0));
        td(p, tr, b);
        long long ms = tree_int(x, "durationMs", -1);
        if (ms >= 0)
            snprintf(b, sizeof(b), "%.1f", (double)ms / 1000);
        else
            snprintf(b, sizeof(b), "-");
        elc(p, tr, "td", "num", b);
        char c[13];
        snprintf(c, sizeof(c), "%s", tree_str(x, "commit", ""));
        td(p, tr, c);
        td(p, tr, tree_str(x, "summary", ""));
        td(p, tr, tree_str(x, "error", ""));
    }
}

static void events(struct page *p, xmlNodePtr main, const struct tree *t, const char *key,
                   const char *id, const char *title, const char *empty)
{
    const struct tree *e = tree_get(t, key);
    size_t n = e ? e->len : 0;
    xmlNodePtr s = section(p, main, id, title, n);
    if (!n) {
        none(p, s, empty);
        return;
    }
    static const char *const cols[] = { "Time (UTC)", "Type", "Reason", "Object", "Node",
                                        "Message" };
    xmlNodePtr tb = table(p, s, cols, 6, true);
    for (size_t i = 0; i < n; i++) {
        const struct tree *x = e->u.items[i];
        xmlNodePtr tr = el(p, tb, "tr", NULL);
        char b[64];
        utc(b, sizeof(b), tree_int(x, "time", 0));
        td(p, tr, b);
        td_state(p, tr, tree_str(x, "type", ""));
        td(p, tr, tree_str(x, "reason", ""));
        const char *k = tree_str(x, "kind", ""), *nm = tree_str(x, "name", "");
        td(p, tr, arena_printf(p->a, "%s%s%s", k, *k && *nm ? "/" : "", nm));
        td(p, tr, tree_str(x, "node", ""));
        td(p, tr, tree_str(x, "message", ""));
    }
}

int dashboard_html(FILE *out, const struct tree *t)
{
    struct page pg = { .doc = htmlNewDocNoDtD(NULL, NULL) };
    struct page *p = &pg;
    if (!p->doc)
        return -1;
    p->a = arena_new();
    xmlCreateIntSubset(p->doc, BAD_CAST "html", NULL, NULL);
    xmlNodePtr html = el(p, NULL, "html", NULL);
    xmlDocSetRootElement(p->doc, html);
    attr(p, html, "lang", "en");
    xmlNodePtr head = el(p, html, "head", NULL);
    xmlNodePtr meta = el(p, head, "meta", NULL);
    attr(p, meta, "http-equiv", "Content-Type");
    attr(p, meta, "content", "text/html; charset=utf-8");
    meta = el(p, head, "meta", NULL);
    attr(p, meta, "name", "viewport");
    attr(p, meta, "content", "width=device-width, initial-scale=1");
    const char *project = tree_str(t, "project", "");
    char title[400];
    snprintf(title, sizeof(title), "qkvm report%s%s", *project ? ": " : "", project);
    el(p, head, "title", title);
    xmlNodePtr icon = el(p, head, "link", NULL);     /* no favicon request: it loads nothing */
    attr(p, icon, "rel", "icon");
    attr(p, icon, "href", "data:,");
    el(p, head, "style", style);
    xmlNodePtr body = el(p, html, "body", NULL);
    attr(p, body, "data-live", tree_bool(t, "live") ? "true" : "false");
    char gen[32];
    snprintf(gen, sizeof(gen), "%lld", tree_int(t, "generation", 0));
    attr(p, body, "data-generation", gen);
    xmlNodePtr header = el(p, body, "header", NULL);
    el(p, header, "h1", title);
    xmlNodePtr m = elc(p, header, "p", "meta", NULL);
    char when[64];
    utc(when, sizeof(when), tree_int(t, "generated", 0));
    el(p, m, "span", "generated ");
    attr(p, el(p, m, "span", when), "id", "generated");
    el(p, m, "span", " UTC");
    const char *src = tree_str(t, "source", ""), *commit = tree_str(t, "commit", "");
    if (*src) {
        el(p, m, "span", " · manifests ");
        el(p, m, "code", src);
    }
    if (*commit) {
        el(p, m, "span", " at ");
        el(p, m, "code", commit);
    }
    const char *ls = tree_str(t, "lastSync", "");
    if (*ls) {
        el(p, m, "span", " · last sync ");
        el(p, m, "span", ls);
        const char *sc = tree_str(t, "syncedCommit", "");
        if (*sc) {
            el(p, m, "span", " of ");
            el(p, m, "code", sc);
        }
    }
    if (tree_bool(t, "live")) {
        el(p, m, "span", " · ");
        attr(p, el(p, m, "span", "live"), "id", "live");
    }
    const struct tree *errs = tree_get(t, "errors");
    for (size_t i = 0; errs && i < errs->len; i++)
        if (errs->u.items[i]->type == TREE_SCALAR)
            elc(p, header, "p", "stale-banner", errs->u.items[i]->u.str);
    /* the filter box: hidden until the script shows it */
    xmlNodePtr fb = el(p, body, "div", NULL);
    attr(p, fb, "id", "filterbar");
    attr(p, fb, "hidden", "");
    xmlNodePtr lab = el(p, fb, "label", "Filter rows: ");
    xmlNodePtr in = el(p, lab, "input", NULL);
    attr(p, in, "id", "filter");
    attr(p, in, "type", "search");
    attr(p, in, "placeholder", "a name, node, label, state...");
    el(p, fb, "span", " ");
    attr(p, el(p, fb, "span", ""), "id", "filtercount");
    xmlNodePtr nav = el(p, body, "nav", NULL);
    static const char *const links[][2] = {
        { "#summary", "Summary" }, { "#drift", "Drift" }, { "#orphans", "Orphans" },
        { "#nodes", "Nodes" }, { "#runs", "Runs" }, { "#failovers", "Failovers" },
        { "#events", "Timeline" },
    };
    for (size_t i = 0; i < sizeof(links) / sizeof(links[0]); i++) {
        attr(p, el(p, nav, "a", links[i][1]), "href", links[i][0]);
        el(p, nav, "span", " ");
    }
    xmlNodePtr main = el(p, body, "main", NULL);
    summary(p, main, t);
    drift(p, main, t);
    orphans(p, main, t);
    nodes(p, main, t);
    foreign(p, main, t);
    runs(p, main, t);
    events(p, main, t, "failovers", "failovers", "Failovers and fences",
           "No node was fenced and no VM failed over.");
    events(p, main, t, "events", "events", "Timeline", "No event is recorded.");
    el(p, body, "script", script);
    xmlChar *mem = NULL;
    int len = 0;
    htmlDocDumpMemoryFormat(p->doc, &mem, &len, 0);
    int rc = mem && len > 0 && fwrite(mem, 1, (size_t)len, out) == (size_t)len ? 0 : -1;
    xmlFree(mem);
    xmlFreeDoc(p->doc);
    arena_free(p->a);
    free(p->buf);
    return rc;
}
