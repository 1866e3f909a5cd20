/* validate.c — cross-object checks.
 *
 * Each check is linear or n log n in the number of objects: names are found
 * by binary search in the sorted model, and uniqueness (MACs, IPs, disk
 * attachments, URIs) by sorting (key, source position) pairs, so the first
 * declaration in source order is the one the others are reported against;
 * overlapping subnets and pool directories likewise, by a sort and a stack.
 */
#include "validate.h"

#include "arena.h"
#include "check.h"
#include "decode.h"
#include "schema.h"
#include "text.h"
#include "tree.h"
#include "vec.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct vctx {
    const struct model *m;
    struct diag *d;
    struct arena *a;
    const char **names[MODEL_KIND_COUNT];   /* for suggestions, built lazily */
};

static const char *kname(enum model_kind k)
{
    return schema_kind_of(k)->name;
}

static void verr(struct vctx *v, enum diag_severity sev,
                 const struct model_object *o, const struct model_hdr *at,
                 const char *field, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 7, 8)));
static void verr(struct vctx *v, enum diag_severity sev,
                 const struct model_object *o, const struct model_hdr *at,
                 const char *field, const char *path, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = arena_vprintf(v->a, fmt, ap);
    va_end(ap);
    diag_add(v->d, sev, o->file, decode_mark(o, at, field), kname(o->kind),
             o->meta.name, path, "%s", msg);
}

/* The JSON "field" of a finding: "spec.disks[3].disk", "spec.node" (index
 * NO_INDEX) or "spec.nodes[1]" (field NULL). Formatted only when a finding
 * is reported: building it for every reference would cost more than the
 * checks. */
#define NO_INDEX ((size_t)-1)
static const char *field_path(struct vctx *v, const char *prefix, size_t index,
                              const char *field)
{
    if (index == NO_INDEX)
        return field ? arena_printf(v->a, "%s.%s", prefix, field) : prefix;
    if (!field)
        return arena_printf(v->a, "%s[%zu]", prefix, index);
    return arena_printf(v->a, "%s[%zu].%s", prefix, index, field);
}

/* A reference from `o` (field `field` of the struct at `at`, which is item
 * `index` of the list `prefix`) to an object of kind `k` named `name`.
 * Returns the object, or NULL after reporting. */
static struct model_object *ref(struct vctx *v, const struct model_object *o,
                                const struct model_hdr *at, const char *field,
                                const char *prefix, size_t index,
                                enum model_kind k, const char *name)
{
    if (!name)
        return NULL;
    struct model_object *t = model_find(v->m, k, name);
    if (t)
        return t;
    if (!v->names[k]) {
        v->names[k] = arena_alloc(v->a, (v->m->len[k] + 1) * sizeof(char *));
        for (size_t i = 0; i < v->m->len[k]; i++)
            v->names[k][i] = v->m->objs[k][i]->meta.name;
    }
    const char *sugg = text_suggest(name, v->names[k], v->m->len[k],
                                    sizeof(char *));
    const char *path = field_path(v, prefix, index, field);
    if (sugg)
        verr(v, DIAG_ERROR, o, at, field, path,
             "%s '%s' refers to %s '%s', which is not declared (did you mean '%s'?)",
             kname(o->kind), o->meta.name, kname(k), name, sugg);
    else
        verr(v, DIAG_ERROR, o, at, field, path,
             "%s '%s' refers to %s '%s', which is not declared",
             kname(o->kind), o->meta.name, kname(k), name);
    return NULL;
}

static void refs_list(struct vctx *v, const struct model_object *o,
                      const struct model_hdr *at, const char *field,
                      const struct model_strings *l)
{
    for (size_t i = 0; i < l->n; i++) {
        if (!l->v[i] || model_find(v->m, MODEL_NODE, l->v[i]))
            continue;
        const struct tree *seq = at->src ? tree_get(at->src, field) : NULL;
        struct model_hdr item = { .src = seq && seq->type == TREE_SEQ &&
                                          i < seq->len ? seq->u.items[i] : NULL };
        /* the finding points at the list item itself when it can */
        if (item.src)
            ref(v, o, &item, NULL, field_path(v, "spec", NO_INDEX, field), i,
                MODEL_NODE, l->v[i]);
        else
            ref(v, o, at, field, "spec", NO_INDEX, MODEL_NODE, l->v[i]);
    }
}

/* ---- uniqueness by sorting ---- */

struct use {
    const char *key;           /* what must be unique */
    const char *scope;         /* IPs: the network; else NULL */
    const struct model_object *o;
    const struct model_hdr *at;
    const char *field;
    size_t index;              /* position in its list, for the finding's field */
};

static int cmp_pos(const struct model_object *a, const struct model_hdr *ha,
                   const struct model_object *b, const struct model_hdr *hb)
{
    int c = strcmp(a->file ? a->file : "", b->file ? b->file : "");
    if (c)
        return c;
    struct tree_mark ma = decode_mark(a, ha, NULL), mb = decode_mark(b, hb, NULL);
    if (ma.line != mb.line)
        return ma.line < mb.line ? -1 : 1;
    return ma.col < mb.col ? -1 : ma.col > mb.col;
}

static int cmp_use(const void *pa, const void *pb)
{
    const struct use *a = pa, *b = pb;
    int c = strcmp(a->scope ? a->scope : "", b->scope ? b->scope : "");
    if (c)
        return c;
    if ((c = strcmp(a->key, b->key)))
        return c;
    return cmp_pos(a->o, a->at, b->o, b->at);
}

struct uses {
    struct use *v;
    size_t n, cap;
};

static void use_add(struct uses *u, struct use e)
{
    *vec_push(u) = e;
}

/* Calls `dup` for every entry whose key (and scope) an earlier one has. */
static void find_dups(struct vctx *v, struct uses *u,
                      void (*dup)(struct vctx *, const struct use *first,
                                  const struct use *again))
{
    if (u->n < 2)
        return;          /* also: qsort(NULL, 0, ...) is undefined */
    qsort(u->v, u->n, sizeof(*u->v), cmp_use);
    size_t first = 0;
    for (size_t i = 1; i < u->n; i++) {
        const struct use *a = &u->v[first], *b = &u->v[i];
        if (strcmp(a->key, b->key) == 0 &&
            strcmp(a->scope ? a->scope : "", b->scope ? b->scope : "") == 0)
            dup(v, a, b);
        else
            first = i;
    }
}

static const char *where_of(struct vctx *v, const struct use *u)
{
    struct tree_mark m = decode_mark(u->o, u->at, u->field);
    return arena_printf(v->a, "%s:%u", u->o->file ? u->o->file : "?", m.line);
}

static void dup_disk(struct vctx *v, const struct use *a, const struct use *b)
{
    if (a->o == b->o)
        return;      /* the same VM twice: reported by the VM's own check */
    verr(v, DIAG_ERROR, b->o, b->at, b->field, field_path(v, "spec.disks", b->index, b->field),
         "Disk '%s' is attached to VM '%s' and to VM '%s' (%s); a disk belongs to one VM",
         b->key, a->o->meta.name, b->o->meta.name, where_of(v, a));
}

static void dup_mac(struct vctx *v, const struct use *a, const struct use *b)
{
    bool derived = !tree_get(b->at->src, "mac");
    verr(v, DIAG_ERROR, b->o, b->at, derived ? NULL : "mac",
         field_path(v, "spec.nics", b->index, "mac"),
         "MAC address %s of VM '%s' is already used by VM '%s' (%s)%s",
         b->key, b->o->meta.name, a->o->meta.name, where_of(v, a),
         derived ? "; the derived MACs collide: set mac on one of them" : "");
}

static void dup_ip(struct vctx *v, const struct use *a, const struct use *b)
{
    verr(v, DIAG_ERROR, b->o, b->at, "ip", field_path(v, "spec.nics", b->index, "ip"),
         "IP address %s in Network '%s' of VM '%s' is already used by VM '%s' (%s)",
         b->key, b->scope, b->o->meta.name, a->o->meta.name, where_of(v, a));
}

static void dup_uri(struct vctx *v, const struct use *a, const struct use *b)
{
    verr(v, DIAG_ERROR, b->o, b->at, "uri", field_path(v, "spec", NO_INDEX, "uri"),
         "Node '%s' has the same uri as Node '%s' (%s)", b->o->meta.name,
         a->o->meta.name, where_of(v, a));
}

static void dup_name(struct vctx *v, const struct model_object *first,
                     const struct model_object *again)
{
    struct tree_mark m = decode_mark(first, &first->meta.hdr, "name");
    verr(v, DIAG_ERROR, again, &again->meta.hdr, "name", "metadata.name",
         "duplicate %s '%s' (first declared at %s:%u)", kname(again->kind),
         again->meta.name, first->file ? first->file : "?", m.line);
}

/* ---- overlapping blocks: subnets and pool directories ----
 *
 * HOW IT WORKS. Two subnets overlap only when one contains the other, and
 * so do two directories: the blocks form a tree. Sorted so that a block
 * comes before the blocks inside it (by address, then shorter prefix; by
 * path with '/' ordered before every other byte), one pass with a stack of
 * the blocks containing the current one finds every overlapping pair: pop
 * what does not contain the current block (it contains nothing after it
 * either), compare it with what is left, push it. n log n, plus the pairs
 * that overlap; each pair is reported when the two can be on one node. */

struct span {
    const struct model_object *o;
    const struct model_hdr *at;         /* the spec */
    const struct model_strings *nodes;  /* empty: every node */
    const char *text;                   /* the cidr or path, as written */
    struct check_ip net;                /* networks */
    unsigned prefix;
};

static int cmp_net_span(const void *pa, const void *pb)
{
    const struct span *a = pa, *b = pb;
    int c = check_ip_cmp(&a->net, &b->net);
    if (c)
        return c;
    if (a->prefix != b->prefix)
        return a->prefix < b->prefix ? -1 : 1;
    return cmp_pos(a->o, a->at, b->o, b->at);
}

static bool net_contains(const struct span *a, const struct span *b)
{
    return a->prefix <= b->prefix && check_ip_in_cidr(&b->net, &a->net, a->prefix);
}

static int cmp_path_span(const void *pa, const void *pb)
{
    const struct span *a = pa, *b = pb;
    const unsigned char *x = (const unsigned char *)a->text, *y = (const unsigned char *)b->text;
    for (;; x++, y++) {
        unsigned cx = *x == '/' ? 1 : *x, cy = *y == '/' ? 1 : *y;
        if (cx != cy)
            return cx < cy ? -1 : 1;
        if (!cx)
            return cmp_pos(a->o, a->at, b->o, b->at);
    }
}

static bool path_contains(const struct span *a, const struct span *b)
{
    size_t n = strlen(a->text);
    return strncmp(a->text, b->text, n) == 0 && (b->text[n] == '\0' || b->text[n] == '/');
}

/* Can objects on `a` and on `b` be on one node? *node: one they share, or
 * NULL for "every node". */
static bool share_node(const struct model_strings *a, const struct model_strings *b,
                       const char **node)
{
    *node = NULL;
    if (!a->n || !b->n) {
        const struct model_strings *some = a->n ? a : b;
        for (size_t i = 0; i < some->n && !*node; i++)
            *node = some->v[i];
        return true;
    }
    for (size_t i = 0; i < a->n; i++)
        for (size_t j = 0; j < b->n; j++)
            if (a->v[i] && b->v[j] && strcmp(a->v[i], b->v[j]) == 0) {
                *node = a->v[i];
                return true;
            }
    return false;
}

static void overlap_report(struct vctx *v, const struct span *a, const struct span *b,
                           bool a_contains_b, const char *node)
{
    bool same = strcmp(a->text, b->text) == 0;
    bool net = a->o->kind == MODEL_NETWORK;
    const char *field = net ? "cidr" : "path";
    if (cmp_pos(a->o, a->at, b->o, b->at) > 0) {     /* report at the later one */
        const struct span *t = a;
        a = b;
        b = t;
        a_contains_b = !a_contains_b;
    }
    struct tree_mark m = decode_mark(a->o, a->at, field);
    const char *first = arena_printf(v->a, "%s '%s' (%s:%u)", kname(a->o->kind), a->o->meta.name,
                                     a->o->file ? a->o->file : "?", m.line);
    const char *on = node ? arena_printf(v->a, "Node '%s'", node) : "every node";
    const char *why = net ? "two networks on a node cannot share addresses"
                          : "a directory holds one pool";
    if (same)
        verr(v, DIAG_ERROR, b->o, b->at, field, field_path(v, "spec", NO_INDEX, field),
             "%s '%s' has the same %s %s as %s, and both are on %s: %s", kname(b->o->kind),
             b->o->meta.name, field, b->text, first, on, why);
    else
        verr(v, DIAG_ERROR, b->o, b->at, field, field_path(v, "spec", NO_INDEX, field),
             "%s %s of %s '%s' %s %s %s of %s, and both are on %s: %s", field, b->text,
             kname(b->o->kind), b->o->meta.name,
             net ? "overlaps" : a_contains_b ? "is inside" : "contains", field, a->text,
             first, on, why);
}

static void find_overlaps(struct vctx *v, struct span *s, size_t n,
                          int (*cmp)(const void *, const void *),
                          bool (*contains)(const struct span *, const struct span *))
{
    if (n < 2)
        return;
    qsort(s, n, sizeof(*s), cmp);
    size_t *stack = xmalloc(n * sizeof(*stack)), depth = 0;
    for (size_t i = 0; i < n; i++) {
        while (depth && !contains(&s[stack[depth - 1]], &s[i]))
            depth--;
        for (size_t k = depth; k-- > 0;) {
            const char *node;
            if (share_node(s[stack[k]].nodes, s[i].nodes, &node))
                overlap_report(v, &s[stack[k]], &s[i], true, node);
        }
        stack[depth++] = i;
    }
    free(stack);
}

static void check_overlaps(struct vctx *v)
{
    const struct model *m = v->m;
    size_t nn = m->len[MODEL_NETWORK], np = m->len[MODEL_POOL], n = 0;
    struct span *s = xmalloc((nn > np ? nn : np) * sizeof(*s) + 1);
    for (size_t i = 0; i < nn; i++) {
        const struct model_network *net = (const struct model_network *)m->objs[MODEL_NETWORK][i];
        struct span *e = &s[n];
        if (net->spec.mode == NET_MODE_BRIDGE || !net->spec.cidr ||
            check_cidr(net->spec.cidr, &e->net, &e->prefix))
            continue;
        e->o = &net->obj;
        e->at = &net->spec.hdr;
        e->nodes = &net->spec.nodes;
        e->text = net->spec.cidr;
        n++;
    }
    find_overlaps(v, s, n, cmp_net_span, net_contains);
    n = 0;
    for (size_t i = 0; i < np; i++) {
        const struct model_pool *p = (const struct model_pool *)m->objs[MODEL_POOL][i];
        if (!p->spec.path)
            continue;
        s[n] = (struct span){ .o = &p->obj, .at = &p->spec.hdr, .nodes = &p->spec.nodes,
                              .text = p->spec.path };
        n++;
    }
    find_overlaps(v, s, n, cmp_path_span, path_contains);
    free(s);
}

/* ---- per-kind checks ---- */

/* Is `node` among `nodes` (empty: every node)? */
static bool on_node(const struct model_strings *nodes, const char *node)
{
    if (!nodes->n)
        return true;
    for (size_t i = 0; i < nodes->n; i++)
        if (nodes->v[i] && strcmp(nodes->v[i], node) == 0)
            return true;
    return false;
}

static void check_nic_ip(struct vctx *v, const struct model_vm *vm,
                         const struct vm_nic *nic, size_t i,
                         const struct model_network *net)
{
    const struct net_spec *ns = &net->spec;
    if (ns->mode == NET_MODE_BRIDGE) {
        verr(v, DIAG_ERROR, &vm->obj, &nic->hdr, "ip", field_path(v, "spec.nics", i, "ip"),
             "VM '%s' has ip %s on Network '%s', which has mode bridge: qkvm manages no addresses there",
             vm->obj.meta.name, nic->ip, net->obj.meta.name);
        return;
    }
    if (!ns->cidr)
        return;   /* the network's own error is reported */
    struct check_ip ip, netaddr, a, b;
    unsigned prefix;
    check_ip(nic->ip, &ip);
    check_cidr(ns->cidr, &netaddr, &prefix);
    if (!check_ip_in_cidr(&ip, &netaddr, prefix) ||
        check_ip_is_edge(&ip, &netaddr, prefix)) {
        verr(v, DIAG_ERROR, &vm->obj, &nic->hdr, "ip", field_path(v, "spec.nics", i, "ip"),
             "ip %s of VM '%s' is outside cidr %s of Network '%s'", nic->ip,
             vm->obj.meta.name, ns->cidr, net->obj.meta.name);
        return;
    }
    if (ns->gateway && strcmp(ns->gateway, nic->ip) == 0) {
        verr(v, DIAG_ERROR, &vm->obj, &nic->hdr, "ip", field_path(v, "spec.nics", i, "ip"),
             "ip %s of VM '%s' is the gateway of Network '%s'", nic->ip,
             vm->obj.meta.name, net->obj.meta.name);
        return;
    }
    if (ns->dhcp.hdr.set && ns->dhcp.start && ns->dhcp.end) {
        check_ip(ns->dhcp.start, &a);
        check_ip(ns->dhcp.end, &b);
        if (check_ip_cmp(&a, &ip) <= 0 && check_ip_cmp(&ip, &b) <= 0)
            verr(v, DIAG_ERROR, &vm->obj, &nic->hdr, "ip", field_path(v, "spec.nics", i, "ip"),
                 "ip %s of VM '%s' is inside the DHCP range %s-%s of Network '%s'; "
                 "a static lease must be outside it",
                 nic->ip, vm->obj.meta.name, ns->dhcp.start, ns->dhcp.end,
                 net->obj.meta.name);
    }
}

static void check_vms(struct vctx *v, struct uses *disks, struct uses *macs,
                      struct uses *ips)
{
    const struct model *m = v->m;
    for (size_t k = 0; k < m->len[MODEL_VM]; k++) {
        const struct model_vm *vm = (const struct model_vm *)m->objs[MODEL_VM][k];
        const struct vm_spec *s = &vm->spec;
        const struct model_object *o = &vm->obj;
        const struct model_object *node =
            ref(v, o, &s->hdr, "node", "spec", NO_INDEX, MODEL_NODE, s->node);
        for (size_t i = 0; i < s->disks.n; i++) {
            const struct vm_disk *d = &s->disks.v[i];
            const struct model_disk *disk = (const struct model_disk *)
                ref(v, o, &d->hdr, "disk", "spec.disks", i, MODEL_DISK, d->disk);
            if (!disk)
                continue;
            use_add(disks, (struct use){ d->disk, NULL, o, &d->hdr, "disk", i });
            const struct model_pool *pool = (const struct model_pool *)
                model_find(m, MODEL_POOL, disk->spec.pool ? disk->spec.pool : "");
            if (node && pool && !on_node(&pool->spec.nodes, node->meta.name))
                verr(v, DIAG_ERROR, o, &d->hdr, "disk", field_path(v, "spec.disks", i, "disk"),
                     "VM '%s' is pinned to Node '%s', but its Disk '%s' is in Pool '%s', which is not on that node",
                     o->meta.name, node->meta.name, d->disk, pool->obj.meta.name);
        }
        for (size_t i = 0; i < s->nics.n; i++) {
            const struct vm_nic *nic = &s->nics.v[i];
            const struct model_network *net = (const struct model_network *)
                ref(v, o, &nic->hdr, "network", "spec.nics", i, MODEL_NETWORK, nic->network);
            if (nic->mac)
                use_add(macs, (struct use){ nic->mac, NULL, o, &nic->hdr, "mac", i });
            if (!net)
                continue;
            if (node && !on_node(&net->spec.nodes, node->meta.name))
                verr(v, DIAG_ERROR, o, &nic->hdr, "network",
                     field_path(v, "spec.nics", i, "network"),
                     "VM '%s' is pinned to Node '%s', but Network '%s' is not on that node",
                     o->meta.name, node->meta.name, net->obj.meta.name);
            if (nic->ip) {
                check_nic_ip(v, vm, nic, i, net);
                use_add(ips, (struct use){ nic->ip, net->obj.meta.name, o,
                                           &nic->hdr, "ip", i });
            }
        }
        if (s->node_selector.n) {
            bool any = false;
            for (size_t i = 0; i < m->len[MODEL_NODE] && !any; i++)
                any = model_labels_match(&s->node_selector,
                                         &m->objs[MODEL_NODE][i]->meta.labels);
            if (!any)
                verr(v, DIAG_WARNING, o, &s->hdr, "nodeSelector", "spec.nodeSelector",
                     "nodeSelector of VM '%s' matches no Node: the VM cannot be placed",
                     o->meta.name);
        }
    }
}

static bool selector_matches_any(const struct model *m,
                                 const struct model_labels *sel)
{
    for (int k = 0; k < MODEL_KIND_COUNT; k++) {
        if (k == MODEL_POLICY || k == MODEL_PROJECT)
            continue;
        for (size_t i = 0; i < m->len[k]; i++)
            if (model_labels_match(sel, &m->objs[k][i]->meta.labels))
                return true;
    }
    return false;
}

/* Is `path` the directory `dir` or below it? */
static bool under(const char *path, const char *dir, size_t len)
{
    while (len > 1 && dir[len - 1] == '/')
        len--;
    return strncmp(path, dir, len) == 0 && (path[len] == '/' || path[len] == '\0' ||
                                            (len == 1 && dir[0] == '/'));
}

/* QKVM_HOST_PATHS (directories, colon-separated), when set: the only
 * places on a host a manifest may make qkvm or libvirt read or write a
 * file by path (spec.boot's kernel and initrd, spec.consoleLog, an Image's
 * file:// URL). On a host many projects share, without it a manifest could
 * boot /etc/shadow as a kernel, log a console over a file, or copy any file
 * into a pool through file://. Unset: any path (one operator's host). */
static void host_path(struct vctx *v, const struct model_object *o, const struct model_hdr *at,
                      const char *field, const char *where, const char *path)
{
    const char *allowed = getenv("QKVM_HOST_PATHS");
    if (!path || !allowed || !*allowed)
        return;
    /* no way up out of an allowed directory */
    bool up = strstr(path, "/../") || strstr(path, "/..\0") ||
              (strlen(path) >= 3 && strcmp(path + strlen(path) - 3, "/..") == 0);
    for (const char *p = allowed; *p && !up;) {
        size_t len = strcspn(p, ":");
        if (len && *p == '/' && under(path, p, len))
            return;
        p += len + (p[len] == ':');
    }
    verr(v, DIAG_ERROR, o, at, field, where,
         "%s of %s '%s' is %s, outside the directories QKVM_HOST_PATHS allows (%s)", where,
         o->kind_name, o->meta.name, path, allowed);
}

static void check_host_paths(struct vctx *v)
{
    const struct model *m = v->m;
    for (size_t i = 0; i < m->len[MODEL_VM]; i++) {
        const struct model_vm *vm = (const struct model_vm *)m->objs[MODEL_VM][i];
        host_path(v, &vm->obj, &vm->spec.boot.hdr, "kernel", "spec.boot.kernel",
                  vm->spec.boot.kernel);
        host_path(v, &vm->obj, &vm->spec.boot.hdr, "initrd", "spec.boot.initrd",
                  vm->spec.boot.initrd);
        host_path(v, &vm->obj, &vm->spec.hdr, "consoleLog", "spec.consoleLog",
                  vm->spec.console_log);
    }
    for (size_t i = 0; i < m->len[MODEL_IMAGE]; i++) {
        const struct model_image *im = (const struct model_image *)m->objs[MODEL_IMAGE][i];
        if (im->spec.url && strncmp(im->spec.url, "file://", 7) == 0)
            host_path(v, &im->obj, &im->spec.hdr, "url", "spec.url", im->spec.url + 7);
    }
}

void validate_model(const struct model *m, struct diag *d)
{
    struct vctx v = { .m = m, .d = d, .a = arena_new() };
    struct uses disks = { 0 }, macs = { 0 }, ips = { 0 }, uris = { 0 };

    /* duplicates: the model is sorted by name, then source position */
    for (int k = 0; k < MODEL_KIND_COUNT; k++)
        for (size_t i = 1, first = 0; i < m->len[k]; i++) {
            if (strcmp(m->objs[k][first]->meta.name, m->objs[k][i]->meta.name) == 0)
                dup_name(&v, m->objs[k][first], m->objs[k][i]);
            else
                first = i;
        }

    /* one project per set: its name is the identity of everything it creates */
    for (size_t i = 1; i < m->len[MODEL_PROJECT]; i++) {
        const struct model_object *first = m->objs[MODEL_PROJECT][0], *o = m->objs[MODEL_PROJECT][i];
        if (strcmp(first->meta.name, o->meta.name) == 0)
            continue;                  /* reported as a duplicate above */
        struct tree_mark fm = decode_mark(first, &first->meta.hdr, "name");
        verr(&v, DIAG_ERROR, o, &o->meta.hdr, "name", "metadata.name",
             "a manifest set is one project: Project '%s' is a second one (Project '%s' "
             "at %s:%u)", o->meta.name, first->meta.name, first->file ? first->file : "?",
             fm.line);
    }
    for (size_t i = 0; i < m->len[MODEL_NODE]; i++) {
        const struct model_node *n = (const struct model_node *)m->objs[MODEL_NODE][i];
        if (n->spec.uri)
            use_add(&uris, (struct use){ n->spec.uri, NULL, &n->obj, &n->spec.hdr, "uri", 0 });
    }
    for (size_t i = 0; i < m->len[MODEL_NETWORK]; i++) {
        const struct model_network *n = (const struct model_network *)m->objs[MODEL_NETWORK][i];
        refs_list(&v, &n->obj, &n->spec.hdr, "nodes", &n->spec.nodes);
    }
    for (size_t i = 0; i < m->len[MODEL_POOL]; i++) {
        const struct model_pool *p = (const struct model_pool *)m->objs[MODEL_POOL][i];
        refs_list(&v, &p->obj, &p->spec.hdr, "nodes", &p->spec.nodes);
    }
    for (size_t i = 0; i < m->len[MODEL_IMAGE]; i++) {
        const struct model_image *im = (const struct model_image *)m->objs[MODEL_IMAGE][i];
        ref(&v, &im->obj, &im->spec.hdr, "pool", "spec", NO_INDEX, MODEL_POOL, im->spec.pool);
    }
    for (size_t i = 0; i < m->len[MODEL_DISK]; i++) {
        const struct model_disk *dk = (const struct model_disk *)m->objs[MODEL_DISK][i];
        ref(&v, &dk->obj, &dk->spec.hdr, "pool", "spec", NO_INDEX, MODEL_POOL, dk->spec.pool);
        if (dk->spec.from.hdr.set)
            ref(&v, &dk->obj, &dk->spec.from.hdr, "image", "spec.from", NO_INDEX,
                MODEL_IMAGE, dk->spec.from.image);
    }
    check_overlaps(&v);
    check_vms(&v, &disks, &macs, &ips);
    for (size_t i = 0; i < m->len[MODEL_POLICY]; i++) {
        const struct model_policy *p = (const struct model_policy *)m->objs[MODEL_POLICY][i];
        if (p->spec.selector.n && !selector_matches_any(m, &p->spec.selector))
            verr(&v, DIAG_WARNING, &p->obj, &p->spec.hdr, "selector", "spec.selector",
                 "selector of Policy '%s' matches no object", p->obj.meta.name);
    }

    check_host_paths(&v);
    find_dups(&v, &disks, dup_disk);
    find_dups(&v, &macs, dup_mac);
    find_dups(&v, &ips, dup_ip);
    find_dups(&v, &uris, dup_uri);
    free(disks.v);
    free(macs.v);
    free(ips.v);
    free(uris.v);
    arena_free(v.a);
}
