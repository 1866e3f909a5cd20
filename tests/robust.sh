# tests/robust.sh — qkvm when libvirt goes away (sourced by
# tests/integration.sh, which runs rb_cases last, on a node of their own:
# these cases kill its daemon).
#
# The daemon is killed (SIGKILL, by its PID) while an apply waits on a
# graceful shutdown (a guest without an OS ignores ACPI, and
# --shutdown-timeout 300 keeps qkvm inside libvirt calls): qkvm must exit
# 1 naming the lost connection (never die of SIGPIPE, exit 141, as a
# libvirt client that does not ignore it does), end the run in the state
# database as failed, and record the actions after the failed one as
# skipped (not started), none left pending. A closed stdout ends the
# output quietly; a full one is an error.

RB_TB=${QKVM_TESTBED:-/tmp/qkvm-testbed}

rb_write() {   # STATE-OF-rb-1 [rb-2]: the manifests in $RB_M
    mkdir -p "$RB_M"
    cat >"$RB_M/vm.yaml" <<EOF
apiVersion: qkvm.dev/v1
kind: VM
metadata: {name: rb-1}
spec: {memory: 64MiB, accel: tcg, state: $1}
EOF
    [ -z "${2:-}" ] || cat >>"$RB_M/vm.yaml" <<'EOF'
---
apiVersion: qkvm.dev/v1
kind: VM
metadata: {name: rb-2}
spec: {memory: 64MiB, accel: tcg}
EOF
}

rb_daemon() { cat "$RB_TB/$IT_NODE/libvirtd.pid"; }

# Wait (up to 30 s) until the newest journalled action is WANT ("stop pending").
rb_wait_action() {
    local i s
    for i in $(seq 1 300); do
        s=$(sqlite3 "$IT_STATE" "SELECT verb || ' ' || status FROM actions
                                 ORDER BY run DESC, seq DESC LIMIT 1" 2>/dev/null)
        [ "$s" = "$1" ] && return 0
        sleep 0.1
    done
    return 1
}

# rb-1 running, then an apply (background: $rb_pid, output in
# $TESTTMP/rb.out, under `timeout 60` so that a hang fails instead of
# hanging the suite) that stops rb-1, creates and starts rb-2; returns once
# the stop is journalled as pending. Extra flags go to that apply. Sets
# rb_bad on failure.
rb_apply_waiting() {
    rb_bad=""
    rb_write running
    q apply -f "$RB_M" --yes
    [ "$rc" -eq 0 ] || { rb_bad="the first apply failed: $out"; return 1; }
    rb_write stopped rb-2
    timeout 60 "$QKVM" -c "$IT_URI" --state "$IT_STATE" apply -f "$RB_M" --yes \
        --shutdown-timeout 300 "$@" >"$TESTTMP/rb.out" 2>&1 &
    rb_pid=$!
    rb_wait_action "stop pending" ||
        { rb_bad="the stop is never journalled as pending: $(cat "$TESTTMP/rb.out")"; return 1; }
}

# After the apply was cut off: exit 1 and a message matching PATTERN, the
# run failed in history (not running, not interrupted), the stop failed,
# rb-2's create and start skipped as not started. Sets rb_bad.
rb_check_cut() {   # RC PATTERN
    local code=$1 pat=$2 hist
    rb_bad=""
    out=$(cat "$TESTTMP/rb.out")
    [ "$code" -eq 1 ] || { rb_bad="exit $code, expected 1: $out"; return; }
    printf '%s\n' "$out" | grep -qE -- "$pat" || { rb_bad="output lacks /$pat/: $out"; return; }
    hist=$("$QKVM" --state "$IT_STATE" history -o json --limit 1 2>&1)
    local id
    id=$(printf '%s' "$hist" | python3 -c '
import json, sys
r = json.load(sys.stdin)["items"][-1]
assert r["kind"] == "apply" and r["result"] == "failed", r
print(r["id"])' 2>"$TESTTMP/rb.py") ||
        { rb_bad="the run is not recorded as failed: $(cat "$TESTTMP/rb.py")"; return; }
    hist=$("$QKVM" --state "$IT_STATE" history "$id" -o json 2>&1)
    printf '%s' "$hist" | python3 -c '
import json, sys
a = {(x["verb"], x["name"]): x for x in json.load(sys.stdin)["actions"]}
assert a[("stop", "rb-1")]["status"] == "failed", a
for k in (("create", "rb-2"), ("start", "rb-2")):
    assert a[k]["status"] == "skipped" and a[k]["error"].startswith("not started: lost the connection"), a[k]
assert not [x for x in a.values() if x["status"] == "pending"], a' 2>"$TESTTMP/rb.py" ||
        rb_bad="the actions are not recorded as failed and skipped: $(cat "$TESTTMP/rb.py")"
}

rb_cases() {
    IT_STATE="$TESTTMP/rb/state.db"
    RB_M="$TESTTMP/rb/m"
    mkdir -p "$TESTTMP/rb"

    # --- the daemon killed mid-apply, three times (each kill takes the node
    # down: it is started afresh for the next)
    local t bad="" qemu code
    for t in 1 2 3; do
        tools/testbed start "$IT_NODE" >/dev/null 2>"$TESTTMP/testbed.err" ||
            { bad="trial $t: the node does not start: $(cat "$TESTTMP/testbed.err")"; break; }
        rm -f "$IT_STATE" "$IT_STATE"-*
        rb_apply_waiting || { bad="trial $t: $rb_bad"; break; }
        qemu=$(cat "$RB_TB/$IT_NODE/run/qemu/rb-1.pid")
        kill -KILL "$(rb_daemon)"
        code=0
        wait "$rb_pid" || code=$?
        kill -KILL "$qemu" 2>/dev/null   # the guest outlives its daemon
        rb_check_cut "$code" "stop vm/rb-1: lost the connection to '.*': "
        [ -z "$rb_bad" ] || { bad="trial $t: $rb_bad"; break; }
    done
    if [ -z "$bad" ]; then
        pass "libvirtd killed mid-apply (3 times): exit 1 naming the lost connection, run failed, the rest not started"
    else
        fail "libvirtd killed mid-apply" "$bad"
    fi

    # --- stdout closed by its reader, or full
    local py='import os, subprocess, sys
r, w = os.pipe()
os.close(r)
p = subprocess.run(sys.argv[1:], stdout=w, stderr=subprocess.PIPE, timeout=60)
print(p.returncode, p.stderr.decode().strip())'
    out=$(python3 -c "$py" "$QKVM" --state "$IT_STATE" history 2>&1)
    holds "history into a pipe nobody reads: ends quietly, exit 0" '[ "$out" = "0 " ]'
    out=$(python3 -c "$py" "$QKVM" --state "$IT_STATE" history 1 -o json 2>&1)
    holds "history RUN -o json into a pipe nobody reads: ends quietly, exit 0" '[ "$out" = "0 " ]'
    rc=0
    out=$("$QKVM" --state "$IT_STATE" history 2>&1 >/dev/full) || rc=$?
    holds "history into a full device: exit 1, said once" \
        '[ "$rc" = 1 ] && [ "$out" = "qkvm: cannot write output: No space left on device" ]'
    rc=0
    out=$("$QKVM" --state "$IT_STATE" history -o json 2>&1 >/dev/full) || rc=$?
    holds "history -o json into a full device: exit 1, said once" \
        '[ "$rc" = 1 ] && [ "$out" = "qkvm: cannot write output: No space left on device" ]'
}
