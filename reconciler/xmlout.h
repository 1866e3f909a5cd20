/* xmlout.h — XML written with libxml2's xmlwriter (the adapter for output;
 * virtxml.c reads libvirt's): elements, attributes and text escaped by
 * libxml2, and every string made valid XML 1.0 first (bytes that are not
 * UTF-8, and characters XML cannot hold, such as control characters, are
 * replaced by U+FFFD), so a libvirt message or a label value can never
 * break the document a CI system or a browser reads.
 */
#ifndef QKVM_XMLOUT_H
#define QKVM_XMLOUT_H

#include <stdio.h>

struct xmlout;

/* A document in memory (indented, UTF-8, with its XML declaration). */
struct xmlout *xmlout_new(void);
void xmlout_start(struct xmlout *w, const char *element);
void xmlout_attr(struct xmlout *w, const char *name, const char *value);   /* NULL: none */
void xmlout_attrf(struct xmlout *w, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void xmlout_text(struct xmlout *w, const char *text);
void xmlout_end(struct xmlout *w);
/* End the document, write it to out, free w: 0, or -1 when libxml2 or the
 * write failed. */
int xmlout_finish(struct xmlout *w, FILE *out);

/* s as valid XML 1.0 text, in *buf (grown as needed, the caller's to
 * free): each well-formed UTF-8 character that xmlIsChar accepts (not a
 * control character, U+FFFE or U+FFFF) is kept; a character it refuses is
 * replaced whole, any other byte one by one, by U+FFFD. For the HTML
 * libxml2 builds (dashboard.c) too. */
#include <stddef.h>
const char *xmlout_valid(const char *s, char **buf, size_t *cap);

#endif
