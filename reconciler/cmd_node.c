/* cmd_node.c — qkvm node confirm-down NODE: the manual fence.
 *
 * A Node whose fence is manual (or declares none) is failed but never
 * fenced by qkvm: nothing of it is started elsewhere until an operator,
 * who made sure it is off (powered down, unplugged, its VMs dead), says so
 * here. The confirmation is an event in the state database (reason
 * ConfirmedDown, with who and when) that the controller reads; only a
 * confirmation made after the node failed counts, so an old one never
 * fences a node that fails later. It is a run of its own in the journal.
 */
#include "cli.h"

#include "arena.h"
#include "model.h"
#include "session.h"
#include "store.h"

#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

CLI_COMMAND(cmd_node)
{
    (void)c;
    if (argc != 2 || strcmp(argv[0], "confirm-down") != 0)
        return cli_error("node takes: confirm-down NODE");
    const char *node = argv[1];
    if (s->m && !model_find(s->m, MODEL_NODE, node))
        return cli_error("node %s: the manifests declare no such Node", node);
    if (!s->st || !s->run)
        return cli_error("node confirm-down needs the state database, writable");
    const struct passwd *pw = getpwuid(getuid());
    struct arena *a = arena_new();
    const char *who = arena_printf(a, "%s (uid %d)", pw ? pw->pw_name : "?", (int)getuid());
    const char *msg = arena_printf(a, "confirmed down by %s: a controller waiting on its "
                                   "fence may start its HA VMs elsewhere", who);
    struct store_event ev = { .at = store_now(), .run = s->run, .type = "Warning",
                              .reason = "ConfirmedDown", .kind = "Node", .name = node,
                              .node = node, .message = msg };
    char err[512];
    if (store_event(s->st, &ev, err, sizeof(err)) < 0) {
        session_end(s, STORE_RUN_ERROR, "", err);
        arena_free(a);
        return cli_error("%s", err);
    }
    session_end(s, STORE_RUN_OK, arena_printf(a, "node %s confirmed down by %s", node, who), NULL);
    printf("node %s: confirmed down (recorded in %s). A controller waiting on it fences it now "
           "and starts its HA VMs on other nodes.\n", node, store_path(s->st));
    arena_free(a);
    return CLI_EXIT_OK;
}
