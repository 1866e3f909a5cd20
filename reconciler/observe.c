/* observe.c — one observation pass of a libvirt host. See observe.h. */
#include "observe.h"

#include "arena.h"
#include "diff.h"
#include "owned.h"
#include "vec.h"
#include "virt.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

static int by_name(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Each obs_* struct starts with its name, so one bsearch serves all. */
static const void *find(const void *base, size_t n, size_t size, const char *name)
{
    return n ? bsearch(&name, base, n, size, by_name) : NULL;   /* base NULL when empty */
}

const struct obs_domain *observe_domain(const struct obs_host *h, const char *name)
{
    return find(h->doms, h->ndoms, sizeof(*h->doms), name);
}
const struct obs_network *observe_network(const struct obs_host *h, const char *name)
{
    return find(h->nets, h->nnets, sizeof(*h->nets), name);
}
const struct obs_pool *observe_pool(const struct obs_host *h, const char *name)
{
    return find(h->pools, h->npools, sizeof(*h->pools), name);
}
const struct obs_volume *observe_volume(const struct obs_pool *p, const char *name)
{
    return find(p->vols, p->nvols, sizeof(*p->vols), name);
}

bool observe_uses_volume(const struct obs_domain *d, const struct obs_pool *p,
                         const struct obs_volume *vol, size_t *disk)
{
    for (size_t j = 0; j < d->vm->spec.disks.n; j++) {
        const struct virtxml_disk_src *s = &d->src[j];
        if ((s->pool && s->volume && strcmp(s->pool, p->name) == 0 &&
             strcmp(s->volume, vol->name) == 0) ||
            (s->file && vol->path && strcmp(s->file, vol->path) == 0)) {
            *disk = j;
            return true;
        }
    }
    return false;
}

bool observe_holds_volume(const struct obs_domain *d, const struct obs_pool *p,
                          const struct obs_volume *vol)
{
    size_t pl = strlen(p->name);
    for (size_t i = 0; i < d->nheld; i++) {
        const char *h = d->held[i];
        if ((vol->path && strcmp(h, vol->path) == 0) ||
            (strncmp(h, p->name, pl) == 0 && h[pl] == '/' && strcmp(h + pl + 1, vol->name) == 0))
            return true;
    }
    return false;
}

const struct obs_domain *observe_volume_user(const struct obs_host *h, const struct obs_pool *p,
                                             const struct obs_volume *vol, bool active_only,
                                             size_t *disk)
{
    for (size_t i = 0; i < h->ndoms; i++) {
        const struct obs_domain *d = &h->doms[i];
        if ((!active_only || d->active) && observe_uses_volume(d, p, vol, disk))
            return d;
    }
    return NULL;
}

void observe_free(struct obs_host *h)
{
    if (!h)
        return;
    arena_free(h->arena);
    free(h);
}

static bool managed_pool(const struct model *desired, const struct obs_pool *p)
{
    return p->rec || (desired && model_find(desired, MODEL_POOL, p->name));
}

const char *observe_host_path(const struct obs_host *h, const char *path, char *buf,
                              size_t size)
{
    if (!h->root || !*h->root || !path)
        return path;
    snprintf(buf, size, "%s%s", h->root, path);
    return buf;
}

/* Files in a dir pool's directory that are not volumes libvirt knows. */
static void stray_files(const struct obs_host *h, struct arena *a, struct obs_pool *p)
{
    if (!p->pool->spec.path || !p->type || strcmp(p->type, "dir") != 0)
        return;
    char buf[4096];
    DIR *dir = opendir(observe_host_path(h, p->pool->spec.path, buf, sizeof(buf)));
    if (!dir)
        return;
    size_t cap = 0;
    struct dirent *e;
    while ((e = readdir(dir))) {
        if (e->d_name[0] == '.' && (!e->d_name[1] || (e->d_name[1] == '.' && !e->d_name[2])))
            continue;
        if (observe_volume(p, e->d_name))
            continue;
        *vec_append(a, p->stray_files, p->nstray_files, cap, 1) =
            arena_printf(a, "%s/%s", p->pool->spec.path, e->d_name);
    }
    closedir(dir);
    if (p->nstray_files)
        qsort(p->stray_files, p->nstray_files, sizeof(*p->stray_files), by_name);
}

/* /proc/PID/ns/NAME of a process, "" when unreadable. */
static void ns_of(int pid, const char *name, char *buf, size_t size)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/ns/%s", pid, name);
    ssize_t n = readlink(path, buf, size - 1);
    buf[n > 0 ? n : 0] = '\0';
}

/* A local daemon in a mount namespace other than ours (a container, a
 * test bed node) sees other files at the same paths: they are read
 * through /proc/PID/root. False when they cannot be, or when its
 * namespace cannot be read (not permitted): the host is then treated as
 * remote for files. (Under socket activation the socket's peer is the
 * service manager, in the host's namespace, like the daemon it starts.) */
static bool daemon_root(struct obs_host *h, int daemon)
{
    char mine[64], theirs[64];
    ns_of(getpid(), "mnt", mine, sizeof(mine));
    ns_of(daemon, "mnt", theirs, sizeof(theirs));
    if (!*mine || !*theirs)
        return false;             /* cannot tell which files it sees: as if remote */
    if (strcmp(mine, theirs) == 0)
        return true;
    h->root = arena_printf(h->arena, "/proc/%d/root", daemon);
    return access(h->root, R_OK | X_OK) == 0;
}

/* qemu processes in the daemon's namespaces whose -uuid matches no domain. */
static void stray_processes(struct obs_host *h, int daemon)
{
    char dnet[64], dmnt[64];
    ns_of(daemon, "net", dnet, sizeof(dnet));
    ns_of(daemon, "mnt", dmnt, sizeof(dmnt));
    if (!*dnet || !*dmnt)
        return;
    DIR *proc = opendir("/proc");
    if (!proc)
        return;
    size_t cap = 0;
    struct dirent *e;
    while ((e = readdir(proc))) {
        char *end;
        long pid = strtol(e->d_name, &end, 10);
        if (*end || pid <= 0)
            continue;
        char path[64], buf[8192];
        snprintf(path, sizeof(path), "/proc/%ld/cmdline", pid);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            continue;
        ssize_t n = read(fd, buf, sizeof(buf) - 1);
        close(fd);
        if (n <= 0)
            continue;
        buf[n] = '\0';
        const char *exe = strrchr(buf, '/') ? strrchr(buf, '/') + 1 : buf;
        if (strncmp(exe, "qemu-system-", 12) != 0 && strncmp(exe, "qemu-kvm", 8) != 0)
            continue;
        char net[64], mnt[64];
        ns_of((int)pid, "net", net, sizeof(net));
        ns_of((int)pid, "mnt", mnt, sizeof(mnt));
        if (strcmp(net, dnet) != 0 || strcmp(mnt, dmnt) != 0)
            continue;
        const char *uuid = NULL, *name = NULL;
        for (char *arg = buf; arg < buf + n; arg += strlen(arg) + 1) {
            char *next = arg + strlen(arg) + 1;
            if (next >= buf + n)
                break;
            if (strcmp(arg, "-uuid") == 0)
                uuid = next;
            else if (strcmp(arg, "-name") == 0)
                name = strncmp(next, "guest=", 6) == 0 ? next + 6 : next;
        }
        bool known = false;
        for (size_t i = 0; uuid && i < h->ndoms && !known; i++)
            known = h->doms[i].active && h->doms[i].uuid &&
                    strcasecmp(h->doms[i].uuid, uuid) == 0;
        if (known)
            continue;
        struct obs_process *p = vec_append(h->arena, h->strays, h->nstrays, cap, 1);
        p->pid = (int)pid;
        p->uuid = uuid ? arena_strdup(h->arena, uuid) : NULL;
        if (name) {
            size_t len = strcspn(name, ",");
            p->name = arena_strndup(h->arena, name, len);
        }
    }
    closedir(proc);
}

static int observe_pools(struct virt *v, struct obs_host *h, const struct model *desired,
                         const struct owned *own, char *err, size_t errlen)
{
    struct arena *a = h->arena;
    struct virt_list pools;
    if (virt_list_pools(v, &pools, err, errlen) < 0) {
        virt_list_free(&pools);
        return -1;
    }
    h->pools = arena_alloc(a, (pools.n + 1) * sizeof(*h->pools));
    int rc = 0;
    for (size_t i = 0; i < pools.n && rc == 0; i++) {
        const struct virt_item *it = &pools.v[i];
        struct obs_pool *p = &h->pools[h->npools++];
        struct virtxml_pool px;
        if (virtxml_pool_decode(a, it->xml, &px, err, errlen) < 0) {
            rc = -1;
            break;
        }
        p->name = arena_strdup(a, it->name);
        p->pool = px.pool;
        p->uuid = px.uuid;
        p->type = px.type;
        p->active = it->active;
        p->autostart = it->autostart;
        p->rec = own ? owned_pool(own, p->uuid) : NULL;
        if (p->rec && strcmp(p->rec->name, p->name) != 0)
            p->rec = NULL;         /* another pool's record: a definition copied with its UUID */
        char mk[128], hp[4096];
        if (!p->rec && h->local && p->pool && p->pool->spec.path &&
            owned_file_project(observe_host_path(h, p->pool->spec.path, hp, sizeof(hp)), mk,
                               sizeof(mk)))
            p->marked = arena_strdup(a, mk);
        if (!it->active)
            continue;
        /* a shared pool's directory changes under this node's libvirt
         * (another node made a volume): read it again first */
        const struct model_pool *dp = desired ? (const struct model_pool *)model_find(
                                                    desired, MODEL_POOL, p->name) : NULL;
        char rerr[512];
        if (dp && dp->spec.shared && virt_pool_refresh(v, p->name, rerr, sizeof(rerr)) < 0) {
            snprintf(err, errlen, "cannot refresh shared pool %s: %s", p->name, rerr);
            rc = -1;
            break;
        }
        struct virt_list vols;
        if (virt_list_volumes(v, it, &vols, err, errlen) < 0) {
            virt_list_free(&vols);
            rc = -1;
            break;
        }
        p->vols = arena_alloc(a, (vols.n + 1) * sizeof(*p->vols));
        for (size_t j = 0; j < vols.n; j++) {
            struct virtxml_volume vx;
            if (virtxml_volume_decode(a, vols.v[j].xml, &vx, err, errlen) < 0) {
                rc = -1;
                break;
            }
            struct obs_volume *ov = &p->vols[p->nvols++];
            ov->name = arena_strdup(a, vols.v[j].name);
            ov->disk = vx.disk;
            ov->disk->spec.pool = p->name;
            ov->path = vx.path;
            ov->un = vx.un;
            ov->backing = vx.backing;
            char vmk[128];
            if (h->local && ov->path &&
                owned_file_project(observe_host_path(h, ov->path, hp, sizeof(hp)), vmk,
                                   sizeof(vmk)))
                ov->marked = arena_strdup(a, vmk);
            ov->rec = own ? owned_volume(own, p->uuid, ov->name) : NULL;
            if (ov->rec)
                ov->marked = NULL;
            if (ov->rec && *ov->rec->ident) {
                /* the file must still be the one qkvm created; when that
                 * cannot be read, the record alone proves nothing */
                char ident[96] = "";
                if (h->local)
                    owned_file_ident(observe_host_path(h, ov->path, hp, sizeof(hp)), ident,
                                     sizeof(ident));
                if (!*ident) {
                    ov->unverified = true;
                } else if (strcmp(ident, ov->rec->ident) != 0) {
                    ov->rec = NULL;
                    ov->replaced = true;
                }
            }
        }
        virt_list_free(&vols);
        qsort(p->vols, p->nvols, sizeof(*p->vols), by_name);
        if (h->local && managed_pool(desired, p))
            stray_files(h, a, p);
    }
    virt_list_free(&pools);
    qsort(h->pools, h->npools, sizeof(*h->pools), by_name);
    return rc;
}

static int observe_networks(struct virt *v, struct obs_host *h, char *err, size_t errlen)
{
    struct virt_list nets;
    if (virt_list_networks(v, &nets, err, errlen) < 0) {
        virt_list_free(&nets);
        return -1;
    }
    h->nets = arena_alloc(h->arena, (nets.n + 1) * sizeof(*h->nets));
    int rc = 0;
    for (size_t i = 0; i < nets.n; i++) {
        struct virtxml_network nx;
        if (virtxml_network_decode(h->arena, nets.v[i].xml, &nx, err, errlen) < 0) {
            rc = -1;
            break;
        }
        struct obs_network *n = &h->nets[h->nnets++];
        n->name = arena_strdup(h->arena, nets.v[i].name);
        n->net = nx.net;
        n->mark = nx.mark;
        n->net->obj.meta.labels = nx.mark.labels;
        n->uuid = nx.uuid;
        n->hosts = nx.hosts;
        n->nhosts = nx.nhosts;
        n->un = nx.un;
        n->active = nets.v[i].active;
        n->autostart = nets.v[i].autostart;
        n->net->spec.autostart = n->autostart;
        if (n->active && nets.v[i].persistent && !n->mark.kind) {
            /* An adopted network runs from the definition it had until it
             * restarts, and libvirt before 9.7 cannot set a running
             * network's metadata: its mark is in the persistent one. */
            char *x = virt_network_config_xml(v, &nets.v[i], err, errlen);
            struct virtxml_network cx;
            if (!x && !*err)
                continue;
            if (!x || virtxml_network_decode(h->arena, x, &cx, err, errlen) < 0) {
                free(x);
                rc = -1;
                break;
            }
            free(x);
            n->mark = cx.mark;
        }
    }
    virt_list_free(&nets);
    qsort(h->nets, h->nnets, sizeof(*h->nets), by_name);
    return rc;
}

/* Where a domain disk's data lives, from the observed pools. */
static const char *disk_path(const struct obs_host *h, const struct virtxml_disk_src *s,
                             bool *missing)
{
    *missing = false;
    if (s->file) {
        struct stat st;
        char hp[4096];
        *missing = h->local && stat(observe_host_path(h, s->file, hp, sizeof(hp)), &st) < 0;
        return s->file;
    }
    if (!s->pool || !s->volume)
        return NULL;
    const struct obs_pool *p = observe_pool(h, s->pool);
    if (!p || !p->active)
        return NULL;           /* reported as a missing pool, not a missing file */
    const struct obs_volume *vol = observe_volume(p, s->volume);
    if (!vol) {
        *missing = true;
        return arena_printf(h->arena, "%s/%s", p->pool->spec.path ? p->pool->spec.path : "?",
                            s->volume);
    }
    struct stat st;
    char hp[4096];
    *missing = h->local && vol->path &&
               stat(observe_host_path(h, vol->path, hp, sizeof(hp)), &st) < 0;
    return vol->path;
}

/* only: these domains (n of them), else every domain */
static int observe_domains(struct virt *v, struct obs_host *h, const struct model *desired,
                           unsigned flags, const char *const *only, size_t n, char *err,
                           size_t errlen)
{
    struct arena *a = h->arena;
    struct virt_list doms;
    if ((only ? virt_get_domains(v, only, n, &doms, err, errlen)
              : virt_list_domains(v, &doms, err, errlen)) < 0) {
        virt_list_free(&doms);
        return -1;
    }
    h->doms = arena_alloc(a, (doms.n + 1) * sizeof(*h->doms));
    int rc = 0;
    for (size_t i = 0; i < doms.n; i++) {
        const struct virt_item *it = &doms.v[i];
        struct virtxml_domain dx;
        if (virtxml_domain_decode(a, it->xml, &dx, err, errlen) < 0) {
            rc = -1;
            break;
        }
        struct obs_domain *d = &h->doms[h->ndoms++];
        d->name = arena_strdup(a, it->name);
        d->vm = dx.vm;
        d->src = dx.src;
        d->seed_pool = dx.seed_pool;
        d->seed_volume = dx.seed_volume;
        d->seed_target = dx.seed_target;
        d->held = dx.held;
        d->nheld = dx.nheld;
        d->mark = dx.mark;
        d->vm->obj.meta.labels = dx.mark.labels;   /* as last declared, kept in the mark */
        d->uuid = dx.uuid;
        d->un = dx.un;
        d->active = it->active;
        d->paused = it->paused;
        if (it->paused) {
            enum virt_paused why = virt_domain_paused_reason(v, it, &d->paused_why);
            d->paused_ioerror = why == VIRT_PAUSED_IOERROR;
            d->starting_up = why == VIRT_PAUSED_STARTING_UP;
        }
        d->persistent = it->persistent;
        d->vm->spec.state = it->active ? VM_STATE_RUNNING : VM_STATE_STOPPED;
        size_t nd = d->vm->spec.disks.n;
        d->disk_path = arena_alloc(a, (nd + 1) * sizeof(*d->disk_path));
        d->disk_missing = arena_alloc(a, (nd + 1) * sizeof(*d->disk_missing));
        for (size_t j = 0; j < nd; j++)
            d->disk_path[j] = disk_path(h, &d->src[j], &d->disk_missing[j]);

        if (it->paused)
            d->vm->spec.state = VM_STATE_PAUSED;
        if (!it->active || !it->persistent)
            continue;
        /* The persistent definition of every running domain qkvm may
         * compare (declared, or all of them with OBSERVE_DEEP): an edit of
         * the definition alone is drift, healed by redefining it. */
        bool fetch = (flags & OBSERVE_DEEP) || !desired ||
                     model_find(desired, MODEL_VM, d->name) != NULL ||
                     !d->mark.kind;         /* whose it is may be said in the definition */
        if (fetch) {
            char *x = virt_domain_config_xml(v, it, err, errlen);
            struct virtxml_domain cx;
            if (!x || virtxml_domain_decode(a, x, &cx, err, errlen) < 0) {
                free(x);
                rc = -1;
                break;
            }
            free(x);
            d->config = cx.vm;
            d->config_un = cx.un;
            if (cx.nheld) {           /* both: the next start reads the definition's */
                const char **hv = arena_alloc(a, (d->nheld + cx.nheld) * sizeof(*hv));
                if (d->nheld)
                    memcpy(hv, d->held, d->nheld * sizeof(*hv));
                memcpy(hv + d->nheld, cx.held, cx.nheld * sizeof(*hv));
                d->held = hv;
                d->nheld += cx.nheld;
            }
            if (!d->seed_volume) {
                d->seed_pool = cx.seed_pool;
                d->seed_volume = cx.seed_volume;
                d->seed_target = cx.seed_target;
            }
            d->config->spec.state = VM_STATE_RUNNING;
            /* a mark written to the definition but not (yet) to what runs
             * (a failed live update) still says whose the domain is */
            if (!d->mark.kind && cx.mark.kind) {
                d->mark = cx.mark;
                d->vm->obj.meta.labels = cx.mark.labels;
            }
        }
    }
    virt_list_free(&doms);
    qsort(h->doms, h->ndoms, sizeof(*h->doms), by_name);
    return rc;
}

struct obs_host *observe_host(struct virt *v, const struct model *desired,
                              const struct owned *own, unsigned flags, char *err,
                              size_t errlen)
{
    struct obs_host *h = xcalloc(1, sizeof(*h));
    h->arena = arena_new();
    h->uri = arena_strdup(h->arena, virt_uri(v));
    h->local = virt_is_local(v);
    h->root = "";
    int daemon = h->local ? virt_daemon_pid(v) : 0;
    if (h->local)                  /* no PID (another PID namespace): its files are not ours */
        h->local = daemon > 0 && daemon_root(h, daemon);
    unsigned long before = virt_calls(v);
    if (observe_pools(v, h, desired, own, err, errlen) < 0 ||
        observe_networks(v, h, err, errlen) < 0 ||
        observe_domains(v, h, desired, flags, NULL, 0, err, errlen) < 0) {
        observe_free(h);
        return NULL;
    }
    if (h->local)
        stray_processes(h, daemon);
    h->calls = virt_calls(v) - before;
    return h;
}

struct obs_host *observe_only(struct virt *v, const struct model *desired,
                              const char *const *names, size_t n, char *err, size_t errlen)
{
    struct obs_host *h = xcalloc(1, sizeof(*h));
    h->arena = arena_new();
    h->uri = arena_strdup(h->arena, virt_uri(v));
    h->root = "";
    h->partial = true;
    unsigned long before = virt_calls(v);
    if (observe_domains(v, h, desired, 0, names, n, err, errlen) < 0) {
        observe_free(h);
        return NULL;
    }
    h->calls = virt_calls(v) - before;
    return h;
}

void observe_leases(struct virt *v, struct obs_host *h)
{
    size_t cap = 0;
    for (size_t i = 0; i < h->nnets; i++) {
        struct virt_lease *l;
        size_t n;
        char err[256];
        if (!h->nets[i].active ||
            virt_network_leases(v, h->nets[i].name, &l, &n, err, sizeof(err)) < 0)
            continue;
        for (size_t j = 0; j < n; j++)
            *vec_append(h->arena, h->leases, h->nleases, cap, 1) = (struct obs_lease){
                h->nets[i].name, arena_strdup(h->arena, l[j].mac),
                arena_printf(h->arena, "%s/%u", l[j].ip, l[j].prefix) };
        virt_leases_free(l, n);
    }
}

const struct obs_lease *observe_lease(const struct obs_host *h, const char *mac)
{
    for (size_t i = 0; mac && i < h->nleases; i++)
        if (strcasecmp(h->leases[i].mac, mac) == 0)
            return &h->leases[i];
    return NULL;
}
