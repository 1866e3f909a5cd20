# tests/plan.sh — golden plan cases (sourced by tests/run).
#
# tests/data/plan/CASE/ holds:
#   manifests/   the desired state
#   host.xml     the observed host: a libvirt test-driver <node> file,
#                opened as test:///ABS/PATH (libvirt's own driver, no daemon)
#   owned        the ownership record of pools and volumes (optional), in the
#                text format of earlier versions (STATE.owned): every case
#                with one also tests its import into the state database
#   args         extra flags, e.g. --prune or -o json (optional); with
#                -o junit, the output is also checked against
#                tests/data/junit/junit.xsd (xmllint)
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
    expect_junit "plan/$name" "${args[@]}"
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

# Ownership records follow the manifests and stay with their host, on
# libvirt's test driver (the records live in the state database, which
# outlives each process's private copy of the test host).
rec_dir="$TESTTMP/records"
mkdir -p "$rec_dir/m"
rec_q() {   # ARGS...: qkvm on the records host; output in $rec_out, code in $rec_rc
    rec_rc=0
    rec_out=$($WRAP "$QKVM" --state "$rec_dir/state.db" "$@" 2>&1) || rec_rc=$?
}
rec_host="test://$PWD/tests/data/records/host.xml"
cat >"$rec_dir/m/all.yaml" <<'YAML'
apiVersion: qkvm.dev/v1
kind: Pool
metadata: {name: local}
spec: {path: /var/lib/qkvm/pools/local}
---
apiVersion: qkvm.dev/v1
kind: Disk
metadata: {name: data}
spec: {pool: local, size: 16MiB}
YAML
rec_q apply -f "$rec_dir/m" -c "$rec_host" --adopt --yes
if [ "$rec_rc" = 0 ] && printf '%s\n' "$rec_out" | grep -q "disk/data: adopted"; then
    pass "records: a pool and a disk adopted"
else fail "records: a pool and a disk adopted" "$rec_out"; fi
sed -i 's/size: 16MiB}/size: 16MiB, protect: true}/' "$rec_dir/m/all.yaml"
rec_q apply -f "$rec_dir/m" -c "$rec_host" --yes
if [ "$rec_rc" = 0 ] && [ "$(sqlite3 "$rec_dir/state.db" "SELECT protect FROM owned WHERE volume = 'data'")" = 1 ]; then
    pass "records: protect: true added later is recorded by an apply with nothing else to do"
else fail "records: protect: true added later is recorded by an apply with nothing else to do" "$rec_out"; fi
head -5 "$rec_dir/m/all.yaml" >"$rec_dir/m/pool.yaml" && rm "$rec_dir/m/all.yaml"
rec_q plan -f "$rec_dir/m" -c "$rec_host" --prune
if printf '%s\n' "$rec_out" | grep -q "disk/data .*protect: true was declared; never deleted" &&
   ! printf '%s\n' "$rec_out" | grep -qE "^ +- +disk/data"; then
    pass "records: the disk declared protected is never pruned"
else fail "records: the disk declared protected is never pruned" "$rec_out"; fi
# the same pool UUID on another host (a definition copied with pool-dumpxml):
# the records made on the first host prove nothing there
rec_q plan -f "$rec_dir/m" -c "test://$PWD/tests/data/records/host2.xml" --prune
if ! printf '%s\n' "$rec_out" | grep -qE "^ +- "; then
    pass "records: another host with the same pool UUID gets no deletion from them"
else fail "records: another host with the same pool UUID gets no deletion from them" "$rec_out"; fi
