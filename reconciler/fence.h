/* fence.h — powering a failed node off, so that none of its VMs can run
 * while they are started elsewhere.
 *
 * Methods (a Node's spec.fence):
 *   command  argv run with QKVM_NODE, QKVM_NODE_URI and QKVM_FENCE_ACTION=off
 *            in its environment; exit 0 means the node is off.
 *   agent    an agent of the fence-agents package (fence_ipmilan...), run as
 *            /usr/sbin/NAME (else found in PATH) with its standard stdin
 *            protocol: one key=value per line, action=off, the options, and
 *            password= from passwordFile; exit 0 means the node is off.
 *   redfish  POST URL/Actions/ComputerSystem.Reset {"ResetType": "ForceOff"}
 *            (basic authentication), then GET URL until its PowerState is
 *            "Off".
 * Every method is given timeout_ms in all: a command or agent still running
 * then is killed with its process group, and the fence fails. A fence runs
 * in its own thread; the caller polls fence_result.
 */
#ifndef QKVM_FENCE_H
#define QKVM_FENCE_H

#include <stdbool.h>
#include <stddef.h>

enum fence_method { FENCE_MANUAL, FENCE_COMMAND, FENCE_AGENT, FENCE_REDFISH };

struct fence_spec {
    const char *node, *uri;
    enum fence_method method;
    const char *const *argv;      /* command: n_argv arguments */
    size_t n_argv;
    const char *agent;            /* agent: its name */
    const char *const *options;   /* agent: key=value */
    size_t n_options;
    const char *password_file;    /* agent (optional), redfish */
    const char *url, *username;   /* redfish: the ComputerSystem resource */
    int timeout_ms;
    int poll_ms;                  /* redfish: between PowerState reads; 0: 1000 */
};

struct fence;

/* Start fencing in a thread (the spec is copied); done(payload) is called
 * from that thread when it ends. NULL with err when no thread can start. */
struct fence *fence_start(const struct fence_spec *spec, void (*done)(void *), void *payload,
                          char *err, size_t errlen);
/* Has it ended? Then *ok, and what happened in msg. */
bool fence_result(struct fence *f, bool *ok, char *msg, size_t len);
/* Cancel what runs (a command is killed), wait for the thread, free. */
void fence_free(struct fence *f);            /* accepts NULL */

/* The words of a method: "command", "agent", "redfish", "manual". */
const char *fence_method_name(enum fence_method m);

#endif
