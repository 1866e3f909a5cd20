/* xmlout.c — see xmlout.h. */
#include "xmlout.h"

#include "arena.h"

#include <libxml/chvalid.h>
#include <libxml/xmlwriter.h>

#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct xmlout {
    xmlBufferPtr buf;
    xmlTextWriterPtr w;
    bool failed;                   /* a call of libxml2 failed */
    char *clean;                   /* the last string made valid (reused) */
    size_t cap;
};

struct xmlout *xmlout_new(void)
{
    struct xmlout *o = xcalloc(1, sizeof(*o));
    o->buf = xmlBufferCreate();
    o->w = o->buf ? xmlNewTextWriterMemory(o->buf, 0) : NULL;
    if (!o->w || xmlTextWriterSetIndent(o->w, 1) < 0 ||
        xmlTextWriterSetIndentString(o->w, BAD_CAST "  ") < 0 ||
        xmlTextWriterStartDocument(o->w, NULL, "UTF-8", NULL) < 0)
        o->failed = true;
    return o;
}

/* The length of the well-formed UTF-8 sequence at p (n bytes left) and
 * its code point, or 0 when it is not one: a lone continuation byte, a
 * lead byte without its continuations, an overlong form, a surrogate, or
 * above U+10FFFF. Strict by hand: libxml2's xmlGetUTF8Char (2.9) takes
 * overlong forms, which an XML parser then refuses. */
static int utf8_char(const unsigned char *p, size_t n, unsigned *cp)
{
    static const unsigned min[5] = { 0, 0, 0x80, 0x800, 0x10000 };
    int len = p[0] < 0x80 ? 1 : (p[0] & 0xE0) == 0xC0 ? 2 : (p[0] & 0xF0) == 0xE0 ? 3
            : (p[0] & 0xF8) == 0xF0 ? 4 : 0;
    if (!len || (size_t)len > n)
        return 0;
    unsigned c = len == 1 ? p[0] : p[0] & (0x7F >> len);
    for (int i = 1; i < len; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return 0;
        c = (c << 6) | (p[i] & 0x3F);
    }
    if (c < min[len] || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
        return 0;
    *cp = c;
    return len;
}

const char *xmlout_valid(const char *s, char **buf, size_t *cap)
{
    size_t n = strlen(s), at = 0;
    if (*cap < n * 3 + 1) {                /* one replacement (3 bytes) per byte at most */
        *cap = n * 3 + 1;
        *buf = xrealloc(*buf, *cap);
    }
    char *out = *buf;
    const unsigned char *p = (const unsigned char *)s, *end = p + n;
    while (p < end) {
        unsigned c = 0;
        int len = utf8_char(p, (size_t)(end - p), &c);
        if (!len || !xmlIsChar(c)) {
            memcpy(out + at, "\xef\xbf\xbd", 3);
            at += 3;
            p += len ? len : 1;
            continue;
        }
        memcpy(out + at, p, (size_t)len);
        at += (size_t)len;
        p += len;
    }
    out[at] = '\0';
    return out;
}

static const xmlChar *clean(struct xmlout *o, const char *s)
{
    return BAD_CAST xmlout_valid(s, &o->clean, &o->cap);
}

void xmlout_start(struct xmlout *o, const char *element)
{
    if (!o->failed && xmlTextWriterStartElement(o->w, BAD_CAST element) < 0)
        o->failed = true;
}

void xmlout_attr(struct xmlout *o, const char *name, const char *value)
{
    if (value && !o->failed &&
        xmlTextWriterWriteAttribute(o->w, BAD_CAST name, clean(o, value)) < 0)
        o->failed = true;
}

void xmlout_attrf(struct xmlout *o, const char *name, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *v = NULL;
    if (vasprintf(&v, fmt, ap) < 0)
        abort();
    va_end(ap);
    xmlout_attr(o, name, v);
    free(v);
}

void xmlout_text(struct xmlout *o, const char *text)
{
    if (text && !o->failed && xmlTextWriterWriteString(o->w, clean(o, text)) < 0)
        o->failed = true;
}

void xmlout_end(struct xmlout *o)
{
    if (!o->failed && xmlTextWriterEndElement(o->w) < 0)
        o->failed = true;
}

int xmlout_finish(struct xmlout *o, FILE *out)
{
    int rc = 0;
    if (o->failed || xmlTextWriterEndDocument(o->w) < 0)
        rc = -1;
    if (o->w)
        xmlFreeTextWriter(o->w);   /* flushes into buf */
    if (rc == 0 && fwrite(xmlBufferContent(o->buf), 1, (size_t)xmlBufferLength(o->buf), out) !=
                       (size_t)xmlBufferLength(o->buf))
        rc = -1;
    if (o->buf)
        xmlBufferFree(o->buf);
    free(o->clean);
    free(o);
    return rc;
}
