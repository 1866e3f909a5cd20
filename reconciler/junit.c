/* junit.c — see junit.h. The elements and attributes are those of the
 * JUnit XML CI systems read (Jenkins, GitLab, GitHub's test reporters):
 * testsuites > testsuite (name, tests, failures, errors, skipped) >
 * properties, testcase (classname, name) > failure (type, message, text),
 * system-out. */
#include "junit.h"

#include "arena.h"
#include "report.h"
#include "tree.h"
#include "vec.h"
#include "xmlout.h"

#include <stdbool.h>
#include <string.h>

struct tcase {
    const char *node, *kind, *name;
    size_t failures;
};

static bool same(const char *a, const char *b)
{
    return strcmp(a ? a : "", b ? b : "") == 0;
}

static struct tcase *find_case(struct tcase *v, size_t n, const struct tree *x)
{
    for (size_t i = 0; i < n; i++)
        if (same(v[i].node, tree_str(x, "node", NULL)) &&
            same(v[i].kind, tree_str(x, "kind", NULL)) &&
            same(v[i].name, tree_str(x, "name", NULL)))
            return &v[i];
    return NULL;
}

/* Is this item (a finding, an action, a note) a failure of the case? */
static bool fails(const char *kind, const struct tree *x)
{
    if (strcmp(kind, "Plan") != 0)
        return true;                          /* every finding */
    const char *type = tree_str(x, "type", NULL);
    return !type || report_note_attention(type);   /* every action; the problems */
}

static void failure(struct xmlout *w, struct arena *a, const char *kind, const struct tree *x)
{
    xmlout_start(w, "failure");
    if (strcmp(kind, "Plan") != 0) {
        const char *field = tree_str(x, "field", NULL), *msg = tree_str(x, "message", NULL);
        const char *cat = tree_str(x, "category", "?");
        xmlout_attr(w, "type", cat);
        xmlout_attr(w, "message",
                    field ? arena_printf(a, "%s: %s (want %s, is %s)", cat, field,
                                         tree_str(x, "desired", "-"), tree_str(x, "actual", "-"))
                          : arena_printf(a, "%s: %s", cat, msg ? msg : ""));
        xmlout_text(w, arena_printf(a, "%s/%s: %s%s%s%s", tree_str(x, "kind", "?"),
                                    tree_str(x, "name", "?"), cat, field ? " " : "",
                                    field ? field : "", msg ? arena_printf(a, ": %s", msg) : ""));
    } else if (tree_get(x, "action")) {
        /* the message: the field changes (the diff), else why */
        const char *verb = tree_str(x, "action", "?");
        const struct tree *chs = tree_get(x, "changes");
        const char *text = arena_printf(a, "%s %s/%s: %s", verb, tree_str(x, "kind", "?"),
                                        tree_str(x, "name", "?"), tree_str(x, "reason", ""));
        const char *diff = NULL;
        for (size_t i = 0; chs && chs->type == TREE_SEQ && i < chs->len; i++) {
            const struct tree *c = chs->u.items[i];
            const char *one = arena_printf(a, "%s: %s -> %s", tree_str(c, "field", "?"),
                                           tree_str(c, "from", "(none)"),
                                           tree_str(c, "to", "(none)"));
            diff = diff ? arena_printf(a, "%s; %s", diff, one) : one;
            text = arena_printf(a, "%s\n  %s", text, one);
        }
        xmlout_attr(w, "type", verb);
        xmlout_attr(w, "message", arena_printf(a, "%s: %s", verb,
                                               diff ? diff : tree_str(x, "reason", "")));
        xmlout_text(w, text);
    } else {
        xmlout_attr(w, "type", tree_str(x, "type", "?"));
        xmlout_attr(w, "message", tree_str(x, "message", ""));
        xmlout_text(w, tree_str(x, "message", ""));
    }
    xmlout_end(w);
}

int junit_write(FILE *out, const struct tree *r)
{
    struct arena *a = arena_new();
    const char *kind = tree_str(r, "kind", "DriftReport");
    bool plan = strcmp(kind, "Plan") == 0;
    const char *lists[] = { plan ? "actions" : "findings", plan ? "notes" : NULL };
    VEC(struct tcase) cases = { 0 };
    const struct tree *objs = tree_get(r, "objects");
    for (size_t i = 0; objs && objs->type == TREE_SEQ && i < objs->len; i++) {
        const struct tree *o = objs->u.items[i];
        if (!find_case(cases.v, cases.n, o))
            *vec_push(&cases) = (struct tcase){ tree_str(o, "node", NULL), tree_str(o, "kind", "?"),
                                                tree_str(o, "name", "?"), 0 };
    }
    size_t failures = 0;
    for (size_t l = 0; l < 2 && lists[l]; l++) {
        const struct tree *v = tree_get(r, lists[l]);
        for (size_t i = 0; v && v->type == TREE_SEQ && i < v->len; i++) {
            const struct tree *x = v->u.items[i];
            struct tcase *c = find_case(cases.v, cases.n, x);
            if (!c) {
                *vec_push(&cases) = (struct tcase){ tree_str(x, "node", NULL),
                                                    tree_str(x, "kind", "?"),
                                                    tree_str(x, "name", "?"), 0 };
                c = &cases.v[cases.n - 1];
            }
            if (fails(kind, x)) {
                c->failures++;
                failures++;
            }
        }
    }
    /* the suites: the nodes, in the order their cases come (one host: its URI) */
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
    size_t failing = 0;
    for (size_t i = 0; i < cases.n; i++)
        failing += cases.v[i].failures > 0;

    struct xmlout *w = xmlout_new();
    xmlout_start(w, "testsuites");
    xmlout_attr(w, "name", plan ? "qkvm plan" : "qkvm drift");
    xmlout_attrf(w, "tests", "%zu", cases.n);
    xmlout_attrf(w, "failures", "%zu", failing);
    xmlout_attr(w, "errors", "0");
    for (size_t k = 0; k < nodes.n; k++) {
        const char *node = nodes.v[k];
        const char *label = node ? node : tree_str(r, "node", "default");
        size_t tests = 0, fails_here = 0;
        for (size_t i = 0; i < cases.n; i++)
            if (same(cases.v[i].node, node)) {
                tests++;
                fails_here += cases.v[i].failures > 0;
            }
        xmlout_start(w, "testsuite");
        xmlout_attr(w, "name", arena_printf(a, "%s %s", plan ? "plan" : "drift", label));
        xmlout_attrf(w, "tests", "%zu", tests);
        xmlout_attrf(w, "failures", "%zu", fails_here);
        xmlout_attr(w, "errors", "0");
        xmlout_attr(w, "skipped", "0");
        xmlout_start(w, "properties");
        const char *props[][2] = { { "node", label }, { "uri", tree_str(r, "node", NULL) },
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
            const char *pending = NULL;
            for (size_t l = 0; l < 2 && lists[l]; l++) {
                const struct tree *v = tree_get(r, lists[l]);
                for (size_t j = 0; v && v->type == TREE_SEQ && j < v->len; j++) {
                    const struct tree *x = v->u.items[j];
                    if (find_case((struct tcase *)c, 1, x) != c)
                        continue;
                    if (fails(kind, x))
                        failure(w, a, kind, x);
                    else                 /* what a note says that is not a problem */
                        pending = arena_printf(a, "%s%s%s: %s", pending ? pending : "",
                                               pending ? "\n" : "", tree_str(x, "type", ""),
                                               tree_str(x, "message", ""));
                }
            }
            if (pending) {
                xmlout_start(w, "system-out");
                xmlout_text(w, pending);
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
