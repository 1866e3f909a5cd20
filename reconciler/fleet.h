/* fleet.h — the part of a session that runs when the manifests declare
 * Nodes: every Node connected and observed in parallel (one connection and
 * one thread each), placement, one plan per selected node over the view of
 * the manifests placed on it, and their merge. See session.h.
 */
#ifndef QKVM_FLEET_H
#define QKVM_FLEET_H

#include "session.h"

/* After the store step (and lock): connect, observe, place, plan. */
enum session_status fleet_open(struct session *s);
void fleet_close(struct session *s);

#endif
