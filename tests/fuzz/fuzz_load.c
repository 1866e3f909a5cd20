/* fuzz_load.c — libFuzzer target for the whole loader: YAML parsing, the
 * generic decoder, the cross-object checks, the encoder and both emitters.
 *
 * `make fuzz` links it with libFuzzer; replay.c runs it over the committed
 * corpus in every `make check`. The input is one manifest file.
 */
#include "arena.h"
#include "decode.h"
#include "diag.h"
#include "encode.h"
#include "jsondoc.h"
#include "model.h"
#include "validate.h"
#include "yamldoc.h"

#include <stdint.h>
#include <stdio.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct model *m = model_new();
    struct diag d;
    struct yamldoc_set set;
    diag_init(&d);
    yamldoc_parse(m->arena, "fuzz.yaml", (const char *)data, size, &d, &set);
    for (size_t i = 0; i < set.len; i++) {
        struct model_object *o = decode_document(m->arena, "fuzz.yaml", set.docs[i], &d);
        if (o)
            model_add(m, o);
    }
    model_sort(m);
    validate_model(m, &d);
    diag_sort(&d);

    /* Everything decoded must encode and print without crashing. */
    FILE *sink = fopen("/dev/null", "w");
    if (sink) {
        struct arena *a = arena_new();
        struct tree *all = tree_new_seq(a);
        for (int k = 0; k < MODEL_KIND_COUNT; k++)
            for (size_t i = 0; i < m->len[k]; i++)
                tree_seq_add(a, all, encode_object(a, m->objs[k][i]));
        yamldoc_emit(sink, all->u.items, all->len);
        jsondoc_emit(sink, diag_to_tree(&d, a));
        diag_print(&d, sink, false);
        arena_free(a);
        fclose(sink);
    }
    diag_dispose(&d);
    model_free(m);
    return 0;
}
