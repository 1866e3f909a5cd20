/* cmd_import.c — import: manifests for what the host has and no project
 * owns. import.c decides what and why; this prints it as render prints
 * manifests. Reads the host and the ownership records; never writes. */
#include "cli.h"

#include "arena.h"
#include "encode.h"
#include "import.h"
#include "session.h"
#include "tree.h"

CLI_COMMAND(cmd_import)
{
    char err[1024];
    struct arena *a = arena_new();
    struct import_request *req = NULL;
    size_t nreq = 0;
    int rc = CLI_EXIT_ERROR;
    struct model *empty = NULL;
    struct import_result *res = NULL;
    if (!c->all && import_requests(a, argc, argv, &req, &nreq, err, sizeof(err)) < 0) {
        cli_error("%s", err);
        goto done;
    }
    if (!s->obs) {
        cli_error("import reads one node: the manifests declare %zu Nodes; pass --node NAME",
                  s->nnodes);
        goto done;
    }
    const struct model *m = s->m;
    if (!m)
        m = empty = model_new();
    res = import_build(s->obs, m, req, nreq, c->all);
    for (size_t i = 0; i < res->nmsgs; i++) {
        if (res->msgs[i].level == IMPORT_ERROR)
            cli_error("%s", res->msgs[i].text);
        else
            cli_warning("%s", res->msgs[i].text);
    }
    struct tree *all = tree_new_seq(a);
    for (int k = 0; k < MODEL_KIND_COUNT; k++)
        for (size_t i = 0; i < res->model->len[k]; i++)
            tree_seq_add(a, all, encode_object(a, res->model->objs[k][i]));
    rc = all->len ? cli_emit(c, all, true, NULL, NULL) : CLI_EXIT_OK;
    if (res->refused)
        rc = CLI_EXIT_ERROR;
done:
    import_free(res);
    model_free(empty);
    arena_free(a);
    return rc;
}
