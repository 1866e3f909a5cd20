# tests/generated.sh — committed generated files equal what the tables give
# (sourced by tests/run). `make regen` rewrites them.
if [ -z "${passed+x}" ]; then . "$(dirname "${BASH_SOURCE[0]}")/lib.sh"; fi

"$QKVM" schema >"$TESTTMP/schema.json"
expect_file "schema/qkvm.schema.json is current" "$TESTTMP/schema.json" schema/qkvm.schema.json

"$QKVM" explain --reference >"$TESTTMP/ref.md"
sed -n '/^<!-- BEGIN REFERENCE/,/^<!-- END REFERENCE/p' README.md | sed '1d;$d' >"$TESTTMP/readme-ref.md"
if [ -n "${QKVM_REGENERATE:-}" ]; then
    tools/regen-readme "$QKVM" && pass "README reference (regenerated)"
elif diff -u "$TESTTMP/readme-ref.md" "$TESTTMP/ref.md" >"$TESTTMP/diff"; then
    pass "README manifest reference is current"
else
    fail "README manifest reference is current (make regen)" "$(head -30 "$TESTTMP/diff")"
fi

# The JSON Schema, checked by an independent validator: every valid manifest
# passes it, and type errors the schema can see are rejected by it too.
if python3 -c 'import jsonschema, yaml' 2>/dev/null; then
    if out=$(python3 - schema/qkvm.schema.json <<'PY' 2>&1
import glob, json, sys, yaml
from jsonschema import Draft202012Validator
schema = json.load(open(sys.argv[1]))
Draft202012Validator.check_schema(schema)
v = Draft202012Validator(schema)
# PyYAML reads YAML 1.1; the manifests below avoid its differences.
good = glob.glob("examples/*/*.yaml") + ["tests/data/valid/every-field.yaml",
        "tests/data/valid/defaults.yaml", "tests/data/valid/ipv6.yaml"]
n = 0
for f in good:
    for doc in yaml.safe_load_all(open(f)):
        if doc is None:
            continue
        errs = list(v.iter_errors(doc))
        assert not errs, f"{f}: {errs[0].message}"
        n += 1
for case in ["unknown-field", "wrong-type-int", "enum-not-allowed", "missing-required",
             "bad-name-uppercase", "unknown-kind", "bad-sha256", "wrong-type-list",
             "unknown-apiversion", "int-out-of-range", "bad-quantity-unit"]:
    docs = [d for d in yaml.safe_load_all(open(f"tests/data/invalid/{case}.yaml")) if d]
    assert any(list(v.iter_errors(d)) for d in docs), f"schema accepts invalid case {case}"
print(f"{n} documents accepted, 11 invalid cases rejected")
PY
    ); then pass "JSON Schema agrees with the decoder ($out)"
    else fail "JSON Schema agrees with the decoder" "$out"; fi
else
    skip "JSON Schema check" "python3-jsonschema or python3-yaml missing (tools/install-deps test installs them)"
fi
