/* junit.c — see junit.h. The elements and attributes are those of the
 * JUnit XML CI systems read (Jenkins, GitLab, GitHub's test reporters):
 * testsuites > testsuite (name, tests, failures, errors, skipped) >
 * properties, testcase (classname, name) > skipped or failure (type,
 * message, text), system-out.
 *
 * A test case is an object of the report's "objects" (another project's,
 * sync Foreign, is left out), or one a finding, action or note names that
 * is not among them (an orphan file, a stray process). What names it is
 * matched by kind and name, and by node when both say one (a fleet's notes
 * may not: they match the object on any node; the fleet's objects, a
 * Policy or the Project, have none: they match an item of any node); a
 * finding's Volume POOL/NAME is the Disk NAME of pool POOL. Its outcome:
 *   - a failure, one per case (Jenkins reads only the first): every
 *     finding of it (drift), every action and every note that needs
 *     attention (plan), joined; or, with none, an object whose sync says
 *     it cannot be reconciled (Conflict, Blocked, Failed, Unsupported,
 *     Unschedulable);
 *   - skipped: its node was not observed (sync Unknown);
 *   - passed otherwise. Its labels ("labels: k=v, ...") and a plan's other
 *     notes (a restart pending) are its system-out.
 */
#include "junit.h"

#include "arena.h"
#include "report.h"
#include "tree.h"
#include "vec.h"
#include "xmlout.h"

#include <ctype.h>
#include <stdbool.h>
#include <string.h>

struct tcase {
    const char *node, *kind, *name, *pool, *sync;   /* node, pool, sync may be NULL */
    const char *type, *message, *text;               /* its failure, joined; or NULL */
    const char *out;                                 /* system-out, or NULL */
    bool skipped;
};

static bool same(const char *a, const char *b)
{
    return strcmp(a ? a : "", b ? b : "") == 0;
}

/* Does item x (a finding, action or note) name case c? */
static bool names(const struct tcase *c, const struct tree *x)
{
    const char *node = tree_str(x, "node", NULL), *kind = tree_str(x, "kind", "");
    const char *name = tree_str(x, "name", "");
    if (node && c->node && !same(node, c->node))
        return false;                           /* an item of a node: that node's case,
                                                 * or the fleet's (a Project's refusal) */
    if (strcmp(kind, "Volume") == 0 && strcmp(c->kind, "Disk") == 0 && c->pool) {
        size_t pl = strlen(c->pool);            /* Volume POOL/NAME is Disk NAME in POOL */
        return strncmp(name, c->pool, pl) == 0 && name[pl] == '/' &&
               strcmp(name + pl + 1, c->name) == 0;
    }
    return same(kind, c->kind) && same(name, c->name);    /* no node: on any */
}

/* Is this item a failure (else it is said in system-out)? */
static bool failing(bool plan, const struct tree *x)
{
    const char *type = tree_str(x, "type", NULL);
    return !plan || !type || report_note_attention(type);   /* findings, actions, problems */
}

/* An item's failure: its type, message and text. */
static void item_failure(struct arena *a, bool plan, const struct tree *x, const char **type,
                         const char **message, const char **text)
{
    const char *kind = tree_str(x, "kind", "?"), *name = tree_str(x, "name", "?");
    if (!plan) {
        const char *field = tree_str(x, "field", NULL), *msg = tree_str(x, "message", NULL);
        const char *cat = tree_str(x, "category", "?");
        *type = cat;
        *message = field ? arena_printf(a, "%s: %s (want %s, is %s)", cat, field,
                                        tree_str(x, "desired", "-"), tree_str(x, "actual", "-"))
                         : arena_printf(a, "%s: %s", cat, msg ? msg : "");
        *text = arena_printf(a, "%s/%s: %s%s%s%s", kind, name, cat, field ? " " : "",
                             field ? field : "", msg ? arena_printf(a, ": %s", msg) : "");
    } else if (tree_get(x, "action")) {
        /* the message: the field changes (the diff), else why */
        const char *verb = tree_str(x, "action", "?");
        const struct tree *chs = tree_get(x, "changes");
        const char *t = arena_printf(a, "%s %s/%s: %s", verb, kind, name,
                                     tree_str(x, "reason", ""));
        const char *diff = NULL;
        for (size_t i = 0; chs && chs->type == TREE_SEQ && i < chs->len; i++) {
            const struct tree *c = chs->u.items[i];
            const char *one = arena_printf(a, "%s: %s -> %s", tree_str(c, "field", "?"),
                                           tree_str(c, "from", "(none)"),
                                           tree_str(c, "to", "(none)"));
            diff = diff ? arena_printf(a, "%s; %s", diff, one) : one;
            t = arena_printf(a, "%s\n  %s", t, one);
        }
        *type = verb;
        *message = arena_printf(a, "%s: %s", verb, diff ? diff : tree_str(x, "reason", ""));
        *text = t;
    } else {
        *type = tree_str(x, "type", "?");
        *message = tree_str(x, "message", "");    /* a note's says what it is */
        *text = arena_printf(a, "%s/%s: %s", kind, name, *message);
    }
}

static void add_failure(struct arena *a, struct tcase *c, const char *type, const char *message,
                        const char *text)
{
    if (!c->type) {
        c->type = type;
        c->message = message;
        c->text = text;
        return;
    }
    if (strcmp(c->type, type) != 0)
        c->type = "several";
    c->message = arena_printf(a, "%s; %s", c->message, message);
    c->text = arena_printf(a, "%s\n%s", c->text, text);
}

/* A sync state that says the object cannot be reconciled. */
static bool sync_fails(const char *sync)
{
    static const char *const bad[] = { "Conflict", "Blocked", "Failed", "Unsupported",
                                       "Unschedulable" };
    for (size_t i = 0; sync && i < sizeof(bad) / sizeof(bad[0]); i++)
        if (strcmp(sync, bad[i]) == 0)
            return true;
    return false;
}

int junit_write(FILE *out, const struct tree *r)
{
    struct arena *a = arena_new();
    bool plan = strcmp(tree_str(r, "kind", ""), "Plan") == 0;
    bool fleet = tree_get(r, "nodes") != NULL;
    const char *lists[] = { plan ? "actions" : "findings", plan ? "notes" : NULL };
    VEC(struct tcase) cases = { 0 };
    const struct tree *objs = tree_get(r, "objects");
    for (size_t i = 0; objs && objs->type == TREE_SEQ && i < objs->len; i++) {
        const struct tree *o = objs->u.items[i];
        if (same(tree_str(o, "sync", NULL), "Foreign"))
            continue;                                   /* another project's */
        *vec_push(&cases) = (struct tcase){ .node = tree_str(o, "node", NULL),
                                            .kind = tree_str(o, "kind", ""),
                                            .name = tree_str(o, "name", ""),
                                            .pool = tree_str(o, "pool", NULL),
                                            .sync = tree_str(o, "sync", NULL) };
        /* its labels, in system-out: what a CI system can search by */
        const struct tree *lb = tree_get(o, "labels");
        for (size_t k = 0; lb && lb->type == TREE_MAP && k < lb->len; k++) {
            struct tcase *c = &cases.v[cases.n - 1];
            const struct tree *v = lb->u.pairs[k].value;
            c->out = arena_printf(a, "%s%s%s=%s", c->out ? c->out : "labels: ",
                                  c->out ? ", " : "", lb->u.pairs[k].key->u.str,
                                  v->type == TREE_SCALAR ? v->u.str : "");
        }
    }
    for (size_t l = 0; l < 2 && lists[l]; l++) {
        const struct tree *v = tree_get(r, lists[l]);
        for (size_t i = 0; v && v->type == TREE_SEQ && i < v->len; i++) {
            const struct tree *x = v->u.items[i];
            struct tcase *c = NULL;
            for (size_t k = 0; k < cases.n && !c; k++)
                if (names(&cases.v[k], x))
                    c = &cases.v[k];
            if (!c) {
                *vec_push(&cases) = (struct tcase){ .node = tree_str(x, "node", NULL),
                                                    .kind = tree_str(x, "kind", ""),
                                                    .name = tree_str(x, "name", "") };
                c = &cases.v[cases.n - 1];
            }
            if (failing(plan, x)) {
                const char *type, *message, *text;
                item_failure(a, plan, x, &type, &message, &text);
                add_failure(a, c, type, message, text);
            } else {
                const char *said = arena_printf(a, "%s: %s", tree_str(x, "type", ""),
                                                tree_str(x, "message", ""));
                c->out = c->out ? arena_printf(a, "%s\n%s", c->out, said) : said;
            }
        }
    }
    for (size_t i = 0; i < cases.n; i++) {
        struct tcase *c = &cases.v[i];
        if (!c->type && sync_fails(c->sync)) {
            char *t = arena_strdup(a, c->sync);
            for (char *p = t; *p; p++)
                *p = (char)tolower((unsigned char)*p);
            add_failure(a, c, t, arena_printf(a, "%s: it cannot be reconciled", c->sync),
                        arena_printf(a, "%s/%s: %s", c->kind, c->name, c->sync));
        } else if (!c->type && same(c->sync, "Unknown")) {
            c->skipped = true;                          /* its node was not observed */
        }
    }
    /* the suites: the nodes, in the order their cases come (one host: its
     * URI; a fleet's cases of no node: "fleet") */
    VEC(const char *) nodes = { 0 };
    for (size_t i = 0; i < cases.n; i++) {
        bool seen = false;
        for (size_t k = 0; k < nodes.n && !seen; k++)
            seen = same(nodes.v[k], cases.v[i].node);
        if (!seen)
            *vec_push(&nodes) = cases.v[i].node;
    }
    if (!nodes.n)
        *vec_push(&nodes) = NULL;
    size_t failing_n = 0;
    for (size_t i = 0; i < cases.n; i++)
        failing_n += cases.v[i].type != NULL;

    struct xmlout *w = xmlout_new();
    xmlout_start(w, "testsuites");
    xmlout_attr(w, "name", plan ? "qkvm plan" : "qkvm drift");
    xmlout_attrf(w, "tests", "%zu", cases.n);
    xmlout_attrf(w, "failures", "%zu", failing_n);
    xmlout_attr(w, "errors", "0");                 /* (no skipped here: the schemas have none) */
    for (size_t k = 0; k < nodes.n; k++) {
        const char *node = nodes.v[k];
        const char *label = node ? node : fleet ? "fleet" : tree_str(r, "node", "default");
        size_t tests = 0, fails_here = 0, skipped_here = 0;
        for (size_t i = 0; i < cases.n; i++)
            if (same(cases.v[i].node, node)) {
                tests++;
                fails_here += cases.v[i].type != NULL;
                skipped_here += cases.v[i].skipped;
            }
        xmlout_start(w, "testsuite");
        xmlout_attr(w, "name", arena_printf(a, "%s %s", plan ? "plan" : "drift", label));
        xmlout_attrf(w, "tests", "%zu", tests);
        xmlout_attrf(w, "failures", "%zu", fails_here);
        xmlout_attr(w, "errors", "0");
        xmlout_attrf(w, "skipped", "%zu", skipped_here);
        xmlout_start(w, "properties");
        const char *props[][2] = { { "node", label },
                                   { "uri", fleet ? NULL : tree_str(r, "node", NULL) },
                                   { "project", tree_str(r, "project", NULL) } };
        for (size_t p = 0; p < sizeof(props) / sizeof(props[0]); p++) {
            if (!props[p][1])
                continue;
            xmlout_start(w, "property");
            xmlout_attr(w, "name", props[p][0]);
            xmlout_attr(w, "value", props[p][1]);
            xmlout_end(w);
        }
        xmlout_end(w);
        for (size_t i = 0; i < cases.n; i++) {
            const struct tcase *c = &cases.v[i];
            if (!same(c->node, node))
                continue;
            xmlout_start(w, "testcase");
            /* package.class as CI systems group them: qkvm[.NODE].KIND */
            xmlout_attr(w, "classname", node ? arena_printf(a, "qkvm.%s.%s", node, c->kind)
                                             : arena_printf(a, "qkvm.%s", c->kind));
            xmlout_attr(w, "name", arena_printf(a, "%s/%s", c->kind, c->name));
            if (c->skipped) {
                xmlout_start(w, "skipped");
                xmlout_attr(w, "message", "not observed: its node could not be reached");
                xmlout_end(w);
            } else if (c->type) {
                xmlout_start(w, "failure");
                xmlout_attr(w, "type", c->type);
                xmlout_attr(w, "message", c->message);
                xmlout_text(w, c->text);
                xmlout_end(w);
            }
            if (c->out) {
                xmlout_start(w, "system-out");
                xmlout_text(w, c->out);
                xmlout_end(w);
            }
            xmlout_end(w);
        }
        xmlout_end(w);
    }
    xmlout_end(w);
    int rc = xmlout_finish(w, out);
    vec_free(&cases);
    vec_free(&nodes);
    arena_free(a);
    return rc;
}
