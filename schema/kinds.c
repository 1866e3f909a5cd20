/* kinds.c — the tables of every kind: the manifest reference as data.
 *
 * To add a field: add the member to its struct in reconciler/model.h, add a
 * row here (type, default as YAML text, doc), regenerate the committed JSON
 * Schema and the README reference (`make regen`). The decoder, the encoder,
 * `qkvm explain` and `qkvm schema` pick it up from the row. A field whose
 * meaning depends on another field gets its check in the table's finish
 * hook. See CONTRIBUTING.md.
 */
#include "schema.h"

#include "arena.h"
#include "check.h"
#include "decode.h"
#include "seed.h"
#include "tree.h"
#include "yamldoc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FLD(st, member, key, ty) \
    .name = key, .type = ty, .offset = offsetof(st, member)
#define END { .name = NULL }

static const char *const api_versions[] = { SCHEMA_API_VERSION, NULL };
const char *const schema_values_disk_format[] = { "qcow2", "raw", NULL };

/* ---- list elements ---- */
static const struct schema_field elem_nodes = {
    .name = "nodes", .type = SCHEMA_REF, .ref = MODEL_NODE,
    .doc = "The name of a Node." };
static const struct schema_field elem_argv = {
    .name = "command", .type = SCHEMA_STRING, .doc = "One argument." };
static const struct schema_field elem_ignore = {
    .name = "ignore", .type = SCHEMA_STRING,
    .doc = "A field path such as spec.memory or spec.nics.mac." };
static const struct schema_field elem_affinity = {
    .name = "affinity", .type = SCHEMA_LABELS,
    .doc = "A label set; the VM prefers nodes running VMs with these labels." };

/* ---- metadata ---- */
static const struct schema_field meta_fields[] = {
    { FLD(struct model_meta, name, "name", SCHEMA_NAME), .required = true,
      .doc = "Unique name among objects of this kind: lowercase letters, "
             "digits and '-', starting and ending with a letter or digit, at "
             "most 63 characters." },
    { FLD(struct model_meta, labels, "labels", SCHEMA_LABELS),
      .doc = "Key/value pairs that Policies select on (e.g. app: web)." },
    END
};
static const struct schema_table meta_table = {
    "metadata", sizeof(struct model_meta), meta_fields, NULL,
    "The object's identity." };

#define TOP_FIELDS(kstruct, spec_table, spec_doc)                              \
    {                                                                          \
        { FLD(struct model_object, api_version, "apiVersion", SCHEMA_ENUM),    \
          .required = true, .values = api_versions,                            \
          .doc = "The manifest format version: " SCHEMA_API_VERSION "." },     \
        { FLD(struct model_object, kind_name, "kind", SCHEMA_STRING),          \
          .required = true, .doc = "The kind of object." },                    \
        { FLD(struct model_object, meta, "metadata", SCHEMA_STRUCT),           \
          .required = true, .table = &meta_table,                              \
          .doc = "Name and labels." },                                         \
        { .name = "spec", .type = SCHEMA_STRUCT,                               \
          .offset = offsetof(kstruct, spec), .required = true,                 \
          .table = &spec_table, .doc = spec_doc },                             \
        END                                                                    \
    }

/* ================================ Node ================================ */

static void fence_finish(void *obj, struct decode_ctx *c)
{
    struct node_fence *f = obj;
    if (f->command.v && f->command.n == 0) {   /* declared as [] */
        decode_error(c, &f->hdr, "command", "fence command of %s is empty",
                     decode_where(c));
        return;
    }
    int methods = (f->command.n > 0) + f->redfish.hdr.set + f->agent.hdr.set + f->manual;
    if (methods > 1)
        decode_error(c, &f->hdr, NULL,
                     "fence of %s has more than one method: choose one of command, redfish, agent, "
                     "manual", decode_where(c));
    else if (methods == 0 && f->hdr.set && tree_get(f->hdr.src, "manual"))
        decode_error(c, &f->hdr, "manual",
                     "fence of %s has no method: manual is false, and none of command, redfish, "
                     "agent is given", decode_where(c));
    else if (methods == 0)
        f->manual = true;    /* no fence declared: an operator confirms */
}

static const struct schema_field node_capacity_fields[] = {
    { FLD(struct node_capacity, cpus, "cpus", SCHEMA_INT), .min = 1,
      .max = 65536, .doc = "CPUs to offer to VMs (default: what the host reports)." },
    { FLD(struct node_capacity, memory, "memory", SCHEMA_QUANTITY),
      .min = 1 << 20, .step = 1 << 10,
      .doc = "Memory to offer to VMs (default: what the host reports, in KiB)." },
    END
};
static const struct schema_table node_capacity_table = {
    "Node.spec.capacity", sizeof(struct node_capacity), node_capacity_fields,
    NULL, "Overrides of the capacity placement may use on this node." };

static const struct schema_field node_redfish_fields[] = {
    { FLD(struct node_redfish, url, "url", SCHEMA_URL), .required = true,
      .doc = "The Redfish system resource, e.g. https://bmc-hv1/redfish/v1/Systems/1." },
    { FLD(struct node_redfish, username, "username", SCHEMA_STRING),
      .required = true, .doc = "The BMC user." },
    { FLD(struct node_redfish, password_file, "passwordFile", SCHEMA_PATH),
      .required = true, .doc = "A file holding the BMC password (never the password itself)." },
    END
};
static void redfish_finish(void *obj, struct decode_ctx *c)
{
    struct node_redfish *r = obj;
    if (r->hdr.set && r->url && strncmp(r->url, "http", 4) != 0)
        decode_error(c, &r->hdr, "url", "%s: a Redfish URL is an http:// or https:// URL",
                     decode_where(c));
}

static const struct schema_table node_redfish_table = {
    "Node.spec.fence.redfish", sizeof(struct node_redfish),
    node_redfish_fields, redfish_finish,
    "Power the node off through its BMC and wait for PowerState Off." };

static const struct schema_field elem_agent_option = {
    .name = "options", .type = SCHEMA_STRING,
    .doc = "One option, key=value, as the agent reads it on its standard input." };

static const struct schema_field node_agent_fields[] = {
    { FLD(struct node_agent, name, "name", SCHEMA_STRING), .required = true,
      .doc = "The fence agent (of the fence-agents package), e.g. fence_ipmilan; looked up in "
             "/usr/sbin, then PATH." },
    { FLD(struct node_agent, options, "options", SCHEMA_LIST), .elem = &elem_agent_option,
      .doc = "Its options, key=value (ip=10.0.0.5, username=admin, lanplus=1...); action=off is "
             "added." },
    { FLD(struct node_agent, password_file, "passwordFile", SCHEMA_PATH),
      .doc = "A file whose first line is passed as password=." },
    END
};
static void agent_finish(void *obj, struct decode_ctx *c)
{
    struct node_agent *g = obj;
    if (!g->hdr.set)
        return;
    if (g->name) {
        bool ok = strncmp(g->name, "fence_", 6) == 0 && g->name[6];
        for (const char *p = g->name; ok && *p; p++)
            ok = (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_';
        if (!ok)
            decode_error(c, &g->hdr, "name", "%s: a fence agent is named fence_ followed by "
                         "lower-case letters, digits or _ (fence_ipmilan), not '%s'",
                         decode_where(c), g->name);
    }
    for (size_t i = 0; i < g->options.n; i++) {
        const char *o = g->options.v[i], *eq;
        if (!o)
            continue;                 /* refused by the decoder, which said why */
        eq = strchr(o, '=');
        bool ok = eq && eq > o;
        for (const char *p = o; ok && *p; p++)
            ok = (unsigned char)*p >= 0x20 && *p != 0x7f;    /* one line, nothing hidden */
        for (const char *p = o; ok && p < eq; p++)
            ok = (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_' || *p == '-';
        /* option= is the agents' old name of action= */
        if (ok && (strncmp(o, "action=", 7) == 0 || strncmp(o, "option=", 7) == 0 ||
                   strncmp(o, "password=", 9) == 0 || strncmp(o, "password_script=", 16) == 0))
            decode_error(c, &g->hdr, "options", "%s: '%.*s' is set by qkvm: the action is "
                         "always off, and the password comes from passwordFile", decode_where(c),
                         (int)(eq - o), o);
        else if (!ok)
            decode_error(c, &g->hdr, "options", "%s: option %zu is not key=value on one line "
                         "(ip=10.0.0.5)", decode_where(c), i + 1);
    }
}
static const struct schema_table node_agent_table = {
    "Node.spec.fence.agent", sizeof(struct node_agent), node_agent_fields, agent_finish,
    "Fence through an agent of the fence-agents package (its stdin protocol); exit 0 means "
    "the node is off." };

static const struct schema_field node_fence_fields[] = {
    { FLD(struct node_fence, command, "command", SCHEMA_LIST), .elem = &elem_argv,
      .doc = "A command (argv) that powers the node off; exit 0 means fenced." },
    { FLD(struct node_fence, redfish, "redfish", SCHEMA_STRUCT),
      .table = &node_redfish_table, .doc = "Fence through a Redfish BMC." },
    { FLD(struct node_fence, agent, "agent", SCHEMA_STRUCT),
      .table = &node_agent_table, .doc = "Fence through a fence agent (fence-agents)." },
    { FLD(struct node_fence, manual, "manual", SCHEMA_BOOL), .def = "false",
      .doc = "Wait for an operator to confirm the node is down (the default when no method is "
             "given)." },
    END
};
static const struct schema_table node_fence_table = {
    "Node.spec.fence", sizeof(struct node_fence), node_fence_fields,
    fence_finish,
    "How to make sure a failed node runs nothing before its VMs are started "
    "elsewhere. Exactly one method; none means manual." };

static const struct schema_field node_spec_fields[] = {
    { FLD(struct node_spec, uri, "uri", SCHEMA_URI), .required = true,
      .doc = "The libvirt connection URI, e.g. qemu+ssh://root@hv1/system." },
    { FLD(struct node_spec, capacity, "capacity", SCHEMA_STRUCT),
      .table = &node_capacity_table, .doc = "Capacity overrides." },
    { FLD(struct node_spec, fence, "fence", SCHEMA_STRUCT),
      .table = &node_fence_table, .doc = "The fencing method." },
    { FLD(struct node_spec, maintenance, "maintenance", SCHEMA_BOOL),
      .def = "false", .doc = "A node in maintenance gets no new VMs." },
    END
};
static const struct schema_table node_spec_table = {
    "Node.spec", sizeof(struct node_spec), node_spec_fields, NULL,
    "A libvirt host." };
static const struct schema_field node_top_fields[] =
    TOP_FIELDS(struct model_node, node_spec_table, "The node's connection, capacity and fencing.");
static const struct schema_table node_top = {
    "Node", sizeof(struct model_node), node_top_fields, NULL, NULL };

/* ============================== Network =============================== */

const char *const schema_values_net_mode[] = { "nat", "isolated", "bridge", NULL };

/* Derived gateway, and every address of the network inside its CIDR. */
static void net_finish(void *obj, struct decode_ctx *c)
{
    struct net_spec *n = obj;
    struct check_ip net, gw, a, b;
    unsigned prefix;
    char buf[80];

    if (!n->hdr.set)
        return;
    if (n->mode == NET_MODE_BRIDGE) {
        if (!n->bridge && !tree_get(n->hdr.src, "bridge"))   /* else reported */
            decode_error(c, &n->hdr, NULL,
                         "missing required field 'bridge' in %s (mode bridge attaches to an existing host bridge)",
                         decode_where(c));
        if (n->cidr || n->dhcp.hdr.set || n->gateway)
            decode_error(c, &n->hdr, n->cidr ? "cidr" : n->dhcp.hdr.set ? "dhcp" : "gateway",
                         "%s has mode bridge: addresses belong to the host's LAN, so cidr, gateway and dhcp are not allowed",
                         decode_where(c));
        return;
    }
    if (!n->cidr) {
        if (!tree_get(n->hdr.src, "cidr"))
            decode_error(c, &n->hdr, NULL,
                         "missing required field 'cidr' in %s (required with mode %s)",
                         decode_where(c), schema_values_net_mode[n->mode]);
        return;
    }
    check_cidr(n->cidr, &net, &prefix);
    const char *why = check_cidr_network(&net, prefix, buf, sizeof(buf));
    if (why) {
        decode_error(c, &n->hdr, "cidr", "cidr %s of %s cannot be a network: %s",
                     n->cidr, decode_where(c), why);
        n->cidr = NULL;        /* reported: no overlap or address checks against it */
        return;
    }
    if (net.family == 4 && prefix > 30) {
        decode_error(c, &n->hdr, "cidr", "cidr %s of %s is too small for a network (at most /30)",
                     n->cidr, decode_where(c));
        return;
    }
    if (!n->gateway) {
        if (tree_get(n->hdr.src, "gateway"))
            return;            /* declared but invalid: reported */
        check_ip_add(&net, prefix, 1, &gw);
        check_ip_format(&gw, buf, sizeof(buf));
        n->gateway = arena_strdup(c->arena, buf);
    } else {
        check_ip(n->gateway, &gw);
        if (!check_ip_in_cidr(&gw, &net, prefix) || check_ip_is_edge(&gw, &net, prefix)) {
            decode_error(c, &n->hdr, "gateway",
                         "gateway %s of %s is not a host address of %s",
                         n->gateway, decode_where(c), n->cidr);
            return;
        }
    }
    if (!n->dhcp.hdr.set || !n->dhcp.start || !n->dhcp.end)
        return;
    check_ip(n->dhcp.start, &a);
    check_ip(n->dhcp.end, &b);
    bool ok = true;
    if (!check_ip_in_cidr(&a, &net, prefix) || check_ip_is_edge(&a, &net, prefix)) {
        decode_error(c, &n->dhcp.hdr, "start",
                     "DHCP range start %s of %s is outside cidr %s",
                     n->dhcp.start, decode_where(c), n->cidr);
        ok = false;
    }
    if (!check_ip_in_cidr(&b, &net, prefix) || check_ip_is_edge(&b, &net, prefix)) {
        decode_error(c, &n->dhcp.hdr, "end",
                     "DHCP range end %s of %s is outside cidr %s",
                     n->dhcp.end, decode_where(c), n->cidr);
        ok = false;
    }
    if (ok && check_ip_cmp(&a, &b) > 0)
        decode_error(c, &n->dhcp.hdr, "end",
                     "DHCP range of %s ends (%s) before it starts (%s)",
                     decode_where(c), n->dhcp.end, n->dhcp.start);
    else if (ok && check_ip_cmp(&a, &gw) <= 0 && check_ip_cmp(&gw, &b) <= 0)
        decode_error(c, &n->dhcp.hdr, NULL,
                     "DHCP range %s-%s of %s contains the gateway %s",
                     n->dhcp.start, n->dhcp.end, decode_where(c), n->gateway);
}

static const struct schema_field net_dhcp_fields[] = {
    { FLD(struct net_dhcp, start, "start", SCHEMA_IP), .required = true,
      .doc = "First address handed out." },
    { FLD(struct net_dhcp, end, "end", SCHEMA_IP), .required = true,
      .doc = "Last address handed out." },
    END
};
static const struct schema_table net_dhcp_table = {
    "Network.spec.dhcp", sizeof(struct net_dhcp), net_dhcp_fields, NULL,
    "The dynamic DHCP range; VMs with a static ip get a fixed lease outside it." };

static const struct schema_field net_spec_fields[] = {
    { FLD(struct net_spec, mode, "mode", SCHEMA_ENUM), .values = schema_values_net_mode,
      .def = "nat",
      .doc = "nat: a private network with outbound NAT; isolated: no way off "
             "the host; bridge: attach to an existing host bridge." },
    { FLD(struct net_spec, bridge, "bridge", SCHEMA_IFNAME),
      .doc = "Bridge device: the host bridge to use (mode bridge) or the name "
             "libvirt gives the network's bridge (default: chosen by libvirt). "
             "1 to 15 letters, digits, '_', '.' or '-', not '.' or '..'." },
    { FLD(struct net_spec, cidr, "cidr", SCHEMA_CIDR),
      .doc = "The network's subnet, e.g. 10.10.0.0/24 (required for nat and isolated): "
             "a prefix of /8 to /30 (IPv6: at least /8), outside the loopback, "
             "link-local, multicast and reserved ranges, and overlapping the cidr "
             "of no other Network a node can have with it." },
    { FLD(struct net_spec, gateway, "gateway", SCHEMA_IP),
      .doc = "The host's address on the network (default: the first host address of cidr)." },
    { FLD(struct net_spec, dhcp, "dhcp", SCHEMA_STRUCT), .table = &net_dhcp_table,
      .doc = "Dynamic DHCP range (default: no DHCP)." },
    { FLD(struct net_spec, autostart, "autostart", SCHEMA_BOOL), .def = "true",
      .doc = "Start the network when libvirtd starts." },
    { FLD(struct net_spec, nodes, "nodes", SCHEMA_LIST), .elem = &elem_nodes,
      .doc = "Nodes the network is defined on (default: every node)." },
    END
};
static const struct schema_table net_spec_table = {
    "Network.spec", sizeof(struct net_spec), net_spec_fields, net_finish,
    "A libvirt virtual network." };
static const struct schema_field net_top_fields[] =
    TOP_FIELDS(struct model_network, net_spec_table, "The network's addressing and where it exists.");
static const struct schema_table net_top = {
    "Network", sizeof(struct model_network), net_top_fields, NULL, NULL };

/* ================================ Pool ================================ */

static const char *const v_pool_type[] = { "dir", NULL };

static void pool_finish(void *obj, struct decode_ctx *c)
{
    struct pool_spec *p = obj;
    char buf[96];
    const char *what;
    if (!p->hdr.set || !p->path || !(what = check_pool_path(p->path, buf, sizeof(buf))))
        return;
    decode_error(c, &p->hdr, "path",
                 "path %s of %s is %s: a pool needs a directory of its own, e.g. "
                 "/var/lib/qkvm/pools/%s",
                 p->path, decode_where(c), what, c->name ? c->name : "NAME");
    p->path = NULL;            /* reported: no overlap checks against it */
}

static const struct schema_field pool_spec_fields[] = {
    { FLD(struct pool_spec, type, "type", SCHEMA_ENUM), .values = v_pool_type,
      .def = "dir", .doc = "Storage backend: dir (a directory of image files)." },
    { FLD(struct pool_spec, path, "path", SCHEMA_PATH), .required = true,
      .doc = "The directory holding the volumes, e.g. /var/lib/qkvm/pools/local: "
             "not the root or a directory of the operating system (/etc, /var, "
             "/var/lib...), nor inside /proc, /sys, /dev, /run, /boot, /etc or the "
             "installed software (/usr, /bin, /lib...), and neither the path of "
             "another Pool a node can have with it nor inside or around it. "
             "Written without '//' or a trailing '/'." },
    { FLD(struct pool_spec, shared, "shared", SCHEMA_BOOL), .def = "false",
      .doc = "The same storage is reachable from every node (NFS, cluster "
             "filesystem): VMs with disks here can fail over." },
    { FLD(struct pool_spec, nodes, "nodes", SCHEMA_LIST), .elem = &elem_nodes,
      .doc = "Nodes the pool is defined on (default: every node)." },
    END
};
static const struct schema_table pool_spec_table = {
    "Pool.spec", sizeof(struct pool_spec), pool_spec_fields, pool_finish,
    "A libvirt storage pool." };
static const struct schema_field pool_top_fields[] =
    TOP_FIELDS(struct model_pool, pool_spec_table, "The pool's backend and path.");
static const struct schema_table pool_top = {
    "Pool", sizeof(struct model_pool), pool_top_fields, NULL, NULL };

/* =============================== Image ================================ */

static const struct schema_field image_s3_fields[] = {
    { FLD(struct image_s3, endpoint, "endpoint", SCHEMA_URL),
      .doc = "The S3 service, e.g. https://minio.lab:9000 (default: AWS, "
             "https://s3.REGION.amazonaws.com). The bucket is a path element: "
             "ENDPOINT/BUCKET/KEY." },
    { FLD(struct image_s3, region, "region", SCHEMA_STRING), .def = "us-east-1",
      .doc = "The region the request is signed for (AWS Signature Version 4)." },
    { FLD(struct image_s3, credentials_file, "credentialsFile", SCHEMA_PATH),
      .required = true,
      .doc = "A file in the AWS credentials format (aws_access_key_id and "
             "aws_secret_access_key under [default]) on the host running qkvm; never the "
             "secret itself. A file others can read is warned about." },
    END
};
static const struct schema_table image_s3_table = {
    "Image.spec.s3", sizeof(struct image_s3), image_s3_fields, NULL,
    "How to reach and sign for an s3:// URL." };

static void image_finish(void *obj, struct decode_ctx *c)
{
    struct image_spec *im = obj;
    if (!im->hdr.set || !im->url)
        return;
    bool s3 = strncmp(im->url, "s3://", 5) == 0;
    if (s3 && !im->s3.hdr.set)
        decode_error(c, &im->hdr, "url",
                     "%s has an s3:// URL: it needs spec.s3 with credentialsFile (and endpoint "
                     "for a service other than AWS)", decode_where(c));
    else if (!s3 && im->s3.hdr.set)
        decode_error(c, &im->hdr, "s3", "%s has spec.s3, which only an s3:// URL uses",
                     decode_where(c));
    if (im->s3.endpoint && strncmp(im->s3.endpoint, "http", 4) != 0)
        decode_error(c, &im->s3.hdr, "endpoint",
                     "%s: an S3 endpoint is an http:// or https:// URL", decode_where(c));
}

static const struct schema_field image_spec_fields[] = {
    { FLD(struct image_spec, url, "url", SCHEMA_URL), .required = true,
      .doc = "Where to download the image from: https://, http://, file:/// (a file on the "
             "host running qkvm) or s3://BUCKET/KEY (with s3). Redirects are followed; "
             "proxies and CA certificates follow curl's environment (https_proxy, "
             "no_proxy, CURL_CA_BUNDLE, SSL_CERT_FILE)." },
    { FLD(struct image_spec, sha256, "sha256", SCHEMA_SHA256), .required = true,
      .doc = "The image's SHA-256; a download that does not match is discarded." },
    { FLD(struct image_spec, format, "format", SCHEMA_ENUM),
      .values = schema_values_disk_format, .def = "qcow2", .doc = "The image's format." },
    { FLD(struct image_spec, pool, "pool", SCHEMA_REF), .ref = MODEL_POOL,
      .required = true,
      .doc = "The Pool the image's volume is uploaded to, on every node that needs it; "
             "disks made from it are overlays backed by that volume." },
    { FLD(struct image_spec, s3, "s3", SCHEMA_STRUCT), .table = &image_s3_table,
      .doc = "Endpoint, region and credentials for an s3:// URL." },
    END
};
static const struct schema_table image_spec_table = {
    "Image.spec", sizeof(struct image_spec), image_spec_fields, image_finish,
    "A base image: downloaded once into qkvm's cache (verified while it streams), then "
    "uploaded once into its pool on each node that needs it." };
static const struct schema_field image_top_fields[] =
    TOP_FIELDS(struct model_image, image_spec_table, "The image's source and cache pool.");
static const struct schema_table image_top = {
    "Image", sizeof(struct model_image), image_top_fields, NULL, NULL };

/* ================================ Disk ================================ */

static void disk_finish(void *obj, struct decode_ctx *c)
{
    struct disk_spec *d = obj;
    if (!d->hdr.set)
        return;
    if (!d->size && !d->from.hdr.set && !tree_get(d->hdr.src, "size"))
        decode_error(c, &d->hdr, NULL,
                     "missing required field 'size' in %s (required unless the disk is made from an image)",
                     decode_where(c));
    if (d->from.hdr.set && d->format == DISK_FORMAT_RAW)
        decode_error(c, &d->hdr, "format",
                     "%s is made from an image, which needs format qcow2 (a copy-on-write overlay)",
                     decode_where(c));
}

static const struct schema_field disk_from_fields[] = {
    { FLD(struct disk_from, image, "image", SCHEMA_REF), .ref = MODEL_IMAGE,
      .required = true, .doc = "The Image the disk is an overlay of." },
    END
};
static const struct schema_table disk_from_table = {
    "Disk.spec.from", sizeof(struct disk_from), disk_from_fields, NULL,
    "Make the disk a copy-on-write overlay of a cached image." };

static const struct schema_field disk_spec_fields[] = {
    { FLD(struct disk_spec, pool, "pool", SCHEMA_REF), .ref = MODEL_POOL,
      .required = true, .doc = "The Pool the disk's volume lives in." },
    { FLD(struct disk_spec, size, "size", SCHEMA_QUANTITY), .min = 1 << 20,
      .step = 1 << 10,
      .doc = "Virtual size (required unless from is given; default then: the image's size). "
             "Growing it grows the volume in place; shrinking is refused. Whole KiB: libvirt "
             "creates a qcow2 volume with its size rounded up to a KiB (2G is fine, 2M is "
             "not)." },
    { FLD(struct disk_spec, format, "format", SCHEMA_ENUM),
      .values = schema_values_disk_format, .def = "qcow2", .doc = "Volume format." },
    { FLD(struct disk_spec, from, "from", SCHEMA_STRUCT), .table = &disk_from_table,
      .doc = "Base the disk on an image." },
    { FLD(struct disk_spec, protect, "protect", SCHEMA_BOOL), .def = "false",
      .doc = "Never delete this disk, even with --prune." },
    END
};
static const struct schema_table disk_spec_table = {
    "Disk.spec", sizeof(struct disk_spec), disk_spec_fields, disk_finish,
    "A storage volume." };
static const struct schema_field disk_top_fields[] =
    TOP_FIELDS(struct model_disk, disk_spec_table, "The volume's pool, size and origin.");
static const struct schema_table disk_top = {
    "Disk", sizeof(struct model_disk), disk_top_fields, NULL, NULL };

/* ================================= VM ================================= */

static const char *const v_vm_state[] = { "running", "stopped", "paused", NULL };
const char *const schema_values_vm_bus[] = { "virtio", "sata", "scsi", "ide", NULL };
const char *const schema_values_vm_nic_model[] = { "virtio", "e1000", "rtl8139", NULL };
const char *const schema_values_vm_firmware[] = { "bios", "uefi", NULL };
const char *const schema_values_vm_graphics[] = { "none", "vnc", "spice", NULL };
const char *const schema_values_vm_console[] = { "serial", "none", NULL };
const char *const schema_values_vm_accel[] = { "kvm", "tcg", NULL };

/* A NIC's MAC when none is given: 52 (locally administered, unicast)
 * followed by 40 bits of FNV-1a over "NAME/INDEX". Stable for a VM name and
 * NIC position, and with 40 bits a fleet of ten thousand VMs has a
 * collision chance of about 1 in 20,000 (validation reports one if it
 * happens). 52:54:00 + 24 bits would collide a few times in such a fleet. */
static const char *derive_mac(struct arena *a, const char *vm, size_t index)
{
    static const char hex[] = "0123456789abcdef";
    uint64_t h = 0xcbf29ce484222325ULL;
    char idx[24], *p = idx + sizeof(idx);
    *--p = '\0';
    do {                                /* "/INDEX", without printf */
        *--p = (char)('0' + index % 10);
        index /= 10;
    } while (index);
    *--p = '/';
    for (const char *q = vm; *q; q++)
        h = (h ^ (unsigned char)*q) * 0x100000001b3ULL;
    for (const char *q = p; *q; q++)
        h = (h ^ (unsigned char)*q) * 0x100000001b3ULL;
    char *mac = arena_alloc(a, 18);
    memcpy(mac, "52", 2);
    for (int i = 0; i < 5; i++) {
        unsigned byte = (unsigned)(h >> (32 - 8 * i)) & 0xff;
        mac[2 + 3 * i] = ':';
        mac[3 + 3 * i] = hex[byte >> 4];
        mac[4 + 3 * i] = hex[byte & 15];
    }
    return mac;
}

/* How many disks a VM may have on each bus, and why. ide and sata are
 * what one controller takes (libvirt refuses a second IDE controller on a
 * pc machine; q35 has none); virtio and scsi are qkvm's caps: libvirt
 * goes on adding PCI bridges and SCSI controllers past them, but a VM
 * with more disks than a pc machine's root bus has slots is a design to
 * rethink, and hundreds of disks would be hundreds of PCI devices. */
static const struct {
    size_t max;
    const char *why;
} bus_limits[] = {
    [VM_BUS_VIRTIO] = { 28, "each is a PCI device, and the root bus of a pc machine has 28 "
                            "slots beside its host bridge, ISA bridge, video and balloon" },
    [VM_BUS_SATA] = { 6, "the six ports of one AHCI controller" },
    [VM_BUS_SCSI] = { 28, "libvirt adds a SCSI controller, a PCI device, for every seven; "
                          "qkvm stops where virtio does" },
    [VM_BUS_IDE] = { 4, "the one IDE controller of a pc machine has two buses of two" },
};

static bool machine_is_q35(const char *m)
{
    return m && (strcmp(m, "q35") == 0 || strncmp(m, "pc-q35-", 7) == 0);
}

static void vm_bus_limits(struct vm_spec *s, struct decode_ctx *c)
{
    size_t count[4] = { 0 };
    bool ide_said = false;
    for (size_t i = 0; i < s->disks.n; i++) {
        const struct vm_disk *d = &s->disks.v[i];
        size_t n = ++count[d->bus];
        if (d->bus == VM_BUS_IDE && !ide_said && machine_is_q35(s->machine)) {
            decode_error(c, &d->hdr, "bus",
                         "%s has machine %s, which has no IDE controller: use bus sata",
                         decode_where(c), s->machine);
            ide_said = true;
        }
        if (n == bus_limits[d->bus].max + 1)
            decode_error(c, &d->hdr, "bus", "%s has more than %zu disks on bus %s: %s",
                         decode_where(c), bus_limits[d->bus].max,
                         schema_values_vm_bus[d->bus], bus_limits[d->bus].why);
    }
}

/* A mapping as YAML text (for the seed's files), in the arena. */
static const char *yaml_text(struct arena *a, struct tree *t)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        abort();
    int rc = yamldoc_emit(f, &t, 1);
    fclose(f);
    const char *out = rc == 0 ? arena_strdup(a, buf) : "";
    free(buf);
    return out;
}

/* The seed's files and their digest, from what was declared: meta-data
 * gets instance-id and local-hostname (the VM's name) unless declared, so
 * the instance stays the same instance across runs and hosts. */
static void cloud_init_derive(struct model_vm *vm, struct decode_ctx *c)
{
    struct vm_cloud_init *ci = &vm->spec.cloud_init;
    if (!ci->hdr.set)
        return;
    struct tree *meta = tree_new_map(c->arena);
    const struct tree *m = ci->meta_data;
    for (size_t i = 0; m && i < m->len; i++)
        tree_map_add(c->arena, meta, m->u.pairs[i].key->u.str, m->u.pairs[i].value);
    if (!m || !tree_get(m, "instance-id"))
        tree_map_str(c->arena, meta, "instance-id", vm->obj.meta.name);
    if (!m || !tree_get(m, "local-hostname"))
        tree_map_str(c->arena, meta, "local-hostname", vm->obj.meta.name);
    ci->meta_text = yaml_text(c->arena, meta);
    ci->network_text = ci->network_config
                           ? yaml_text(c->arena, (struct tree *)ci->network_config)
                           : NULL;
    struct seed_content sc = { ci->user_data ? ci->user_data : "", ci->meta_text,
                               ci->network_text };
    char *digest = arena_alloc(c->arena, 65);
    seed_digest(&sc, digest);
    ci->digest = digest;
}

/* Runs on the whole object: the derived MACs need the VM's name. */
static void vm_finish(void *obj, struct decode_ctx *c)
{
    struct model_vm *vm = obj;
    struct vm_spec *s = &vm->spec;
    if (!vm->obj.meta.name || !s->hdr.set)
        return;
    cloud_init_derive(vm, c);
    if (s->cloud_init.hdr.set && !s->disks.n)
        decode_error(c, &s->hdr, "cloudInit",
                     "%s has cloudInit but no disk: the seed is a volume in the pool of "
                     "the VM's first disk", decode_where(c));
    if (s->cloud_init.hdr.set) {
        /* the seed's cdrom is one more device on the machine's own
         * controller: IDE on a pc machine, SATA on q35 */
        bool q35 = machine_is_q35(s->machine);
        enum vm_bus bus = q35 ? VM_BUS_SATA : VM_BUS_IDE;
        size_t n = 0;
        for (size_t i = 0; i < s->disks.n; i++)
            n += s->disks.v[i].bus == bus;
        if (n >= bus_limits[bus].max)
            decode_error(c, &s->hdr, "cloudInit",
                         "%s has %zu %s disks and cloudInit, whose seed is a cdrom on that "
                         "bus too: at most %zu disks there (%s)", decode_where(c), n,
                         schema_values_vm_bus[bus], bus_limits[bus].max - 1,
                         bus_limits[bus].why);
    }
    if (s->console_log && s->console != VM_CONSOLE_SERIAL)
        decode_error(c, &s->hdr, "consoleLog",
                     "%s has consoleLog but console: none: the log is the serial console's",
                     decode_where(c));
    for (size_t i = 0; i < s->nics.n; i++)
        if (!s->nics.v[i].mac && !tree_get(s->nics.v[i].hdr.src, "mac"))
            s->nics.v[i].mac = derive_mac(c->arena, vm->obj.meta.name, i);
    if (!s->max_cpus)
        s->max_cpus = s->cpus;
    else if (s->max_cpus < s->cpus)
        decode_error(c, &s->hdr, "maxCpus", "%s has maxCpus %lld below cpus %lld",
                     decode_where(c), (long long)s->max_cpus, (long long)s->cpus);
    if (!s->max_memory)
        s->max_memory = s->memory;
    else if (s->max_memory < s->memory)
        decode_error(c, &s->hdr, "maxMemory", "%s has maxMemory below memory",
                     decode_where(c));
    vm_bus_limits(s, c);
    for (size_t i = 0; i < s->disks.n; i++) {
        const struct vm_disk *d = &s->disks.v[i];
        for (size_t j = 0; j < i; j++) {
            const struct vm_disk *e = &s->disks.v[j];
            if (d->boot && d->boot == e->boot) {
                decode_error(c, &d->hdr, "boot",
                             "%s has more than one disk with boot: %lld ('%s' and '%s')",
                             decode_where(c), (long long)d->boot, e->disk ? e->disk : "?",
                             d->disk ? d->disk : "?");
                break;
            }
            if (d->disk && e->disk && strcmp(d->disk, e->disk) == 0) {
                decode_error(c, &d->hdr, "disk", "%s attaches Disk '%s' twice",
                             decode_where(c), d->disk);
                break;
            }
        }
    }
}

static const struct schema_field vm_disk_fields[] = {
    { FLD(struct vm_disk, disk, "disk", SCHEMA_REF), .ref = MODEL_DISK,
      .required = true, .doc = "The Disk to attach." },
    { FLD(struct vm_disk, bus, "bus", SCHEMA_ENUM), .values = schema_values_vm_bus,
      .def = "virtio", .doc = "The bus the disk is attached to. A VM has at most 4 ide "
                              "disks (the one IDE controller of a pc machine: two buses "
                              "of two; a q35 machine has none), 6 sata (the ports of one "
                              "AHCI controller), 28 virtio (each is a PCI device; 28 is "
                              "what the root bus of a pc machine has slots for) and 28 "
                              "scsi (libvirt adds a controller for every seven)." },
    { FLD(struct vm_disk, boot, "boot", SCHEMA_INT), .min = 1, .max = 64,
      .doc = "Boot order (1 boots first); omit for a disk that is not booted from." },
    END
};
static const struct schema_table vm_disk_table = {
    "VM.spec.disks", sizeof(struct vm_disk), vm_disk_fields, NULL,
    "A disk attached to the VM. Adding or removing one on a running VM is a hot-plug." };
static const struct schema_field elem_vm_disk = {
    .name = "disks", .type = SCHEMA_STRUCT, .table = &vm_disk_table };

static const struct schema_field vm_nic_fields[] = {
    { FLD(struct vm_nic, network, "network", SCHEMA_REF), .ref = MODEL_NETWORK,
      .required = true, .doc = "The Network to connect to." },
    { FLD(struct vm_nic, mac, "mac", SCHEMA_MAC),
      .doc = "The MAC address (default: derived from the VM name and the NIC's "
             "position, stable across runs: 52:xx:xx:xx:xx:xx)." },
    { FLD(struct vm_nic, ip, "ip", SCHEMA_IP),
      .doc = "A static DHCP lease in the network: inside its cidr, outside its DHCP range." },
    { FLD(struct vm_nic, model, "model", SCHEMA_ENUM), .values = schema_values_vm_nic_model,
      .def = "virtio", .doc = "The emulated NIC." },
    END
};
static const struct schema_table vm_nic_table = {
    "VM.spec.nics", sizeof(struct vm_nic), vm_nic_fields, NULL,
    "A network interface. Adding or removing one on a running VM is a hot-plug." };
static const struct schema_field elem_vm_nic = {
    .name = "nics", .type = SCHEMA_STRUCT, .table = &vm_nic_table };

/* userData that says #cloud-config is YAML to cloud-init: a syntax error
 * there would only show in the guest's log, after boot. */
static void cloud_init_finish(void *obj, struct decode_ctx *c)
{
    struct vm_cloud_init *ci = obj;
    if (!ci->hdr.set || !ci->user_data || strncmp(ci->user_data, "#cloud-config", 13) != 0)
        return;
    char msg[512];
    if (yamldoc_check(ci->user_data, strlen(ci->user_data), msg, sizeof(msg)) != 0)
        decode_error(c, &ci->hdr, "userData",
                     "%s: userData starts with #cloud-config but is not valid YAML, at userData %s",
                     decode_where(c), msg);
}

static const struct schema_field vm_cloud_init_fields[] = {
    { FLD(struct vm_cloud_init, user_data, "userData", SCHEMA_STRING), .text = true,
      .doc = "The user-data file, as written: #cloud-config YAML (checked here), or a "
             "script starting with #! that cloud-init runs." },
    { FLD(struct vm_cloud_init, meta_data, "metaData", SCHEMA_YAML),
      .doc = "The meta-data mapping (default instance-id and local-hostname: the VM's "
             "name, stable across runs and hosts; cloud-init runs its once-per-instance "
             "modules again only when instance-id changes)." },
    { FLD(struct vm_cloud_init, network_config, "networkConfig", SCHEMA_YAML),
      .doc = "The network-config mapping (Netplan version 2), written as given." },
    END
};
static const struct schema_table vm_cloud_init_table = {
    "VM.spec.cloudInit", sizeof(struct vm_cloud_init), vm_cloud_init_fields,
    cloud_init_finish,
    "A NoCloud seed: an ISO 9660 volume labelled cidata next to the VM's first disk, "
    "attached as a read-only cdrom. A change is rewritten into the volume and, like any "
    "device change, needs a restart." };

static const struct schema_field vm_boot_fields[] = {
    { FLD(struct vm_boot, kernel, "kernel", SCHEMA_PATH), .required = true,
      .doc = "The kernel image, a file on the node." },
    { FLD(struct vm_boot, initrd, "initrd", SCHEMA_PATH),
      .doc = "The initial ramdisk, a file on the node." },
    { FLD(struct vm_boot, cmdline, "cmdline", SCHEMA_STRING),
      .doc = "The kernel command line, e.g. console=ttyS0." },
    END
};
static const struct schema_table vm_boot_table = {
    "VM.spec.boot", sizeof(struct vm_boot), vm_boot_fields, NULL,
    "Direct kernel boot: QEMU loads the kernel and initrd itself, no boot loader." };

static const struct schema_field vm_spec_fields[] = {
    { FLD(struct vm_spec, cpus, "cpus", SCHEMA_INT), .def = "1", .min = 1,
      .max = 1024, .doc = "Virtual CPUs." },
    { FLD(struct vm_spec, max_cpus, "maxCpus", SCHEMA_INT), .min = 1, .max = 1024,
      .doc = "The most vCPUs the VM can have; cpus can grow up to it on a running "
             "VM (default: cpus, so a change needs a restart)." },
    { FLD(struct vm_spec, memory, "memory", SCHEMA_QUANTITY), .required = true,
      .min = 1 << 20, .step = 1 << 20,
      .doc = "Memory, e.g. 2GiB or 512MiB: whole MiB, as libvirt starts a VM with its "
             "memory rounded up to a MiB (100M is not, 95MiB is)." },
    { FLD(struct vm_spec, max_memory, "maxMemory", SCHEMA_QUANTITY), .min = 1 << 20,
      .step = 1 << 20,
      .doc = "The most memory the VM can have; memory can change up to it on a "
             "running VM through the balloon (default: memory). Whole MiB." },
    { FLD(struct vm_spec, state, "state", SCHEMA_ENUM), .values = v_vm_state,
      .def = "running",
      .doc = "Desired power state. running: a paused domain is drift and is resumed (unless "
             "an I/O error paused it: then it is reported and left paused); stopped: a graceful "
             "shutdown, then destroy after --shutdown-timeout; paused: started with its vCPUs "
             "paused, or suspended." },
    { FLD(struct vm_spec, disks, "disks", SCHEMA_LIST), .elem = &elem_vm_disk,
      .doc = "Disks, in order." },
    { FLD(struct vm_spec, nics, "nics", SCHEMA_LIST), .elem = &elem_vm_nic,
      .doc = "Network interfaces, in order." },
    { FLD(struct vm_spec, node, "node", SCHEMA_REF), .ref = MODEL_NODE,
      .doc = "Pin the VM to this Node (default: placement chooses)." },
    { FLD(struct vm_spec, node_selector, "nodeSelector", SCHEMA_LABELS),
      .doc = "Only nodes with all these labels are considered by placement." },
    { FLD(struct vm_spec, firmware, "firmware", SCHEMA_ENUM),
      .values = schema_values_vm_firmware, .def = "bios", .doc = "Firmware." },
    { FLD(struct vm_spec, machine, "machine", SCHEMA_STRING),
      .doc = "QEMU machine type, e.g. q35 (default: libvirt's default)." },
    { FLD(struct vm_spec, graphics, "graphics", SCHEMA_ENUM),
      .values = schema_values_vm_graphics, .def = "none", .doc = "Graphical console." },
    { FLD(struct vm_spec, console, "console", SCHEMA_ENUM),
      .values = schema_values_vm_console, .def = "serial", .doc = "Serial console." },
    { FLD(struct vm_spec, accel, "accel", SCHEMA_ENUM), .values = schema_values_vm_accel,
      .def = "kvm", .doc = "Acceleration: kvm (hardware), or tcg (emulation, for "
                           "hosts without /dev/kvm and tests)." },
    { FLD(struct vm_spec, cloud_init, "cloudInit", SCHEMA_STRUCT),
      .table = &vm_cloud_init_table, .doc = "A cloud-init NoCloud seed for the guest." },
    { FLD(struct vm_spec, boot, "boot", SCHEMA_STRUCT), .table = &vm_boot_table,
      .doc = "Boot a kernel directly (paths on the node) instead of from a disk." },
    { FLD(struct vm_spec, console_log, "consoleLog", SCHEMA_PATH),
      .doc = "Also log the serial console to this file on the node (needs console: "
             "serial); virsh console keeps working." },
    END
};
static const struct schema_table vm_spec_table = {
    "VM.spec", sizeof(struct vm_spec), vm_spec_fields, NULL,
    "A virtual machine. Autostart is always off: qkvm decides where VMs run." };
static const struct schema_field vm_top_fields[] =
    TOP_FIELDS(struct model_vm, vm_spec_table, "The VM's resources, devices and placement.");
static const struct schema_table vm_top = {
    "VM", sizeof(struct model_vm), vm_top_fields, vm_finish, NULL };

/* =============================== Policy =============================== */

static const char *const v_strategy[] = { "spread", "pack", NULL };
static const char *const v_drift_mode[] = { "report", "heal", NULL };
static const char *const v_prune[] = { "never", "report", "delete", NULL };
static const char *const v_restart[] = { "never", "onChange", NULL };

static void drift_finish(void *obj, struct decode_ctx *c)
{
    struct policy_drift *d = obj;
    for (size_t i = 0; i < d->ignore.n; i++) {
        const char *p = d->ignore.v[i];
        char err[256] = "", first[256] = "";
        bool found = false;
        if (!p)
            continue;
        for (int k = 0; k < MODEL_KIND_COUNT && !found; k++) {
            char full[300];
            const struct schema_kind *kind;
            const struct schema_field *f;
            snprintf(full, sizeof(full), "%s.%s", schema_kinds[k].name, p);
            if (schema_lookup(full, &kind, &f, err, sizeof(err)) == 0)
                found = true;
            else if (!first[0] || (strstr(err, "did you mean") && !strstr(first, "did you mean")))
                snprintf(first, sizeof(first), "%s", err);
        }
        if (!found) {
            const struct tree *list = tree_get(d->hdr.src, "ignore");
            struct tree_mark m = list && list->type == TREE_SEQ && i < list->len
                                     ? list->u.items[i]->mark
                                     : decode_mark(c->obj, &d->hdr, "ignore");
            diag_add(c->diag, DIAG_ERROR, c->file, m, c->kind->name, c->name,
                     "spec.drift.ignore", "drift.ignore of %s: '%s' is not a field of any kind (%s)",
                     decode_where(c), p, first);
        }
    }
}

static const struct schema_field policy_ha_fields[] = {
    { FLD(struct policy_ha, enabled, "enabled", SCHEMA_BOOL), .def = "false",
      .doc = "Restart the selected VMs on another node when theirs fails (after fencing)." },
    { FLD(struct policy_ha, priority, "priority", SCHEMA_INT), .def = "0",
      .min = 0, .max = 1000, .doc = "Higher priority VMs are restarted first." },
    { FLD(struct policy_ha, max_restarts, "maxRestarts", SCHEMA_INT), .def = "3",
      .min = 0, .max = 100, .doc = "Give up on a VM after this many failovers in an hour." },
    END
};
static const struct schema_table policy_ha_table = {
    "Policy.spec.ha", sizeof(struct policy_ha), policy_ha_fields, NULL,
    "High availability." };

static const struct schema_field policy_placement_fields[] = {
    { FLD(struct policy_placement, strategy, "strategy", SCHEMA_ENUM),
      .values = v_strategy, .def = "spread",
      .doc = "spread: the node with most free capacity; pack: the fullest node that fits." },
    { FLD(struct policy_placement, anti_affinity, "antiAffinity", SCHEMA_BOOL),
      .def = "false", .doc = "Never place two of the selected VMs on one node." },
    { FLD(struct policy_placement, affinity, "affinity", SCHEMA_LIST),
      .elem = &elem_affinity, .doc = "Prefer nodes already running VMs with these labels." },
    { FLD(struct policy_placement, cold_moves, "coldMoves", SCHEMA_BOOL),
      .def = "false",
      .doc = "Let the selected VMs whose disks are not all on shared pools move between "
             "nodes (drain, a new pin): stopped, their volumes copied to the same pools on "
             "the new node, started there, the old copies deleted. Without it they stay "
             "where they are, and the plan says why." },
    END
};
static const struct schema_table policy_placement_table = {
    "Policy.spec.placement", sizeof(struct policy_placement),
    policy_placement_fields, NULL, "Placement of the selected VMs." };

static const struct schema_field policy_drift_fields[] = {
    { FLD(struct policy_drift, mode, "mode", SCHEMA_ENUM), .values = v_drift_mode,
      .def = "report",
      .doc = "report: drift is reported (recorded, logged, served); heal: the controller "
             "(`qkvm run`) also repairs it as soon as an observation sees it, with backoff. "
             "`qkvm apply` repairs drift either way." },
    { FLD(struct policy_drift, ignore, "ignore", SCHEMA_LIST), .elem = &elem_ignore,
      .doc = "Field paths whose differences are not drift (e.g. spec.memory)." },
    END
};
static const struct schema_table policy_drift_table = {
    "Policy.spec.drift", sizeof(struct policy_drift), policy_drift_fields,
    drift_finish, "Drift handling." };

static const struct schema_field policy_spec_fields[] = {
    { FLD(struct policy_spec, selector, "selector", SCHEMA_LABELS),
      .doc = "Labels an object must all have to be governed (default: every object)." },
    { FLD(struct policy_spec, ha, "ha", SCHEMA_STRUCT), .table = &policy_ha_table,
      .doc = "High availability." },
    { FLD(struct policy_spec, placement, "placement", SCHEMA_STRUCT),
      .table = &policy_placement_table, .doc = "Placement." },
    { FLD(struct policy_spec, drift, "drift", SCHEMA_STRUCT),
      .table = &policy_drift_table, .doc = "Drift handling." },
    { FLD(struct policy_spec, prune, "prune", SCHEMA_ENUM), .values = v_prune,
      .def = "report",
      .doc = "never: never delete; report: report stale objects, delete with --prune; "
             "delete: delete stale objects on apply (protected disks never)." },
    { FLD(struct policy_spec, restart, "restart", SCHEMA_ENUM), .values = v_restart,
      .def = "never",
      .doc = "onChange: restart a VM when a change needs it; never: report \"restart required\"." },
    END
};
static const struct schema_table policy_spec_table = {
    "Policy.spec", sizeof(struct policy_spec), policy_spec_fields, NULL,
    "Rules for the objects its selector chooses." };
static const struct schema_field policy_top_fields[] =
    TOP_FIELDS(struct model_policy, policy_spec_table, "The selector and the rules.");
static const struct schema_table policy_top = {
    "Policy", sizeof(struct model_policy), policy_top_fields, NULL, NULL };

/* =============================== Project ============================== */

static const struct schema_field project_spec_fields[] = {
    { FLD(struct project_spec, max_deletions, "maxDeletions", SCHEMA_INT), .def = "10",
      .min = 0, .max = 100000,
      .doc = "The most objects one apply may delete (--prune or prune: delete); a plan "
             "deleting more, or every object the project manages, is refused unless "
             "--max-deletions allows it." },
    END
};
static const struct schema_table project_spec_table = {
    "Project.spec", sizeof(struct project_spec), project_spec_fields, NULL,
    "The project's limits." };
/* As TOP_FIELDS, but the spec may be left out: a Project is often just a name. */
static const struct schema_field project_top_fields[] = {
    { FLD(struct model_object, api_version, "apiVersion", SCHEMA_ENUM),
      .required = true, .values = api_versions,
      .doc = "The manifest format version: " SCHEMA_API_VERSION "." },
    { FLD(struct model_object, kind_name, "kind", SCHEMA_STRING),
      .required = true, .doc = "The kind of object." },
    { FLD(struct model_object, meta, "metadata", SCHEMA_STRUCT),
      .required = true, .table = &meta_table,
      .doc = "The project's name (its identity on every host) and labels." },
    { .name = "spec", .type = SCHEMA_STRUCT, .offset = offsetof(struct model_project, spec),
      .table = &project_spec_table, .doc = "The project's limits." },
    END
};
static const struct schema_table project_top = {
    "Project", sizeof(struct model_project), project_top_fields, NULL, NULL };

/* ================================ kinds =============================== */

const struct schema_kind schema_kinds[MODEL_KIND_COUNT] = {
    [MODEL_NODE] = { "Node", "nodes", MODEL_NODE, sizeof(struct model_node), &node_top,
        "A libvirt host qkvm manages. With no Node at all, qkvm manages one "
        "implicit node: --connect, LIBVIRT_DEFAULT_URI or libvirt's default." },
    [MODEL_NETWORK] = { "Network", "networks", MODEL_NETWORK, sizeof(struct model_network),
        &net_top, "A libvirt virtual network, defined on every node (or those listed)." },
    [MODEL_POOL] = { "Pool", "pools", MODEL_POOL, sizeof(struct model_pool), &pool_top,
        "A storage pool, defined on every node (or those listed)." },
    [MODEL_IMAGE] = { "Image", "images", MODEL_IMAGE, sizeof(struct model_image), &image_top,
        "A base image disks can be made from." },
    [MODEL_DISK] = { "Disk", "disks", MODEL_DISK, sizeof(struct model_disk), &disk_top,
        "A volume in a pool, attached to at most one VM." },
    [MODEL_VM] = { "VM", "vms", MODEL_VM, sizeof(struct model_vm), &vm_top,
        "A virtual machine." },
    [MODEL_POLICY] = { "Policy", "policies", MODEL_POLICY, sizeof(struct model_policy),
        &policy_top, "Rules (HA, placement, drift, prune, restart) for the objects "
        "whose labels match its selector." },
    [MODEL_PROJECT] = { "Project", "projects", MODEL_PROJECT, sizeof(struct model_project),
        &project_top, "The manifest set's identity: every object qkvm creates carries the "
        "project's name, and a project never changes or deletes another's objects. At most "
        "one per set; without one the set is project 'default'." },
};
