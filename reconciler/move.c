/* move.c — moving a VM to another node: a live migration, its definition
 * alone, or a cold move that copies its volumes. See apply_int.h. */
#include "apply_int.h"

#include "arena.h"
#include "owned.h"
#include "store.h"
#include "virt.h"
#include "virtxml.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A move's progress: rewritten in place on a terminal; elsewhere a line
 * every 10% (a pipe to a log keeps a record without flooding it). What is
 * copied: the guest's memory (live), or one of its volumes (cold). */
struct move_progress {
    const struct run *r;
    const char *vm, *target;
    const char *volume;          /* NULL: memory */
    unsigned shown;
};

static void move_progress(void *payload, uint64_t done, uint64_t total)
{
    struct move_progress *p = payload;
    FILE *log = p->r->o->log;
    unsigned pct = total ? (unsigned)(done * 100 / total) : 100;
    if (!log || (pct / 10 == p->shown / 10 && !p->r->o->tty))
        return;
    p->shown = pct;
    flockfile(log);
    if (p->r->o->tty)
        fprintf(log, "\r\033[K");
    fprintf(log, "%s%svm/%s: %s to %s: %u%% of %.1f MiB of %s%s copied%s",
            p->r->o->node ? p->r->o->node : "", p->r->o->node ? ": " : "", p->vm,
            p->volume ? "moving" : "migrating", p->target, pct, (double)total / 1048576.0,
            p->volume ? "volume " : "memory", p->volume ? p->volume : "",
            p->r->o->tty ? "" : "\n");
    fflush(log);
    funlockfile(log);
}

static void progress_done(const struct run *r)
{
    if (r->o->log && r->o->tty) {
        fprintf(r->o->log, "\r\033[K");
        fflush(r->o->log);
    }
}

/* The domain's mark on the node it moved to: the same, with why it is
 * there now. */
static int mark_moved(struct run *r, struct virt *to, const struct obs_domain *od,
                      const char *placement, bool live)
{
    struct virtxml_mark m = od->mark;
    m.placement = placement;
    char *xml = virtxml_mark_encode(&m);
    int rc = virt_domain_set_metadata(to, od->name, xml, VIRTXML_NS_PREFIX, VIRTXML_NS, live,
                                      r->err, sizeof(r->err));
    free(xml);
    return rc;
}

/* ---- cold moves ---- */

/* A volume a cold move copies: one of the domain's disks, or its seed,
 * on a pool not declared shared. */
struct cold_vol {
    const char *pool, *volume;
    const struct obs_volume *obs;      /* on the source */
    const char *src_uuid, *dst_uuid;   /* the pool's UUID on each node */
    bool keep;                         /* protect: true: the old copy is not deleted */
    bool copied;
};

static bool pool_shared(const struct run *r, const char *pool)
{
    const struct model_pool *p = (const struct model_pool *)model_find(r->want, MODEL_POOL, pool);
    return p && p->spec.shared;
}

/* What the move copies, and whether it can: every disk a volume of a
 * pool; the target has that pool and no volume of that name; a qcow2
 * overlay's backing file (an Image) is there on the target too, at the
 * same path (the pool is declared with one path for every node). Checked
 * before the guest is stopped. */
static int cold_plan(struct run *r, const struct plan_action *a, const struct obs_domain *od,
                     struct virt *to, struct arena *ar, struct cold_vol **out, size_t *n)
{
    size_t nd = od->vm->spec.disks.n;
    struct cold_vol *v = arena_alloc(ar, (nd + 2) * sizeof(*v));
    *n = 0;
    for (size_t j = 0; j <= nd; j++) {
        const char *pool, *vol;
        if (j < nd) {
            const struct virtxml_disk_src *src = &od->src[j];
            if (!src->type || strcmp(src->type, "volume") != 0 || !src->pool || !src->volume) {
                snprintf(r->err, sizeof(r->err), "its disk %s is not a volume of a pool (a %s "
                         "disk): a cold move copies pool volumes only; it stays on %s",
                         src->target ? src->target : "?", src->type ? src->type : "file",
                         r->o->node ? r->o->node : "this node");
                return -1;
            }
            pool = src->pool;
            vol = src->volume;
        } else {
            if (!od->seed_pool || !od->seed_volume)
                break;
            pool = od->seed_pool;
            vol = od->seed_volume;
        }
        if (pool_shared(r, pool))
            continue;
        const struct obs_pool *op = observe_pool(r->obs, pool);
        const struct obs_volume *ov = op ? observe_volume(op, vol) : NULL;
        if (!ov) {
            snprintf(r->err, sizeof(r->err), "its volume %s of pool %s is not on %s", vol, pool,
                     r->o->node ? r->o->node : "this node");
            return -1;
        }
        for (size_t d = 0; d < r->obs->ndoms; d++) {
            const struct obs_domain *other = &r->obs->doms[d];
            size_t k;
            if (other != od && (observe_uses_volume(other, op, ov, &k) ||
                                observe_holds_volume(other, op, ov))) {
                snprintf(r->err, sizeof(r->err), "its volume %s of pool %s is used by domain "
                         "%s here too: a cold move would delete it under that domain", vol,
                         pool, other->name);
                return -1;
            }
        }
        if (!ov->rec || ov->replaced || ov->unverified) {
            snprintf(r->err, sizeof(r->err), "its volume %s of pool %s is not proven qkvm's "
                     "(%s): a cold move deletes the volume here once it is copied, so it does "
                     "not move it", vol, pool,
                     !ov->rec ? "no ownership record" : ov->replaced
                         ? "its file is not the one qkvm created"
                         : "its recorded file identity cannot be read");
            return -1;
        }
        char uuid[64], path[4096];
        if (virt_pool_uuid(to, pool, uuid, sizeof(uuid)) < 0) {
            snprintf(r->err, sizeof(r->err), "%s has no pool %s for its volume %s", a->target,
                     pool, vol);
            return -1;
        }
        if (virt_volume_path(to, pool, vol, path, sizeof(path)) == 0) {
            snprintf(r->err, sizeof(r->err), "%s already has a volume %s in pool %s (%.512s): "
                     "it is not overwritten; delete it there, or move the VM elsewhere",
                     a->target, vol, pool, path);
            return -1;
        }
        if (ov->backing && !virt_volume_at(to, ov->backing)) {
            snprintf(r->err, sizeof(r->err), "its volume %s is an overlay of %.512s, which %s "
                     "does not have yet (its Image is created there by an apply first)", vol,
                     ov->backing, a->target);
            return -1;
        }
        if (op->uuid && strcmp(op->uuid, uuid) == 0) {
            snprintf(r->err, sizeof(r->err), "pool %s has the same UUID (%s) here and on %s (a "
                     "definition copied between them): their volumes' ownership records "
                     "cannot be told apart", pool, uuid, a->target);
            return -1;
        }
        v[(*n)++] = (struct cold_vol){ pool, vol, ov, op->uuid, arena_strdup(ar, uuid),
                                       ov->rec->protect, false };
    }
    *out = v;
    return 0;
}

/* The copy on the target is qkvm's, recorded before it is created (as
 * every volume is: see apply.c) with what the source's record says; a
 * volume whose content has a digest (an Image's, a seed) is recorded
 * incomplete until the copy has ended (digest NULL: the source's). */
static int cold_record(struct run *r, struct virt *to, const struct cold_vol *cv,
                       const char *digest)
{
    const struct owned_entry *rec = cv->obs->rec;
    if (!digest)
        digest = rec && rec->digest && *rec->digest ? rec->digest : NULL;
    struct store_owned so = { cv->dst_uuid, cv->volume, cv->volume, rec && rec->protect,
                              r->p->project, NULL, rec && rec->labels ? rec->labels : "", NULL,
                              digest };
    apply_lock_store(r);
    int rc = store_owned_put(r->st, &so, virt_uri(to), r->o->run, r->err, sizeof(r->err));
    apply_unlock_store(r);
    return rc;
}

static void cold_unrecord(struct run *r, const char *uuid, const char *volume)
{
    char err[256];
    apply_lock_store(r);
    store_owned_delete(r->st, uuid, volume, err, sizeof(err));
    apply_unlock_store(r);
}

/* Undo a cold move that has not finished: the copies made on the target
 * deleted (this move created them), the guest started again here when it
 * ran. What cannot be undone is added to the error. */
static void cold_undo(struct run *r, struct virt *to, const char *name, struct cold_vol *v,
                      size_t n, bool restart)
{
    char e2[512];
    size_t len;
    for (size_t i = 0; i < n; i++) {
        if (!v[i].copied)
            continue;
        if (virt_volume_delete(to, v[i].pool, v[i].volume, e2, sizeof(e2)) == 0) {
            cold_unrecord(r, v[i].dst_uuid, v[i].volume);
        } else {
            len = strlen(r->err);
            snprintf(r->err + len, sizeof(r->err) - len, "; its copy of %s on the target "
                     "could not be deleted (%s)", v[i].volume, e2);
        }
    }
    if (restart && virt_domain_start(r->v, name, e2, sizeof(e2)) < 0) {
        len = strlen(r->err);
        snprintf(r->err + len, sizeof(r->err) - len, "; and it did not start again here: %s",
                 e2);
    } else if (restart) {
        len = strlen(r->err);
        snprintf(r->err + len, sizeof(r->err) - len, "; it runs here again");
    }
}

/* A cold move (a Policy's placement.coldMoves): the guest stopped (ACPI,
 * destroyed after the shutdown timeout, as any stop), each volume not on
 * a shared pool copied to the same pool on the target (libvirt streams,
 * holes kept), the definition defined there and undefined here, the guest
 * started there when it ran, and only then the volumes here deleted. Until
 * the definition has moved, a failure deletes the copies and starts the
 * guest here again; after, a start that fails on the target moves the
 * definition back. The VM is defined on one node at every step but the
 * instant between define there and undefine here. */
static int cold_move(struct run *r, const struct plan_action *a, const struct obs_domain *od,
                     struct virt *to, const char *placement)
{
    struct arena *ar = arena_new();
    struct cold_vol *v;
    size_t n;
    char e2[512];
    int rc = -1;
    char *xml = NULL;
    if (cold_plan(r, a, od, to, ar, &v, &n) < 0)
        goto out;
    bool ran = od->active;
    if (ran) {
        apply_log(r, "vm/%s: stopping it for a cold move to %s\n", a->name, a->target);
        if (od->paused && virt_domain_resume(r->v, a->name, r->err, sizeof(r->err)) < 0)
            goto out;
        if (apply_vm_stop(r, a->name) < 0)
            goto out;
    }
    for (size_t i = 0; i < n; i++) {
        const struct owned_entry *rec = v[i].obs->rec;
        bool digested = rec->digest && *rec->digest;
        if (cold_record(r, to, &v[i], digested ? DIGEST_INCOMPLETE : NULL) < 0) {
            cold_undo(r, to, a->name, v, n, ran);
            goto out;
        }
        struct move_progress mp = { r, a->name, a->target, v[i].volume, 0 };
        uint64_t bytes, want = 0, got = 0;
        char path[4096];
        if (virt_volume_copy(r->v, v[i].pool, v[i].volume, to, v[i].pool, move_progress, &mp,
                             &bytes, r->err, sizeof(r->err)) < 0) {
            progress_done(r);
            size_t len = strlen(r->err);
            snprintf(r->err + len, sizeof(r->err) - len, " (copying volume %s to %s)",
                     v[i].volume, a->target);
            /* a copy that could not be deleted stays recorded (incomplete
             * when it has a digest): it is qkvm's, and named above */
            if (virt_volume_path(to, v[i].pool, v[i].volume, path, sizeof(path)) < 0)
                cold_unrecord(r, v[i].dst_uuid, v[i].volume);
            cold_undo(r, to, a->name, v, n, ran);
            goto out;
        }
        progress_done(r);
        v[i].copied = true;
        /* the copy reads as the same disk: its virtual size is the source's */
        bool read = virt_volume_capacity(r->v, v[i].pool, v[i].volume, &want, e2,
                                         sizeof(e2)) == 0 &&
                    virt_volume_capacity(to, v[i].pool, v[i].volume, &got, e2, sizeof(e2)) == 0;
        if (!read || got != want) {
            if (read)
                snprintf(e2, sizeof(e2), "%llu bytes there, %llu here",
                         (unsigned long long)got, (unsigned long long)want);
            snprintf(r->err, sizeof(r->err), "the copy of volume %s on %s does not read as the "
                     "same disk: %s", v[i].volume, a->target, e2);
            cold_undo(r, to, a->name, v, n, ran);
            goto out;
        }
        if (digested && cold_record(r, to, &v[i], NULL) < 0) {
            cold_undo(r, to, a->name, v, n, ran);
            goto out;
        }
        apply_log(r, "vm/%s: volume %s copied to %s (%.1f MiB)\n", a->name, v[i].volume,
                  a->target, (double)bytes / 1048576.0);
    }
    xml = virt_domain_inactive_xml(r->v, a->name, r->err, sizeof(r->err));
    if (!xml || virt_domain_define(to, xml, r->err, sizeof(r->err)) < 0) {
        cold_undo(r, to, a->name, v, n, ran);
        goto out;
    }
    if (virt_domain_undefine(r->v, a->name, r->err, sizeof(r->err)) < 0) {
        if (virt_lost(r->v, e2, sizeof(e2))) {
            /* the undefine may have happened: the definition and the copies
             * on the target stay, and the next run sees where it is */
            size_t len = strlen(r->err);
            snprintf(r->err + len, sizeof(r->err) - len, "; it is defined on %s, stopped, with "
                     "its volumes, and maybe still here", a->target);
            goto out;
        }
        if (virt_domain_undefine(to, a->name, e2, sizeof(e2)) < 0) {
            size_t len = strlen(r->err);
            snprintf(r->err + len, sizeof(r->err) - len, "; and the copy defined on %s could "
                     "not be undefined again (%s): it is defined on both nodes, stopped; its "
                     "volumes are on both", a->target, e2);
            goto out;
        }
        cold_undo(r, to, a->name, v, n, ran);
        goto out;
    }
    if (mark_moved(r, to, od, placement, false) < 0) {
        fprintf(stderr, "qkvm: warning: vm/%s moved to %s, but its mark was not updated: %s\n",
                a->name, a->target, r->err);
        r->err[0] = '\0';
    }
    if (ran && virt_domain_start(to, a->name, r->err, sizeof(r->err)) < 0) {
        /* back where it was: defined here, its copies there deleted */
        size_t len = strlen(r->err);
        snprintf(r->err + len, sizeof(r->err) - len, " (starting it on %s)", a->target);
        if (virt_domain_define(r->v, xml, e2, sizeof(e2)) < 0) {
            len = strlen(r->err);
            snprintf(r->err + len, sizeof(r->err) - len, "; it could not be defined here "
                     "again (%s): it stays defined on %s, stopped, and its volumes are on "
                     "both nodes", e2, a->target);
            goto out;
        }
        if (virt_domain_undefine(to, a->name, e2, sizeof(e2)) < 0) {
            len = strlen(r->err);
            snprintf(r->err + len, sizeof(r->err) - len, "; its definition on %s could not be "
                     "undefined (%s): it is defined on both nodes, stopped", a->target, e2);
            goto out;
        }
        cold_undo(r, to, a->name, v, n, ran);
        goto out;
    }
    /* it is there: the volumes here are the old copies */
    rc = 0;
    for (size_t i = 0; i < n; i++) {
        if (v[i].keep) {
            apply_log(r, "vm/%s: the old copy of volume %s is kept here (protect: true)\n",
                      a->name, v[i].volume);
            continue;
        }
        if (virt_volume_delete(r->v, v[i].pool, v[i].volume, e2, sizeof(e2)) < 0) {
            fprintf(stderr, "qkvm: warning: vm/%s moved to %s, but its old copy of volume %s "
                    "here could not be deleted: %s\n", a->name, a->target, v[i].volume, e2);
            continue;
        }
        cold_unrecord(r, v[i].src_uuid, v[i].volume);
    }
out:
    free(xml);
    arena_free(ar);
    return rc;
}

/* Move a VM to another node. Running: a live migration (see
 * virt_domain_migrate); its disks are on shared pools, which the plan
 * checked. Not running: its definition is defined on the target, then
 * undefined here; when the undefine fails, the copy on the target is
 * undefined again, so the VM is defined on exactly one node. Cold (its
 * volumes are not all on shared pools): see cold_move. */
int apply_move(struct run *r, const struct plan_action *a, const struct obs_domain *od)
{
    struct virt *to = r->o->node_virt ? r->o->node_virt(r->o->placement_payload, a->target)
                                      : NULL;
    if (!to || !od) {
        snprintf(r->err, sizeof(r->err), "node %s cannot be reached", a->target);
        return -1;
    }
    const char *placement = r->o->placement ? r->o->placement(r->o->placement_payload, a->name)
                                            : NULL;
    if (a->cold)
        return cold_move(r, a, od, to, placement);
    if (a->live) {
        struct move_progress mp = { r, a->name, a->target, NULL, 0 };
        if (virt_domain_migrate(r->v, a->name, virt_uri(to), true, move_progress, &mp, r->err,
                                sizeof(r->err)) < 0)
            return -1;
        progress_done(r);
        /* moved: a mark that cannot be updated is said, not a failure */
        if (mark_moved(r, to, od, placement, true) < 0) {
            fprintf(stderr, "qkvm: warning: vm/%s moved to %s, but its mark was not updated: %s\n",
                    a->name, a->target, r->err);
            r->err[0] = '\0';
        }
        return 0;
    }
    char *xml = virt_domain_inactive_xml(r->v, a->name, r->err, sizeof(r->err));
    if (!xml)
        return -1;
    int rc = virt_domain_define(to, xml, r->err, sizeof(r->err));
    free(xml);
    if (rc < 0)
        return -1;
    if (virt_domain_undefine(r->v, a->name, r->err, sizeof(r->err)) < 0) {
        char undo[512];
        char gone[256];
        if (virt_lost(r->v, gone, sizeof(gone))) {
            /* the undefine may have happened: the copy on the target stays,
             * and the next run sees where the VM is defined */
            size_t len = strlen(r->err);
            snprintf(r->err + len, sizeof(r->err) - len, "; it is defined on %s, and maybe "
                     "still on this node", a->target);
            return -1;
        }
        if (virt_domain_undefine(to, a->name, undo, sizeof(undo)) < 0) {
            size_t len = strlen(r->err);
            snprintf(r->err + len, sizeof(r->err) - len, "; and the copy defined on %s could "
                     "not be undefined again (%s): it is defined on both nodes", a->target, undo);
        }
        return -1;
    }
    if (mark_moved(r, to, od, placement, false) < 0) {
        fprintf(stderr, "qkvm: warning: vm/%s moved to %s, but its mark was not updated: %s\n",
                a->name, a->target, r->err);
        r->err[0] = '\0';
    }
    return 0;
}

