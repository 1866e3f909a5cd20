/* validate.h — checks across objects of a decoded manifest set.
 *
 * What one object's table cannot see: duplicate names, references to
 * objects that are not declared (with a suggestion), a Disk attached to two
 * VMs, two NICs with one MAC or two with one IP in a network, static IPs
 * outside their network's CIDR or inside its DHCP range, pinned VMs that
 * use a network or pool not present on their node, two Nodes with one URI,
 * and (as warnings) selectors that match nothing. Cycles cannot occur: every
 * reference points down the fixed order Node, Pool, Image, Disk, Network,
 * VM, so none is checked for.
 */
#ifndef QKVM_VALIDATE_H
#define QKVM_VALIDATE_H

#include "diag.h"
#include "model.h"

/* `m` must be sorted (manifest_load sorts it). */
void validate_model(const struct model *m, struct diag *d);

#endif
