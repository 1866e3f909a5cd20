/* text.h — small text helpers: "did you mean" suggestions, durations,
 * control characters escaped for one-line messages. */
#ifndef QKVM_TEXT_H
#define QKVM_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* Optimal string alignment distance (Damerau-Levenshtein with adjacent
 * transpositions), case-insensitive; gives up (returns limit + 1) as soon as
 * the distance must exceed `limit`. */
size_t text_distance(const char *a, const char *b, size_t limit);

/* The candidate closest to `word`, or NULL when none is close enough: at
 * most 1 edit for words of up to 4 characters, else at most a third of the
 * word's length (and never more than 3). A case-only difference is always
 * close. `cands` is an array of `n` strings at `stride` bytes apart, so that
 * a table of structs whose first member is the name can be passed as it is. */
const char *text_suggest(const char *word, const void *cands, size_t n,
                         size_t stride);

/* A duration: a number with a unit ms, s, m, h, d or w ("500ms", "90s",
 * "30m", "1h", "30d"; a bare number is seconds), into milliseconds. 0 or
 * -1. */
int text_duration(const char *s, long long *ms);

/* A short age like kubectl's: "45s", "12m", "5h", "3d". */
void text_age(long long ms, char *buf, size_t size);
/* A byte count for people: "812 B", "4.0 KiB", "256.0 MiB", "1.5 GiB". */
const char *text_bytes(double bytes, char *buf, size_t size);

/* `s` (len bytes, NUL bytes included) with its control characters written
 * as escapes, so that it prints on one line and moves no terminal: \n,
 * \r and \t; other C0 characters (U+0000 to U+001F) and DEL as \xNN; C1
 * characters (U+0080 to U+009F, two bytes in UTF-8) as \u00NN. Everything
 * else is copied as it is (a backslash too). The result is NUL-terminated
 * and at most size - 1 bytes; what does not fit is cut at a character
 * boundary and replaced by "...". Returns buf. */
char *text_escape(char *buf, size_t size, const char *s, size_t len);

/* An aligned table: a header and rows of cells (borrowed strings), columns
 * as wide as their widest cell (in characters, UTF-8), separated by two
 * spaces. Narrow (not wide), a column with a cap is cut to it, the cut
 * marked with '…'. text_table_print frees the rows. */
#define TEXT_TABLE_COLS 12
struct text_table {
    const char *head[TEXT_TABLE_COLS];
    int cap[TEXT_TABLE_COLS];       /* narrow width limits; 0: none */
    size_t ncols;
    const char **cells;             /* nrows * ncols, a vec.h array */
    size_t ncells, cells_cap, nrows;
};
void text_table_row(struct text_table *t, const char *const *cells);
void text_table_print(FILE *out, struct text_table *t, bool wide);
/* Characters (UTF-8 code points) in s. */
size_t text_width(const char *s);

#endif
