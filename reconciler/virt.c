/* virt.c — the libvirt adapter. See virt.h.
 *
 * A lost connection is named as such: libvirt calls the close callback
 * registered at open (the daemon closed the socket, an I/O error, no
 * answer to keepalive messages), and a failed call on a closed connection
 * reports "lost the connection to 'URI': why" instead of libvirt's
 * message for the call, which is often only "client socket is closed".
 *
 * HOW A DAEMON THAT DOES NOT ANSWER IS NOTICED
 *
 * libvirt's remote driver waits for every reply without a time limit, and
 * its clients have no URI parameter or libvirt.conf setting for one. What
 * it offers is keepalive: with an event loop registered before the first
 * open (virEventRegisterDefaultImpl) and running in a thread of ours
 * (virEventRunDefaultImpl in a loop), virConnectSetKeepAlive(conn, I, C)
 * makes the client send a keepalive message after I seconds without
 * hearing from the daemon, again every I seconds, and close the connection
 * when C of them in a row are unanswered: after about I * (C + 1) seconds
 * of silence. The thread waiting for a reply does this itself, so a call
 * in progress fails then too; the close callback records why.
 *
 * Keepalive starts only once the connection is open, and opening is itself
 * a conversation with the daemon (the remote driver's open, auth and
 * feature calls), which a socket that accepts and never answers stalls for
 * ever. So the open runs in a thread of its own and virt_open waits for it
 * with a deadline. A thread that misses it is abandoned, not cancelled
 * (libvirt holds locks inside it): it still owns its little state, closes
 * the connection should it ever come, and otherwise ends with the process,
 * which a failed open ends soon anyway in a command-line tool.
 */
#include "virt.h"
#include "virtxml.h"

#include "arena.h"
#include "text.h"

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

struct virt {
    virConnectPtr conn;
    atomic_ulong calls;  /* several actions at once count here */
    /* One domain definition at a time on a connection: a fresh libvirtd
     * validating several at once (VIR_DOMAIN_DEFINE_VALIDATE) races in
     * libxml2's first use of its RelaxNG type library ("Unable to parse
     * RNG ... 'unsignedInt' is not exported"), seen with libvirt 9.0 and
     * libxml2 2.9. A definition takes milliseconds; starts stay parallel. */
    pthread_mutex_t define_mu;
    char *uri;
    char *socket_path;   /* the daemon's unix socket, NULL when not local */
    atomic_int closed;   /* 0, or 1 + the virConnectCloseReason (set by on_close) */
    struct virt_limits lim;
    virt_wait_fn wait_hook;          /* progress of a graceful stop, or NULL */
    void *wait_payload;
    virt_event_fn event_fn;          /* lifecycle events (virt_watch_domains), or NULL */
    void *event_payload;
    int event_id;                    /* libvirt's callback id; -1 none */
    pthread_mutex_t ev_mu;           /* event_released: libvirt is done with the callback */
    pthread_cond_t ev_cv;
    bool event_released;
};

static void silent(void *data, virErrorPtr e)
{
    (void)data;
    (void)e;
}

/* A detached thread running fn(arg), with every signal blocked in it (they
 * stay with the main thread: SIGINT during an apply, SIGPIPE ignored).
 * 0, or pthread_create's error. */
static int spawn_detached(void *(*fn)(void *), void *arg)
{
    pthread_t t;
    pthread_attr_t at;
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_attr_init(&at);
    pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
    int e = pthread_create(&t, &at, fn, arg);
    pthread_attr_destroy(&at);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return e;
}

static void *event_loop(void *arg)
{
    (void)arg;
    while (virEventRunDefaultImpl() == 0)
        ;
    return NULL;
}

/* Runs in whichever thread notices the close (libvirt's I/O code). */
static void on_close(virConnectPtr conn, int reason, void *opaque)
{
    (void)conn;
    struct virt *v = opaque;
    atomic_store(&v->closed, reason + 1);
    /* a watched connection says so at once: a node that died is seen in
     * milliseconds, not at the next call */
    if (v->event_fn)
        v->event_fn(v->event_payload, NULL, "lost");
}

/* Is the connection gone? Then why, as a message. */
static bool lost(struct virt *v, const char *libvirt_msg, char *why, size_t whylen)
{
    int closed = atomic_load(&v->closed);
    if (!closed) {
        v->calls++;
        if (virConnectIsAlive(v->conn) != 0)     /* alive, or cannot tell */
            return false;
        closed = atomic_load(&v->closed);        /* the callback may have come since */
    }
    const char *reason;
    char ka[160];
    switch (closed - 1) {
    case VIR_CONNECT_CLOSE_REASON_EOF: reason = "the daemon closed it"; break;
    case VIR_CONNECT_CLOSE_REASON_ERROR: reason = "an I/O error on it"; break;
    case VIR_CONNECT_CLOSE_REASON_CLIENT: reason = "closed by qkvm"; break;
    case VIR_CONNECT_CLOSE_REASON_KEEPALIVE:
        snprintf(ka, sizeof(ka), "keepalive timeout: no answer for about %ds (%u keepalive "
                 "messages %ds apart)",
                 v->lim.keepalive_interval * (int)(v->lim.keepalive_count + 1),
                 v->lim.keepalive_count, v->lim.keepalive_interval);
        reason = ka;
        libvirt_msg = NULL;      /* "connection closed due to keepalive timeout", or none */
        break;
    default: reason = "it is closed"; break;
    }
    if (libvirt_msg && *libvirt_msg)
        snprintf(why, whylen, "lost the connection to '%s': %s (%s)", v->uri, reason,
                 libvirt_msg);
    else
        snprintf(why, whylen, "lost the connection to '%s': %s", v->uri, reason);
    return true;
}

bool virt_lost(struct virt *v, char *why, size_t whylen)
{
    return lost(v, NULL, why, whylen);
}

/* err = "what: libvirt's message", or the lost connection. libvirt's
 * message passes on what QEMU or a helper printed, newlines and terminal
 * escapes included: it is escaped before it is printed or stored. */
static int lverr(struct virt *v, char *err, size_t errlen, const char *what)
{
    const char *m = virGetLastErrorMessage();
    char msg[1024];
    /* copied first: virConnectIsAlive (in lost) resets the last error */
    if (m && *m)
        text_escape(msg, sizeof(msg), m, strlen(m));
    else
        snprintf(msg, sizeof(msg), "unknown libvirt error");
    if (!lost(v, msg, err, errlen))
        snprintf(err, errlen, "%s: %s", what, msg);
    return -1;
}

/* "qemu+unix:///system?socket=/x/sock" -> "/x/sock"; qemu:///system ->
 * /run/libvirt/libvirt-sock; NULL for remote or non-daemon URIs. */
static char *socket_of(const char *uri)
{
    if (!uri || strncmp(uri, "test:", 5) == 0)
        return NULL;
    const char *sep = strstr(uri, "://");
    if (!sep)
        return NULL;
    const char *host = sep + 3;
    if (*host != '/')                        /* a host name: remote */
        return NULL;
    size_t scheme_len = (size_t)(sep - uri);
    const char *plus = memchr(uri, '+', scheme_len);
    if (plus && strncmp(plus, "+unix", 5) != 0)
        return NULL;
    const char *q = strstr(uri, "socket=");
    if (q) {
        q += 7;
        size_t n = strcspn(q, "&");
        char *p = xmalloc(n + 1);
        memcpy(p, q, n);
        p[n] = '\0';
        return p;
    }
    if (strstr(uri, "/session"))
        return NULL;
    return xstrdup("/run/libvirt/libvirt-sock");
}

/* libvirt, once per process: its error printing off, its event loop
 * registered and run in a thread of its own (keepalive needs it). */
static int init_done;          /* 1 ok, -1 failed */
static char init_why[256];
static pthread_once_t init_once = PTHREAD_ONCE_INIT;

static void init_once_fn(void)
{
    int done = -1;
    char *why = init_why;
    if (virInitialize() < 0) {
        snprintf(why, sizeof(init_why), "cannot initialise libvirt");
    } else {
        virSetErrorFunc(NULL, silent);
        if (virEventRegisterDefaultImpl() < 0) {
            const char *m = virGetLastErrorMessage();
            snprintf(why, sizeof(init_why), "cannot start libvirt's event loop: %s",
                     m && *m ? m : "unknown libvirt error");
        } else {
            int e = spawn_detached(event_loop, NULL);
            if (e)
                snprintf(why, sizeof(init_why), "cannot start libvirt's event loop: %s",
                         strerror(e));
            else
                done = 1;
        }
    }
    init_done = done;
}

/* Several nodes connect from several threads: once, whoever is first. */
static int init(char *err, size_t errlen)
{
    pthread_once(&init_once, init_once_fn);
    if (init_done < 0)
        snprintf(err, errlen, "%s", init_why);
    return init_done > 0 ? 0 : -1;
}

/* An open in its own thread (see HOW ... above). Whoever is last frees it:
 * the waiter when the result came in time, the thread when abandoned. */
struct opening {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    char *uri;               /* NULL: libvirt's default */
    virConnectPtr conn;
    char msg[512];           /* libvirt's message when the open failed */
    bool done, abandoned;
};

static void opening_free(struct opening *op)
{
    pthread_mutex_destroy(&op->mu);
    pthread_cond_destroy(&op->cv);
    free(op->uri);
    free(op);
}

static void *open_thread(void *arg)
{
    struct opening *op = arg;
    virConnectPtr c = virConnectOpen(op->uri);
    const char *m = c ? NULL : virGetLastErrorMessage();
    pthread_mutex_lock(&op->mu);
    bool gone = op->abandoned;
    op->conn = c;
    if (!c)
        snprintf(op->msg, sizeof(op->msg), "%s", m && *m ? m : "unknown libvirt error");
    op->done = true;
    pthread_cond_signal(&op->cv);
    pthread_mutex_unlock(&op->mu);
    if (gone) {
        if (c)
            virConnectClose(c);
        opening_free(op);
    }
    return NULL;
}

/* "30s", "1.5s" */
static void fmt_seconds(int ms, char *buf, size_t size)
{
    if (ms % 1000)
        snprintf(buf, size, "%.1fs", ms / 1000.0);
    else
        snprintf(buf, size, "%ds", ms / 1000);
}

/* virConnectOpen, given up after timeout_ms (0: no limit). */
static virConnectPtr open_within(const char *uri, int timeout_ms, char *msg, size_t msglen)
{
    if (timeout_ms <= 0) {
        virConnectPtr c = virConnectOpen(uri);
        if (!c) {
            const char *m = virGetLastErrorMessage();
            snprintf(msg, msglen, "%s", m && *m ? m : "unknown libvirt error");
        }
        return c;
    }
    struct opening *op = xcalloc(1, sizeof(*op));
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_mutex_init(&op->mu, NULL);
    pthread_cond_init(&op->cv, &ca);
    pthread_condattr_destroy(&ca);
    op->uri = uri ? xstrdup(uri) : NULL;

    int e = spawn_detached(open_thread, op);
    if (e) {
        snprintf(msg, msglen, "cannot start a thread: %s", strerror(e));
        opening_free(op);
        return NULL;
    }
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += timeout_ms / 1000;
    until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&op->mu);
    while (!op->done && pthread_cond_timedwait(&op->cv, &op->mu, &until) != ETIMEDOUT)
        ;
    if (!op->done) {
        op->abandoned = true;             /* the thread frees op */
        pthread_mutex_unlock(&op->mu);
        char d[32];
        fmt_seconds(timeout_ms, d, sizeof(d));
        snprintf(msg, msglen, "no answer within %s", d);
        return NULL;
    }
    virConnectPtr c = op->conn;
    if (!c)
        snprintf(msg, msglen, "%s", op->msg);
    pthread_mutex_unlock(&op->mu);
    opening_free(op);
    return c;
}

struct virt *virt_open(const char *uri, const struct virt_limits *lim, char *err, size_t errlen)
{
    if (init(err, errlen) < 0)
        return NULL;
    const char *name = uri ? uri : "libvirt's default URI";
    char msg[512];
    virConnectPtr c = open_within(uri, lim->connect_timeout_ms, msg, sizeof(msg));
    if (!c) {
        snprintf(err, errlen, "cannot connect to '%s': %s", name, msg);
        return NULL;
    }
    struct virt *v = xcalloc(1, sizeof(*v));
    v->conn = c;
    v->event_id = -1;
    pthread_mutex_init(&v->define_mu, NULL);
    pthread_mutex_init(&v->ev_mu, NULL);
    pthread_cond_init(&v->ev_cv, NULL);
    v->calls = 1;
    v->lim = *lim;
    char *u = virConnectGetURI(c);
    v->calls++;
    v->uri = xstrdup(u ? u : uri ? uri : "");
    free(u);
    v->socket_path = socket_of(uri ? uri : v->uri);
    atomic_init(&v->closed, 0);
    /* drivers without a connection to lose (test:///) may refuse: harmless */
    v->calls++;
    if (virConnectRegisterCloseCallback(c, on_close, v, NULL) < 0)
        virResetLastError();
    if (lim->keepalive_interval > 0) {
        v->calls++;
        if (virConnectSetKeepAlive(c, lim->keepalive_interval, lim->keepalive_count) < 0) {
            if (virGetLastErrorCode() != VIR_ERR_NO_SUPPORT) {
                const char *m = virGetLastErrorMessage();
                snprintf(err, errlen, "cannot connect to '%s': cannot start keepalive: %s",
                         v->uri, m && *m ? m : "unknown libvirt error");
                virt_close(v);
                return NULL;
            }
            virResetLastError();          /* a driver with no daemon to lose */
        }
    }
    return v;
}

static const char *lifecycle_name(int event)
{
    switch (event) {
    case VIR_DOMAIN_EVENT_DEFINED: return "defined";
    case VIR_DOMAIN_EVENT_UNDEFINED: return "undefined";
    case VIR_DOMAIN_EVENT_STARTED: return "started";
    case VIR_DOMAIN_EVENT_SUSPENDED: return "suspended";
    case VIR_DOMAIN_EVENT_RESUMED: return "resumed";
    case VIR_DOMAIN_EVENT_STOPPED: return "stopped";
    case VIR_DOMAIN_EVENT_SHUTDOWN: return "shut down";
    case VIR_DOMAIN_EVENT_PMSUSPENDED: return "suspended by the guest";
    case VIR_DOMAIN_EVENT_CRASHED: return "crashed";
    default: return "changed";
    }
}

/* Runs in libvirt's event loop thread. */
static int on_lifecycle(virConnectPtr conn, virDomainPtr dom, int event, int detail,
                        void *opaque)
{
    (void)conn;
    (void)detail;
    struct virt *v = opaque;
    const char *name = virDomainGetName(dom);
    if (v->event_fn && name)
        v->event_fn(v->event_payload, name, lifecycle_name(event));
    return 0;
}

/* libvirt frees the callback's registration: only then is it sure not to
 * run it again (a deregistration during a dispatch only marks it). */
static void on_lifecycle_free(void *opaque)
{
    struct virt *v = opaque;
    pthread_mutex_lock(&v->ev_mu);
    v->event_released = true;
    pthread_cond_broadcast(&v->ev_cv);
    pthread_mutex_unlock(&v->ev_mu);
}

int virt_watch_domains(struct virt *v, virt_event_fn fn, void *payload, char *err,
                       size_t errlen)
{
    v->event_fn = fn;
    v->event_payload = payload;
    v->event_released = false;
    v->event_id = virConnectDomainEventRegisterAny(v->conn, NULL, VIR_DOMAIN_EVENT_ID_LIFECYCLE,
                                                   VIR_DOMAIN_EVENT_CALLBACK(on_lifecycle), v,
                                                   on_lifecycle_free);
    if (v->event_id < 0)
        return lverr(v, err, errlen, "cannot register for domain events");
    return 0;
}

void virt_close(struct virt *v)
{
    if (!v)
        return;
    bool keep = false;
    if (v->event_id >= 0) {
        virConnectDomainEventDeregisterAny(v->conn, v->event_id);
        virConnectUnregisterCloseCallback(v->conn, on_close);
        virConnectClose(v->conn);
        /* a callback under way still uses v: wait for libvirt to let go
         * of it; should it never say so, v is left, not freed under it */
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += 5;
        pthread_mutex_lock(&v->ev_mu);
        while (!v->event_released &&
               pthread_cond_timedwait(&v->ev_cv, &v->ev_mu, &until) != ETIMEDOUT)
            ;
        keep = !v->event_released;
        pthread_mutex_unlock(&v->ev_mu);
    } else {
        virConnectUnregisterCloseCallback(v->conn, on_close);
        virConnectClose(v->conn);
    }
    if (keep)
        return;
    pthread_mutex_destroy(&v->ev_mu);
    pthread_cond_destroy(&v->ev_cv);
    pthread_mutex_destroy(&v->define_mu);
    free(v->uri);
    free(v->socket_path);
    free(v);
}

unsigned long virt_calls(const struct virt *v) { return v->calls; }
const char *virt_uri(const struct virt *v) { return v->uri; }
bool virt_is_local(const struct virt *v) { return v->socket_path != NULL; }

int virt_daemon_pid(const struct virt *v)
{
    if (!v->socket_path || strlen(v->socket_path) >= sizeof(((struct sockaddr_un *)0)->sun_path))
        return 0;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return 0;
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    memcpy(sa.sun_path, v->socket_path, strlen(v->socket_path) + 1);
    struct ucred cred = { 0 };
    socklen_t len = sizeof(cred);
    int pid = 0;
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
        getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0)
        pid = cred.pid;
    close(fd);
    return pid;
}

/* ---- lists ---- */

static int cmp_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Is name in the sorted list (from names())? */
static bool in(char **sorted, int n, const char *name)
{
    return n > 0 && bsearch(&name, sorted, (size_t)n, sizeof(*sorted), cmp_name) != NULL;
}

static void free_names(char **names, int n)
{
    for (int i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

/* Domains, networks and pools through one interface, so that listing them
 * is one piece of code. */
static int list_all(struct virt *v, enum virt_type t, unsigned flags, void ***out)
{
    int n = -1;
    v->calls++;
    switch (t) {
    case VIRT_DOMAIN: {
        virDomainPtr *d = NULL;
        n = virConnectListAllDomains(v->conn, &d, flags);
        *out = (void **)d;
        break;
    }
    case VIRT_NETWORK: {
        virNetworkPtr *d = NULL;
        n = virConnectListAllNetworks(v->conn, &d, flags);
        *out = (void **)d;
        break;
    }
    case VIRT_POOL: {
        virStoragePoolPtr *d = NULL;
        n = virConnectListAllStoragePools(v->conn, &d, flags);
        *out = (void **)d;
        break;
    }
    case VIRT_VOLUME:
        *out = NULL;
        break;
    }
    return n;
}

static const char *obj_name(enum virt_type t, void *h)
{
    switch (t) {
    case VIRT_DOMAIN: return virDomainGetName(h);
    case VIRT_NETWORK: return virNetworkGetName(h);
    case VIRT_POOL: return virStoragePoolGetName(h);
    case VIRT_VOLUME: return virStorageVolGetName(h);
    }
    return NULL;
}

static char *obj_xml(enum virt_type t, void *h)
{
    switch (t) {
    case VIRT_DOMAIN: return virDomainGetXMLDesc(h, 0);
    case VIRT_NETWORK: return virNetworkGetXMLDesc(h, 0);
    case VIRT_POOL: return virStoragePoolGetXMLDesc(h, 0);
    case VIRT_VOLUME: return virStorageVolGetXMLDesc(h, 0);
    }
    return NULL;
}

static void obj_free(enum virt_type t, void *h)
{
    switch (t) {
    case VIRT_DOMAIN: virDomainFree(h); break;
    case VIRT_NETWORK: virNetworkFree(h); break;
    case VIRT_POOL: virStoragePoolFree(h); break;
    case VIRT_VOLUME: virStorageVolFree(h); break;
    }
}

/* Undefined between the list and the XML fetch: not an error. */
static bool vanished(enum virt_type t)
{
    int code = virGetLastErrorCode();
    return (t == VIRT_DOMAIN && code == VIR_ERR_NO_DOMAIN) ||
           (t == VIRT_NETWORK && code == VIR_ERR_NO_NETWORK) ||
           (t == VIRT_POOL && code == VIR_ERR_NO_STORAGE_POOL) ||
           (t == VIRT_VOLUME && code == VIR_ERR_NO_STORAGE_VOL);
}

/* Names of the objects matching `flags` (one call). */
static int names(struct virt *v, enum virt_type t, unsigned flags, char ***out)
{
    void **objs = NULL;
    *out = NULL;
    if (!flags)
        return 0;
    int n = list_all(v, t, flags, &objs);
    if (n < 0)
        return -1;
    char **nm = xcalloc((size_t)n + 1, sizeof(*nm));
    for (int i = 0; i < n; i++) {
        nm[i] = xstrdup(obj_name(t, objs[i]));
        obj_free(t, objs[i]);
    }
    free(objs);
    qsort(nm, (size_t)n, sizeof(*nm), cmp_name);
    *out = nm;
    return n;
}

/* Every object of a type with its XML; states come from one filtered list
 * each (active, autostart, transient, paused), never from per-object calls. */
static int list_objects(struct virt *v, enum virt_type t, struct virt_list *out,
                        char *err, size_t errlen)
{
    static const struct {
        const char *what;
        unsigned active, autostart, transient, paused;
    } f[] = {
        [VIRT_DOMAIN] = { "cannot list domains", VIR_CONNECT_LIST_DOMAINS_ACTIVE,
                          VIR_CONNECT_LIST_DOMAINS_AUTOSTART, VIR_CONNECT_LIST_DOMAINS_TRANSIENT,
                          VIR_CONNECT_LIST_DOMAINS_PAUSED },
        [VIRT_NETWORK] = { "cannot list networks", VIR_CONNECT_LIST_NETWORKS_ACTIVE,
                           VIR_CONNECT_LIST_NETWORKS_AUTOSTART,
                           VIR_CONNECT_LIST_NETWORKS_TRANSIENT, 0 },
        [VIRT_POOL] = { "cannot list storage pools", VIR_CONNECT_LIST_STORAGE_POOLS_ACTIVE,
                        VIR_CONNECT_LIST_STORAGE_POOLS_AUTOSTART,
                        VIR_CONNECT_LIST_STORAGE_POOLS_TRANSIENT, 0 },
    };
    memset(out, 0, sizeof(*out));
    out->type = t;
    void **objs = NULL;
    int n = list_all(v, t, 0, &objs);
    if (n < 0)
        return lverr(v, err, errlen, f[t].what);
    char **active, **autostart, **transient, **paused;
    int na = names(v, t, f[t].active, &active);
    int ns = names(v, t, f[t].autostart, &autostart);
    int nt = names(v, t, f[t].transient, &transient);
    int np = names(v, t, f[t].paused, &paused);
    out->v = xcalloc((size_t)n + 1, sizeof(*out->v));
    int rc = 0;
    if (na < 0 || ns < 0 || nt < 0 || np < 0)
        rc = lverr(v, err, errlen, f[t].what);
    for (int i = 0; i < n; i++) {
        struct virt_item *it = &out->v[out->n++];
        it->handle = objs[i];
        it->name = xstrdup(obj_name(t, objs[i]));
        if (rc)
            continue;
        v->calls++;
        it->xml = obj_xml(t, objs[i]);
        if (!it->xml) {
            if (vanished(t)) {
                out->n--;
                free(it->name);
                obj_free(t, objs[i]);
                continue;
            }
            rc = lverr(v, err, errlen, it->name);
        }
        it->active = in(active, na, it->name);
        it->autostart = in(autostart, ns, it->name);
        it->persistent = !in(transient, nt, it->name);
        it->paused = in(paused, np, it->name);
    }
    free(objs);
    free_names(active, na < 0 ? 0 : na);
    free_names(autostart, ns < 0 ? 0 : ns);
    free_names(transient, nt < 0 ? 0 : nt);
    free_names(paused, np < 0 ? 0 : np);
    return rc;
}

/* ---- measured CPU use ---- */

struct cpu_sample {
    char **names;
    unsigned long long *ns;          /* cpu.time; ULLONG_MAX: not given */
    size_t n;
    double at;                       /* CLOCK_MONOTONIC seconds, mid-call */
};

static double mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cpu_sample(struct virt *v, struct cpu_sample *out, char *err, size_t errlen)
{
    virDomainStatsRecordPtr *recs = NULL;
    double t0 = mono_now();
    v->calls++;
    int k = virConnectGetAllDomainStats(v->conn, VIR_DOMAIN_STATS_CPU_TOTAL, &recs,
                                        VIR_CONNECT_GET_ALL_DOMAINS_STATS_ACTIVE);
    out->at = (t0 + mono_now()) / 2;
    if (k < 0)
        return lverr(v, err, errlen, "cannot read the domains' CPU statistics");
    out->n = (size_t)k;
    out->names = xcalloc((size_t)k + 1, sizeof(*out->names));
    out->ns = xcalloc((size_t)k + 1, sizeof(*out->ns));
    for (int i = 0; i < k; i++) {
        const char *name = virDomainGetName(recs[i]->dom);
        out->names[i] = xstrdup(name ? name : "");
        out->ns[i] = ULLONG_MAX;
        for (int j = 0; j < recs[i]->nparams; j++)
            if (strcmp(recs[i]->params[j].field, "cpu.time") == 0 &&
                recs[i]->params[j].type == VIR_TYPED_PARAM_ULLONG)
                out->ns[i] = recs[i]->params[j].value.ul;
    }
    virDomainStatsRecordListFree(recs);
    return 0;
}

static void cpu_sample_free(struct cpu_sample *c)
{
    for (size_t i = 0; i < c->n; i++)
        free(c->names[i]);
    free(c->names);
    free(c->ns);
}

int virt_cpu_use(struct virt *v, int interval_ms, struct virt_cpu_use **out, size_t *n,
                 bool *measured, char *err, size_t errlen)
{
    *out = NULL;
    *n = 0;
    *measured = false;
    struct cpu_sample a = { 0 }, b = { 0 };
    if (cpu_sample(v, &a, err, errlen) < 0)
        return -1;
    bool any = a.n == 0;
    for (size_t i = 0; i < a.n; i++)
        any |= a.ns[i] != ULLONG_MAX;
    if (!any || a.n == 0) {
        *measured = any;
        cpu_sample_free(&a);
        return 0;
    }
    struct timespec ts = { interval_ms / 1000, (long)(interval_ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
    if (cpu_sample(v, &b, err, errlen) < 0) {
        cpu_sample_free(&a);
        return -1;
    }
    double dt = b.at - a.at;
    *out = xcalloc(b.n + 1, sizeof(**out));
    for (size_t i = 0; i < b.n; i++) {
        if (b.ns[i] == ULLONG_MAX)
            continue;
        /* a domain started between the samples counts from its start: 0 */
        unsigned long long before = b.ns[i];
        for (size_t j = 0; j < a.n; j++)
            if (strcmp(a.names[j], b.names[i]) == 0 && a.ns[j] != ULLONG_MAX &&
                a.ns[j] <= b.ns[i])
                before = a.ns[j];
        (*out)[*n].name = xstrdup(b.names[i]);
        (*out)[*n].cpus = dt > 0 ? (double)(b.ns[i] - before) / 1e9 / dt : 0;
        (*n)++;
    }
    *measured = true;
    cpu_sample_free(&a);
    cpu_sample_free(&b);
    return 0;
}

void virt_cpu_use_free(struct virt_cpu_use *u, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(u[i].name);
    free(u);
}

int virt_list_domains(struct virt *v, struct virt_list *out, char *err, size_t errlen)
{
    return list_objects(v, VIRT_DOMAIN, out, err, errlen);
}

int virt_get_domains(struct virt *v, const char *const *want, size_t n, struct virt_list *out,
                     char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    out->type = VIRT_DOMAIN;
    out->v = xcalloc(n + 1, sizeof(*out->v));
    for (size_t i = 0; i < n; i++) {
        v->calls++;
        virDomainPtr d = virDomainLookupByName(v->conn, want[i]);
        if (!d) {
            if (vanished(VIRT_DOMAIN))
                continue;
            return lverr(v, err, errlen, want[i]);
        }
        struct virt_item *it = &out->v[out->n++];
        it->handle = d;
        it->name = xstrdup(want[i]);
        int state = 0, reason = 0, active, persistent, autostart = 0;
        v->calls += 5;
        it->xml = virDomainGetXMLDesc(d, 0);
        if (!it->xml || virDomainGetState(d, &state, &reason, 0) < 0 ||
            (active = virDomainIsActive(d)) < 0 ||
            (persistent = virDomainIsPersistent(d)) < 0 ||
            (persistent && virDomainGetAutostart(d, &autostart) < 0)) {
            if (vanished(VIRT_DOMAIN)) {       /* undefined since: as if never found */
                free(it->xml);
                free(it->name);
                virDomainFree(d);
                out->n--;
                memset(it, 0, sizeof(*it));
                continue;
            }
            return lverr(v, err, errlen, want[i]);
        }
        it->active = active == 1;
        it->paused = active == 1 && state == VIR_DOMAIN_PAUSED;
        it->persistent = persistent == 1;
        it->autostart = autostart == 1;
    }
    return 0;
}

char *virt_domain_config_xml(struct virt *v, const struct virt_item *dom, char *err,
                             size_t errlen)
{
    v->calls++;
    char *x = virDomainGetXMLDesc(dom->handle, VIR_DOMAIN_XML_INACTIVE);
    if (!x)
        lverr(v, err, errlen, dom->name);
    return x;
}

char *virt_network_config_xml(struct virt *v, const struct virt_item *net, char *err,
                              size_t errlen)
{
    v->calls++;
    char *x = virNetworkGetXMLDesc(net->handle, VIR_NETWORK_XML_INACTIVE);
    int code = x ? 0 : virGetLastErrorCode();
    if (code == VIR_ERR_INVALID_ARG || code == VIR_ERR_NO_SUPPORT)
        *err = '\0';          /* a driver without it (the test driver) */
    else if (!x)
        lverr(v, err, errlen, net->name);
    return x;
}

enum virt_paused virt_domain_paused_reason(struct virt *v, const struct virt_item *dom,
                                           const char **text)
{
    static const char *const names[] = {
        "unknown", "paused by the user", "migrating", "saving", "dumping", "an I/O error",
        "the watchdog", "restored from a snapshot", "shutting down", "taking a snapshot",
        "crashed", "starting up", "post-copy migration", "post-copy migration failed",
        "an API error",
    };
    int state = 0, reason = 0;
    v->calls++;
    *text = "unknown";
    if (virDomainGetState(dom->handle, &state, &reason, 0) < 0 || state != VIR_DOMAIN_PAUSED)
        return VIRT_PAUSED_OTHER;
    if (reason >= 0 && (size_t)reason < sizeof(names) / sizeof(names[0]))
        *text = names[reason];
    if (reason == VIR_DOMAIN_PAUSED_IOERROR)
        return VIRT_PAUSED_IOERROR;
    if (reason == VIR_DOMAIN_PAUSED_STARTING_UP)
        return VIRT_PAUSED_STARTING_UP;
    return VIRT_PAUSED_OTHER;
}

int virt_list_networks(struct virt *v, struct virt_list *out, char *err, size_t errlen)
{
    return list_objects(v, VIRT_NETWORK, out, err, errlen);
}

int virt_list_pools(struct virt *v, struct virt_list *out, char *err, size_t errlen)
{
    return list_objects(v, VIRT_POOL, out, err, errlen);
}

int virt_list_volumes(struct virt *v, const struct virt_item *pool, struct virt_list *out,
                      char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    out->type = VIRT_VOLUME;
    virStorageVolPtr *vols = NULL;
    v->calls++;
    int n = virStoragePoolListAllVolumes(pool->handle, &vols, 0);
    if (n < 0)
        return lverr(v, err, errlen, pool->name);
    out->v = xcalloc((size_t)n + 1, sizeof(*out->v));
    int rc = 0;
    for (int i = 0; i < n; i++) {
        struct virt_item *it = &out->v[out->n++];
        it->handle = vols[i];
        it->name = xstrdup(obj_name(VIRT_VOLUME, vols[i]));
        if (rc)
            continue;
        v->calls++;
        it->xml = obj_xml(VIRT_VOLUME, vols[i]);
        if (!it->xml)
            rc = lverr(v, err, errlen, it->name);
        it->active = true;
        it->persistent = true;
    }
    free(vols);
    return rc;
}

void virt_list_free(struct virt_list *l)
{
    for (size_t i = 0; i < l->n; i++) {
        struct virt_item *it = &l->v[i];
        free(it->name);
        free(it->xml);
        obj_free(l->type, it->handle);
    }
    free(l->v);
    memset(l, 0, sizeof(*l));
}

/* ---- writes ---- */

#define LOOKUP(type, fn, what)                                        \
    v->calls++;                                                       \
    type o = fn(v->conn, name);                                       \
    if (!o)                                                           \
        return lverr(v, err, errlen, what);

int virt_pool_define(struct virt *v, const char *xml, char *err, size_t errlen)
{
    v->calls++;
    virStoragePoolPtr p = virStoragePoolDefineXML(v->conn, xml, 0);
    if (!p)
        return lverr(v, err, errlen, "cannot define pool");
    virStoragePoolFree(p);
    return 0;
}

int virt_pool_start(struct virt *v, const char *name, char *err, size_t errlen)
{
    LOOKUP(virStoragePoolPtr, virStoragePoolLookupByName, name);
    int rc = 0;
    v->calls += 3;
    /* build creates the directory (and is harmless when it exists) */
    if (virStoragePoolBuild(o, 0) < 0 || virStoragePoolCreate(o, 0) < 0 ||
        virStoragePoolSetAutostart(o, 1) < 0)
        rc = lverr(v, err, errlen, name);
    virStoragePoolFree(o);
    return rc;
}

/* Stop and undefine; the directory and its files stay. */
int virt_pool_remove(struct virt *v, const char *name, char *err, size_t errlen)
{
    LOOKUP(virStoragePoolPtr, virStoragePoolLookupByName, name);
    int rc = 0;
    v->calls += 2;
    if ((virStoragePoolIsActive(o) == 1 && virStoragePoolDestroy(o) < 0) ||
        virStoragePoolUndefine(o) < 0)
        rc = lverr(v, err, errlen, name);
    virStoragePoolFree(o);
    return rc;
}

int virt_pool_uuid(struct virt *v, const char *name, char *uuid, size_t size)
{
    v->calls++;
    virStoragePoolPtr o = virStoragePoolLookupByName(v->conn, name);
    if (!o || size < VIR_UUID_STRING_BUFLEN) {
        if (o)
            virStoragePoolFree(o);
        return -1;
    }
    int rc = virStoragePoolGetUUIDString(o, uuid);
    virStoragePoolFree(o);
    return rc;
}

int virt_volume_create(struct virt *v, const char *pool, const char *xml, char *err,
                       size_t errlen)
{
    const char *name = pool;
    LOOKUP(virStoragePoolPtr, virStoragePoolLookupByName, pool);
    v->calls++;
    virStorageVolPtr vol = virStorageVolCreateXML(o, xml, 0);
    int rc = vol ? 0 : lverr(v, err, errlen, "cannot create volume");
    if (vol)
        virStorageVolFree(vol);
    virStoragePoolFree(o);
    return rc;
}

static virStorageVolPtr volume(struct virt *v, const char *pool, const char *name,
                               char *err, size_t errlen)
{
    v->calls += 2;
    virStoragePoolPtr p = virStoragePoolLookupByName(v->conn, pool);
    if (!p) {
        lverr(v, err, errlen, pool);
        return NULL;
    }
    virStorageVolPtr vol = virStorageVolLookupByName(p, name);
    if (!vol)
        lverr(v, err, errlen, name);
    virStoragePoolFree(p);
    return vol;
}

int virt_volume_resize(struct virt *v, const char *pool, const char *name, uint64_t bytes,
                       char *err, size_t errlen)
{
    virStorageVolPtr vol = volume(v, pool, name, err, errlen);
    if (!vol)
        return -1;
    v->calls++;
    int rc = virStorageVolResize(vol, bytes, 0) < 0 ? lverr(v, err, errlen, "cannot resize") : 0;
    virStorageVolFree(vol);
    return rc;
}

int virt_volume_path(struct virt *v, const char *pool, const char *name, char *out,
                     size_t size)
{
    char err[256];
    virStorageVolPtr vol = volume(v, pool, name, err, sizeof(err));
    if (!vol)
        return -1;
    v->calls++;
    char *path = virStorageVolGetPath(vol);
    virStorageVolFree(vol);
    if (!path)
        return -1;
    snprintf(out, size, "%s", path);
    free(path);
    return 0;
}

int virt_pool_refresh(struct virt *v, const char *name, char *err, size_t errlen)
{
    LOOKUP(virStoragePoolPtr, virStoragePoolLookupByName, name);
    int rc = -1;
    /* libvirt refreshes a pool by itself after an upload, in the
     * background, and refuses a refresh while that runs ("asynchronous
     * jobs running"): asked again, for up to 10 s */
    for (int i = 0; i < 100; i++) {
        v->calls++;
        if (virStoragePoolRefresh(o, 0) == 0) {
            rc = 0;
            break;
        }
        const char *m = virGetLastErrorMessage();
        if (!m || !strstr(m, "asynchronous jobs")) {
            lverr(v, err, errlen, "cannot refresh pool");
            break;
        }
        struct timespec ts = { 0, 100 * 1000 * 1000 };
        nanosleep(&ts, NULL);
    }
    if (rc < 0 && !*err)
        snprintf(err, errlen, "pool %s: its refresh stayed refused (asynchronous jobs running)",
                 name);
    virStoragePoolFree(o);
    return rc;
}

char *virt_volume_xml(struct virt *v, const char *pool, const char *name, char *err,
                      size_t errlen)
{
    virStorageVolPtr vol = volume(v, pool, name, err, errlen);
    if (!vol)
        return NULL;
    v->calls++;
    char *xml = virStorageVolGetXMLDesc(vol, 0);
    if (!xml)
        lverr(v, err, errlen, name);
    virStorageVolFree(vol);
    return xml;
}

int virt_volume_capacity(struct virt *v, const char *pool, const char *name, uint64_t *bytes,
                         char *err, size_t errlen)
{
    virStorageVolPtr vol = volume(v, pool, name, err, errlen);
    if (!vol)
        return -1;
    virStorageVolInfo info;
    v->calls++;
    int rc = virStorageVolGetInfo(vol, &info) < 0 ? lverr(v, err, errlen, name) : 0;
    if (rc == 0)
        *bytes = info.capacity;
    virStorageVolFree(vol);
    return rc;
}

/* virStreamSendAll's source callback: the caller's reader. */
struct upload_src {
    virt_read_fn read;
    void *payload;
    uint64_t sent, total;
    virt_progress_fn progress;
};

static int upload_read(virStreamPtr st, char *data, size_t nbytes, void *opaque)
{
    (void)st;
    struct upload_src *u = opaque;
    if (u->total - u->sent < nbytes)
        nbytes = (size_t)(u->total - u->sent);
    if (nbytes == 0)
        return 0;
    ssize_t n = u->read(u->payload, data, nbytes);
    if (n < 0)
        return -1;
    u->sent += (uint64_t)n;
    if (u->progress)
        u->progress(u->payload, u->sent, u->total);
    return (int)n;
}

int virt_volume_upload(struct virt *v, const char *pool, const char *name, uint64_t length,
                       virt_read_fn read, virt_progress_fn progress, void *payload, char *err,
                       size_t errlen)
{
    virStorageVolPtr vol = volume(v, pool, name, err, errlen);
    if (!vol)
        return -1;
    v->calls++;
    virStreamPtr st = virStreamNew(v->conn, 0);
    if (!st) {
        virStorageVolFree(vol);
        return lverr(v, err, errlen, "cannot open a stream");
    }
    struct upload_src u = { read, payload, 0, length, progress };
    int rc = -1;
    v->calls++;
    if (virStorageVolUpload(vol, st, 0, length, 0) < 0) {
        lverr(v, err, errlen, "cannot upload");
        virStreamFree(st);
        virStorageVolFree(vol);
        return -1;
    }
    if (virStreamSendAll(st, upload_read, &u) < 0) {
        lverr(v, err, errlen, "upload failed");
        virStreamAbort(st);
    } else if (u.sent != length) {
        snprintf(err, errlen, "upload failed: the source ended after %llu of %llu bytes",
                 (unsigned long long)u.sent, (unsigned long long)length);
        virStreamAbort(st);
    } else if (virStreamFinish(st) < 0) {
        lverr(v, err, errlen, "upload failed");
    } else {
        rc = 0;
    }
    virStreamFree(st);
    virStorageVolFree(vol);
    return rc;
}

/* Send n bytes to a stream, all of them (a blocking stream may take
 * fewer at a time). */
static int send_all(virStreamPtr st, const char *buf, size_t n)
{
    while (n) {
        int k = virStreamSend(st, buf, n);
        if (k < 0)
            return -1;
        buf += k;
        n -= (size_t)k;
    }
    return 0;
}

int virt_volume_copy(struct virt *v, const char *pool, const char *name, struct virt *to,
                     const char *to_pool, virt_progress_fn progress, void *payload,
                     uint64_t *bytes, char *err, size_t errlen)
{
    *bytes = 0;
    virStorageVolPtr src = volume(v, pool, name, err, errlen);
    if (!src)
        return -1;
    virStorageVolInfo info;
    v->calls++;
    /* the file's own size (a qcow2's, not its virtual disk's), in allocation */
    if (virStorageVolGetInfoFlags(src, &info, VIR_STORAGE_VOL_GET_PHYSICAL) < 0) {
        lverr(v, err, errlen, name);
        virStorageVolFree(src);
        return -1;
    }
    uint64_t length = info.allocation;
    char *xml = virtxml_volume_encode_plain(name, length, "raw");
    int rc = virt_volume_create(to, to_pool, xml, err, errlen);
    free(xml);
    if (rc < 0) {
        virStorageVolFree(src);
        return -1;
    }
    virStorageVolPtr dst = volume(to, to_pool, name, err, errlen);
    virStreamPtr in = NULL, out = NULL;
    bool in_open = false, out_open = false;
    char *buf = xmalloc(256 * 1024);
    uint64_t done = 0;
    rc = -1;
    v->calls += 2;
    to->calls += 2;
    /* each checked at once: a later libvirt call resets the last error */
    if (!dst) {
        /* err says why */
    } else if (!(in = virStreamNew(v->conn, 0))) {
        lverr(v, err, errlen, "cannot open a stream");
    } else if (!(out = virStreamNew(to->conn, 0))) {
        lverr(to, err, errlen, "cannot open a stream");
    } else if (virStorageVolDownload(src, in, 0, length, VIR_STORAGE_VOL_DOWNLOAD_SPARSE_STREAM) < 0) {
        lverr(v, err, errlen, "cannot download");
    } else if ((in_open = true, virStorageVolUpload(dst, out, 0, length,
                                                    VIR_STORAGE_VOL_UPLOAD_SPARSE_STREAM) < 0)) {
        lverr(to, err, errlen, "cannot upload");
    } else {
        out_open = true;
        for (;;) {
            int k = virStreamRecvFlags(in, buf, 256 * 1024, VIR_STREAM_RECV_STOP_AT_HOLE);
            long long hole = 0;
            if (k == -3) {
                if (virStreamRecvHole(in, &hole, 0) < 0) {
                    lverr(v, err, errlen, "download failed");
                    break;
                }
                if (virStreamSendHole(out, hole, 0) < 0) {
                    lverr(to, err, errlen, "upload failed");
                    break;
                }
                done += (uint64_t)hole;
            } else if (k < 0) {
                lverr(v, err, errlen, "download failed");
                break;
            } else if (k == 0) {
                in_open = false;
                if (virStreamFinish(in) < 0) {
                    lverr(v, err, errlen, "download failed");
                    break;
                }
                out_open = false;
                if (done != length) {
                    snprintf(err, errlen, "the copy ended after %llu of %llu bytes",
                             (unsigned long long)done, (unsigned long long)length);
                    virStreamAbort(out);
                } else if (virStreamFinish(out) < 0) {
                    lverr(to, err, errlen, "upload failed");
                } else {
                    rc = 0;
                }
                break;
            } else {
                if (send_all(out, buf, (size_t)k) < 0) {
                    lverr(to, err, errlen, "upload failed");
                    break;
                }
                done += (uint64_t)k;
            }
            if (progress)
                progress(payload, done, length);
        }
    }
    if (in_open)
        virStreamAbort(in);
    if (out_open)
        virStreamAbort(out);
    free(buf);
    if (in)
        virStreamFree(in);
    if (out)
        virStreamFree(out);
    if (dst)
        virStorageVolFree(dst);
    virStorageVolFree(src);
    if (rc == 0) {
        *bytes = done;
        /* so libvirt reads the copy's format now; it refreshes the pool
         * after an upload by itself too, so a refused refresh is no failure */
        char e2[256];
        virt_pool_refresh(to, to_pool, e2, sizeof(e2));
        return 0;
    }
    char e2[256];
    if (virt_volume_delete(to, to_pool, name, e2, sizeof(e2)) < 0) {
        size_t n = strlen(err);
        snprintf(err + n, errlen - n, "; the partial copy could not be deleted either (%s)", e2);
    }
    return -1;
}

bool virt_volume_at(struct virt *v, const char *path)
{
    v->calls++;
    virStorageVolPtr vol = virStorageVolLookupByPath(v->conn, path);
    if (vol)
        virStorageVolFree(vol);
    return vol != NULL;
}

int virt_volume_delete(struct virt *v, const char *pool, const char *name, char *err,
                       size_t errlen)
{
    virStorageVolPtr vol = volume(v, pool, name, err, errlen);
    if (!vol)
        return -1;
    v->calls++;
    int rc = virStorageVolDelete(vol, 0) < 0 ? lverr(v, err, errlen, "cannot delete") : 0;
    virStorageVolFree(vol);
    return rc;
}

int virt_network_leases(struct virt *v, const char *name, struct virt_lease **out, size_t *n,
                        char *err, size_t errlen)
{
    *out = NULL;
    *n = 0;
    LOOKUP(virNetworkPtr, virNetworkLookupByName, name);
    virNetworkDHCPLeasePtr *leases = NULL;
    v->calls++;
    int k = virNetworkGetDHCPLeases(o, NULL, &leases, 0);
    virNetworkFree(o);
    if (k < 0)
        return lverr(v, err, errlen, name);
    *out = xcalloc((size_t)k + 1, sizeof(**out));
    for (int i = 0; i < k; i++) {
        const virNetworkDHCPLease *l = leases[i];
        if (l->type == VIR_IP_ADDR_TYPE_IPV4 && l->mac && l->ipaddr)
            (*out)[(*n)++] = (struct virt_lease){ xstrdup(l->mac), xstrdup(l->ipaddr),
                                                  (unsigned)l->prefix, (long long)l->expirytime };
        virNetworkDHCPLeaseFree(leases[i]);
    }
    free(leases);
    return 0;
}

void virt_leases_free(struct virt_lease *l, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(l[i].mac);
        free(l[i].ip);
    }
    free(l);
}

int virt_network_define(struct virt *v, const char *xml, char *err, size_t errlen)
{
    v->calls++;
    virNetworkPtr n = virNetworkDefineXML(v->conn, xml);
    if (!n)
        return lverr(v, err, errlen, "cannot define network");
    virNetworkFree(n);
    return 0;
}

int virt_network_start(struct virt *v, const char *name, char *err, size_t errlen)
{
    LOOKUP(virNetworkPtr, virNetworkLookupByName, name);
    v->calls++;
    int rc = virNetworkCreate(o) < 0 ? lverr(v, err, errlen, name) : 0;
    virNetworkFree(o);
    return rc;
}

int virt_network_autostart(struct virt *v, const char *name, bool on, char *err,
                           size_t errlen)
{
    LOOKUP(virNetworkPtr, virNetworkLookupByName, name);
    v->calls++;
    int rc = virNetworkSetAutostart(o, on) < 0 ? lverr(v, err, errlen, name) : 0;
    virNetworkFree(o);
    return rc;
}

int virt_network_remove(struct virt *v, const char *name, char *err, size_t errlen)
{
    LOOKUP(virNetworkPtr, virNetworkLookupByName, name);
    int rc = 0;
    v->calls += 2;
    if ((virNetworkIsActive(o) == 1 && virNetworkDestroy(o) < 0) || virNetworkUndefine(o) < 0)
        rc = lverr(v, err, errlen, name);
    virNetworkFree(o);
    return rc;
}

int virt_network_dhcp_host(struct virt *v, const char *name, const char *host_xml, bool add,
                           char *err, size_t errlen)
{
    LOOKUP(virNetworkPtr, virNetworkLookupByName, name);
    unsigned flags = VIR_NETWORK_UPDATE_AFFECT_CONFIG;
    v->calls++;
    if (virNetworkIsActive(o) == 1)
        flags |= VIR_NETWORK_UPDATE_AFFECT_LIVE;
    v->calls++;
    int rc = virNetworkUpdate(o, add ? VIR_NETWORK_UPDATE_COMMAND_ADD_LAST
                                     : VIR_NETWORK_UPDATE_COMMAND_DELETE,
                              VIR_NETWORK_SECTION_IP_DHCP_HOST, -1, host_xml, flags);
    if (rc < 0)
        lverr(v, err, errlen, name);
    virNetworkFree(o);
    return rc < 0 ? -1 : 0;
}

int virt_domain_define(struct virt *v, const char *xml, char *err, size_t errlen)
{
    v->calls++;
    pthread_mutex_lock(&v->define_mu);
    virDomainPtr d = virDomainDefineXMLFlags(v->conn, xml, VIR_DOMAIN_DEFINE_VALIDATE);
    int rc = d ? 0 : lverr(v, err, errlen, "cannot define domain");
    pthread_mutex_unlock(&v->define_mu);
    if (d)
        virDomainFree(d);
    return rc;
}

int virt_domain_set_live_metadata(struct virt *v, const char *name, const char *xml,
                                  const char *key, const char *uri, char *err, size_t errlen)
{
    LOOKUP(virDomainPtr, virDomainLookupByName, name);
    v->calls++;
    int rc = virDomainSetMetadata(o, VIR_DOMAIN_METADATA_ELEMENT, xml, key, uri,
                                  VIR_DOMAIN_AFFECT_LIVE) < 0 ? lverr(v, err, errlen, name) : 0;
    virDomainFree(o);
    return rc;
}

/* One call on a domain found by name: 0, or -1 with libvirt's message. */
static int domain_call(struct virt *v, const char *name, int (*call)(virDomainPtr, unsigned),
                       unsigned flags, char *err, size_t errlen)
{
    LOOKUP(virDomainPtr, virDomainLookupByName, name);
    v->calls++;
    int rc = call(o, flags) < 0 ? lverr(v, err, errlen, name) : 0;
    virDomainFree(o);
    return rc;
}

static int suspend(virDomainPtr d, unsigned flags)
{
    (void)flags;
    return virDomainSuspend(d);
}

static int resume(virDomainPtr d, unsigned flags)
{
    (void)flags;
    return virDomainResume(d);
}

int virt_domain_start(struct virt *v, const char *name, char *err, size_t errlen)
{
    return domain_call(v, name, virDomainCreateWithFlags, 0, err, errlen);
}

int virt_domain_start_paused(struct virt *v, const char *name, char *err, size_t errlen)
{
    return domain_call(v, name, virDomainCreateWithFlags, VIR_DOMAIN_START_PAUSED, err, errlen);
}

int virt_domain_suspend(struct virt *v, const char *name, char *err, size_t errlen)
{
    return domain_call(v, name, suspend, 0, err, errlen);
}

int virt_domain_resume(struct virt *v, const char *name, char *err, size_t errlen)
{
    return domain_call(v, name, resume, 0, err, errlen);
}

static void sleep_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

int virt_domain_stop(struct virt *v, const char *name, int timeout_ms, bool *forced,
                     char *err, size_t errlen)
{
    LOOKUP(virDomainPtr, virDomainLookupByName, name);
    int rc = 0;
    *forced = false;
    v->calls++;
    if (timeout_ms > 0 && virDomainShutdown(o) == 0) {
        for (int waited = 0; waited < timeout_ms; waited += 100) {
            v->calls++;
            int a = virDomainIsActive(o);
            if (a == 0 || (a < 0 && virGetLastErrorCode() == VIR_ERR_NO_DOMAIN))
                goto out;                      /* stopped (a transient one is gone) */
            if (a < 0) {
                rc = lverr(v, err, errlen, name);
                goto out;
            }
            if (waited % 1000 == 0 && v->wait_hook &&
                !v->wait_hook(v->wait_payload, name, timeout_ms - waited)) {
                snprintf(err, errlen, "interrupted while waiting for '%s' to shut down (it was "
                                      "asked to and may still do so)", name);
                rc = -1;
                goto out;
            }
            sleep_ms(100);
        }
    }
    *forced = true;
    v->calls++;
    if (virDomainDestroy(o) < 0) {
        v->calls++;
        if (virDomainIsActive(o) != 0)
            rc = lverr(v, err, errlen, name);
    }
out:
    virDomainFree(o);
    return rc;
}

void virt_set_wait_hook(struct virt *v, virt_wait_fn fn, void *payload)
{
    v->wait_hook = fn;
    v->wait_payload = payload;
}

int virt_domain_remove(struct virt *v, const char *name, char *err, size_t errlen)
{
    LOOKUP(virDomainPtr, virDomainLookupByName, name);
    int rc = 0;
    v->calls += 2;
    if ((virDomainIsActive(o) == 1 && virDomainDestroy(o) < 0) ||
        virDomainUndefineFlags(o, VIR_DOMAIN_UNDEFINE_NVRAM |
                                      VIR_DOMAIN_UNDEFINE_MANAGED_SAVE |
                                      VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA) < 0)
        rc = lverr(v, err, errlen, name);
    virDomainFree(o);
    return rc;
}

int virt_domain_set_memory(struct virt *v, const char *name, uint64_t bytes, char *err,
                           size_t errlen)
{
    LOOKUP(virDomainPtr, virDomainLookupByName, name);
    v->calls++;
    int rc = virDomainSetMemoryFlags(o, (unsigned long)(bytes / 1024),
                                     VIR_DOMAIN_AFFECT_LIVE) < 0
                 ? lverr(v, err, errlen, "cannot set memory") : 0;
    virDomainFree(o);
    return rc;
}

int virt_domain_set_vcpus(struct virt *v, const char *name, unsigned n, char *err,
                          size_t errlen)
{
    LOOKUP(virDomainPtr, virDomainLookupByName, name);
    v->calls++;
    int rc = virDomainSetVcpusFlags(o, n, VIR_DOMAIN_AFFECT_LIVE) < 0
                 ? lverr(v, err, errlen, "cannot set vCPUs") : 0;
    virDomainFree(o);
    return rc;
}

int virt_domain_attach(struct virt *v, const char *name, const char *device_xml, char *err,
                       size_t errlen)
{
    LOOKUP(virDomainPtr, virDomainLookupByName, name);
    v->calls++;
    int rc = virDomainAttachDeviceFlags(o, device_xml, VIR_DOMAIN_AFFECT_LIVE) < 0
                 ? lverr(v, err, errlen, "cannot hot-plug") : 0;
    virDomainFree(o);
    return rc;
}

int virt_domain_detach(struct virt *v, const char *name, const char *device_xml, char *err,
                       size_t errlen)
{
    LOOKUP(virDomainPtr, virDomainLookupByName, name);
    v->calls++;
    int rc = virDomainDetachDeviceFlags(o, device_xml, VIR_DOMAIN_AFFECT_LIVE) < 0
                 ? lverr(v, err, errlen, "cannot unplug") : 0;
    virDomainFree(o);
    return rc;
}

int virt_domain_block_resize(struct virt *v, const char *name, const char *target,
                             uint64_t bytes, char *err, size_t errlen)
{
    LOOKUP(virDomainPtr, virDomainLookupByName, name);
    v->calls++;
    int rc = virDomainBlockResize(o, target, bytes, VIR_DOMAIN_BLOCK_RESIZE_BYTES) < 0
                 ? lverr(v, err, errlen, "cannot resize the attached disk") : 0;
    virDomainFree(o);
    return rc;
}

int virt_node_info(struct virt *v, int64_t *cpus, uint64_t *memory, char *err, size_t errlen)
{
    virNodeInfo info;
    v->calls++;
    if (virNodeGetInfo(v->conn, &info) < 0)
        return lverr(v, err, errlen, "cannot read the node's CPUs and memory");
    *cpus = info.cpus;
    *memory = (uint64_t)info.memory * 1024;
    return 0;
}

int virt_domain_set_metadata(struct virt *v, const char *name, const char *xml,
                             const char *key, const char *uri, bool live, char *err,
                             size_t errlen)
{
    LOOKUP(virDomainPtr, virDomainLookupByName, name);
    v->calls++;
    unsigned flags = VIR_DOMAIN_AFFECT_CONFIG | (live ? VIR_DOMAIN_AFFECT_LIVE : 0);
    int rc = virDomainSetMetadata(o, VIR_DOMAIN_METADATA_ELEMENT, xml, key, uri, flags) < 0
                 ? lverr(v, err, errlen, name) : 0;
    virDomainFree(o);
    return rc;
}

char *virt_domain_inactive_xml(struct virt *v, const char *name, char *err, size_t errlen)
{
    v->calls++;
    virDomainPtr o = virDomainLookupByName(v->conn, name);
    if (!o) {
        lverr(v, err, errlen, name);
        return NULL;
    }
    v->calls++;
    char *xml = virDomainGetXMLDesc(o, VIR_DOMAIN_XML_INACTIVE | VIR_DOMAIN_XML_SECURE);
    if (!xml)
        lverr(v, err, errlen, name);
    virDomainFree(o);
    return xml;
}

int virt_domain_undefine(struct virt *v, const char *name, char *err, size_t errlen)
{
    LOOKUP(virDomainPtr, virDomainLookupByName, name);
    v->calls += 2;
    if (virDomainIsActive(o) != 0) {
        virDomainFree(o);
        snprintf(err, errlen, "%s is running (or its state cannot be read): not undefined", name);
        return -1;
    }
    int rc = virDomainUndefineFlags(o, VIR_DOMAIN_UNDEFINE_MANAGED_SAVE |
                                           VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA |
                                           VIR_DOMAIN_UNDEFINE_KEEP_NVRAM) < 0
                 ? lverr(v, err, errlen, name) : 0;
    virDomainFree(o);
    return rc;
}

/* The migration runs in its own thread so that the caller can tell its
 * progress (virDomainGetJobStats on the same connection: libvirt
 * connections take calls from several threads). */
struct migration {
    virDomainPtr dom;
    const char *dest;
    unsigned flags;
    int rc;
    char msg[1024];
    atomic_int done;
};

static void *migrate_thread(void *arg)
{
    struct migration *m = arg;
    m->rc = virDomainMigrateToURI3(m->dom, m->dest, NULL, 0, m->flags);
    if (m->rc < 0) {
        const char *e = virGetLastErrorMessage();
        snprintf(m->msg, sizeof(m->msg), "%s", e && *e ? e : "unknown libvirt error");
    }
    atomic_store(&m->done, 1);
    return NULL;
}

int virt_domain_migrate(struct virt *v, const char *name, const char *dest_uri, bool unsafe,
                        virt_progress_fn progress, void *payload, char *err, size_t errlen)
{
    LOOKUP(virDomainPtr, virDomainLookupByName, name);
    struct migration m = { .dom = o, .dest = dest_uri };
    m.flags = VIR_MIGRATE_LIVE | VIR_MIGRATE_PEER2PEER | VIR_MIGRATE_TUNNELLED |
              VIR_MIGRATE_PERSIST_DEST | VIR_MIGRATE_UNDEFINE_SOURCE |
              (unsafe ? VIR_MIGRATE_UNSAFE : 0);
    atomic_init(&m.done, 0);
    v->calls++;
    pthread_t t;
    if (pthread_create(&t, NULL, migrate_thread, &m) != 0) {
        migrate_thread(&m);
    } else {
        while (!atomic_load(&m.done)) {
            struct timespec ts = { 0, 200 * 1000 * 1000 };
            nanosleep(&ts, NULL);
            virDomainJobInfo info;
            if (progress && !atomic_load(&m.done) && virDomainGetJobInfo(o, &info) == 0 &&
                info.type != VIR_DOMAIN_JOB_NONE && info.memTotal)
                progress(payload, info.memProcessed, info.memTotal);
            else
                virResetLastError();
        }
        pthread_join(t, NULL);
    }
    virDomainFree(o);
    if (m.rc < 0) {
        char msg[1100];
        snprintf(msg, sizeof(msg), "migration to %s failed: %s", dest_uri, m.msg);
        if (!lost(v, msg, err, errlen))
            snprintf(err, errlen, "%s", msg);
        return -1;
    }
    return 0;
}
