# tests/plan.sh — golden plan cases (sourced by tests/run).
#
# tests/data/plan/CASE/ holds:
#   manifests/   the desired state
#   host.xml     the observed host: a libvirt test-driver <node> file,
#                opened as test:///ABS/PATH (libvirt's own driver, no daemon)
#   owned        the ownership record of pools and volumes (optional), in the
#                text format of earlier versions (STATE.owned): every case
#                with one also tests its import into the state database
#   args         extra flags, e.g. --prune or -o json (optional)
#   command      plan (default) or drift
#   expected     exit code, stderr and stdout; the host path is written HOST
if [ -z "${passed+x}" ]; then . "$(dirname "${BASH_SOURCE[0]}")/lib.sh"; fi

for c in tests/data/plan/*/; do
    c=${c%/}
    name=$(basename "$c")
    st="$TESTTMP/plan-$name"
    mkdir -p "$st"
    [ -f "$c/owned" ] && cp "$c/owned" "$st/state.db.owned"
    cmd=plan
    [ -f "$c/command" ] && cmd=$(cat "$c/command")
    args=()
    [ -f "$c/args" ] && read -r -a args <"$c/args"
    run_qkvm "$TESTTMP/plan.out" "$cmd" -f "$c/manifests" -c "test://$PWD/$c/host.xml" \
        --state "$st/state.db" "${args[@]}"
    sed "s#test://$PWD/$c/host.xml#HOST#g" "$TESTTMP/plan.out" >"$TESTTMP/plan.norm"
    expect_file "plan/$name" "$TESTTMP/plan.norm" "$c/expected"
    if [ -f "$c/owned" ]; then
        # imported into the store once, the file kept as STATE.owned.imported;
        # the same command again reads ownership from the store alone
        if [ -e "$st/state.db.owned" ] || ! cmp -s "$c/owned" "$st/state.db.owned.imported"; then
            fail "plan/$name imports the legacy ownership record"
        else
            run_qkvm "$TESTTMP/plan.out" "$cmd" -f "$c/manifests" -c "test://$PWD/$c/host.xml" \
                --state "$st/state.db" "${args[@]}"
            sed "s#test://$PWD/$c/host.xml#HOST#g" "$TESTTMP/plan.out" >"$TESTTMP/plan.norm"
            if cmp -s "$TESTTMP/plan.norm" "$c/expected"; then
                pass "plan/$name again, ownership from the state database"
            else
                fail "plan/$name again, ownership from the state database" \
                    "$(diff "$c/expected" "$TESTTMP/plan.norm" | head -20)"
            fi
        fi
    fi
done
