/* apply_int.h — what apply.c and move.c share: the state of one plan's
 * run and the helpers its actions use. Not for other modules. */
#ifndef QKVM_APPLY_INT_H
#define QKVM_APPLY_INT_H

#include "apply.h"
#include "observe.h"
#include "plan.h"

#include <pthread.h>

struct run {
    struct virt *v;
    const struct model *want;
    const struct obs_host *obs;
    const struct plan *p;
    struct store *st;
    const struct apply_opts *o;
    char err[1024];
    pthread_mutex_t *store_mu;   /* several actions at once: one store call at a time */
};

static inline void apply_lock_store(const struct run *r)
{
    if (r->store_mu)
        pthread_mutex_lock(r->store_mu);
}

static inline void apply_unlock_store(const struct run *r)
{
    if (r->store_mu)
        pthread_mutex_unlock(r->store_mu);
}

/* The digest recorded for a volume whose content is still being written
 * (an upload, a copy): a run killed in the middle leaves it known to be
 * incomplete. */
#define DIGEST_INCOMPLETE "-"

/* One line of the run's log, prefixed with the node in a fleet run. */
void apply_log(const struct run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Graceful stop (ACPI power button), destroyed after the timeout. */
int apply_vm_stop(struct run *r, const char *name);
/* PLAN_MIGRATE: move the VM to a->target (move.c). */
int apply_move(struct run *r, const struct plan_action *a, const struct obs_domain *od);

#endif
