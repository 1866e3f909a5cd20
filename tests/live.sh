# tests/live.sh — what plan calls live is done live on a real running
# guest, power states are exact, a definition edited by hand is healed, and
# restarts happen only when asked (sourced by tests/integration.sh, on a
# node of its own: $IT_URI).
#
# Every change class diff.c classifies as live (DIFF_LIVE) is applied here to
# a running QEMU guest, and the apply must succeed and the next plan be
# empty (or, for an unplug a guest without an OS never completes, a pending
# restart, never a change asked again).

lv_write() {   # DIR [VM SPEC LINES...]
    local dir=$1
    shift
    mkdir -p "$dir"
    cat >"$dir/base.yaml" <<EOF
apiVersion: qkvm.dev/v1
kind: Network
metadata: {name: lv-net}
spec: {mode: isolated, cidr: 10.95.0.0/24, dhcp: {start: 10.95.0.100, end: 10.95.0.199}, autostart: ${LV_AUTOSTART:-true}}
---
apiVersion: qkvm.dev/v1
kind: Pool
metadata: {name: lv-pool}
spec: {path: $TESTTMP/lv/pool}
---
apiVersion: qkvm.dev/v1
kind: Disk
metadata: {name: lv-root}
spec: {pool: lv-pool, size: ${LV_ROOT:-16MiB}}
---
apiVersion: qkvm.dev/v1
kind: Disk
metadata: {name: lv-data}
spec: {pool: lv-pool, size: 8MiB}
EOF
    {
        printf 'apiVersion: qkvm.dev/v1\nkind: VM\nmetadata: {name: lv-1, labels: {app: lv}}\nspec:\n'
        printf '  accel: tcg\n  maxCpus: 3\n  maxMemory: 128MiB\n'
        for l in "$@"; do printf '  %s\n' "$l"; done
    } >"$dir/vm.yaml"
}

lv_cases() {
    IT_STATE="$TESTTMP/lv/state.db"
    local LV_AUTOSTART=true LV_ROOT=16MiB
    local M="$TESTTMP/lv/m"
    local base=("cpus: 1" "memory: 64MiB" "state: running")
    lv_write "$M" "${base[@]}" "disks: [{disk: lv-root, boot: 1}]" "nics: [{network: lv-net, ip: 10.95.0.10}]"
    q apply -f "$M" --yes
    expect "live: a running guest to change" 0 "vm/lv-1: started"
    local id
    id=$(V domid lv-1)

    # every live class at once: vCPU and memory growth, disk and NIC
    # hot-plug, disk growth, a new DHCP host entry, network autostart
    LV_AUTOSTART=false LV_ROOT=32MiB
    lv_write "$M" "cpus: 2" "memory: 96MiB" "state: running" \
        "disks: [{disk: lv-root, boot: 1}, {disk: lv-data}]" \
        "nics: [{network: lv-net, ip: 10.95.0.10}, {network: lv-net, ip: 10.95.0.11}]"
    q plan -f "$M"
    expect "live: plan names every class live" 0 "cpus: 1 → 2 \(live\)" "memory: .* → 96MiB \(live\)" \
        "disks\[lv-data\]: \+ lv-data .*\(live\)" "nics\[.*\]: \+ .* on lv-net .*\(live\)" \
        "size: 16MiB → 32MiB \(live\)" "dhcp.hosts\[.*\]: \+ 10.95.0.11 \(live\)" "autostart: true → false \(live\)"
    q apply -f "$M" --yes
    expect "live: every class applied to the running guest" 0 "vm/lv-1: updated" "network/lv-net: updated"
    holds "live: the same guest, never restarted" '[ "$(V domid lv-1)" = "$id" ]'
    holds "live: 2 vCPUs" '[ "$(V vcpucount lv-1 --live --active)" = 2 ]'
    # the balloon target is set live; the live figure is what the guest
    # gives back (one without a balloon driver never does), so the declared
    # target is read from the definition
    holds "live: 96 MiB is the memory target" 'V dumpxml --inactive lv-1 | grep -q "<currentMemory unit=.KiB.>98304<"'
    holds "live: two disks" '[ "$(V domblklist lv-1 | grep -c lv-)" = 2 ]'
    holds "live: two NICs" '[ "$(V domiflist lv-1 | grep -c lv-net)" = 2 ]'
    no_changes "live: every class" "$M"

    # the unplugs: sent live; a guest without an OS never releases the
    # device, so what is left is a pending restart, never a change again
    lv_write "$M" "cpus: 2" "memory: 96MiB" "state: running" "disks: [{disk: lv-root, boot: 1}]" \
        "nics: [{network: lv-net, ip: 10.95.0.10}]"
    q apply -f "$M" --yes
    expect "live: disk and NIC unplugs are requested live" 0 "vm/lv-1: updated"
    q plan -f "$M" --detailed-exitcode
    if [ "$rc" -eq 0 ] || printf '%s\n' "$out" | grep -q "restart required: spec.*was unplugged"; then
        pass "live: after the unplugs, nothing is asked again (done, or a pending restart)"
    else
        fail "live: after the unplugs, nothing is asked again (done, or a pending restart)" "$out"
    fi

    # vCPU removal is never planned live (QEMU refuses it without the guest's
    # cooperation); it waits for a restart, and --restart does it
    lv_write "$M" "cpus: 1" "memory: 96MiB" "state: running" "disks: [{disk: lv-root, boot: 1}]" \
        "nics: [{network: lv-net, ip: 10.95.0.10}]"
    q plan -f "$M" --detailed-exitcode
    expect "vCPU removal: restart required, not live" 2 "cpus: 2 → 1 \(restart required\)"
    q apply -f "$M" --yes
    expect "vCPU removal: the definition is written, no failure" 0 "vm/lv-1: updated \(restart required"
    q plan -f "$M" --detailed-exitcode
    expect "a pending restart is not 'No changes': counted, exit 2" 2 \
        "restart required: spec.cpus 2 → 1 is in the definition" "1 VM waits for a restart"
    if printf '%s\n' "$out" | grep -q "No changes"; then fail "pending restart: never 'No changes'" "$out"; else pass "pending restart: never 'No changes'"; fi
    id=$(V domid lv-1)
    q apply -f "$M" --yes --restart --shutdown-timeout 1
    expect "apply --restart restarts it" 0 "vm/lv-1: restarted"
    holds "restarted: a new qemu with 1 vCPU" '[ "$(V domid lv-1)" != "$id" ] && [ "$(V vcpucount lv-1 --live --active)" = 1 ]'
    no_changes "restart" "$M"

    # restart: onChange on a Policy does the same without the flag
    printf 'apiVersion: qkvm.dev/v1\nkind: Policy\nmetadata: {name: lv-restart}\nspec: {selector: {app: lv}, restart: onChange}\n' >"$M/policy.yaml"
    lv_write "$M" "cpus: 1" "memory: 96MiB" "state: running" "disks: [{disk: lv-root, boot: 1, bus: sata}]" \
        "nics: [{network: lv-net, ip: 10.95.0.10}]"
    id=$(V domid lv-1)
    q apply -f "$M" --yes --shutdown-timeout 1
    expect "restart: onChange restarts the VM whose change needs it" 0 "vm/lv-1: restarted"
    holds "onChange: the disk is on the new bus" '[ "$(V domid lv-1)" != "$id" ] && V domblklist lv-1 | grep -q "^ *sda "'
    no_changes "restart: onChange" "$M"
    rm "$M/policy.yaml"

    # a definition edited by hand (virsh ... --config) of a running domain:
    # plan sees it, apply heals it by redefining, no restart
    id=$(V domid lv-1)
    V setmaxmem lv-1 160M --config >/dev/null
    q plan -f "$M" --detailed-exitcode
    expect "a --config edit of a running domain is planned" 2 "maxMemory: 160MiB → 128MiB"
    q apply -f "$M" --yes
    expect "apply heals the definition" 0 "vm/lv-1: updated"
    holds "healed in the definition, the guest not restarted" \
        'V dumpxml --inactive lv-1 | grep -q "<memory unit=.KiB.>131072<" && [ "$(V domid lv-1)" = "$id" ]'
    no_changes "--config edit" "$M"

    # power states: paused by hand is drift, resumed; paused declared
    V suspend lv-1 >/dev/null
    q drift -f "$M"
    expect "a VM declared running and paused by hand is drift, with libvirt's reason" 2 "paused +VM +lv-1 +should run, is paused \(paused by the user\)"
    q apply -f "$M" --yes
    expect "apply resumes it" 0 "vm/lv-1: resumed"
    holds "running again" '[ "$(V domstate lv-1)" = running ]'
    no_changes "resume" "$M"
    lv_write "$M" "cpus: 1" "memory: 96MiB" "state: paused" "disks: [{disk: lv-root, boot: 1, bus: sata}]" \
        "nics: [{network: lv-net, ip: 10.95.0.10}]"
    q apply -f "$M" --yes
    expect "state: paused pauses it" 0 "vm/lv-1: paused"
    holds "paused" '[ "$(V domstate lv-1)" = paused ]'
    no_changes "pause" "$M"
    lv_write "$M" "cpus: 1" "memory: 96MiB" "state: stopped" "disks: [{disk: lv-root, boot: 1, bus: sata}]" \
        "nics: [{network: lv-net, ip: 10.95.0.10}]"
    q apply -f "$M" --yes --shutdown-timeout 1
    expect "state: stopped of a paused VM: resumed, shut down" 0 "vm/lv-1: stopped"
    holds "shut off" '[ "$(V domstate lv-1)" = "shut off" ]'
    lv_write "$M" "cpus: 1" "memory: 96MiB" "state: paused" "disks: [{disk: lv-root, boot: 1, bus: sata}]" \
        "nics: [{network: lv-net, ip: 10.95.0.10}]"
    q apply -f "$M" --yes
    expect "state: paused of a shut off VM: started paused" 0 "vm/lv-1: started"
    holds "paused from the start" '[ "$(V domstate lv-1)" = paused ]'
    no_changes "start paused" "$M"
}

# A VM renamed in the manifests is a delete plus a create on the same disks:
# the old domain must be gone before the new one starts, never both running
# on one disk (QEMU's "Failed to get write lock" is the last line of
# defence, not the plan).
lv_rename() {
    rm -rf "$TESTTMP/lv"             # a node of its own: nothing of lv_cases' left
    IT_STATE="$TESTTMP/lv/state.db"
    local M="$TESTTMP/lv/m" LV_AUTOSTART=true LV_ROOT=16MiB
    lv_write "$M" "cpus: 1" "memory: 96MiB" "state: running" "disks: [{disk: lv-root, boot: 1}]" \
        "nics: [{network: lv-net}]"
    q apply -f "$M" --yes
    expect "rename: lv-1 runs" 0
    local mac
    mac=$(V domiflist lv-1 | awk '/lv-net/ {print $5}')
    sed -i 's/name: lv-1,/name: lv-2,/' "$M/vm.yaml"
    q plan -f "$M" --detailed-exitcode
    expect "rename without --prune: a conflict naming the domain that holds the disk" 2 \
        "vm/lv-2 +conflict: its disk lv-root is held by domain lv-1"
    q apply -f "$M" --yes
    holds "rename without --prune: lv-1 untouched, lv-2 not created" \
        '[ "$(V domstate lv-1)" = running ] && ! V dominfo lv-2 >/dev/null 2>&1'
    q plan -f "$M" --prune
    expect "rename with --prune: the old one first, and the MAC change said" 0 \
        "- +vm/lv-1 +delete: .*stopped and undefined before vm/lv-2 is created" \
        "the MAC of nics\[0\] is derived from the VM's name and changes from $mac"
    q apply -f "$M" --yes --prune --shutdown-timeout 1
    expect "rename with --prune: applied without a disk lock error" 0 "vm/lv-1: deleted" "vm/lv-2: started"
    holds "rename: only lv-2 exists, running on lv-root" \
        '! V dominfo lv-1 >/dev/null 2>&1 && [ "$(V domstate lv-2)" = running ] && V domblklist lv-2 | grep -q lv-root'
    no_changes "rename" "$M"
}

# What a person watching (or a log collecting) an apply sees: the wait of a
# graceful stop announced, every finished action's line written before the
# next starts even into a pipe, and Ctrl-C saying what was done, what was
# not started and that the next apply picks up.
lv_output() {
    rm -rf "$TESTTMP/lv"
    IT_STATE="$TESTTMP/lv/state.db"
    local M="$TESTTMP/lv/m" LV_AUTOSTART=true LV_ROOT=16MiB
    lv_write "$M" "cpus: 1" "memory: 64MiB" "state: running" "disks: [{disk: lv-root, boot: 1}]"
    sed -i 's/metadata: {name: lv-1, labels: {app: lv}}/metadata: {name: lv-1, labels: {app: lv, tier: front}}/' "$M/vm.yaml"
    q apply -f "$M" --yes
    expect "output: a guest to stop" 0 "vm/lv-1: started"
    q get vm lv-1 -o yaml
    expect "get -o yaml keeps the labels and says memory as the spec does" 0 \
        "labels:" "tier: front" "memory: 64MiB"
    q events -o wide
    expect "events -o wide adds the run and the node" 0 "^AGE +TYPE +REASON +OBJECT +RUN +NODE +MESSAGE"
    # the guest has no OS: it ignores the ACPI power button, so the stop
    # waits; a second VM and a network come after it in the plan
    lv_write "$M" "cpus: 1" "memory: 64MiB" "state: stopped" "disks: [{disk: lv-root, boot: 1}]"
    printf 'apiVersion: qkvm.dev/v1\nkind: Network\nmetadata: {name: lv-zz}\nspec: {mode: isolated, cidr: 10.96.0.0/24}\n' >"$M/zz.yaml"
    local log="$TESTTMP/lv/apply.log" errs="$TESTTMP/lv/apply.err"
    $WRAP "$QKVM" -c "$IT_URI" --state "$IT_STATE" apply -f "$M" --yes --shutdown-timeout 300 \
        >"$log" 2>"$errs" &
    local pid=$! i=0
    # wait for the stop to be journalled as pending (an event, not a time)
    until [ "$(sqlite3 "$IT_STATE" "SELECT count(*) FROM actions WHERE verb = 'stop' AND status = 'pending'" 2>/dev/null)" = 1 ]; do
        i=$((i + 1)); [ $i -lt 1200 ] || break; sleep 0.1
    done
    # the network was planned before the VM's stop: its line is in the pipe already
    i=0
    until grep -q "waiting up to 300s for the guest to shut down" "$log"; do
        i=$((i + 1)); [ $i -lt 1200 ] || break; sleep 0.1
    done
    holds "output: the wait is announced, and the lines before it are already written" \
        'grep -q "network/lv-zz: created" "$log" && grep -q "vm/lv-1: waiting up to 300s for the guest to shut down, then destroying it" "$log"'
    kill -INT "$pid"
    rc=0; wait "$pid" || rc=$?
    holds "Ctrl-C: exit 1, saying what was done and that the next apply picks up" \
        '[ "$rc" = 1 ] && grep -q "qkvm: error: interrupted by SIGINT: 1 done, 1 failed, 0 not started; the next apply picks up from what the host has" "$errs"'
    q history --limit 1 -o json
    expect "Ctrl-C: the run is recorded as failed, the stop as interrupted" 0 '"result": "failed"'
    q apply -f "$M" --yes --shutdown-timeout 1
    expect "after Ctrl-C, the next apply converges" 0 "vm/lv-1: stopped"
    no_changes "after Ctrl-C" "$M"
}
