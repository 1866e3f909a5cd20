# tests/data.sh — the data-driven cases (sourced by tests/run).
#
# tests/data/invalid/CASE.yaml (or a directory CASE/): `qkvm validate -f` it
# and compare exit code, stderr and stdout with CASE.out; where CASE.json
# exists, compare `validate -o json` with it too.
# tests/data/valid/CASE.yaml and the examples: validate must pass, and the
# normalised model must round-trip: render, render the result again, and
# the two are identical (and equal to CASE.out for the valid cases).
if [ -z "${passed+x}" ]; then . "$(dirname "${BASH_SOURCE[0]}")/lib.sh"; fi

for c in tests/data/invalid/*.yaml tests/data/invalid/*/; do
    [ -e "$c" ] || continue
    c=${c%/}
    base=${c%.yaml}
    run_qkvm "$TESTTMP/out" validate -f "$c"
    expect_file "invalid/$(basename "$base")" "$TESTTMP/out" "$base.out"
    if [ -f "$base.json" ]; then
        run_qkvm "$TESTTMP/json" validate -o json -f "$c"
        expect_file "invalid/$(basename "$base") -o json" "$TESTTMP/json" "$base.json"
    fi
done

roundtrip() {   # NAME PATH [EXPECTED]
    local name=$1 path=$2 expected=${3:-}
    local rc=0
    $WRAP "$QKVM" validate -q -f "$path" >"$TESTTMP/v" 2>&1 || rc=$?
    if [ "$rc" -ne 0 ]; then
        fail "$name validates" "exit $rc: $(cat "$TESTTMP/v")"
        return
    fi
    pass "$name validates"
    if ! $WRAP "$QKVM" render -f "$path" >"$TESTTMP/r1.yaml" 2>"$TESTTMP/e1"; then
        fail "$name renders" "$(cat "$TESTTMP/e1")"
        return
    fi
    if ! $WRAP "$QKVM" render -f "$TESTTMP/r1.yaml" >"$TESTTMP/r2.yaml" 2>"$TESTTMP/e2"; then
        fail "$name: rendered output is valid" "$(cat "$TESTTMP/e2")"
        return
    fi
    if cmp -s "$TESTTMP/r1.yaml" "$TESTTMP/r2.yaml"; then
        pass "$name round-trips"
    else
        fail "$name round-trips" "$(diff -u "$TESTTMP/r1.yaml" "$TESTTMP/r2.yaml")"
    fi
    [ -n "$expected" ] && expect_file "$name rendered" "$TESTTMP/r1.yaml" "$expected"
}

for c in tests/data/valid/*.yaml; do
    [ -e "$c" ] || continue
    roundtrip "valid/$(basename "${c%.yaml}")" "$c" "${c%.yaml}.out"
done
for e in examples/*/; do
    roundtrip "examples/$(basename "$e")" "${e%/}"
done
