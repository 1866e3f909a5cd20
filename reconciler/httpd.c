/* httpd.c — the HTTP endpoint through libmicrohttpd. See httpd.h. */
#include "httpd.h"

#include "arena.h"

#include <microhttpd.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

struct httpd {
    struct MHD_Daemon *d;
    httpd_handler h;
    void *payload;
    int port;
};

/* A request's body as it arrives. */
struct upload {
    char *buf;
    size_t len, cap;
    bool too_big;
    bool unwanted;            /* a body sent to a path that takes none */
};

const char *httpd_header(const struct httpd_request *rq, const char *name)
{
    return MHD_lookup_connection_value(rq->conn, MHD_HEADER_KIND, name);
}

static enum MHD_Result reply(struct MHD_Connection *conn, int status, const char *type,
                             char *body, size_t len)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, body ? body : (char *)"", MHD_RESPMEM_MUST_COPY);
    free(body);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, "Content-Type", type ? type : "text/plain; charset=utf-8");
    MHD_add_response_header(r, "Cache-Control", "no-store");
    enum MHD_Result ok = MHD_queue_response(conn, (unsigned)status, r);
    MHD_destroy_response(r);
    return ok;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    (void)version;
    struct httpd *d = cls;
    struct upload *up = *con_cls;
    if (!up) {
        *con_cls = xcalloc(1, sizeof(*up));
        return MHD_YES;
    }
    if (*upload_data_size) {
        size_t n = *upload_data_size;
        if (strcmp(url, HTTPD_BODY_PATH) != 0) {
            up->unwanted = true;          /* not kept: only the webhook reads a body */
        } else if (up->len + n > HTTPD_MAX_BODY) {
            up->too_big = true;
        } else {
            if (up->len + n + 1 > up->cap) {
                up->cap = (up->len + n + 1) * 2;
                up->buf = xrealloc(up->buf, up->cap);
            }
            memcpy(up->buf + up->len, upload_data, n);
            up->len += n;
            up->buf[up->len] = '\0';
        }
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (up->unwanted)
        return reply(conn, 400, NULL, xstrdup("a request body is accepted by "
                                              HTTPD_BODY_PATH " only\n"),
                     strlen("a request body is accepted by " HTTPD_BODY_PATH " only\n"));
    if (up->too_big)
        return reply(conn, 413, NULL,
                     xstrdup("request body larger than 1 MiB\n"), strlen("request body larger "
                                                                        "than 1 MiB\n"));
    struct httpd_request rq = { method, url, up->buf ? up->buf : "", up->len, conn };
    struct httpd_response rs = { 500, NULL, NULL, 0 };
    d->h(d->payload, &rq, &rs);
    return reply(conn, rs.status, rs.content_type, rs.body, rs.len);
}

static void on_done(void *cls, struct MHD_Connection *conn, void **con_cls,
                    enum MHD_RequestTerminationCode why)
{
    (void)cls;
    (void)conn;
    (void)why;
    struct upload *up = *con_cls;
    if (up) {
        free(up->buf);
        free(up);
    }
    *con_cls = NULL;
}

struct httpd *httpd_start(const char *addr, int port, httpd_handler h, void *payload,
                          char *err, size_t errlen)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL;
    struct sockaddr_in *in4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, addr, &in4->sin_addr) == 1) {
        in4->sin_family = AF_INET;
        in4->sin_port = htons((uint16_t)port);
    } else if (inet_pton(AF_INET6, addr, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t)port);
        flags |= MHD_USE_IPv6;
    } else {
        snprintf(err, errlen, "--listen: '%s' is not an IPv4 or IPv6 address", addr);
        return NULL;
    }
    struct httpd *d = xcalloc(1, sizeof(*d));
    d->h = h;
    d->payload = payload;
    d->d = MHD_start_daemon(flags, (uint16_t)port, NULL, NULL, on_request, d,
                            MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
                            MHD_OPTION_NOTIFY_COMPLETED, on_done, NULL,
                            MHD_OPTION_CONNECTION_LIMIT, 64u,
                            MHD_OPTION_PER_IP_CONNECTION_LIMIT, 16u,
                            MHD_OPTION_CONNECTION_TIMEOUT, 10u,
                            MHD_OPTION_END);
    if (!d->d) {
        snprintf(err, errlen, "cannot listen on %s%s%s:%d: %s", strchr(addr, ':') ? "[" : "",
                 addr, strchr(addr, ':') ? "]" : "", port,
                 errno ? strerror(errno) : "libmicrohttpd refused to start");
        free(d);
        return NULL;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d->d, MHD_DAEMON_INFO_BIND_PORT);
    d->port = info ? info->port : port;
    return d;
}

int httpd_port(const struct httpd *d)
{
    return d->port;
}

void httpd_stop(struct httpd *d)
{
    if (!d)
        return;
    MHD_stop_daemon(d->d);
    free(d);
}
