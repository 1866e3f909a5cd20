# tests/robust.sh — qkvm when libvirt goes away or stops answering
# (sourced by tests/integration.sh, which runs rb_cases last, on a node of
# their own: these cases stop and kill its daemon).
#
# A socket that accepts and never answers (a python3 server in the test's
# directory): plan gives up after --connect-timeout with a clear error.
# The daemon stopped (SIGSTOP) while an apply waits on a graceful shutdown
# (a guest without an OS ignores ACPI, and --shutdown-timeout 300 keeps
# qkvm inside libvirt calls): keepalive notices, qkvm exits 1 naming the
# keepalive timeout. The daemon killed (SIGKILL, by its PID) at the same
# moment: qkvm exits 1 naming the lost connection, never dying of SIGPIPE
# (exit 141) as a libvirt client that does not ignore it does. Either way
# the run ends in the state database as failed, the actions after the
# failed one as skipped (not started), none left pending. Every qkvm runs
# under `timeout 60`, so a regression fails instead of hanging the suite;
# elapsed times are not asserted. A closed stdout ends the output quietly;
# a full one is an error.

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

rb_reset() {   # no rb-* domains on the node, no state database
    local d
    for d in rb-1 rb-2; do
        V destroy "$d" >/dev/null 2>&1
        V undefine "$d" >/dev/null 2>&1
    done
    rm -f "$IT_STATE" "$IT_STATE"-*
}

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
    timeout 60 "$QKVM" -c "$IT_URI" --state "$IT_STATE" apply -f "$RB_M" --yes --parallelism 1 \
        --shutdown-timeout 300 "$@" >"$TESTTMP/rb.out" 2>&1 &
    rb_pid=$!
    if ! rb_wait_action "stop pending"; then
        kill "$rb_pid" 2>/dev/null
        wait "$rb_pid" 2>/dev/null
        rb_bad="the stop is never journalled as pending: $(cat "$TESTTMP/rb.out")"
        return 1
    fi
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
    local code

    # --- a socket that accepts and never answers
    local sock="$TESTTMP/rb/silent.sock"
    python3 -c 'import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sys.argv[1])
s.listen(16)
held = []
while True:
    held.append(s.accept()[0])' "$sock" &
    local server=$!
    local i
    for i in $(seq 1 1200); do [ -S "$sock" ] && break; sleep 0.05; done   # the socket, or 60 s
    rb_write running
    rc=0
    out=$(timeout 60 "$QKVM" --state "$IT_STATE" plan -f "$RB_M" \
        -c "qemu+unix:///system?socket=$sock" --connect-timeout 2s 2>&1) || rc=$?
    expect "a daemon that never answers: plan gives up after --connect-timeout" 1 \
        "^qkvm: error: cannot connect to 'qemu\+unix:///system\?socket=.*/silent.sock': no answer within 2s$"
    q history -o wide --limit 1
    expect "... and the run is recorded as an error" 0 "plan .* error .*no answer within 2s"
    kill "$server"
    wait "$server" 2>/dev/null
    rb_reset

    # --- the daemon stops answering in the middle of an apply
    local daemon
    if rb_apply_waiting --keepalive-interval 1 --keepalive-count 2; then
        daemon=$(rb_daemon)
        kill -STOP "$daemon"
        code=0
        wait "$rb_pid" || code=$?
        kill -CONT "$daemon"
        rb_check_cut "$code" "stop vm/rb-1: lost the connection to '.*': keepalive timeout"
    fi
    if [ -z "$rb_bad" ]; then
        pass "libvirtd stopped mid-apply: keepalive notices, exit 1 naming it, run failed, the rest not started"
    else
        fail "libvirtd stopped mid-apply" "$rb_bad"
    fi
    q apply -f "$RB_M" --yes --shutdown-timeout 1
    expect "... once it answers again, the next apply converges" 0 "vm/rb-1: stopped" "vm/rb-2: started"

    # --- the daemon killed mid-apply, three times (each kill takes the node
    # down: it is started afresh for the next)
    local t bad="" qemu f
    for t in 1 2 3; do
        tools/testbed start "$IT_NODE" >/dev/null 2>"$TESTTMP/testbed.err" ||
            { bad="trial $t: the node does not start: $(cat "$TESTTMP/testbed.err")"; break; }
        rb_reset
        rb_apply_waiting || { bad="trial $t: $rb_bad"; break; }
        qemu=""
        for f in "$RB_TB/$IT_NODE"/run/qemu/rb-*.pid; do qemu="$qemu $(cat "$f")"; done
        kill -KILL "$(rb_daemon)"
        code=0
        wait "$rb_pid" || code=$?
        kill -KILL $qemu 2>/dev/null     # the guests outlive their daemon
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
        '[ "$rc" = 1 ] && [ "$out" = "qkvm: error: cannot write output: No space left on device" ]'
    rc=0
    out=$("$QKVM" --state "$IT_STATE" history -o json 2>&1 >/dev/full) || rc=$?
    holds "history -o json into a full device: exit 1, said once" \
        '[ "$rc" = 1 ] && [ "$out" = "qkvm: error: cannot write output: No space left on device" ]'
}
