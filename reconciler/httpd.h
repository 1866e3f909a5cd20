/* httpd.h — the controller's HTTP endpoint, through libmicrohttpd: one
 * internal polling thread, bodies up to HTTPD_MAX_BODY, a request timeout,
 * a limit on connections. The caller's handler answers each request whole
 * (it runs in the server's thread). */
#ifndef QKVM_HTTPD_H
#define QKVM_HTTPD_H

#include <stddef.h>

#define HTTPD_MAX_BODY (1u << 20)
/* The one path whose requests may carry a body (the webhook); a body sent
 * anywhere else is dropped as it arrives and the request refused (400). */
#define HTTPD_BODY_PATH "/api/v1/webhook"

struct httpd;

struct httpd_request {
    const char *method, *path;
    const char *body;              /* NUL-terminated; len bytes */
    size_t len;
    void *conn;                    /* for httpd_header */
};
struct httpd_response {
    int status;
    const char *content_type;
    char *body;                    /* malloc'd, freed by the server */
    size_t len;
};

typedef void (*httpd_handler)(void *payload, const struct httpd_request *rq,
                              struct httpd_response *rs);

/* A request header's value, or NULL. */
const char *httpd_header(const struct httpd_request *rq, const char *name);

/* Listen on addr ("127.0.0.1", "::1", "0.0.0.0"...) and port. NULL with
 * err said. */
struct httpd *httpd_start(const char *addr, int port, httpd_handler h, void *payload,
                          char *err, size_t errlen);
/* The port bound (useful with port 0). */
int httpd_port(const struct httpd *d);
void httpd_stop(struct httpd *d);  /* accepts NULL */

#endif
