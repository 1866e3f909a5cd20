# tests/import.sh — `qkvm import` against objects made by hand with virsh
# (sourced by tests/integration.sh, which gives it a node of its own:
# $IT_URI).
#
# A pool with a qcow2 and a raw volume, an isolated network with a DHCP
# range and a host entry, a running domain on both volumes (virtio and
# sata) and the network, and a stopped one: imported, written to a
# directory, adopted with `apply --adopt`; nothing is re-created (UUIDs,
# MACs and the running domain's id are unchanged) and the next plan has
# nothing to do. Then what must be refused: an object qkvm manages (its
# project is named), a domain whose disk is a file outside any pool; and
# --all on a host that another project shares skips that project's objects
# with warnings.

# qo FILE ARGS...: run qkvm on the test node; stdout in FILE, stderr in $err,
# exit code in $rc (the import's manifests must not mix with its warnings)
qo() {
    local file=$1
    shift
    rc=0
    $WRAP "$QKVM" -c "$IT_URI" --state "$IT_STATE" "$@" >"$file" 2>"$TESTTMP/im/stderr" || rc=$?
    err=$(cat "$TESTTMP/im/stderr")
}

said() {   # PATTERN...: the last qo's stderr matches every pattern
    for pat in "$@"; do
        printf '%s\n' "$err" | grep -qE -- "$pat" || return 1
    done
}

has() {   # NAME FILE PATTERN...: FILE matches every pattern
    local name=$1 file=$2
    shift 2
    for pat in "$@"; do
        if ! grep -qE -- "$pat" "$file"; then
            fail "$name" "lacks /$pat/: $(cat "$file")"
            return
        fi
    done
    pass "$name"
}

im_define() {
    local P="$TESTTMP/im/pool"
    mkdir -p "$P"
    V pool-define-as im-pool dir --target "$P" >/dev/null && V pool-start im-pool >/dev/null
    V vol-create-as im-pool im-root 16M --format qcow2 >/dev/null
    V vol-create-as im-pool im-data 8M --format raw >/dev/null
    V vol-create-as im-pool im-spare 8M --format qcow2 >/dev/null
    V net-define /dev/stdin >/dev/null <<'EOF'
<network><name>im-net</name>
  <ip address='10.83.0.1' prefix='24'><dhcp><range start='10.83.0.100' end='10.83.0.199'/>
    <host mac='52:54:00:83:00:01' name='im-run' ip='10.83.0.10'/></dhcp></ip></network>
EOF
    V net-start im-net >/dev/null && V net-autostart im-net >/dev/null
    V define /dev/stdin >/dev/null <<'EOF'
<domain type='qemu'><name>im-run</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>
  <os><type arch='x86_64'>hvm</type></os>
  <devices>
    <disk type='volume' device='disk'><driver name='qemu' type='qcow2'/>
      <source pool='im-pool' volume='im-root'/><target dev='vda' bus='virtio'/></disk>
    <disk type='volume' device='disk'><driver name='qemu' type='raw'/>
      <source pool='im-pool' volume='im-data'/><target dev='sda' bus='sata'/></disk>
    <interface type='network'><mac address='52:54:00:83:00:01'/><source network='im-net'/>
      <model type='virtio'/></interface>
  </devices></domain>
EOF
    V start im-run >/dev/null
    V define /dev/stdin >/dev/null <<'EOF'
<domain type='qemu'><name>im-stop</name><memory unit='MiB'>96</memory>
  <currentMemory unit='MiB'>64</currentMemory><vcpu current='1'>2</vcpu>
  <os><type arch='x86_64'>hvm</type></os>
  <devices>
    <disk type='volume' device='disk'><driver name='qemu' type='qcow2'/>
      <source pool='im-pool' volume='im-spare'/><target dev='vda' bus='virtio'/>
      <boot order='1'/></disk>
    <interface type='network'><mac address='52:54:00:83:00:02'/><source network='im-net'/>
      <model type='e1000'/></interface>
    <serial type='pty'/><console type='pty'/>
  </devices></domain>
EOF
}

im_beta() {   # DIR: a small project of its own, applied with the same state database
    local dir=$1
    mkdir -p "$dir"
    cat >"$dir/beta.yaml" <<EOF
apiVersion: qkvm.dev/v1
kind: Project
metadata: {name: beta}
---
apiVersion: qkvm.dev/v1
kind: Network
metadata: {name: im-bnet}
spec: {mode: isolated, cidr: 10.84.0.0/24}
---
apiVersion: qkvm.dev/v1
kind: Pool
metadata: {name: im-bpool}
spec: {path: $TESTTMP/im/bpool}
---
apiVersion: qkvm.dev/v1
kind: Disk
metadata: {name: im-broot}
spec: {pool: im-bpool, size: 8MiB}
---
apiVersion: qkvm.dev/v1
kind: VM
metadata: {name: im-bvm}
spec: {memory: 64MiB, accel: tcg, state: stopped, disks: [{disk: im-broot}], nics: [{network: im-bnet}]}
EOF
}

im_cases() {
    IT_STATE="$TESTTMP/im/state.db"
    local D="$TESTTMP/im/m" B="$TESTTMP/im/beta"
    mkdir -p "$D"
    im_define

    # --- the running domain: it brings its volumes, their pool and its network
    qo "$D/run.yaml" import vm im-run
    if [ "$rc" -ne 0 ]; then
        fail "import vm: exit 0" "exit $rc: $err"
    else
        pass "import vm: exit 0"
    fi
    has "import vm: the VM, both volumes, their pool, its network" "$D/run.yaml" \
        "^kind: Network" "^  name: im-net" "^kind: Pool" "^  path: $TESTTMP/im/pool\$" \
        "^  name: im-root" "^  name: im-data" "^kind: VM"
    has "import vm: every value written out" "$D/run.yaml" \
        "^  state: running" "^  memory: 64MiB" "^  accel: tcg" "^  - disk: im-data" \
        "^    bus: sata" "^    mac: '?52:54:00:83:00:01'?$" "^    ip: 10.83.0.10" "^  format: raw" \
        "^  mode: isolated" "^  cidr: 10.83.0.0/24" "^    start: 10.83.0.100" \
        "^  bridge: " "^  machine: pc-"
    holds "import vm: the output renders as it is (render's own form)" \
        '"$QKVM" render -f "$D/run.yaml" 2>/dev/null | cmp -s - "$D/run.yaml"'
    qo "$TESTTMP/im/run.json" import vm im-run -o json
    if ! command -v python3 >/dev/null; then
        skip "import -o json" "python3 is not installed (tools/install-deps test installs it)"
    else
        holds "import -o json: a JSON array of the same objects" \
            '[ "$rc" -eq 0 ] && python3 -c "import json,sys; d=json.load(open(sys.argv[1])); assert [o[\"kind\"] for o in d] == [\"Network\", \"Pool\", \"Disk\", \"Disk\", \"VM\"]" "$TESTTMP/im/run.json"'
    fi

    # --- the stopped one, beside the manifests written: only what they lack
    qo "$D/stop.yaml" import vm im-stop -f "$D"
    if [ "$rc" -eq 0 ] && ! grep -qE "^kind: (Network|Pool)" "$D/stop.yaml"; then
        pass "import vm -f: what the manifests declare is not printed again"
    else
        fail "import vm -f: what the manifests declare is not printed again" "exit $rc: $err $(cat "$D/stop.yaml")"
    fi
    has "import vm: a stopped domain" "$D/stop.yaml" "^  state: stopped" "^  cpus: 1" \
        "^  maxCpus: 2" "^  maxMemory: 96MiB" "^    model: e1000" "^    boot: 1" \
        "^  console: serial" "^  name: im-spare"

    # --- adopted: nothing re-created, nothing restarted, and nothing left to do
    local uuids macs id
    uuids="$(V domuuid im-run) $(V domuuid im-stop) $(V net-uuid im-net) $(V pool-uuid im-pool)"
    macs="$(V domiflist im-run | awk '{print $5}') $(V domiflist im-stop | awk '{print $5}')"
    id=$(V domid im-run)
    holds "before the adoption: four UUIDs, two MACs and a domain id read" \
        '[ "$(echo $uuids | wc -w)" -eq 4 ] && [ "$(echo $macs | wc -w)" -eq 2 ] && [ "$id" -gt 0 ]'
    q apply -f "$D" --adopt --yes
    expect "apply --adopt takes the imports over" 0 "vm/im-run: adopted" "vm/im-stop: adopted" \
        "network/im-net: adopted" "pool/im-pool: adopted" "disk/im-data: adopted"
    if printf '%s\n' "$out" | grep -qE "(created|replaced|updated|started|stopped|deleted)$"; then
        fail "apply --adopt only adopts" "$out"
    else
        pass "apply --adopt only adopts"
    fi
    holds "adopted: UUIDs unchanged" \
        '[ "$uuids" = "$(V domuuid im-run) $(V domuuid im-stop) $(V net-uuid im-net) $(V pool-uuid im-pool)" ]'
    holds "adopted: MACs unchanged" \
        '[ "$macs" = "$(V domiflist im-run | awk "{print \$5}") $(V domiflist im-stop | awk "{print \$5}")" ]'
    holds "adopted: the running domain was not restarted (same id)" '[ "$(V domid im-run)" = "$id" ]'
    holds "adopted: the running domain's live definition carries the mark" \
        'V dumpxml im-run | grep -q "project=\"default\" kind=\"VM\" name=\"im-run\""'
    holds "adopted: the static lease is kept" 'V net-dumpxml im-net | grep -q "ip=.10.83.0.10."'
    no_changes "import, then apply --adopt" "$D"

    # --- refused: what qkvm manages, named with its project
    qo "$TESTTMP/im/out" import vm im-run
    holds "import of a managed domain: exit 1, names its project" \
        '[ "$rc" -eq 1 ] && [ ! -s "$TESTTMP/im/out" ] && said "error: vm/im-run belongs to project .default.\$"'
    qo "$TESTTMP/im/out" import disk im-pool/im-root
    holds "import of a managed volume: names its project" \
        '[ "$rc" -eq 1 ] && said "error: disk/im-pool/im-root belongs to project .default."'

    # --- refused: a disk that is a plain file outside any pool
    truncate -s 16M "$TESTTMP/im/loose.img"
    V define /dev/stdin >/dev/null <<EOF
<domain type='qemu'><name>im-loose</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>
  <os><type arch='x86_64'>hvm</type></os>
  <devices><disk type='file' device='disk'><driver name='qemu' type='raw'/>
    <source file='$TESTTMP/im/loose.img'/><target dev='vda' bus='virtio'/></disk></devices></domain>
EOF
    qo "$TESTTMP/im/out" import vm im-loose
    holds "import of a domain whose disk is a file outside any pool: refused, saying why" \
        '[ "$rc" -eq 1 ] && [ ! -s "$TESTTMP/im/out" ] && said "error: vm/im-loose cannot be imported: its disk .vda. is the file .$TESTTMP/im/loose.img., outside any storage pool"'

    # --- --all on a host another project shares: its objects are skipped
    im_beta "$B"
    q apply -f "$B" --yes
    expect "project beta applies beside them" 0 "vm/im-bvm: created"
    V net-define /dev/stdin >/dev/null <<'EOF'
<network><name>im-free</name><ip address='10.85.0.1' prefix='24'/></network>
EOF
    qo "$TESTTMP/im/all.yaml" import --all
    holds "import --all: exit 0" '[ "$rc" -eq 0 ]'
    holds "import --all: another project's objects skipped with warnings" \
        'said "warning: vm/im-bvm belongs to project .beta.; skipped" "warning: network/im-bnet belongs to project .beta.; skipped" "warning: pool/im-bpool belongs to project .beta.; skipped" "warning: disk/im-bpool/im-broot belongs to project .beta.; skipped"'
    holds "import --all: the adopted objects skipped too" \
        'said "warning: vm/im-run belongs to project .default.; skipped"'
    holds "import --all: what cannot be expressed is a warning" \
        'said "warning: vm/im-loose cannot be imported: its disk"'
    has "import --all: what no project owns is imported" "$TESTTMP/im/all.yaml" "^  name: im-free"
    if grep -qE "name: im-(b|run|stop|loose)" "$TESTTMP/im/all.yaml"; then
        fail "import --all: nothing owned or refused is printed" "$(cat "$TESTTMP/im/all.yaml")"
    else
        pass "import --all: nothing owned or refused is printed"
    fi
}
