/* text.c — suggestions for misspelt names. */
#include "text.h"

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
