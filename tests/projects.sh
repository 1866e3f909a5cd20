# tests/projects.sh — projects sharing one real libvirtd, ownership proven
# rather than assumed, and the deletion guards (sourced by
# tests/integration.sh, which gives it a node of its own: $IT_URI).
#
# Two projects, each with its own state database, apply to one host; then
# everything a careless or hostile hand can do to make one project's objects
# look like another's (or like qkvm's at all) is tried, and --prune must
# delete only what the project itself created.

pj_write() {   # DIR PROJECT PREFIX SUBNET
    local dir=$1 proj=$2 p=$3 net=$4
    mkdir -p "$dir"
    cat >"$dir/all.yaml" <<EOF
apiVersion: qkvm.dev/v1
kind: Project
metadata: {name: $proj}
---
apiVersion: qkvm.dev/v1
kind: Network
metadata: {name: $p-net}
spec: {mode: isolated, cidr: 10.$net.0.0/24}
---
apiVersion: qkvm.dev/v1
kind: Pool
metadata: {name: $p-pool}
spec: {path: $TESTTMP/pj/$p-pool}
---
apiVersion: qkvm.dev/v1
kind: Disk
metadata: {name: $p-root}
spec: {pool: $p-pool, size: 16MiB}
---
apiVersion: qkvm.dev/v1
kind: VM
metadata: {name: $p-vm}
spec: {memory: 64MiB, accel: tcg, state: stopped, disks: [{disk: $p-root}], nics: [{network: $p-net}]}
EOF
}

pj_cases() {
    local A="$TESTTMP/pj/a" B="$TESTTMP/pj/b" SA="$TESTTMP/pj/a.db" SB="$TESTTMP/pj/b.db"
    pj_write "$A" alpha pa 91
    pj_write "$B" beta pb 92
    IT_STATE=$SB
    q apply -f "$B" --yes
    expect "projects: beta applies" 0 "vm/pb-vm: created"
    IT_STATE=$SA
    q apply -f "$A" --yes
    expect "projects: alpha applies beside it" 0 "vm/pa-vm: created"
    holds "the marks name the project and the UUID" \
        'V dumpxml pb-vm | grep -q "project=\"beta\" kind=\"VM\" name=\"pb-vm\" uuid=\"$(V domuuid pb-vm)\""'

    # alpha prunes: beta's objects are foreign, never stale, never deleted
    q plan -f "$A" --prune --detailed-exitcode
    expect "alpha's plan: beta's VM and network are foreign, nothing to do" 0 \
        "vm/pb-vm \(project beta\)" "network/pb-net \(project beta\)" "No changes"
    q apply -f "$A" --prune --yes
    expect "alpha's apply --prune" 0
    holds "beta's VM and network survive alpha's --prune" 'V dominfo pb-vm >/dev/null && V net-info pb-net >/dev/null'
    q drift -f "$A"
    expect "alpha's drift on a shared host: in sync, beta's objects are not drift (exit 0)" 0 \
        "No drift" "objects of other projects on this host are left alone" \
        "vm/pb-vm \(project beta\)" "network/pb-net \(project beta\)" \
        "pool/pb-pool \(project beta\)" "disk/pb-root \(project beta\)"
    if printf '%s\n' "$out" | grep -qE "(stale|orphan) +(VM|Network|Pool|Volume|Disk) +pb-"; then
        fail "beta's objects are never stale or orphan for alpha" "$out"
    else
        pass "beta's objects are never stale or orphan for alpha"
    fi
    # each project keeps its own state database: beta's pool and volume are
    # known as beta's by the project mark on their directory and file
    holds "beta's volume file carries beta's project mark" \
        'python3 -c "import os,sys; sys.exit(os.getxattr(sys.argv[1], \"user.qkvm.project\") != b\"beta\")" "$TESTTMP/pj/pb-pool/pb-root" 2>/dev/null || python3 -c "import os,sys; sys.exit(os.getxattr(sys.argv[1], \"trusted.qkvm.project\") != b\"beta\")" "$TESTTMP/pj/pb-pool/pb-root"'
    q drift -f "$A" --state "$SB"
    expect "through beta's database, beta's pool and volume are foreign too" 2 "pool/pb-pool \(project beta\)" "disk/pb-root \(project beta\)"

    # the same name declared by both projects: a conflict naming the owner
    sed -i 's/name: pa-vm/name: pb-vm/' "$A/all.yaml"
    q plan -f "$A" --detailed-exitcode
    expect "a name beta owns, declared by alpha: a conflict naming beta" 2 "vm/pb-vm +conflict: a domain of this name belongs to project 'beta'"
    q apply -f "$A" --yes --adopt
    holds "--adopt never takes another project's object" 'V dumpxml pb-vm | grep -q "project=\"beta\""'
    sed -i 's/name: pb-vm/name: pa-vm/' "$A/all.yaml"

    # a copy of alpha's VM that keeps the mark (dumpxml, rename, define, as
    # virt-clone does), a domain with an empty mark, and a mark naming the
    # right name but another UUID: none is alpha's, none is pruned
    V dumpxml pa-vm | sed -e 's#<name>pa-vm</name>#<name>pa-copy</name>#' -e '/<uuid>/d' \
        -e '/<mac address/d' -e "s#pa-root'#pa-copy-disk'#" >"$TESTTMP/pj/copy.xml"
    V define "$TESTTMP/pj/copy.xml" >/dev/null
    cat >"$TESTTMP/pj/empty.xml" <<'EOF'
<domain type='qemu'><name>pa-empty</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>
<metadata><qkvm:resource xmlns:qkvm="https://qkvm.dev/xmlns/1"/></metadata>
<os><type arch='x86_64'>hvm</type></os></domain>
EOF
    V define "$TESTTMP/pj/empty.xml" >/dev/null
    cat >"$TESTTMP/pj/forged.xml" <<'EOF'
<domain type='qemu'><name>pa-forged</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>
<metadata><qkvm:resource xmlns:qkvm="https://qkvm.dev/xmlns/1" project="alpha" kind="VM" name="pa-forged" uuid="00000000-0000-4000-8000-000000000000" hash="0" source="" commit=""/></metadata>
<os><type arch='x86_64'>hvm</type></os></domain>
EOF
    V define "$TESTTMP/pj/forged.xml" >/dev/null
    cat >"$TESTTMP/pj/wrongkind.xml" <<'EOF'
<network><name>pa-wrongkind</name>
<metadata><qkvm:resource xmlns:qkvm="https://qkvm.dev/xmlns/1" project="alpha" kind="VM" name="pa-wrongkind" hash="0" source="" commit=""/></metadata>
<ip address='10.93.0.1' prefix='24'/></network>
EOF
    V net-define "$TESTTMP/pj/wrongkind.xml" >/dev/null
    q drift -f "$A"
    expect "drift: a copy, an empty mark, a mark of another UUID, a mark of another kind: conflicts" 2 \
        "conflict +VM +pa-copy .*mark names 'pa-vm': a copy" "conflict +VM +pa-empty .*mark is empty" \
        "conflict +VM +pa-forged .*not its own" "conflict +Network +pa-wrongkind .*mark is of a VM"
    q apply -f "$A" --prune --yes
    expect "apply --prune with the copies around" 0
    holds "--prune deletes none of them" 'V dominfo pa-copy >/dev/null && V dominfo pa-empty >/dev/null && V dominfo pa-forged >/dev/null && V net-info pa-wrongkind >/dev/null'
    V undefine pa-copy >/dev/null; V undefine pa-empty >/dev/null; V undefine pa-forged >/dev/null
    V net-undefine pa-wrongkind >/dev/null

    # a volume alpha created, deleted by hand and re-created under its name:
    # not the file alpha created, so not alpha's
    cat >>"$A/all.yaml" <<EOF
---
apiVersion: qkvm.dev/v1
kind: Disk
metadata: {name: pa-extra}
spec: {pool: pa-pool, size: 8MiB}
EOF
    q apply -f "$A" --yes
    expect "a second disk is created" 0 "disk/pa-extra: created"
    head -n -5 "$A/all.yaml" >"$A/all.tmp" && mv "$A/all.tmp" "$A/all.yaml"
    V vol-delete --pool pa-pool pa-extra >/dev/null
    echo "someone else's data" >"$TESTTMP/pj/pa-pool/pa-extra"
    V pool-refresh pa-pool >/dev/null
    q plan -f "$A" --prune
    expect "a volume re-created by hand under qkvm's name is not qkvm's" 0 "No changes"
    q drift -f "$A"
    expect "drift names the replaced volume" 2 "conflict +Volume +pa-pool/pa-extra .*not the one qkvm created"
    holds "its data is intact" '[ "$(cat "$TESTTMP/pj/pa-pool/pa-extra")" = "someone else'"'"'s data" ]'
    rm -f "$TESTTMP/pj/pa-pool/pa-extra"; V pool-refresh pa-pool >/dev/null

    # deletion guards: an empty set never prunes; all of a project's objects,
    # or more than maxDeletions, are refused naming the count and the flag
    mkdir -p "$TESTTMP/pj/empty" "$TESTTMP/pj/only-project"
    q plan -f "$TESTTMP/pj/empty" --prune --max-deletions 100
    expect "an empty directory (project default) plans nothing: alpha's objects are foreign to it" 0 \
        "vm/pa-vm \(project alpha\)" "No changes"
    printf 'apiVersion: qkvm.dev/v1\nkind: Project\nmetadata: {name: alpha}\n' >"$TESTTMP/pj/only-project/p.yaml"
    q plan -f "$TESTTMP/pj/only-project" --prune --max-deletions 100
    expect "alpha's Project alone declares nothing: an empty manifest set never prunes" 0 \
        "vm/pa-vm +stale: .*an empty manifest set never prunes"
    if printf '%s\n' "$out" | grep -qE -- "^ +- +"; then fail "empty set: no delete action" "$out"; else pass "empty set: no delete action"; fi
    mkdir -p "$TESTTMP/pj/other"
    printf 'apiVersion: qkvm.dev/v1\nkind: Project\nmetadata: {name: alpha}\n---\napiVersion: qkvm.dev/v1\nkind: Network\nmetadata: {name: pa-new}\nspec: {mode: isolated, cidr: 10.94.0.0/24}\n' >"$TESTTMP/pj/other/all.yaml"
    q apply -f "$TESTTMP/pj/other" --prune --yes
    expect "--prune of every object alpha manages is refused, the rest applied" 1 \
        "refused: this plan would delete every object project 'alpha' manages on the host \(4\); nothing is deleted. Pass --max-deletions 4" \
        "network/pa-new: created"
    holds "after the refusal, alpha's objects are all there" 'V dominfo pa-vm >/dev/null && V net-info pa-net >/dev/null && V pool-info pa-pool >/dev/null && V vol-info --pool pa-pool pa-root >/dev/null'
    q history --limit 1
    expect "the refused apply is recorded as failed" 0 "apply +.* failed"
    q apply -f "$TESTTMP/pj/other" --prune --yes --max-deletions 4 --shutdown-timeout 1
    expect "--max-deletions allows it" 0 "vm/pa-vm: deleted" "network/pa-net: deleted"

    IT_STATE=$SB
    q apply -f "$B" --yes
    expect "beta, untouched through all of it, is still in sync" 0 "No changes"
}
