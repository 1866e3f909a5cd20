# tests/integration.sh — qkvm against a real libvirtd running real QEMU
# guests (sourced by tests/run).
#
# tools/testbed starts a private libvirtd (QEMU driver) in its own mount and
# network namespace; the guests are tiny (64 MiB, no OS, TCG), their disks
# qcow2 volumes in a dir pool under the test's temporary directory, their
# networks isolated. The node is stopped at the end, by PID.
#
# This suite needs root (a private libvirtd). It is never skipped silently:
# without root it fails, unless QKVM_SKIP_LIBVIRT=1 asks to skip it, which
# prints why. CI runs it as root.
if [ -z "${passed+x}" ]; then . "$(dirname "${BASH_SOURCE[0]}")/lib.sh"; fi
. "$(dirname "${BASH_SOURCE[0]}")/state.sh"
. "$(dirname "${BASH_SOURCE[0]}")/projects.sh"
. "$(dirname "${BASH_SOURCE[0]}")/live.sh"
. "$(dirname "${BASH_SOURCE[0]}")/robust.sh"
. "$(dirname "${BASH_SOURCE[0]}")/import.sh"
. "$(dirname "${BASH_SOURCE[0]}")/images.sh"
. "$(dirname "${BASH_SOURCE[0]}")/fleet.sh"
. "$(dirname "${BASH_SOURCE[0]}")/controller.sh"
. "$(dirname "${BASH_SOURCE[0]}")/failover.sh"

it_run() {
    local node="it$$"
    if [ -n "${QKVM_SKIP_LIBVIRT:-}" ]; then
        skip "real libvirtd suite" "QKVM_SKIP_LIBVIRT is set"
        return
    fi
    if [ "$(id -u)" -ne 0 ]; then
        fail "real libvirtd suite" "needs root to start a private libvirtd (or set QKVM_SKIP_LIBVIRT=1 to skip it)"
        return
    fi
    local U
    if ! U=$(tools/testbed start "$node" 2>"$TESTTMP/testbed.err"); then
        fail "testbed: a private libvirtd starts" "$(cat "$TESTTMP/testbed.err")"
        return
    fi
    pass "testbed: a private libvirtd starts"
    trap 'tools/testbed stop "'"$node"'" >/dev/null 2>&1; rm -rf "$TESTTMP"' EXIT
    IT_URI=$U
    IT_NODE=$node
    it_cases
    tools/testbed stop "$node"
    # each group below on a node of its own (an empty host)
    on_node st "the state store" st_cases || return
    on_node pj "projects sharing a host, ownership proof, deletion guards" pj_cases || return
    on_node lv "live changes, power states and restarts on a running guest" lv_cases || return
    on_node rn "a VM renamed on its own disks" lv_rename || return
    on_node ou "what an apply prints, and Ctrl-C" lv_output || return
    on_node im "import" im_cases || return
    on_node ig "images, cloud-init seeds and a real guest OS" ig_cases || return
    on_node ct "the controller (qkvm run)" ct_cases || return
    # when libvirt goes away: the node whose daemon these cases kill
    on_node rb "a daemon that dies or hangs" rb_cases || return
    # several nodes in one run
    fl_run || return
    # node failure, fencing and failover by the controller
    fo_run || return
}

# on_node PREFIX WHAT CASES: start a private node, run CASES on it, stop it.
on_node() {
    local node="$1$$" U
    if ! U=$(tools/testbed start "$node" 2>"$TESTTMP/testbed.err"); then
        fail "testbed: a private libvirtd starts for $2" "$(cat "$TESTTMP/testbed.err")"
        return 1
    fi
    trap 'tools/testbed stop "'"$node"'" >/dev/null 2>&1; rm -rf "$TESTTMP"' EXIT
    IT_URI=$U
    IT_NODE=$node
    "$3"
    tools/testbed stop "$node" >/dev/null
}

V() { virsh -q -c "$IT_URI" "$@"; }

# q ARGS...: run qkvm on the test node with the test's state; output in $out, code in $rc
q() {
    rc=0
    out=$($WRAP "$QKVM" -c "$IT_URI" --state "$IT_STATE" "$@" 2>&1) || rc=$?
}

expect() {   # NAME CODE [GREP-PATTERN...]: the last q's exit code and output
    local name=$1 code=$2
    shift 2
    if [ "$rc" -ne "$code" ]; then
        fail "$name" "exit $rc, expected $code: $out"
        return
    fi
    for pat in "$@"; do
        if ! printf '%s\n' "$out" | grep -qE -- "$pat"; then
            fail "$name" "output lacks /$pat/: $out"
            return
        fi
    done
    pass "$name"
}

no_changes() {   # NAME DIR: plan after apply says nothing is left to do
    q plan -f "$2" --detailed-exitcode
    expect "$1: plan again → no changes" 0 "No changes"
}

holds() {   # NAME COMMAND...: a shell condition
    local name=$1
    shift
    if eval "$*"; then pass "$name"; else fail "$name" "not true: $*"; fi
}

# The test manifests: network, pool in the temp dir, two disks, one VM.
it_write() {
    local dir=$1 vm_extra=${2:-}
    mkdir -p "$dir"
    cat >"$dir/net.yaml" <<EOF
apiVersion: qkvm.dev/v1
kind: Network
metadata: {name: it-net}
spec: {mode: isolated, cidr: 10.79.0.0/24, dhcp: {start: 10.79.0.100, end: 10.79.0.199}}
---
apiVersion: qkvm.dev/v1
kind: Pool
metadata: {name: it-pool}
spec: {type: dir, path: $IT_POOL}
---
apiVersion: qkvm.dev/v1
kind: Disk
metadata: {name: it-1-root}
spec: {pool: it-pool, size: 16MiB}
---
apiVersion: qkvm.dev/v1
kind: Disk
metadata: {name: it-1-data}
spec: {pool: it-pool, size: 8MiB, protect: true}
EOF
    cat >"$dir/vm.yaml" <<EOF
apiVersion: qkvm.dev/v1
kind: VM
metadata: {name: it-1}
spec:
  cpus: 1
  maxCpus: 2
  memory: 64MiB
  maxMemory: 96MiB
  accel: tcg
  disks: [{disk: it-1-root, boot: 1}]
  nics: [{network: it-net, ip: 10.79.0.10}]
$vm_extra
EOF
}

it_cases() {
    IT_STATE="$TESTTMP/it/state.db"
    IT_POOL="$TESTTMP/it/pool"
    local M="$TESTTMP/it/m"
    it_write "$M"

    # --- bad input never touches the host
    q plan -f "$M" -c "qemu+unix:///system?socket=$TESTTMP/nowhere"
    expect "unreachable URI: clear error, exit 1" 1 "cannot connect"
    printf 'apiVersion: qkvm.dev/v1\nkind: VM\nmetadata: {name: bad}\nspec: {memory: lots}\n' >"$TESTTMP/it-bad.yaml"
    q apply -f "$M" -f "$TESTTMP/it-bad.yaml" --yes
    expect "invalid manifests: exit 3, nothing applied" 3 "it-bad.yaml:4:" "nothing was changed"
    holds "invalid manifests: the host is untouched" '[ -z "$(V list --all --name)" ] && [ -z "$(V net-list --all --name)" ]'
    q apply -f "$M" </dev/null
    expect "apply without --yes on a pipe: refused" 1 "pass --yes"
    holds "refused apply: the host is untouched" '[ -z "$(V list --all --name)" ]'

    # --- from nothing
    q plan -f "$M" --detailed-exitcode
    expect "plan on an empty host: exit 2 with the creations" 2 "\+ +pool/it-pool" "\+ +vm/it-1" "5 to create"
    q apply -f "$M" --yes
    expect "apply from nothing" 0 "pool/it-pool: created" "network/it-net: created" \
        "disk/it-1-root: created" "vm/it-1: created" "vm/it-1: started"
    holds "the guest runs" '[ "$(V domstate it-1)" = running ]'
    holds "its disk is a qcow2 volume in the pool" 'qemu-img info -U "$IT_POOL/it-1-root" | grep -q "file format: qcow2"'
    holds "its MAC is derived and its lease declared" 'V net-dumpxml it-net | grep -q "ip=.10.79.0.10"'
    holds "the domain carries the qkvm mark" 'V dumpxml it-1 | grep -q "qkvm:resource.*kind=\"VM\""'
    holds "the pool is recorded in the state database" '[ "$(sqlite3 "$IT_STATE" "SELECT count(*) FROM owned WHERE length(volume) = 0")" = 1 ]'
    no_changes "apply from nothing" "$M"
    local mac
    mac=$(V domiflist it-1 | awk '{print $5}')

    # --- drift made by hand, reported and healed
    V destroy it-1 >/dev/null
    V setmaxmem it-1 128M --config >/dev/null
    touch "$IT_POOL/stray.img"
    q drift -f "$M"
    expect "drift: stopped, changed field, orphan file; exit 2" 2 \
        "changed +VM +it-1 +maxMemory: 128MiB, declared 96MiB" "stopped +VM +it-1" "orphan-file .*stray.img"
    q drift -f "$M" -o json
    expect "drift -o json" 2 '"kind": "DriftReport"' '"category": "changed"' '"field": "spec.maxMemory"'
    q apply -f "$M" --yes
    expect "apply heals the drift" 0 "vm/it-1: updated" "vm/it-1: started"
    holds "healed: running again" '[ "$(V domstate it-1)" = running ]'
    holds "healed: maxMemory back to 96MiB" 'V dominfo it-1 | grep -q "Max memory: *98304 KiB"'
    holds "the MAC never changes" '[ "$(V domiflist it-1 | awk "{print \$5}")" = "$mac" ]'
    holds "the orphan file is reported, never deleted" '[ -f "$IT_POOL/stray.img" ]'
    rm -f "$IT_POOL/stray.img"
    no_changes "heal" "$M"

    # --- in place on the running guest: vCPU, hot-plug disk and NIC, disk growth
    it_write "$M" "  state: running"
    sed -i 's/  cpus: 1/  cpus: 2/; s/disks: \[{disk: it-1-root, boot: 1}\]/disks: [{disk: it-1-root, boot: 1}, {disk: it-1-data}]/' "$M/vm.yaml"
    sed -i 's/nics: \[{network: it-net, ip: 10.79.0.10}\]/nics: [{network: it-net, ip: 10.79.0.10}, {network: it-net}]/' "$M/vm.yaml"
    sed -i 's/size: 16MiB/size: 32MiB/' "$M/net.yaml"
    q plan -f "$M"
    expect "plan: live changes named as such" 0 "cpus: 1 → 2 \(live\)" "disks\[it-1-data\]: \+ it-1-data" \
        "size: 16MiB → 32MiB \(live\)"
    local id_before
    id_before=$(V domid it-1)
    q apply -f "$M" --yes
    expect "apply in place" 0 "vm/it-1: updated" "disk/it-1-root: updated"
    holds "still the same running guest (not restarted)" '[ "$(V domstate it-1)" = running ] && [ "$(V domid it-1)" = "$id_before" ]'
    holds "2 live vCPUs" '[ "$(V vcpucount it-1 --live --active)" = 2 ]'
    holds "the data disk is hot-plugged" 'V domblklist it-1 | grep -q it-1-data'
    holds "a second NIC is hot-plugged" '[ "$(V domiflist it-1 | wc -l)" -ge 2 ]'
    holds "the root disk grew to 32MiB (block resize of the attached disk)" 'qemu-img info -U "$IT_POOL/it-1-root" | grep -q "virtual size: 32 MiB"'
    no_changes "in place" "$M"

    # --- power state
    sed -i 's/  state: running/  state: stopped/' "$M/vm.yaml"
    q apply -f "$M" --yes --shutdown-timeout 1
    expect "state: stopped → graceful shutdown, then destroy" 0 "vm/it-1: stopped"
    holds "the guest is shut off" '[ "$(V domstate it-1)" = "shut off" ]'
    no_changes "stop" "$M"
    sed -i 's/  state: stopped/  state: running/' "$M/vm.yaml"
    q apply -f "$M" --yes
    expect "state: running → started" 0 "vm/it-1: started"
    no_changes "start" "$M"

    # --- conflicts and adoption: objects qkvm did not create are left alone
    cat >"$TESTTMP/it/hand.xml" <<EOF
<domain type='qemu'><name>it-hand</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>
<os><type arch='x86_64'>hvm</type></os></domain>
EOF
    V define "$TESTTMP/it/hand.xml" >/dev/null
    V dumpxml it-hand >"$TESTTMP/it/hand.before"
    cat >"$M/hand.yaml" <<'EOF'
apiVersion: qkvm.dev/v1
kind: VM
metadata: {name: it-hand}
spec: {memory: 96MiB, accel: tcg, state: stopped}
EOF
    q plan -f "$M" --detailed-exitcode
    expect "a same-named unmanaged domain is a conflict" 2 "vm/it-hand +conflict"
    q apply -f "$M" --yes
    expect "apply leaves the conflict alone, and says it could not apply it: exit 1" 1 "conflict" \
        "1 item of the manifests cannot be applied"
    q apply -f "$M" --yes -q
    expect "apply -q still prints the conflict" 1 "qkvm: error: vm/it-hand: conflict: a domain of this name exists"
    V dumpxml it-hand >"$TESTTMP/it/hand.after"
    holds "the unmanaged domain is unchanged" 'cmp -s "$TESTTMP/it/hand.before" "$TESTTMP/it/hand.after"'
    q apply -f "$M" --yes --adopt
    expect "--adopt takes it over" 0 "vm/it-hand: adopted"
    holds "adopted: marked, memory as declared" 'V dumpxml it-hand | grep -q qkvm:resource && V dominfo it-hand | grep -q "Max memory: *98304 KiB"'
    no_changes "adopt" "$M"

    # --- orphans are reported, never touched, even with --prune
    V net-define /dev/stdin >/dev/null <<'EOF'
<network><name>it-orphan</name><ip address='10.80.0.1' prefix='24'/></network>
EOF
    q drift -f "$M"
    expect "an unmanaged network is an orphan" 2 "orphan +Network +it-orphan"
    q apply -f "$M" --yes --prune --shutdown-timeout 1
    holds "--prune never deletes an orphan" 'V net-info it-orphan >/dev/null 2>&1'
    V net-undefine it-orphan >/dev/null

    # --- coherence: a domain whose disk file is gone, a qemu no domain accounts for
    cat >"$TESTTMP/it/gone.xml" <<EOF
<domain type='qemu'><name>it-gone</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>
<os><type arch='x86_64'>hvm</type></os><devices><disk type='file' device='disk'>
<driver name='qemu' type='qcow2'/><source file='$TESTTMP/it/gone.qcow2'/><target dev='vda' bus='virtio'/>
</disk></devices></domain>
EOF
    V define "$TESTTMP/it/gone.xml" >/dev/null
    # a qemu started by hand in the node's namespaces, ended below by its PID
    nsenter -t "$(cat "${QKVM_TESTBED:-/tmp/qkvm-testbed}/$IT_NODE/libvirtd.pid")" -n -m \
        qemu-system-x86_64 -name guest=it-ghost -uuid 6a1b2c3d-0000-4000-8000-000000000001 \
        -machine none -nodefaults -display none -S </dev/null >/dev/null 2>&1 &
    local ghost=$!
    sleep 0.3
    q drift -f "$M"
    expect "drift: a missing disk file and a stray qemu process" 2 \
        "disk-missing +VM +it-gone .*gone.qcow2 does not exist" "orphan +VM +it-gone" \
        "stray-process +Process +$ghost +qemu process of guest it-ghost"
    kill "$ghost" 2>/dev/null
    wait "$ghost" 2>/dev/null
    V undefine it-gone >/dev/null

    # --- a libvirt failure mid-apply: independent resources applied, nothing lost
    echo "precious" >"$IT_POOL/it-2-root"
    cat >"$M/more.yaml" <<'EOF'
apiVersion: qkvm.dev/v1
kind: Disk
metadata: {name: it-2-root}
spec: {pool: it-pool, size: 16MiB}
---
apiVersion: qkvm.dev/v1
kind: VM
metadata: {name: it-2}
spec: {memory: 64MiB, accel: tcg, disks: [{disk: it-2-root}], nics: [{network: it-net2}]}
---
apiVersion: qkvm.dev/v1
kind: Network
metadata: {name: it-net2}
spec: {mode: isolated, cidr: 10.81.0.0/24}
---
apiVersion: qkvm.dev/v1
kind: VM
metadata: {name: it-3}
spec: {memory: 64MiB, accel: tcg, nics: [{network: it-net2}]}
EOF
    q apply -f "$M" --yes
    expect "a volume that cannot be created: exit 1, named with libvirt's message" 1 \
        "create disk/it-2-root: cannot create volume: .*exists" "vm/it-2: .*skipped: needs disk/it-2-root"
    holds "independent resources were applied" 'V net-info it-net2 >/dev/null && [ "$(V domstate it-3)" = running ]'
    holds "the dependent VM was not created" '! V dominfo it-2 >/dev/null 2>&1'
    holds "nothing lost: the file in the way is intact" '[ "$(cat "$IT_POOL/it-2-root")" = precious ]'
    holds "nothing deleted: it-1 still runs" '[ "$(V domstate it-1)" = running ]'
    rm -f "$IT_POOL/it-2-root"
    q apply -f "$M" --yes
    expect "once the way is clear, apply converges" 0 "disk/it-2-root: created" "vm/it-2: started"
    no_changes "after a failure" "$M"

    # --- prune: stale objects go only with --prune; protect: true never
    rm "$M/more.yaml"
    sed -i '/^---$/,$d' "$M/net.yaml"   # only the network stays declared
    rm "$M/vm.yaml" "$M/hand.yaml"
    cat >>"$M/net.yaml" <<EOF
---
apiVersion: qkvm.dev/v1
kind: Pool
metadata: {name: it-pool}
spec: {type: dir, path: $IT_POOL}
EOF
    mkdir -p "$TESTTMP/it/empty"
    q plan -f "$TESTTMP/it/empty" --prune --detailed-exitcode
    expect "an empty manifest directory with --prune plans no deletion" 0 "an empty manifest set never prunes"
    q apply -f "$M" --yes
    expect "without --prune, stale objects stay" 0 "'apply --prune' deletes it"
    holds "stale VMs still defined" 'V dominfo it-1 >/dev/null && V dominfo it-2 >/dev/null'
    q apply -f "$M" --yes --prune --shutdown-timeout 1
    expect "--prune deletes what qkvm created and is no longer declared" 0 \
        "vm/it-1: deleted" "vm/it-2: deleted" "vm/it-hand: deleted" "disk/it-1-root: deleted" \
        "network/it-net2: deleted" "protect: true"
    holds "pruned domains are gone" '[ -z "$(V list --all --name)" ]'
    holds "the protected disk survives --prune" '[ -f "$IT_POOL/it-1-data" ] && V vol-info --pool it-pool it-1-data >/dev/null'
    no_changes "prune" "$M"

    # --- the minimal example, end to end, then cleaned up
    local EX="$TESTTMP/it/example"
    mkdir -p "$EX"
    cp examples/minimal/*.yaml "$EX/"
    sed -i "s#path: /var/lib/qkvm/pools/min-pool#path: $TESTTMP/it/min-pool#" "$EX/storage.yaml"
    if [ ! -e /dev/kvm ]; then
        echo "note: no /dev/kvm here: examples/minimal runs with accel: tcg in this test"
        printf '  accel: tcg\n' >>"$EX/vm.yaml"
    fi
    q apply -f "$EX" --yes
    expect "examples/minimal applies" 0 "vm/min-vm-1: started"
    no_changes "examples/minimal" "$EX"
}

it_run
