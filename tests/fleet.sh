# tests/fleet.sh — a fleet of three real nodes in one run (sourced by
# tests/integration.sh): placement (spread, pack, anti-affinity,
# nodeSelector, a pin, an unschedulable VM), a node down during an apply,
# an Image on the shared pool uploaded by one node for all, drain by live
# migration of a running guest OS, rebalance recommending and making a
# move, a cold move (volumes copied) allowed by a Policy, and "apply twice
# → no changes" across nodes.
#
# Three test bed nodes (tools/testbed), each its own libvirtd; a directory
# outside their namespaces is the path of the pool declared shared: true
# on all three, as an NFS export would be. The manifests name the nodes by
# their URIs, so every qkvm here runs without -c.

# fq ARGS...: qkvm on the fleet, with its state; output in $out, code in $rc
fq() {
    rc=0
    out=$($WRAP "$QKVM" --state "$FL/state.db" "$@" 2>&1) || rc=$?
}

# FV NODE ARGS...: virsh on test bed node NODE (1, 2, 3)
FV() {
    local n=$1
    shift
    virsh -q -c "$(tools/testbed uri "fl$n$$")" "$@"
}

# fl_nodes FILE: the three Nodes (8 CPUs, 1 GiB each), hv1 in zone a, hv2
# and hv3 in zone b, a shared pool, a network, the Policies; MAINT (a node
# number) is in maintenance; WEB_AA=false lifts the web VMs' anti-affinity
fl_nodes() {
    local n zone
    : >"$1"
    for n in 1 2 3; do
        zone=b
        [ $n = 1 ] && zone=a
        cat >>"$1" <<EOF
---
apiVersion: qkvm.dev/v1
kind: Node
metadata: {name: hv$n, labels: {zone: $zone}}
spec:
  uri: "$(tools/testbed uri "fl$n$$")"
  capacity: {cpus: 8, memory: 1GiB}
  maintenance: $([ "${MAINT:-}" = $n ] && echo true || echo false)
EOF
    done
    cat >>"$1" <<EOF
---
apiVersion: qkvm.dev/v1
kind: Pool
metadata: {name: shared}
spec: {path: $FL/shared, shared: true}
---
apiVersion: qkvm.dev/v1
kind: Network
metadata: {name: fl-net}
spec: {mode: isolated, cidr: 10.86.0.0/24, dhcp: {start: 10.86.0.100, end: 10.86.0.199}}
---
apiVersion: qkvm.dev/v1
kind: Policy
metadata: {name: web}
spec:
  selector: {app: web}
  placement: {strategy: spread, antiAffinity: ${WEB_AA:-true}}
---
apiVersion: qkvm.dev/v1
kind: Policy
metadata: {name: batch}
spec:
  selector: {app: batch}
  placement: {strategy: pack}
EOF
}

# fl_vm FILE NAME LABELS [SPEC LINES...]: a tiny VM without an OS (TCG,
# 32 MiB) on a disk of its own in the shared pool
fl_vm() {
    local f=$1 name=$2 labels=$3
    shift 3
    cat >>"$f" <<EOF
---
apiVersion: qkvm.dev/v1
kind: Disk
metadata: {name: $name-root}
spec: {pool: shared, size: 8MiB}
---
apiVersion: qkvm.dev/v1
kind: VM
metadata: {name: $name, labels: {$labels}}
spec:
  accel: tcg
  cpus: 1
  memory: 32MiB
  disks: [{disk: $name-root, boot: 1}]
  nics: [{network: fl-net}]
EOF
    local l
    for l in "$@"; do printf '  %s\n' "$l" >>"$f"; done
}

# the node (hv1..hv3) `get vms -o json` puts VM NAME on
fl_node_of() {
    fq get vms -f "$FL/m" -o json
    printf '%s\n' "$out" | sed -n '/^{/,$p' | python3 -c '
import json, sys
d = json.load(sys.stdin)
print(" ".join(i["status"]["node"] for i in d["items"] if i["metadata"]["name"] == sys.argv[1]))
' "$1"
}

fl_run() {
    FL="$TESTTMP/fl"
    mkdir -p "$FL/m" "$FL/shared"
    local n U
    for n in 1 2 3; do
        if ! U=$(tools/testbed start "fl$n$$" 2>"$TESTTMP/testbed.err"); then
            fail "testbed: node fl$n starts for the fleet" "$(cat "$TESTTMP/testbed.err")"
            for n in 1 2 3; do tools/testbed stop "fl$n$$" >/dev/null 2>&1; done
            return 1
        fi
    done
    trap 'for n in 1 2 3; do tools/testbed stop "fl$n$$" >/dev/null 2>&1; done; rm -rf "$TESTTMP"' EXIT
    pass "testbed: three nodes for the fleet"
    fl_cases
    local d
    for n in 1 2 3; do
        d="${QKVM_TESTBED:-/tmp/qkvm-testbed}/fl$n$$"
        if ! kill -0 "$(cat "$d/libvirtd.pid" 2>/dev/null)" 2>/dev/null; then
            fail "node fl$n's libvirtd lived through the fleet cases" "$(tail -20 "$d/daemon.log")"
        fi
        tools/testbed stop "fl$n$$" >/dev/null
    done
}

fl_cases() {
    local M="$FL/m"
    # --- placement: three web VMs never share a node (spread), two batch
    # VMs pack onto one, a pinned VM and a nodeSelector are obeyed, and a
    # VM too big for any node is unschedulable while the rest is created
    fl_nodes "$M/nodes.yaml"
    : >"$M/vms.yaml"
    for n in 1 2 3; do fl_vm "$M/vms.yaml" "web-$n" "app: web"; done
    fl_vm "$M/vms.yaml" batch-1 "app: batch"
    fl_vm "$M/vms.yaml" batch-2 "app: batch"
    fl_vm "$M/vms.yaml" pin-1 "app: pin" "node: hv3"
    fl_vm "$M/vms.yaml" sel-1 "app: sel" "nodeSelector: {zone: a}"
    cat >"$M/big.yaml" <<EOF
apiVersion: qkvm.dev/v1
kind: VM
metadata: {name: big-1}
spec: {accel: tcg, cpus: 1, memory: 4GiB, state: stopped}
EOF
    fq plan -f "$M"
    expect "fleet plan: every node observed, placement in the plan" 0 \
        "qkvm will change 3 nodes \(hv1, hv2, hv3\)" "vm/web-1 on hv" \
        "vm/big-1 +unschedulable: hv1: not enough memory \(needs 4 GiB, 1 GiB of 1 GiB free\); hv2: .*; hv3: not enough memory \(needs 4 GiB, [0-9]+ MiB of 1 GiB free\)"
    fq apply -f "$M" --yes
    expect "fleet apply: exit 1 for the unschedulable VM, everything else created on its node" 1 \
        "hv1: vm/web-1: started|hv2: vm/web-1: started|hv3: vm/web-1: started" \
        "vm/big-1 +unschedulable" "Apply complete: [0-9]+ done, 0 failed, 0 skipped"
    local w1 w2 w3 b1 b2
    w1=$(fl_node_of web-1) w2=$(fl_node_of web-2) w3=$(fl_node_of web-3)
    b1=$(fl_node_of batch-1) b2=$(fl_node_of batch-2)
    holds "anti-affinity: web-1..3 on three different nodes ($w1 $w2 $w3)" \
        '[ -n "$w1" ] && [ "$w1" != "$w2" ] && [ "$w1" != "$w3" ] && [ "$w2" != "$w3" ]'
    holds "pack: batch-1 and batch-2 on one node ($b1 $b2)" '[ -n "$b1" ] && [ "$b1" = "$b2" ]'
    holds "pinned: pin-1 on hv3" '[ "$(fl_node_of pin-1)" = hv3 ]'
    holds "nodeSelector zone=a: sel-1 on hv1" '[ "$(fl_node_of sel-1)" = hv1 ]'
    holds "the VMs run where get says (virsh on each node)" \
        'FV 3 domstate pin-1 | grep -q running && FV 1 domstate sel-1 | grep -q running && ! FV 2 dominfo pin-1 >/dev/null 2>&1'
    holds "the shared pool's volumes are qkvm's on every node (no orphan, no conflict)" \
        '! "$QKVM" --state "$FL/state.db" drift -f "$M" | grep -qE "^(orphan|conflict)"'
    fq get nodes -f "$M"
    expect "get nodes: allocation per node" 0 "^NAME +STATE +CPUS +MEMORY +VMS" \
        "hv3 +ready +4/8 +128MiB/1GiB +4 "
    fq get vms -o wide -f "$M"
    expect "get vms -o wide: the node and why it was placed there" 0 \
        "pin-1 +hv3 .*pinned \(spec.node\)" "web-1 +hv. .*spread: " "big-1 +- .*Unschedulable"
    rm "$M/big.yaml"
    fq plan -f "$M" --detailed-exitcode
    expect "fleet: apply twice → no changes across nodes" 0 "No changes. 3 nodes \(hv1, hv2, hv3\) match"

    # --- a node down during an apply: the others converge, its VMs stay
    local down pid
    down=$(fl_node_of web-1)
    n=${down#hv}
    pid=$(cat "${QKVM_TESTBED:-/tmp/qkvm-testbed}/fl$n$$/libvirtd.pid")
    kill -STOP "$pid"
    fl_vm "$M/vms.yaml" late-1 "app: late"
    fq apply -f "$M" --yes --connect-timeout 3s --keepalive-interval 1 --keepalive-count 2
    kill -CONT "$pid"
    expect "a node down: exit 1, it is named, the others converge" 1 \
        "node/$down +unreachable \(cannot connect to .*\): nothing on it is changed" \
        "vm/late-1: started"
    holds "late-1 was not placed on the node that was down" '[ "$(fl_node_of late-1)" != "$down" ]'
    holds "web-1 stayed on $down (moving it is failover's decision)" '[ "$(fl_node_of web-1)" = "$down" ]'
    fq plan -f "$M" --detailed-exitcode
    expect "once the node answers again: no changes" 0 "No changes"

    fl_images
    fl_drain
    fl_cold
}

# --- an Image on the shared pool: one node uploads it, for all
fl_images() {
    local M="$FL/m" sha n
    mkdir -p "$FL/www"
    head -c 1048576 /dev/zero >"$FL/www/base.raw"
    sha=$(sha256sum "$FL/www/base.raw" | cut -d' ' -f1)
    cat >"$M/images.yaml" <<EOF
apiVersion: qkvm.dev/v1
kind: Image
metadata: {name: base}
spec: {url: "file://$FL/www/base.raw", sha256: $sha, format: raw, pool: shared}
EOF
    for n in 1 3; do
        cat >>"$M/images.yaml" <<EOF
---
apiVersion: qkvm.dev/v1
kind: Disk
metadata: {name: img-$n-root}
spec: {pool: shared, from: {image: base}}
---
apiVersion: qkvm.dev/v1
kind: VM
metadata: {name: img-$n}
spec: {accel: tcg, cpus: 1, memory: 32MiB, state: stopped, node: hv$n, disks: [{disk: img-$n-root}]}
EOF
    done
    fq apply -f "$M" --yes --cache-dir "$FL/cache"
    expect "an image on a shared pool: hv1 uploads it once, hv3's disk waits (exit 1)" 1 \
        "hv1: image/base: created" "hv1: disk/img-1-root: created" \
        "image/base on hv3 +uploaded to shared pool shared by node hv1 this run"
    holds "hv3 did not upload it" '! printf "%s\n" "$out" | grep -q "hv3: image/base"'
    fq apply -f "$M" --yes --cache-dir "$FL/cache"
    expect "... the next apply makes hv3's disk on it" 0 "hv3: disk/img-3-root: created" \
        "hv3: vm/img-3: created"
    holds "both disks are overlays of the one image volume" \
        '[ "$(ls "$FL/shared" | grep -c "^base\.")" = 1 ] && qemu-img info "$FL/shared/img-3-root" | grep -q "backing file: .*base\."'
    fq plan -f "$M" --detailed-exitcode
    expect "images: plan again → no changes" 0 "No changes"
}

# fl_max_tick LOG: the highest count the guest's console shows (NULs
# dropped: two qemus may write the file during a migration), 0 for none
fl_max_tick() {
    local t
    t=$(tr -d '\000' <"$1" 2>/dev/null | grep -ao 'qkvm-guest: tick [0-9]*' | cut -d' ' -f3 |
        sort -n | tail -1)
    echo "${t:-0}"
}

# fl_ticks_past LOG N: the console shows a tick above N within 60 s (bounded:
# a guest that stopped counting fails the case, it does not hang the suite)
fl_ticks_past() {
    local i=0
    while :; do
        [ "$(fl_max_tick "$1")" -gt "$2" ] && return 0
        i=$((i + 1))
        [ $i -gt 600 ] && return 1
        sleep 0.1
    done
}

# "hv1=30m/2 hv2=0m/2 hv3=12m/2": each node's measured CPU use in the last
# `rebalance -o json` ($out), in thousandths of a host CPU over its CPUs;
# a node not measured is left out
fl_cpu_use() {
    printf '%s\n' "$out" | sed -n '/^{/,$p' | python3 -c '
import json, sys
d = json.load(sys.stdin)
print(" ".join("%s=%dm/%d" % (n["name"], n["cpuMillicores"], n["hostCpus"])
               for n in d["nodes"] if "cpuUse" in n))'
}

# --- drain: a running guest OS lives on through a live migration
fl_drain() {
    local M="$FL/m" G
    if ! G=$(tools/testguest build "$BUILD/guest" 2>"$FL/guest.err"); then
        fail "the test guest builds" "$(cat "$FL/guest.err")"
        return
    fi
    local kernel initrd
    kernel=$(printf '%s\n' "$G" | sed -n 1p)
    initrd=$(printf '%s\n' "$G" | sed -n 2p)
    # the guest counts on its console each second from boot: after a live
    # migration the count goes on; a reboot would start it again at 1 (the
    # console's lines end in \r\n: patterns end in [^0-9], not $)
    cat >"$M/guest.yaml" <<EOF
---
apiVersion: qkvm.dev/v1
kind: Disk
metadata: {name: os-1-root}
spec: {pool: shared, size: 8MiB}
---
apiVersion: qkvm.dev/v1
kind: VM
metadata: {name: os-1, labels: {app: os}}
spec:
  accel: tcg
  memory: 160MiB
  node: hv2
  boot: {kernel: $kernel, initrd: $initrd, cmdline: "console=ttyS0"}
  consoleLog: $FL/os-1.log
  disks: [{disk: os-1-root}]
  nics: [{network: fl-net}]
  cloudInit:
    userData: |
      #!/bin/sh
      ( i=0; while :; do i=\$((i+1)); echo "qkvm-guest: tick \$i" >/dev/console; sleep 1; done ) &
EOF
    fq apply -f "$M" --yes
    expect "a guest OS pinned to hv2 starts" 0 "hv2: vm/os-1: started"
    if ! wait_console "$FL/os-1.log" "qkvm-guest: tick 3[^0-9]"; then
        fail "the guest boots and counts" "$(tail -5 "$FL/os-1.log")"
        return
    fi
    # drained: unpinned, hv2 in maintenance; web-1 cannot leave while web-2
    # and web-3 hold the other nodes (anti-affinity)
    sed -i '/^  node: hv2$/d' "$M/guest.yaml"
    MAINT=2 fl_nodes "$M/nodes.yaml"
    fq plan -f "$M"
    expect "drain: the plan moves hv2's VMs away, live, within the constraints" 0 \
        "→ +vm/os-1 on hv2 +migrate: hv2 → hv[13] \(live\): hv2: in maintenance" \
        "vm/web-1 on hv2 +should leave hv2 \(hv2: in maintenance\), but no node can take it \(hv1: anti-affinity \(Policy web\).*\): it stays there"
    MAINT=2 WEB_AA=false fl_nodes "$M/nodes.yaml"
    local before
    cp "$FL/os-1.log" "$FL/os-1.before"
    before=$(grep -o 'tick [0-9]*' "$FL/os-1.before" | tail -1 | cut -d' ' -f2)
    fq apply -f "$M" --yes
    expect "drain: apply migrates every VM off hv2" 0 "hv2: vm/os-1: migrated" \
        "hv2: vm/web-1: migrated"
    local to
    to=$(fl_node_of os-1)
    holds "os-1 runs on $to, no longer defined on hv2" \
        '[ "$to" != hv2 ] && FV "${to#hv}" domstate os-1 | grep -q running && ! FV 2 dominfo os-1 >/dev/null 2>&1'
    holds "hv2 runs no domain" '[ -z "$(FV 2 list --all --name)" ]'
    # The guest lived on when its count goes past before + 2 and what the
    # console printed since the copy taken before holds no second boot (a
    # boot ends in "qkvm-guest: ready"). The target's qemu may go on with
    # the log or start it afresh, while the source's writes its last lines:
    # what is new is what follows the copy, or all; NULs are dropped.
    local size after
    size=$(stat -c %s "$FL/os-1.before")
    after=$(fl_max_tick "$FL/os-1.log")     # the source is gone: later ticks are the target's
    if fl_ticks_past "$FL/os-1.log" $((after + 2)); then
        if cmp -s -n "$size" "$FL/os-1.before" "$FL/os-1.log"; then
            tail -c +$((size + 1)) "$FL/os-1.log" | tr -d '\000' >"$FL/os-1.new"
        else
            tr -d '\000' <"$FL/os-1.log" >"$FL/os-1.new"
        fi
        if ! grep -aq 'qkvm-guest: ready' "$FL/os-1.new"; then
            pass "the guest kept running through the migration (tick $before before it, $after when it ended, then past $((after + 2)) on $to; no second boot)"
        else
            fail "the guest kept running through the migration" "before: tick $before; since: $(grep -aE 'ready|tick' "$FL/os-1.new" | head -5)"
        fi
    else
        fail "the guest kept running through the migration" "before: tick $before; $(tail -5 "$FL/os-1.log")"
    fi
    fq get nodes -f "$M"
    expect "get nodes: hv2 in maintenance, no VM left on it" 0 "hv2 +maintenance +0/8 +0/1GiB +0 "
    fq plan -f "$M" --detailed-exitcode
    expect "drained: plan again → no changes" 0 "No changes"
    MAINT= WEB_AA=false fl_nodes "$M/nodes.yaml"
    fq plan -f "$M" --detailed-exitcode
    expect "out of maintenance: nothing moves back by itself" 0 "No changes"

    # --- rebalance: hv2 is empty now; at 80% the fleet is balanced, at 50%
    # hv1 and hv3 give VMs to the emptiest node, hv2, each move with its
    # gain (by allocation: --cpu-interval 0 leaves out measured CPU use,
    # which depends on the machine; it is checked on its own below)
    fq rebalance -f "$M" --cpu-interval 0
    expect "rebalance: a balanced fleet gets no recommendations (exit 0)" 0 \
        "Balanced: no recommendations"
    fq rebalance -f "$M" --threshold 50 --cpu-interval 0
    expect "rebalance --threshold 50: moves onto hv2, with their gain and priority (exit 2)" 2 \
        "^hv1 +[0-9]+% +50%" "^hv2 +0% +[0-9]+%" \
        "→ +vm/[a-z0-9-]+ hv1 → hv2 \(live\): gain hv1 [0-9]+% → [0-9]+%, hv2 0% → [0-9]+%; priority 2"
    fq rebalance -f "$M" --threshold 50 --cpu-interval 0 --apply --yes
    expect "rebalance --apply: the moves are made (live migration of the running VMs)" 0 \
        "hv1: vm/[a-z0-9-]+: migrated"
    fq rebalance -f "$M" --threshold 50 --cpu-interval 0
    expect "rebalanced: no recommendations left (CPU use not measured: -)" 0 \
        "Balanced: no recommendations" "^NODE +LOAD +AFTER +CPU USE" "^hv1 +[0-9]+% +[0-9]+% +-"
    # measured CPU use: libvirt's bulk stats (cpu.time) on every node, two
    # samples --cpu-interval apart; the running guests (TCG) keep some busy
    # (at 100% no node can be over: a host's CPUs cannot be more than busy)
    fq rebalance -f "$M" --threshold 100 --cpu-interval 2s -o json
    local use
    use=$(fl_cpu_use)
    holds "rebalance: CPU use measured on every node, some of it busy ($use)" \
        '[ "$(echo $use | wc -w)" = 3 ] && echo "$use" | grep -q "=[1-9][0-9]*m"'
    fq plan -f "$M" --detailed-exitcode
    expect "rebalanced: plan → no changes" 0 "No changes"
}

# --- a cold move: a VM whose volumes are on a pool each node has for
# itself (its path is under /var/lib/libvirt, private to each node's mount
# namespace, as a local disk is to each host), allowed by a Policy
fl_cold() {
    local M="$FL/m"
    cat >"$M/cold.yaml" <<EOF
apiVersion: qkvm.dev/v1
kind: Pool
metadata: {name: local}
spec: {path: /var/lib/libvirt/qkvm-local}
---
apiVersion: qkvm.dev/v1
kind: Policy
metadata: {name: cold}
spec:
  selector: {app: cold}
  placement: {coldMoves: true}
---
apiVersion: qkvm.dev/v1
kind: Disk
metadata: {name: cold-1-root}
spec: {pool: local, size: 4MiB}
---
apiVersion: qkvm.dev/v1
kind: Disk
metadata: {name: cold-1-data}
spec: {pool: local, size: 2MiB, format: raw, protect: true}
---
apiVersion: qkvm.dev/v1
kind: Disk
metadata: {name: cold-1-shared}
spec: {pool: shared, size: 1MiB}
---
apiVersion: qkvm.dev/v1
kind: VM
metadata: {name: cold-1, labels: {app: cold}}
spec:
  accel: tcg
  memory: 32MiB
  node: hv1
  disks: [{disk: cold-1-root, boot: 1}, {disk: cold-1-data}, {disk: cold-1-shared}]
EOF
    fq apply -f "$M" --yes
    expect "cold: a VM on a pool of each node's own starts on hv1" 0 "hv1: vm/cold-1: started"
    # what the guest wrote: a pattern in its data volume, read back after
    head -c 1048576 /dev/urandom >"$FL/pattern"
    if ! FV 1 vol-upload --pool local cold-1-data "$FL/pattern" 2>"$FL/upload.err"; then
        fail "cold: the data volume takes a pattern on hv1" "$(cat "$FL/upload.err")"
        return
    fi
    sed -i 's/^  node: hv1$/  node: hv3/' "$M/cold.yaml"
    fq plan -f "$M"
    expect "cold: a new pin moves it, cold (the pool is not shared, the Policy allows it)" 0 \
        "→ +vm/cold-1 on hv1 +migrate: hv1 → hv3 \(cold: stopped, its volumes copied, started there\)"
    fq apply -f "$M" --yes --shutdown-timeout 1
    expect "cold: apply stops it, copies the two local volumes to hv3, starts it there" 0 \
        "hv1: vm/cold-1: stopping it for a cold move to hv3" \
        "hv1: vm/cold-1: volume cold-1-root copied to hv3" \
        "hv1: vm/cold-1: volume cold-1-data copied to hv3" \
        "hv1: vm/cold-1: the old copy of volume cold-1-data is kept here \(protect: true\)" \
        "hv1: vm/cold-1: migrated"
    holds "cold: the volume on the shared pool is not copied (hv3 sees the same file)" \
        '! printf "%s\n" "$out" | grep -q "cold-1-shared copied" && [ -f "$FL/shared/cold-1-shared" ]'
    holds "cold: cold-1 runs on hv3 and is no longer defined on hv1" \
        'FV 3 domstate cold-1 | grep -q running && ! FV 1 dominfo cold-1 >/dev/null 2>&1'
    holds "cold: hv3's copy of the data volume holds what hv1's did" \
        'FV 3 vol-download --pool local cold-1-data "$FL/after" && cmp -s -n 1048576 "$FL/pattern" "$FL/after"'
    holds "cold: hv3's root volume is a qcow2 of 4 MiB, as on hv1" \
        'FV 3 vol-dumpxml --pool local cold-1-root | grep -q "<format type=.qcow2./>" && FV 3 vol-info --pool local cold-1-root --bytes | grep -q "Capacity: *4194304 bytes"'
    local u1 u3
    u1=$(tools/testbed uri "fl1$$") u3=$(tools/testbed uri "fl3$$")
    holds "cold: hv1's copy of the root volume is deleted with its record; the protected one is kept, recorded" \
        '! FV 1 vol-info --pool local cold-1-root >/dev/null 2>&1 && FV 1 vol-info --pool local cold-1-data >/dev/null && [ "$(sqlite3 "$FL/state.db" "SELECT group_concat(volume) FROM (SELECT volume FROM owned WHERE volume IN ('"'cold-1-root'"', '"'cold-1-data'"') AND node = '"'$u3'"' ORDER BY volume)")" = cold-1-data,cold-1-root ] && [ "$(sqlite3 "$FL/state.db" "SELECT group_concat(volume) FROM owned WHERE volume IN ('"'cold-1-root'"', '"'cold-1-data'"') AND node = '"'$u1'"'")" = cold-1-data ]'
    fq plan -f "$M" --detailed-exitcode
    expect "cold: plan again → no changes" 0 "No changes"
    # refused before the guest is stopped: hv2 has a volume of that name
    FV 2 vol-create-as local cold-1-data 1M >/dev/null
    sed -i 's/^  node: hv3$/  node: hv2/' "$M/cold.yaml"
    fq apply -f "$M" --yes --shutdown-timeout 1
    expect "cold: a volume of the same name on the target: refused, named (exit 1)" 1 \
        "migrate FAILED: hv2 already has a volume cold-1-data in pool local .*: it is not overwritten"
    holds "cold: ... cold-1 still runs on hv3, hv2's volume is untouched, nothing was copied" \
        'FV 3 domstate cold-1 | grep -q running && ! FV 2 dominfo cold-1 >/dev/null 2>&1 && FV 2 vol-info --pool local cold-1-data --bytes | grep -q "Capacity: *1048576 bytes" && ! FV 2 vol-info --pool local cold-1-root >/dev/null 2>&1'
    FV 2 vol-delete --pool local cold-1-data >/dev/null
    sed -i 's/^  node: hv2$/  node: hv3/' "$M/cold.yaml"
    fq plan -f "$M" --detailed-exitcode
    expect "cold: pinned back to hv3 → no changes" 0 "No changes"
}
