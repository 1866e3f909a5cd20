/* seed.h — the cloud-init NoCloud seed: its ISO 9660 image and its digest.
 *
 * A NoCloud seed is a small ISO 9660 volume labelled "cidata" whose root
 * holds user-data, meta-data and, optionally, network-config; cloud-init in
 * the guest finds it by that label. seed_build makes the image in memory
 * (libisofs) and seed_digest names the content (SHA-256, OpenSSL).
 *
 * Both are deterministic: the same content gives the same image bytes and
 * the same digest, whatever the time, time zone, locale or user of the
 * process that builds it, so either identifies what a guest was given.
 */
#ifndef QKVM_SEED_H
#define QKVM_SEED_H

#include <stddef.h>

/* The three files of a NoCloud seed; network_config NULL: no file. */
struct seed_content {
    const char *user_data;       /* text, as declared */
    const char *meta_data;       /* YAML text (instance-id, local-hostname, ...) */
    const char *network_config;  /* YAML text (version 2), or NULL */
};

/* The largest content seed_build takes: the three texts together. */
#define SEED_MAX_CONTENT ((size_t)64 << 20)

/* Build the ISO 9660 image (volume id "cidata", Rock Ridge + Joliet, files
 * user-data, meta-data and network-config at the root) in memory: *out is
 * malloc'd (the caller frees it), *len its size, a multiple of 2048. Every
 * timestamp in it is the epoch (1970-01-01 00:00:00 UTC), owners are 0 and
 * modes 0555 (directory) and 0444 (files), so the same content gives the
 * same bytes. user_data and meta_data are required (either may be empty).
 * Safe to call from several threads (the calls are serialised). 0, or -1
 * with the reason in err (*out NULL then). */
int seed_build(const struct seed_content *c, unsigned char **out, size_t *len,
               char *err, size_t errlen);

/* SHA-256 of the content as 64 lowercase hex characters and a NUL. What is
 * hashed: "qkvm-seed-v1" and a NUL, then for user-data, meta-data and
 * network-config in that order a byte 0 (absent: NULL) or 1 (present), and
 * when present the text's length as 8 bytes big-endian and the text; so two
 * different contents never give the same input, and an empty network-config
 * differs from none. */
void seed_digest(const struct seed_content *c, char out[65]);

#endif
