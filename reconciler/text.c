/* text.c — suggestions for misspelt names. */
#include "text.h"

#include "arena.h"
#include "vec.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TEXT_MAXLEN 64   /* longer words are never suggested for */

size_t text_distance(const char *a, const char *b, size_t limit)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > TEXT_MAXLEN || lb > TEXT_MAXLEN)
        return limit + 1;
    if ((la > lb ? la - lb : lb - la) > limit)
        return limit + 1;
    /* three rows: i-2, i-1, i */
    size_t rows[3][TEXT_MAXLEN + 1];
    size_t *pp = rows[0], *prev = rows[1], *cur = rows[2];
    for (size_t j = 0; j <= lb; j++)
        prev[j] = j;
    for (size_t i = 1; i <= la; i++) {
        cur[0] = i;
        size_t best = cur[0];
        for (size_t j = 1; j <= lb; j++) {
            int ca = tolower((unsigned char)a[i - 1]);
            int cb = tolower((unsigned char)b[j - 1]);
            size_t cost = ca != cb;
            size_t v = prev[j] + 1;
            if (cur[j - 1] + 1 < v)
                v = cur[j - 1] + 1;
            if (prev[j - 1] + cost < v)
                v = prev[j - 1] + cost;
            if (i > 1 && j > 1 &&
                ca == tolower((unsigned char)b[j - 2]) &&
                tolower((unsigned char)a[i - 2]) == cb &&
                pp[j - 2] + 1 < v)
                v = pp[j - 2] + 1;
            cur[j] = v;
            if (v < best)
                best = v;
        }
        if (best > limit)
            return limit + 1;
        size_t *t = pp;
        pp = prev;
        prev = cur;
        cur = t;
    }
    return prev[lb];
}

const char *text_suggest(const char *word, const void *cands, size_t n,
                         size_t stride)
{
    size_t len = strlen(word);
    size_t limit = len <= 4 ? 1 : len / 3;
    if (limit > 3)
        limit = 3;
    const char *best = NULL;
    size_t best_d = limit + 1;
    for (size_t i = 0; i < n; i++) {
        const char *c = *(const char *const *)((const char *)cands + i * stride);
        if (!c)
            continue;
        size_t d = text_distance(word, c, limit);
        if (d < best_d) {
            best = c;
            best_d = d;
        }
    }
    return best;
}

int text_duration(const char *s, long long *ms)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || v < 0 || *s == '+' || *s == '-')
        return -1;
    long long unit;
    if (end[0] == 'm' && end[1] == 's' && !end[2]) {
        *ms = v;                 /* milliseconds: "500ms" */
        return 0;
    }
    switch (*end) {
    case '\0': case 's': unit = 1000; break;
    case 'm': unit = 60 * 1000LL; break;
    case 'h': unit = 3600 * 1000LL; break;
    case 'd': unit = 86400 * 1000LL; break;
    case 'w': unit = 7 * 86400 * 1000LL; break;
    default: return -1;
    }
    if (*end && end[1])
        return -1;
    if (v > LLONG_MAX / unit)
        return -1;
    *ms = v * unit;
    return 0;
}

void text_age(long long ms, char *buf, size_t size)
{
    long long s = ms < 0 ? 0 : ms / 1000;
    if (s < 120)
        snprintf(buf, size, "%llds", s);
    else if (s < 2 * 3600)
        snprintf(buf, size, "%lldm", s / 60);
    else if (s < 2 * 86400)
        snprintf(buf, size, "%lldh", s / 3600);
    else
        snprintf(buf, size, "%lldd", s / 86400);
}

const char *text_bytes(double bytes, char *buf, size_t size)
{
    static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
    size_t u = 0;
    while (bytes >= 1024 && u + 1 < sizeof(units) / sizeof(units[0])) {
        bytes /= 1024;
        u++;
    }
    if (u == 0)
        snprintf(buf, size, "%.0f B", bytes);
    else
        snprintf(buf, size, "%.1f %s", bytes, units[u]);
    return buf;
}

/* One character of `s` at `i` as it is written out: into piece (at most 8
 * bytes, not NUL-terminated); its length in the output is returned and the
 * number of input bytes it took is put in *used. */
static size_t escape_piece(const char *s, size_t len, size_t i, char *piece,
                           size_t *used)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char c = (unsigned char)s[i];
    unsigned char next = i + 1 < len ? (unsigned char)s[i + 1] : 0;
    *used = 1;
    if (c == '\n' || c == '\r' || c == '\t') {
        piece[0] = '\\';
        piece[1] = c == '\n' ? 'n' : c == '\r' ? 'r' : 't';
        return 2;
    }
    if (c < 0x20 || c == 0x7f) {
        memcpy(piece, "\\x", 2);
        piece[2] = hex[c >> 4];
        piece[3] = hex[c & 15];
        return 4;
    }
    if (c == 0xc2 && next >= 0x80 && next <= 0x9f) {   /* C1, in UTF-8 */
        *used = 2;
        memcpy(piece, "\\u00", 4);
        piece[4] = hex[next >> 4];
        piece[5] = hex[next & 15];
        return 6;
    }
    /* a whole UTF-8 sequence, so that a cut never splits one */
    size_t n = c >= 0xf0 && c < 0xf8 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
    if (c >= 0xf8)
        n = 1;
    if (n > len - i)
        n = len - i;
    for (size_t k = 1; k < n; k++)
        if (((unsigned char)s[i + k] & 0xc0) != 0x80) {
            n = k;            /* not a sequence: the bytes one by one */
            break;
        }
    memcpy(piece, s + i, n);
    *used = n;
    return n;
}

char *text_escape(char *buf, size_t size, const char *s, size_t len)
{
    char piece[8];
    size_t used, total = 0, o = 0;
    if (size == 0)
        return buf;
    for (size_t i = 0; i < len; i += used)
        total += escape_piece(s, len, i, piece, &used);
    /* When it all fits, everything; else leave room for the "..." */
    size_t room = total <= size - 1 ? size - 1 : size - 1 >= 3 ? size - 4 : 0;
    for (size_t i = 0; i < len; i += used) {
        size_t n = escape_piece(s, len, i, piece, &used);
        if (o + n > room)
            break;
        memcpy(buf + o, piece, n);
        o += n;
    }
    if (total > size - 1)
        for (size_t k = 0; k < 3 && o < size - 1; k++)
            buf[o++] = '.';
    buf[o] = '\0';
    return buf;
}

size_t text_width(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xc0) != 0x80;
    return n;
}

void text_table_row(struct text_table *t, const char *const *cells)
{
    memcpy(vec_append(NULL, t->cells, t->ncells, t->cells_cap, t->ncols), cells,
           t->ncols * sizeof(*cells));
    t->nrows++;
}

/* The first `chars` characters of s, as bytes. */
static int prefix_bytes(const char *s, size_t chars)
{
    const char *p = s;
    for (size_t n = 0; *p; p++) {
        if (((unsigned char)*p & 0xc0) != 0x80 && n++ == chars)
            break;
    }
    return (int)(p - s);
}

void text_table_print(FILE *out, struct text_table *t, bool wide)
{
    size_t w[TEXT_TABLE_COLS];
    for (size_t c = 0; c < t->ncols; c++) {
        w[c] = text_width(t->head[c]);
        for (size_t r = 0; r < t->nrows; r++) {
            size_t l = text_width(t->cells[r * t->ncols + c]);
            if (l > w[c])
                w[c] = l;
        }
        if (!wide && t->cap[c] && w[c] > (size_t)t->cap[c])
            w[c] = (size_t)t->cap[c];
    }
    for (size_t r = 0; r <= t->nrows; r++) {
        const char *const *row = r == 0 ? t->head : &t->cells[(r - 1) * t->ncols];
        for (size_t c = 0; c < t->ncols; c++) {
            const char *s = row[c];
            size_t l = text_width(s);
            bool last = c + 1 == t->ncols;
            if (l > w[c])
                fprintf(out, "%.*s…", prefix_bytes(s, w[c] - 1), s);
            else
                fprintf(out, "%s%*s", s, last ? 0 : (int)(w[c] - l), "");
            fputs(last ? "\n" : "  ", out);
        }
    }
    free(t->cells);
    t->cells = NULL;
    t->ncells = t->cells_cap = t->nrows = 0;
}
