/* encode.h — the generic encoder: a model object -> its normalised tree.
 *
 * The inverse of decode.c, driven by the same tables: every declared or
 * defaulted value is written in its canonical form (quantities as "2GiB",
 * MACs lowercase, derived MACs and gateways spelled out), so decoding the
 * output gives back an equal object, and two equal objects encode to the
 * same text. Unset optional values and undeclared sections are left out.
 */
#ifndef QKVM_ENCODE_H
#define QKVM_ENCODE_H

#include "model.h"
#include "tree.h"

struct arena;

struct tree *encode_object(struct arena *a, const struct model_object *o);

#endif
