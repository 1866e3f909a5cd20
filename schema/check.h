/* check.h — parsers and validators for the scalar types of the schema.
 *
 * Each check either accepts a value, writing its normalised form, or returns
 * a short reason ("expected ..."), which the decoder quotes in a finding.
 * They are pure functions of their input: no I/O, no global state.
 */
#ifndef QKVM_CHECK_H
#define QKVM_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CHECK_NAME_MAX 63

/* An object name: [a-z0-9]([-a-z0-9]*[a-z0-9])?, at most 63 characters.
 * NULL when valid, else the reason. */
const char *check_name(const char *s);

/* A quantity of bytes: an integer with an optional unit, binary (KiB, MiB,
 * GiB, TiB; also Ki, Mi, Gi, Ti) or decimal (K, M, G, T; also KB, MB...).
 * Zero, negative, fractional and overflowing values are refused. */
const char *check_quantity(const char *s, uint64_t *out);
/* The shortest exact rendering of a quantity: "2GiB", "1500M", "1000". */
void check_quantity_format(uint64_t v, char *buf, size_t size);

/* A unicast MAC address "52:54:00:10:00:21" (or with '-'); normalised to
 * lowercase with ':'. out must hold 18 bytes. */
const char *check_mac(const char *s, char *out);

struct check_ip {
    int family;          /* 4 or 6 */
    uint8_t a[16];       /* network order; IPv4 in the first 4 bytes */
};

const char *check_ip(const char *s, struct check_ip *out);
/* "10.10.0.0/24"; host bits must be zero. `out` gets the network address. */
const char *check_cidr(const char *s, struct check_ip *out, unsigned *prefix);
bool check_ip_in_cidr(const struct check_ip *ip, const struct check_ip *net,
                      unsigned prefix);
/* Do the blocks a/pa and b/pb share an address (one contains the other)? */
bool check_cidr_overlap(const struct check_ip *a, unsigned pa,
                        const struct check_ip *b, unsigned pb);
/* Can net/prefix be a guest network? NULL, or why not ("it is the default
 * route", "it overlaps 127.0.0.0/8, the loopback range"...), possibly
 * written into buf: a prefix shorter than /8, and the unspecified,
 * loopback, link-local, multicast and reserved ranges are refused. */
const char *check_cidr_network(const struct check_ip *net, unsigned prefix,
                               char *buf, size_t size);
int check_ip_cmp(const struct check_ip *a, const struct check_ip *b);
/* Text form of an address (inet_ntop). buf must hold 46 bytes. */
void check_ip_format(const struct check_ip *ip, char *buf, size_t size);
/* The network address with n added (for "first host"): false on overflow. */
bool check_ip_add(const struct check_ip *net, unsigned prefix, uint64_t n,
                  struct check_ip *out);
/* Is ip the network or the broadcast address of net/prefix (IPv4)? */
bool check_ip_is_edge(const struct check_ip *ip, const struct check_ip *net,
                      unsigned prefix);

/* http://, https:// or file:// URL with a host (http, https) or an absolute
 * path (file). */
const char *check_url(const char *s);
/* 64 hexadecimal digits; normalised to lowercase. out: 65 bytes. */
const char *check_sha256(const char *s, char *out);
/* A libvirt connection URI: scheme "://" rest, e.g. qemu:///system. */
const char *check_uri(const char *s);
/* An absolute path without "." or ".." components. */
const char *check_path(const char *s);
/* A checked path in the form libvirt keeps, in place: "//" squeezed to
 * "/", no "/" at the end ("/srv//vm/" is "/srv/vm"). */
void check_path_clean(char *s);
/* Can the (clean) path be a pool's directory? NULL, or what it is instead,
 * possibly written into buf: "the root directory", "the system directory
 * /var/lib", "inside /proc (a kernel file system)". The root, the
 * directories of the operating system, and anything inside the pseudo
 * file systems, /run and the installed software's trees are refused. */
const char *check_pool_path(const char *s, char *buf, size_t size);
/* A Linux network interface name (bridge): 1 to 15 of [A-Za-z0-9_.-],
 * not "." or "..". */
const char *check_ifname(const char *s);
/* Label keys: [prefix/]name, name 1-63 of [A-Za-z0-9._-] starting and ending
 * alphanumeric, prefix a DNS subdomain up to 253; values: empty or a name
 * of the same alphabet, up to 63. */
const char *check_label_key(const char *s);
const char *check_label_value(const char *s);

#endif
