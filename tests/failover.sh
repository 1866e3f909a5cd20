# tests/failover.sh — node health, fencing and failover by the controller
# (qkvm run) on three real test bed nodes with a shared pool (sourced by
# tests/integration.sh).
#
# A node's failure is its libvirtd killed (tools/testbed crash): its
# guests' qemu processes live on, as on a host whose daemon died or hung,
# so a VM started elsewhere before a fence would run twice. The Nodes'
# fence command is tools/testbed fence (every process of the node's
# namespace killed: the node is off), through a script that fails while
# a file says so. The controller's log is waited on line by line
# (ct_wait), never for a fixed time.
#   - the VMs are placed on fo1 (the only Node at first); fo2 and fo3 join
#     in a later revision (the directory is edited), and nothing moves
#   - a VM paused by hand on fo1 is checked alone (its events: one domain
#     read on one node) and reported once; resumed, nothing is found (with
#     one Node, then with three)
#   - fo1 crashes while its fence fails: it is suspect, then failed, the
#     fence is retried and reported (log, metrics), and nothing is started
#     elsewhere: each VM's qemu still runs only on fo1
#   - the fence succeeds: the HA VMs run on other nodes, each in exactly
#     one qemu process on the machine, the higher ha.priority first
#     (fo2 has room for one VM); the VM without ha stays down, reported
#   - fo1 comes back with its definitions (tools/testbed revive): its
#     copies of the moved VMs are undefined (a recover run), its own VM is
#     started there again
#   - fo2, whose fence is manual, crashes: nothing moves until
#     `qkvm node confirm-down fo2`; then its HA VM runs elsewhere, once
#   - a controller started while fo2 is fenced knows it from the state
#     database and removes fo2's stale copy when fo2 comes back
#   - a fence that exits 0 but leaves the node up (fo3 reboots): nothing
#     fails over, the event says the fence failed, and its VM starts there
#     again
#   - SIGTERM exits 0; history shows the failover and recover runs

# FO_V N ARGS...: virsh on node foN
FO_V() {
    local n=$1
    shift
    virsh -q -c "$(tools/testbed uri "fo$n$$")" "$@"
}

# fo_q ARGS...: qkvm with the failover test's state; output in $out, code in $rc
fo_q() {
    rc=0
    out=$($WRAP "$QKVM" --state "$FO/state.db" "$@" 2>&1) || rc=$?
}

# how many qemu processes on the whole machine run guest NAME
fo_qemus() {
    local p n=0
    for p in /proc/[0-9]*; do
        { tr "\0" " " <"$p/cmdline"; } 2>/dev/null | grep -q -- "-name guest=$1," && n=$((n + 1))
    done
    echo "$n"
}

# fo_nodes FILE NODES...: the Nodes (1, 2, 3) and what every revision has
fo_manifests() {
    local f=$1 n
    shift
    : >"$f"
    for n in "$@"; do
        cat >>"$f" <<EOF
---
apiVersion: qkvm.dev/v1
kind: Node
metadata: {name: fo$n}
spec:
  uri: "$(tools/testbed uri "fo$n$$")"
EOF
        case $n in
        1) printf '  capacity: {cpus: 8, memory: 1GiB}\n  fence: {command: [sh, %s, fo1%s]}\n' "$FO/fence" "$$" >>"$f" ;;
        2) printf '  capacity: {cpus: 8, memory: 48MiB}\n' >>"$f" ;;   # manual fence; room for one VM
        3) printf '  capacity: {cpus: 8, memory: 1GiB}\n  fence: {command: [sh, %s, fo3%s]}\n' "$FO/fence" "$$" >>"$f" ;;
        esac
    done
    cat >>"$f" <<EOF
---
apiVersion: qkvm.dev/v1
kind: Pool
metadata: {name: shared}
spec: {path: $FO/shared, shared: true}
---
apiVersion: qkvm.dev/v1
kind: Network
metadata: {name: fo-net}
spec: {mode: isolated, cidr: 10.87.0.0/24}
---
apiVersion: qkvm.dev/v1
kind: Policy
metadata: {name: ha-high}
spec:
  selector: {tier: high}
  ha: {enabled: true, priority: 10}
  placement: {strategy: pack}
---
apiVersion: qkvm.dev/v1
kind: Policy
metadata: {name: ha-low}
spec:
  selector: {tier: low}
  ha: {enabled: true, priority: 1}
  placement: {strategy: pack}
---
apiVersion: qkvm.dev/v1
kind: Policy
metadata: {name: plain}
spec:
  selector: {tier: none}
  placement: {strategy: pack}
EOF
    local vm tier
    for vm in fo-high:high fo-low:low fo-plain:none; do
        tier=${vm#*:}
        vm=${vm%%:*}
        cat >>"$f" <<EOF
---
apiVersion: qkvm.dev/v1
kind: Disk
metadata: {name: $vm-root}
spec: {pool: shared, size: 8MiB}
---
apiVersion: qkvm.dev/v1
kind: VM
metadata: {name: $vm, labels: {tier: $tier}}
spec:
  accel: tcg
  cpus: 1
  memory: 32MiB
  disks: [{disk: $vm-root, boot: 1}]
  nics: [{network: fo-net}]
EOF
    done
}

# where guest NAME runs: the nodes (1 2 3) whose libvirt lists it running
fo_where() {
    local n w=""
    for n in 1 2 3; do
        [ "$(FO_V "$n" domstate "$1" 2>/dev/null)" = running ] && w="$w$n"
    done
    echo "$w"
}

# fo_pause LABEL PREFIX N: fo-plain paused by hand on fo1 is checked alone,
# its finding logged ("drift: PREFIXVM/fo-plain: paused", logged N times
# before) and served once; resumed, nothing is found and nothing served
fo_pause() {
    local what="failover ($1): a VM paused by hand on a node is checked alone and reported once; resumed, nothing is found"
    local n d o
    n=$(ct_count "from its events")
    d=$(ct_count "drift: 1 finding; vm/fo-plain on fo1, from its events")
    o=$(ct_count "ok: 0 findings; vm/fo-plain on fo1, from its events")
    FO_V 1 suspend fo-plain >/dev/null
    if ct_wait "observe run [0-9]+: drift: 1 finding; vm/fo-plain on fo1, from its events" $((d + 1)) &&
       ct_wait "drift: ${2}VM/fo-plain: paused" $(($3 + 1)); then
        ct_http /api/v1/status
        local served
        served=$(echo "$body" | jq '[.drift[] | select(.name == "fo-plain")] | length')
        FO_V 1 resume fo-plain >/dev/null
        if ct_wait "observe run [0-9]+: ok: 0 findings; vm/fo-plain on fo1, from its events" $((o + 1)) &&
           [ "$served" = 1 ] && ct_http /api/v1/status &&
           [ "$(echo "$body" | jq '[.drift[] | select(.name == "fo-plain")] | length')" = 0 ] &&
           [ "$(ct_count "from its events")" = $((n + 2)) ]; then
            pass "$what"
        else
            fail "$what" "served $served; $(cat "$CT_LOG")"
        fi
    else
        fail "$what" "$(cat "$CT_LOG")"
        FO_V 1 resume fo-plain >/dev/null 2>&1
    fi
}

fo_run() {
    FO="$TESTTMP/fo"
    mkdir -p "$FO/m" "$FO/shared"
    local n U
    for n in 1 2 3; do
        if ! U=$(tools/testbed start "fo$n$$" 2>"$TESTTMP/testbed.err"); then
            fail "testbed: node fo$n starts for failover" "$(cat "$TESTTMP/testbed.err")"
            for n in 1 2 3; do tools/testbed stop "fo$n$$" >/dev/null 2>&1; done
            return 1
        fi
    done
    trap 'for n in 1 2 3; do tools/testbed stop "fo$n$$" >/dev/null 2>&1; done; rm -rf "$TESTTMP"' EXIT
    pass "testbed: three nodes for failover"
    fo_cases
    for n in 1 2 3; do tools/testbed stop "fo$n$$" >/dev/null 2>&1; done
}

fo_hooks() {   # EVENT [LABEL=VALUE]: how many deliveries of EVENT (with that label) arrived
    python3 - "$FO/hooks.log" "$1" "${2:-}" <<'ZZEND'
import json, os, sys
n = 0
if os.path.exists(sys.argv[1]):
    for line in open(sys.argv[1]):
        b = json.loads(json.loads(line)["body"])
        k, _, v = sys.argv[3].partition("=")
        if b["event"] == sys.argv[2] and (not k or b["labels"].get(k) == v):
            n += 1
print(n)
ZZEND
}

fo_cases() {
    # the fence: the test bed's (every process of the node killed), unless
    # $FO/fail-NODE exists; each call logged with what qkvm passed
    cat >"$FO/fence" <<EOF
echo "\$QKVM_NODE \$QKVM_FENCE_ACTION \$QKVM_NODE_URI" >>"$FO/fence.log"
if [ -e "$FO/fail-\$QKVM_NODE" ]; then echo "the BMC does not answer"; exit 1; fi
# a fence that says it worked but reboots the node instead: off, then on
if [ -e "$FO/fake-\$QKVM_NODE" ]; then
    "$PWD/tools/testbed" fence "\$1" && "$PWD/tools/testbed" revive "\$1" >/dev/null; exit 0
fi
exec "$PWD/tools/testbed" fence "\$1"
EOF
    fo_manifests "$FO/m/fleet.yaml" 1
    CT_LOG="$FO/log"
    # the controller's notifications, to a receiver on 127.0.0.1
    python3 tests/hook-receiver.py "$FO/hook.port" "$FO/hooks.log" >/dev/null 2>&1 &
    local hook_pid=$!
    wait_until 300 eval '[ -s "$FO/hook.port" ]'
    printf 'http://127.0.0.1:%s/ok/fo\n' "$(cat "$FO/hook.port")" >"$FO/hooks.txt"
    $WRAP "$QKVM" run -f "$FO/m" --state "$FO/state.db" --listen 127.0.0.1:0 \
        --observe-interval 1h --debounce 100ms --node-grace 1s --fence-timeout 20s \
        --shutdown-timeout 2 --notify-webhook-file "$FO/hooks.txt" >"$CT_LOG" 2>&1 &
    CT_PID=$!
    if ! ct_wait "sync run [0-9]+: ok"; then
        fail "failover: the first sync places every VM on fo1" "$(cat "$CT_LOG")"
        kill "$CT_PID" 2>/dev/null
        wait "$CT_PID" 2>/dev/null
        return
    fi
    holds "failover: the first sync places every VM on fo1" \
        '[ "$(fo_where fo-high)$(fo_where fo-low)$(fo_where fo-plain)" = 111 ]'
    CT_PORT=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$CT_LOG" | head -1)

    # the same with one Node (its findings, as a full run's, name no node)
    fo_pause "one Node" "" 0

    # fo2 and fo3 join: nothing moves
    fo_manifests "$FO/m/.fleet.yaml.new" 1 2 3
    mv "$FO/m/.fleet.yaml.new" "$FO/m/fleet.yaml"
    if ct_wait "sync run [0-9]+: ok" 2 && ct_wait "fo3: watching domain events"; then
        holds "failover: two nodes join, and no VM moves" \
            '[ "$(fo_where fo-high)$(fo_where fo-low)$(fo_where fo-plain)" = 111 ]'
    else
        fail "failover: two nodes join, and no VM moves" "$(cat "$CT_LOG")"
    fi

    # drift by hand on a node of the fleet: the quick check of that VM on
    # that node alone (its events), nothing found once it is undone
    fo_pause "three Nodes" "fo1: " 0

    # fo1 crashes while its fence fails
    touch "$FO/fail-fo1"
    tools/testbed crash "fo1$$"
    if ct_wait "node fo1: suspect" && ct_wait "node fo1: failed" &&
       ct_wait "node fo1: fence failed .*the BMC does not answer.*nothing is started"; then
        pass "failover: a crashed node is suspect, failed after the grace, and its failed fence is reported"
    else
        fail "failover: a crashed node is suspect, failed after the grace, and its failed fence is reported" "$(cat "$CT_LOG")"
    fi
    holds "failover: the fence command got the node's name, the action and its URI" \
        'grep -qx "fo1 off $(tools/testbed uri "fo1$$")" "$FO/fence.log"'
    holds "failover: while the fence fails, nothing is started elsewhere (each guest: one qemu, none on fo2 or fo3)" \
        '[ "$(fo_qemus fo-high)$(fo_qemus fo-low)$(fo_qemus fo-plain)" = 111 ] &&
         [ -z "$(FO_V 2 list --all --name)$(FO_V 3 list --all --name)" ]'
    ct_http /metrics
    holds "failover: the metrics count the failed fence and the failed node" \
        'printf "%s\n" "$body" | grep -q "^qkvm_fences_total{result=\"failure\"} [1-9]" &&
         printf "%s\n" "$body" | grep -qx "qkvm_nodes{state=\"failed\"} 1"'
    ct_http /api/v1/status
    holds "failover: the status says fo1 is failed, and why" \
        'printf "%s" "$body" | python3 -c "
import json, sys
s = json.load(sys.stdin)
n = [x for x in s[\"nodes\"] if x[\"name\"] == \"fo1\"][0]
assert n[\"state\"] == \"failed\" and \"BMC\" in n[\"message\"] and n[\"fence\"] == \"command\", n"'

    # the fence succeeds on its next attempt
    rm -f "$FO/fail-fo1"
    if ct_wait "node fo1: fenced" && ct_wait "failover: vm/fo-high started" &&
       ct_wait "failover: vm/fo-low started"; then
        pass "failover: once fo1 is fenced, its HA VMs are started on other nodes"
    else
        fail "failover: once fo1 is fenced, its HA VMs are started on other nodes" "$(cat "$CT_LOG")"
    fi
    holds "failover: each HA VM runs exactly once on the machine, the higher priority on fo2 (room for one)" \
        '[ "$(fo_qemus fo-high)$(fo_qemus fo-low)" = 11 ] &&
         [ "$(fo_where fo-high)" = 2 ] && [ "$(fo_where fo-low)" = 3 ]'
    holds "failover: the VM without ha is not started elsewhere, and the run says why" \
        '[ "$(fo_qemus fo-plain)" = 0 ] && grep -q "vm/fo-plain.*fenced.*no Policy with ha.enabled" "$CT_LOG"'
    ct_http /metrics
    holds "failover: the metrics count the fence and both failovers" \
        'printf "%s\n" "$body" | grep -qx "qkvm_fences_total{result=\"success\"} 1" &&
         printf "%s\n" "$body" | grep -qx "qkvm_failovers_total{result=\"success\"} 2" &&
         printf "%s\n" "$body" | grep -qx "qkvm_nodes{state=\"fenced\"} 1" &&
         printf "%s\n" "$body" | promtool check metrics'
    holds "failover: the events record each failover" \
        '"$QKVM" events vm fo-high --state "$FO/state.db" -o wide | grep -q "FailedOver.*started on fo2: fo1 was fenced"'
    # and the webhook was told: the node failed, its fence failed then
    # worked, each HA VM failed over
    wait_until 300 eval '[ "$(fo_hooks FailedOver)" = 2 ] && [ "$(fo_hooks FenceRecovered)" = 1 ]'
    holds "failover: the webhook gets NodeFailed and FenceFailed for fo1, FenceRecovered once fenced, FailedOver for each HA VM" \
        '[ "$(fo_hooks NodeFailed node=fo1)" = 1 ] && [ "$(fo_hooks FenceFailed node=fo1)" = 1 ] &&
         [ "$(fo_hooks FenceRecovered node=fo1)" = 1 ] && [ "$(fo_hooks FailedOver vm=fo-high)" = 1 ] &&
         [ "$(fo_hooks FailedOver vm=fo-low)" = 1 ] && [ "$(fo_hooks FailedOver vm=fo-plain)" = 0 ]'

    # fo1 comes back with its old definitions
    tools/testbed revive "fo1$$" >/dev/null
    if ct_wait "recover run [0-9]+: node fo1: 2 stale copies removed, 0 failed; node fo1 is ready" &&
       ct_wait "fo1: vm/fo-plain: started"; then
        pass "failover: fo1 back: its stale copies are removed before it is used, then its own VM starts"
    else
        fail "failover: fo1 back: its stale copies are removed before it is used, then its own VM starts" "$(cat "$CT_LOG")"
    fi
    holds "failover: fo1 no longer defines the moved VMs; each VM runs once" \
        '! FO_V 1 dominfo fo-high >/dev/null 2>&1 && ! FO_V 1 dominfo fo-low >/dev/null 2>&1 &&
         [ "$(fo_where fo-high)$(fo_where fo-low)$(fo_where fo-plain)" = 231 ] &&
         [ "$(fo_qemus fo-high)$(fo_qemus fo-low)$(fo_qemus fo-plain)" = 111 ]'
    wait_until 300 eval '[ "$(fo_hooks NodeRecovered node=fo1)" = 1 ]'
    holds "failover: fo1 ready again: the webhook gets NodeRecovered, once" \
        '[ "$(fo_hooks NodeRecovered node=fo1)" = 1 ] && [ "$(fo_hooks NodeFailed node=fo1)" = 1 ]'

    # fo2's fence is manual: nothing moves until an operator confirms
    tools/testbed crash "fo2$$"
    if ct_wait "node fo2: waiting for an operator.*qkvm node confirm-down fo2"; then
        pass "failover: a node with a manual fence waits for the operator"
    else
        fail "failover: a node with a manual fence waits for the operator" "$(cat "$CT_LOG")"
    fi
    holds "failover: unconfirmed, fo-high is not started elsewhere (its qemu on fo2 is the only one)" \
        '[ "$(fo_qemus fo-high)" = 1 ] && [ -z "$(fo_where fo-high)" ]'
    tools/testbed fence "fo2$$"
    fo_q node confirm-down fo2
    expect "failover: qkvm node confirm-down records the confirmation" 0 "node fo2: confirmed down"
    if ct_wait "node fo2: fenced \(manual" && ct_wait "failover: vm/fo-high started" 2; then
        holds "failover: confirmed, fo-high runs on another node, once" \
            '[ "$(fo_qemus fo-high)" = 1 ] && case "$(fo_where fo-high)" in 1|3) true ;; *) false ;; esac'
    else
        fail "failover: confirmed, fo-high runs on another node, once" "$(cat "$CT_LOG")"
    fi

    # a new controller finds fo2 fenced (the state database says so), and
    # removes fo2's stale copy when it comes back
    kill -TERM "$CT_PID"
    local rc=0
    wait "$CT_PID" || rc=$?
    holds "failover: SIGTERM ends the controller with exit 0" '[ "$rc" = 0 ]'
    kill "$hook_pid" 2>/dev/null
    wait "$hook_pid" 2>/dev/null
    CT_LOG="$FO/log2"
    $WRAP "$QKVM" run -f "$FO/m" --state "$FO/state.db" --listen 127.0.0.1:0 \
        --observe-interval 1h --debounce 100ms --node-grace 1s --fence-timeout 20s \
        --shutdown-timeout 2 >"$CT_LOG" 2>&1 &
    CT_PID=$!
    if ct_wait "node fo2: fenced by an earlier run" && ct_wait "sync run [0-9]+:"; then
        CT_PORT=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$CT_LOG" | head -1)
        tools/testbed revive "fo2$$" >/dev/null
        if ct_wait "recover run [0-9]+: node fo2: 1 stale copy removed, 0 failed; node fo2 is ready"; then
            holds "failover: a restarted controller removes the stale copy of a node fenced before it started" \
                '! FO_V 2 dominfo fo-high >/dev/null 2>&1 && [ "$(fo_qemus fo-high)" = 1 ]'
        else
            fail "failover: a restarted controller removes the stale copy of a node fenced before it started" "$(cat "$CT_LOG")"
        fi
    else
        fail "failover: a restarted controller knows fo2 is fenced" "$(cat "$CT_LOG")"
    fi

    # a fence that exits 0 but did not power the node off (it rebooted it)
    local low
    low=$(fo_where fo-low)
    touch "$FO/fake-fo3"
    tools/testbed crash "fo3$$"
    # rebooted, the node answers: nothing fails over; the sync it gets
    # starts its VM there again
    if ct_wait "node fo3 answers right after its fence said it is off.*nothing fails over" &&
       ct_wait "fo3: vm/fo-low: started"; then
        ct_http /api/v1/status
        holds "failover: a node that answers after its fence is not failed over from" \
            '[ "$low" = 3 ] && [ "$(fo_where fo-low)" = 3 ] && [ "$(fo_qemus fo-low)" = 1 ] &&
             ! FO_V 1 dominfo fo-low >/dev/null 2>&1 && ! FO_V 2 dominfo fo-low >/dev/null 2>&1 &&
             ! grep -q "failover: vm/fo-low" "$CT_LOG" &&
             printf "%s" "$body" | python3 -c "
import json, sys
s = json.load(sys.stdin)
assert [x for x in s[\"nodes\"] if x[\"name\"] == \"fo3\"][0][\"state\"] == \"ready\", s[\"nodes\"]"'
    else
        fail "failover: a node that answers after its fence is not failed over from" "$(cat "$CT_LOG")"
    fi

    kill -TERM "$CT_PID"
    rc=0
    wait "$CT_PID" || rc=$?
    holds "failover: SIGTERM ends the second controller with exit 0" '[ "$rc" = 0 ]'
    fo_q history
    expect "failover: history shows the failover and recover runs" 0 " failover " " recover "
    fo_q events node fo3
    expect "failover: the events say fo3's fence did not power it off" 0 "FenceFailed"
}
