/* test_schema.c — the tables themselves: well-formed, defaults valid,
 * lookups. A malformed row is caught here, not by a user. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "schema.h"

#include <stdlib.h>
#include <string.h>

static int tables_seen;

static void check_table(const struct schema_table *t)
{
    size_t n = 0;
    tables_seen++;
    assert_non_null(t->name);
    for (const struct schema_field *f = t->fields; f->name; f++, n++) {
        /* the struct starts with its model_hdr; fields lie inside it */
        assert_true(f->offset >= sizeof(struct model_hdr) || t->size == 0);
        assert_true(f->offset + schema_field_size(f) <= t->size);
        assert_non_null(f->doc);
        for (const struct schema_field *g = t->fields; g != f; g++)
            assert_string_not_equal(g->name, f->name);
        if (f->type == SCHEMA_ENUM) {
            assert_non_null(f->values);
            if (f->def) {
                bool found = false;
                for (size_t i = 0; f->values[i]; i++)
                    found |= strcmp(f->values[i], f->def) == 0;
                if (!found)
                    fail_msg("%s.%s: default '%s' is not an allowed value", t->name, f->name, f->def);
            }
        }
        if (f->type == SCHEMA_INT) {
            assert_true(f->min <= f->max);
            if (f->def) {
                long long v = strtoll(f->def, NULL, 10);
                assert_true(v >= f->min && v <= f->max);
            }
        }
        if (f->type == SCHEMA_BOOL && f->def)
            assert_true(strcmp(f->def, "true") == 0 || strcmp(f->def, "false") == 0);
        if (f->required)
            assert_null(f->def);     /* a default would make it optional */
        if (f->type == SCHEMA_LIST) {
            assert_non_null(f->elem);
            assert_int_equal(f->elem->offset, 0);
        }
        const struct schema_table *sub = schema_field_table(f);
        if (sub)
            check_table(sub);
    }
    assert_true(n > 0 && n <= 64);   /* the decoder tracks fields in 64 bits */
}

static void test_schema__tables(void **state)
{
    (void)state;
    for (int k = 0; k < MODEL_KIND_COUNT; k++) {
        const struct schema_kind *kind = &schema_kinds[k];
        assert_int_equal(kind->kind, k);
        assert_int_equal(kind->top->size, kind->size);
        const char *envelope[] = { "apiVersion", "kind", "metadata", "spec" };
        for (int i = 0; i < 4; i++)
            assert_string_equal(kind->top->fields[i].name, envelope[i]);
        check_table(kind->top);
    }
    assert_true(tables_seen > 20);
}

static void test_schema__lookup(void **state)
{
    (void)state;
    const struct schema_kind *k;
    const struct schema_field *f;
    char err[256];
    assert_ptr_equal(schema_kind_find("VM"), &schema_kinds[MODEL_VM]);
    assert_ptr_equal(schema_kind_find("vms"), &schema_kinds[MODEL_VM]);
    assert_ptr_equal(schema_kind_find("policies"), &schema_kinds[MODEL_POLICY]);
    assert_null(schema_kind_find("vmm"));
    assert_int_equal(schema_lookup("vm.spec.nics.mac", &k, &f, err, sizeof(err)), 0);
    assert_string_equal(f->name, "mac");
    assert_int_equal(f->type, SCHEMA_MAC);
    assert_int_equal(schema_lookup("Network", &k, &f, err, sizeof(err)), 0);
    assert_null(f);
    assert_int_equal(schema_lookup("vm.spec.nics.mak", &k, &f, err, sizeof(err)), -1);
    assert_string_equal(err, "no field 'mak' in VM.spec.nics (did you mean 'mac'?)");
    assert_int_equal(schema_lookup("vm.spec.cpus.x", &k, &f, err, sizeof(err)), -1);
    assert_string_equal(err, "'VM.spec.cpus' has no fields (its type is integer)");
    assert_int_equal(schema_lookup("", &k, &f, err, sizeof(err)), -1);
    assert_int_equal(schema_lookup("...", &k, &f, err, sizeof(err)), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_schema__tables),
        cmocka_unit_test(test_schema__lookup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
