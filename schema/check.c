/* check.c — scalar validators. */
#include "check.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <string.h>

static bool lower_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

const char *check_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0)
        return "a name cannot be empty";
    if (n > CHECK_NAME_MAX)
        return "a name has at most 63 characters";
    for (size_t i = 0; i < n; i++)
        if (!lower_alnum(s[i]) && s[i] != '-')
            return "a name has only lowercase letters, digits and '-'";
    if (s[0] == '-' || s[n - 1] == '-')
        return "a name starts and ends with a letter or digit";
    return NULL;
}

struct unit {
    const char *sfx;
    uint64_t mul;
};

static const struct unit units[] = {
    { "", 1 },
    { "B", 1 },
    { "KiB", 1ULL << 10 }, { "MiB", 1ULL << 20 }, { "GiB", 1ULL << 30 },
    { "TiB", 1ULL << 40 },
    { "Ki", 1ULL << 10 }, { "Mi", 1ULL << 20 }, { "Gi", 1ULL << 30 },
    { "Ti", 1ULL << 40 },
    { "K", 1000ULL }, { "M", 1000000ULL }, { "G", 1000000000ULL },
    { "T", 1000000000000ULL },
    { "KB", 1000ULL }, { "MB", 1000000ULL }, { "GB", 1000000000ULL },
    { "TB", 1000000000000ULL },
};

const char *check_quantity(const char *s, uint64_t *out)
{
    const char *p = s;
    uint64_t v = 0;
    if (*p == '-')
        return "a quantity must be positive";
    if (*p == '+')
        p++;
    if (!isdigit((unsigned char)*p))
        return "expected a number with an optional unit (KiB, MiB, GiB, TiB, K, M, G, T)";
    for (; isdigit((unsigned char)*p); p++) {
        if (v > (UINT64_MAX - 9) / 10)
            return "quantity is too large";
        v = v * 10 + (uint64_t)(*p - '0');
    }
    if (*p == '.')
        return "a quantity must be a whole number: write 1536MiB, not 1.5GiB";
    while (*p == ' ')
        p++;
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (strcmp(p, units[i].sfx) != 0)
            continue;
        if (v == 0)
            return "a quantity must be greater than zero";
        if (v > UINT64_MAX / units[i].mul)
            return "quantity is too large";
        *out = v * units[i].mul;
        return NULL;
    }
    return "unknown unit: use KiB, MiB, GiB, TiB (binary) or K, M, G, T (decimal)";
}

/* The shortest exact spelling; binary units win ties (memory and disk sizes
 * are usually binary), so 2GiB stays 2GiB and 10G stays 10G. */
void check_quantity_format(uint64_t v, char *buf, size_t size)
{
    static const struct unit order[] = {
        { "TiB", 1ULL << 40 }, { "GiB", 1ULL << 30 }, { "MiB", 1ULL << 20 },
        { "KiB", 1ULL << 10 }, { "T", 1000000000000ULL }, { "G", 1000000000ULL },
        { "M", 1000000ULL }, { "K", 1000ULL },
    };
    char best[32], cand[32];
    snprintf(best, sizeof(best), "%llu", (unsigned long long)v);
    for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
        if (v < order[i].mul || v % order[i].mul)
            continue;
        snprintf(cand, sizeof(cand), "%llu%s",
                 (unsigned long long)(v / order[i].mul), order[i].sfx);
        if (strlen(cand) < strlen(best))
            memcpy(best, cand, sizeof(best));
    }
    snprintf(buf, size, "%s", best);
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = (char)tolower((unsigned char)c);
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

const char *check_mac(const char *s, char *out)
{
    uint8_t b[6];
    if (strlen(s) != 17)
        return "expected a MAC address like 52:54:00:12:34:56";
    for (int i = 0; i < 6; i++) {
        int hi = hexval(s[3 * i]), lo = hexval(s[3 * i + 1]);
        if (hi < 0 || lo < 0)
            return "expected a MAC address like 52:54:00:12:34:56";
        if (i < 5 && s[3 * i + 2] != ':' && s[3 * i + 2] != '-')
            return "expected a MAC address like 52:54:00:12:34:56";
        b[i] = (uint8_t)(hi << 4 | lo);
    }
    if (b[0] & 1)
        return "a multicast MAC address cannot be a NIC's address";
    if (!(b[0] | b[1] | b[2] | b[3] | b[4] | b[5]))
        return "the all-zero MAC address cannot be a NIC's address";
    snprintf(out, 18, "%02x:%02x:%02x:%02x:%02x:%02x", b[0], b[1], b[2], b[3],
             b[4], b[5]);
    return NULL;
}

const char *check_ip(const char *s, struct check_ip *out)
{
    memset(out, 0, sizeof(*out));
    if (strchr(s, ':')) {
        if (inet_pton(AF_INET6, s, out->a) == 1) {
            out->family = 6;
            return NULL;
        }
        return "expected an IPv4 or IPv6 address";
    }
    if (inet_pton(AF_INET, s, out->a) == 1) {
        out->family = 4;
        return NULL;
    }
    return "expected an IPv4 or IPv6 address like 10.10.0.21";
}

static bool bit(const struct check_ip *ip, unsigned i)
{
    return (ip->a[i / 8] >> (7 - i % 8)) & 1;
}

const char *check_cidr(const char *s, struct check_ip *out, unsigned *prefix)
{
    const char *slash = strchr(s, '/');
    char addr[64];
    if (!slash || (size_t)(slash - s) >= sizeof(addr))
        return "expected a CIDR like 10.10.0.0/24";
    memcpy(addr, s, (size_t)(slash - s));
    addr[slash - s] = '\0';
    if (check_ip(addr, out))
        return "expected a CIDR like 10.10.0.0/24";
    const char *p = slash + 1;
    unsigned v = 0, max = out->family == 4 ? 32 : 128;
    if (!isdigit((unsigned char)*p))
        return "expected a prefix length after '/'";
    for (; isdigit((unsigned char)*p); p++) {
        v = v * 10 + (unsigned)(*p - '0');
        if (v > max)
            break;
    }
    if (*p || v > max)
        return out->family == 4 ? "an IPv4 prefix length is 0 to 32"
                                : "an IPv6 prefix length is 0 to 128";
    for (unsigned i = v; i < max; i++)
        if (bit(out, i))
            return "host bits are set: write the network address";
    *prefix = v;
    return NULL;
}

bool check_cidr_overlap(const struct check_ip *a, unsigned pa,
                        const struct check_ip *b, unsigned pb)
{
    /* two blocks overlap when one contains the other: when they agree on
     * the bits of the shorter prefix */
    return check_ip_in_cidr(a, b, pa < pb ? pa : pb);
}

/* Ranges that are never a guest network: a network overlapping one would
 * take over (or be shadowed by) traffic the host routes elsewhere. */
static const struct {
    int family;
    const char *net;
    unsigned prefix;
    const char *what;
} unusable[] = {
    { 4, "0.0.0.0", 8, "0.0.0.0/8, the 'this network' range" },
    { 4, "127.0.0.0", 8, "127.0.0.0/8, the loopback range" },
    { 4, "169.254.0.0", 16, "169.254.0.0/16, the link-local range" },
    { 4, "224.0.0.0", 4, "224.0.0.0/4, the multicast range" },
    { 4, "240.0.0.0", 4, "240.0.0.0/4, the reserved range and broadcast" },
    { 6, "::", 128, "::/128, the unspecified address" },
    { 6, "::1", 128, "::1/128, the loopback address" },
    { 6, "fe80::", 10, "fe80::/10, the link-local range" },
    { 6, "ff00::", 8, "ff00::/8, the multicast range" },
};

const char *check_cidr_network(const struct check_ip *net, unsigned prefix,
                               char *buf, size_t size)
{
    if (prefix == 0)
        return "it is the default route";
    if (prefix < 8)
        return "a network's prefix is at least /8";
    for (size_t i = 0; i < sizeof(unusable) / sizeof(unusable[0]); i++) {
        struct check_ip r;
        if (unusable[i].family != net->family)
            continue;
        check_ip(unusable[i].net, &r);
        if (check_cidr_overlap(net, prefix, &r, unusable[i].prefix)) {
            snprintf(buf, size, "it overlaps %s", unusable[i].what);
            return buf;
        }
    }
    return NULL;
}

bool check_ip_in_cidr(const struct check_ip *ip, const struct check_ip *net,
                      unsigned prefix)
{
    if (ip->family != net->family)
        return false;
    for (unsigned i = 0; i < prefix; i++)
        if (bit(ip, i) != bit(net, i))
            return false;
    return true;
}

int check_ip_cmp(const struct check_ip *a, const struct check_ip *b)
{
    if (a->family != b->family)
        return a->family < b->family ? -1 : 1;
    return memcmp(a->a, b->a, a->family == 4 ? 4 : 16);
}

void check_ip_format(const struct check_ip *ip, char *buf, size_t size)
{
    if (ip->family == 4 && size >= 16) {   /* the common case, without printf */
        char *p = buf;
        for (int i = 0; i < 4; i++) {
            unsigned v = ip->a[i];
            if (v >= 100)
                *p++ = (char)('0' + v / 100);
            if (v >= 10)
                *p++ = (char)('0' + v / 10 % 10);
            *p++ = (char)('0' + v % 10);
            *p++ = i < 3 ? '.' : '\0';
        }
        return;
    }
    if (!inet_ntop(ip->family == 4 ? AF_INET : AF_INET6, ip->a, buf,
                   (socklen_t)size))
        snprintf(buf, size, "?");
}

bool check_ip_add(const struct check_ip *net, unsigned prefix, uint64_t n,
                  struct check_ip *out)
{
    unsigned bytes = net->family == 4 ? 4 : 16, host = bytes * 8 - prefix;
    if (host < 64 && n >= (1ULL << host))
        return false;
    *out = *net;
    for (int i = (int)bytes - 1; i >= 0 && n; i--) {
        uint64_t sum = out->a[i] + (n & 0xff);
        out->a[i] = (uint8_t)sum;
        n = (n >> 8) + (sum >> 8);
    }
    return n == 0;
}

bool check_ip_is_edge(const struct check_ip *ip, const struct check_ip *net,
                      unsigned prefix)
{
    if (ip->family != 4 || net->family != 4 || prefix >= 31 ||
        !check_ip_in_cidr(ip, net, prefix))
        return false;
    bool all0 = true, all1 = true;
    for (unsigned i = prefix; i < 32; i++) {
        if (bit(ip, i))
            all0 = false;
        else
            all1 = false;
    }
    return all0 || all1;
}

static bool has_space_or_ctl(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s <= 0x20 || *s == 0x7f)
            return true;
    return false;
}

const char *check_url(const char *s)
{
    if (has_space_or_ctl(s))
        return "a URL has no spaces or control characters";
    if (strncmp(s, "https://", 8) == 0 || strncmp(s, "http://", 7) == 0) {
        const char *host = strstr(s, "://") + 3;
        if (*host == '\0' || *host == '/')
            return "expected a host after '://'";
        return NULL;
    }
    if (strncmp(s, "file://", 7) == 0)
        return s[7] == '/' ? NULL : "a file:// URL needs an absolute path (file:///srv/images/x.qcow2)";
    if (strncmp(s, "s3://", 5) == 0) {
        const char *slash = strchr(s + 5, '/');
        if (slash == s + 5 || !slash || !slash[1])
            return "an s3:// URL is s3://BUCKET/KEY";
        return NULL;
    }
    return "expected an http://, https://, file:// or s3:// URL";
}

const char *check_sha256(const char *s, char *out)
{
    if (strlen(s) != 64)
        return "expected 64 hexadecimal digits";
    for (int i = 0; i < 64; i++) {
        if (hexval(s[i]) < 0)
            return "expected 64 hexadecimal digits";
        out[i] = (char)tolower((unsigned char)s[i]);
    }
    out[64] = '\0';
    return NULL;
}

const char *check_uri(const char *s)
{
    const char *p = s;
    if (!isalpha((unsigned char)*p))
        return "expected a libvirt URI like qemu:///system or qemu+ssh://root@hv1/system";
    while (isalnum((unsigned char)*p) || *p == '+' || *p == '-' || *p == '.')
        p++;
    if (strncmp(p, "://", 3) != 0 || has_space_or_ctl(s))
        return "expected a libvirt URI like qemu:///system or qemu+ssh://root@hv1/system";
    return NULL;
}

const char *check_path(const char *s)
{
    if (s[0] != '/')
        return "expected an absolute path";
    for (const char *p = s; *p; p++)
        if ((unsigned char)*p < 0x20)
            return "a path has no control characters";
    const char *c = s;
    while (*c) {
        while (*c == '/')
            c++;
        const char *e = c;
        while (*e && *e != '/')
            e++;
        size_t n = (size_t)(e - c);
        if ((n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.'))
            return "a path has no '.' or '..' components";
        c = e;
    }
    return NULL;
}

/* Linux takes any bytes but '/', ':', white space and NUL, up to 15 of
 * them, and not "." or ".."; qkvm takes fewer: a quote, '%' (libvirt reads
 * "virbr%d" as a template and picks the number itself) or a non-ASCII
 * letter in a name would reach libvirt's XML and shell commands on the
 * host, and no bridge needs them. */
void check_path_clean(char *s)
{
    size_t o = 0;
    for (size_t i = 0; s[i]; i++)
        if (s[i] != '/' || o == 0 || s[o - 1] != '/')
            s[o++] = s[i];
    if (o > 1 && s[o - 1] == '/')
        o--;
    s[o] = '\0';
}

/* Directories of the operating system. A pool may not be one of them
 * (libvirt would list their files as volumes, and qkvm report them as
 * orphans), and not inside those marked `inside` (the rest hold pools in
 * subdirectories: /var/lib/qkvm/pools/local, /srv/vm, /home/vm...). The
 * list holds the parents of its entries, so "/a or a parent of /a" is
 * just "one of them". */
static const struct {
    const char *dir;
    const char *inside;   /* NULL: only the directory itself is refused */
} system_dirs[] = {
    { "/bin", "installed software" }, { "/boot", "the boot loader's" },
    { "/dev", "device nodes" }, { "/etc", "configuration" }, { "/home", NULL },
    { "/lib", "installed software" }, { "/lib32", "installed software" },
    { "/lib64", "installed software" }, { "/libx32", "installed software" },
    { "/media", NULL }, { "/mnt", NULL }, { "/opt", NULL },
    { "/proc", "a kernel file system" }, { "/root", NULL },
    { "/run", "cleared at every boot" }, { "/sbin", "installed software" },
    { "/srv", NULL }, { "/sys", "a kernel file system" }, { "/tmp", NULL },
    { "/usr", "installed software" }, { "/usr/local", NULL }, { "/var", NULL },
    { "/var/backups", NULL }, { "/var/cache", NULL }, { "/var/lib", NULL },
    { "/var/lib/libvirt", NULL }, { "/var/local", NULL },
    { "/var/lock", "cleared at every boot" }, { "/var/log", NULL },
    { "/var/mail", NULL }, { "/var/opt", NULL },
    { "/var/run", "cleared at every boot" }, { "/var/spool", NULL },
    { "/var/tmp", NULL },
};

const char *check_pool_path(const char *s, char *buf, size_t size)
{
    if (strcmp(s, "/") == 0)
        return "the root directory";
    const char *inside = NULL, *why = NULL;
    for (size_t i = 0; i < sizeof(system_dirs) / sizeof(system_dirs[0]); i++) {
        const char *d = system_dirs[i].dir;
        size_t n = strlen(d);
        if (strcmp(s, d) == 0) {
            snprintf(buf, size, "the system directory %s", d);
            return buf;
        }
        /* the innermost: /usr/local/x is under /usr/local, not /usr */
        if (strncmp(s, d, n) == 0 && s[n] == '/' && (!inside || n > strlen(inside))) {
            inside = d;
            why = system_dirs[i].inside;
        }
    }
    if (!inside || !why)
        return NULL;
    snprintf(buf, size, "inside %s (%s)", inside, why);
    return buf;
}

const char *check_ifname(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 15)
        return "an interface name has 1 to 15 characters";
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '.' && s[i] != '-')
            return "an interface name has only letters, digits, '_', '.' and '-'";
    if (strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
        return "an interface name cannot be '.' or '..'";
    return NULL;
}

static bool label_char(char c)
{
    return isalnum((unsigned char)c) || c == '-' || c == '_' || c == '.';
}

static const char *label_name(const char *s, size_t n)
{
    if (n == 0 || n > 63)
        return "a label name has 1 to 63 characters";
    for (size_t i = 0; i < n; i++)
        if (!label_char(s[i]))
            return "a label has only letters, digits, '-', '_' and '.'";
    if (!isalnum((unsigned char)s[0]) || !isalnum((unsigned char)s[n - 1]))
        return "a label starts and ends with a letter or digit";
    return NULL;
}

const char *check_label_key(const char *s)
{
    const char *slash = strchr(s, '/');
    if (!slash)
        return label_name(s, strlen(s));
    size_t pn = (size_t)(slash - s);
    if (pn == 0 || pn > 253)
        return "a label key prefix has 1 to 253 characters";
    for (size_t i = 0; i < pn; i++)
        if (!lower_alnum(s[i]) && s[i] != '-' && s[i] != '.')
            return "a label key prefix is a DNS subdomain (example.com/)";
    return label_name(slash + 1, strlen(slash + 1));
}

const char *check_label_value(const char *s)
{
    return *s ? label_name(s, strlen(s)) : NULL;
}
