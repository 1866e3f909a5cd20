# tests/state.sh — the state store against the real libvirtd (sourced by
# tests/integration.sh, which starts the node): the journal and the reads
# (history, get, describe, events), the reconcile lock, and crash safety:
# qkvm apply is killed with SIGKILL at every point where the database has
# just committed a write (QKVM_TEST_CRASH_AFTER_COMMITS=N for N = 1, 2, ...
# until an apply completes) and at moments inside libvirt calls (a guest
# being started); after each kill the database passes integrity_check, the
# run shows as interrupted with its last action, and the next apply
# converges with nothing duplicated and nothing deleted. Files that are not
# qkvm's (a schema altered by hand included), a full file system and a
# read-only state file give clear errors and leave libvirt untouched.

st_write() {   # DIR [STATE-OF-c-1]
    mkdir -p "$1"
    cat >"$1/all.yaml" <<EOF
apiVersion: qkvm.dev/v1
kind: Pool
metadata: {name: c-pool}
spec: {type: dir, path: $ST_POOL}
---
apiVersion: qkvm.dev/v1
kind: Disk
metadata: {name: c-root}
spec: {pool: c-pool, size: 8MiB}
---
apiVersion: qkvm.dev/v1
kind: Network
metadata: {name: c-net}
spec: {mode: isolated, cidr: 10.82.0.0/24}
---
apiVersion: qkvm.dev/v1
kind: VM
metadata: {name: c-1}
spec: {memory: 64MiB, accel: tcg, state: ${2:-running}, disks: [{disk: c-root}], nics: [{network: c-net}]}
---
apiVersion: qkvm.dev/v1
kind: VM
metadata: {name: c-2}
spec: {memory: 64MiB, accel: tcg, state: stopped}
EOF
}

# Remove what the manifests create (by hand, as an operator would), and the
# state database: every crash iteration starts from the same host.
st_reset() {
    local d
    for d in c-1 c-2; do
        V destroy "$d" >/dev/null 2>&1
        V undefine "$d" >/dev/null 2>&1
    done
    V vol-delete --pool c-pool c-root >/dev/null 2>&1
    V pool-destroy c-pool >/dev/null 2>&1
    V pool-undefine c-pool >/dev/null 2>&1
    V net-destroy c-net >/dev/null 2>&1
    V net-undefine c-net >/dev/null 2>&1
    rm -rf "$ST_POOL" "$IT_STATE" "$IT_STATE"-* "$IT_STATE".*
}

# After a kill: integrity, the run interrupted, the next apply converges,
# nothing duplicated, nothing deleted. Sets st_bad to a reason.
st_after_kill() {   # LABEL
    local label=$1 chk hist
    st_bad=""
    chk=$(sqlite3 "$IT_STATE" 'PRAGMA integrity_check' 2>&1)
    [ "$chk" = ok ] || { st_bad="$label: integrity_check: $chk"; return; }
    hist=$("$QKVM" history --state "$IT_STATE" -o json --limit 1 2>&1)
    if ! printf '%s' "$hist" | python3 -c '
import json, sys
r = json.load(sys.stdin)["items"]
if not r: sys.exit(0)                      # killed before the run was recorded
r = r[-1]
assert r["kind"] == "apply", r
assert r["result"] in ("interrupted", "ok"), r   # "ok": killed after its last write
if r["result"] == "interrupted" and r["actions"]:
    assert r.get("lastAction"), r
' 2>"$TESTTMP/st.py"; then
        st_bad="$label: the killed run is not shown as interrupted: $(cat "$TESTTMP/st.py") $hist"
        return
    fi
    # a start the killed process asked for is the daemon's to finish: a
    # domain "paused (starting up)" is on its way to running (not drift), so
    # wait for the daemon to settle before judging convergence
    local settle=0
    while V list --all --name | while read -r d; do
              [ -n "$d" ] && V domstate --reason "$d" 2>/dev/null; done | grep -q "starting up"; do
        settle=$((settle + 1)); [ $settle -lt 600 ] || break; sleep 0.1
    done
    q apply -f "$ST_M" --yes
    [ "$rc" -eq 0 ] || { st_bad="$label: the next apply fails: $out"; return; }
    q plan -f "$ST_M" --detailed-exitcode
    [ "$rc" -eq 0 ] || { st_bad="$label: no convergence, plan: $out"; return; }
    q drift -f "$ST_M" -o json
    if ! printf '%s' "$out" | python3 -c '
import json, sys
f = [x for x in json.load(sys.stdin)["findings"] if x["name"] != "keep-me"]
assert not f, f
' 2>"$TESTTMP/st.py"; then
        st_bad="$label: drift after convergence: $(cat "$TESTTMP/st.py")"
        return
    fi
    [ "$(V vol-list c-pool | awk '{print $1}' | sort | tr '\n' ' ')" = "c-root " ] ||
        { st_bad="$label: the pool holds $(V vol-list c-pool)"; return; }
    [ "$(V list --all --name | sort | tr '\n' ' ')" = "c-1 c-2 keep-me " ] ||
        { st_bad="$label: domains are $(V list --all --name)"; return; }
    V dumpxml keep-me >"$TESTTMP/keep.after"
    cmp -s "$TESTTMP/keep.before" "$TESTTMP/keep.after" ||
        { st_bad="$label: the unmanaged domain changed"; return; }
}

st_cases() {
    IT_STATE="$TESTTMP/st/state.db"
    ST_POOL="$TESTTMP/st/pool"
    ST_M="$TESTTMP/st/m"
    mkdir -p "$TESTTMP/st"
    st_write "$ST_M"
    V define /dev/stdin >/dev/null <<'EOF'
<domain type='qemu'><name>keep-me</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>
<os><type arch='x86_64'>hvm</type></os></domain>
EOF
    V dumpxml keep-me >"$TESTTMP/keep.before"

    # --- the journal and the reads
    q apply -f "$ST_M" --yes
    expect "state: apply records a run" 0 "vm/c-1: started"
    holds "state: the file is WAL, with qkvm's schema" \
        '[ "$(sqlite3 "$IT_STATE" "PRAGMA journal_mode")" = wal ] && [ "$(sqlite3 "$IT_STATE" "PRAGMA user_version")" -ge 2 ]'
    q history
    expect "history lists the apply" 0 "^ID +KIND +STARTED +DURATION +RESULT +SOURCE +COMMIT" \
        "^1 +apply .* ok +.*/st/m +-"
    holds "history fits 80 columns" '[ "$(printf "%s\n" "$out" | awk "{ if (length > 80) n++ } END { print n+0 }")" = 0 ]'
    q history 1
    expect "history RUN: every action with status and before/after" 0 "Run 1: apply, ok" \
        "create +pool/c-pool: done" "create +vm/c-1: done" "after: +\{\"cpus\":1,.*\"memory\":\"64MiB\"" \
        "start +vm/c-1: done" "before: +\{\"state\":\"shut off\"\}"
    q history 1 -o json
    expect "history RUN -o json" 0 '"kind": "apply"' '"status": "done"' '"verb": "create"'
    q get vms
    expect "get vms: observed joined with the store" 0 "^NAME +NODE +STATE +IP +CPUS +MEMORY +SYNC +AGE" \
        "^c-1 +localhost +running +- +1 +64MiB +Synced +[0-9]+s" "^c-2 +localhost +shut off .*Synced" \
        "^keep-me +localhost +shut off .*Orphan +[0-9]+s"
    holds "get vms fits 80 columns" '[ "$(printf "%s\n" "$out" | awk "{ if (length > 80) n++ } END { print n+0 }")" = 0 ]'
    q get vms -f "$ST_M" -o wide
    expect "get vms -f -o wide: SYNC from a plan" 0 "NICS +FIRMWARE" "^c-1 .*Synced .*1 +1 +bios" \
        "^keep-me .*Orphan"
    q get vm c-1 -o yaml
    expect "get vm NAME -o yaml: spec as declared, status observed" 0 "^kind: VM" "^spec:" \
        "memory: 64MiB" "^status:" "sync: Synced" "state: running" "observed:"
    q get disks
    expect "get disks" 0 "^c-root +localhost +c-pool +8MiB +qcow2 +Synced"
    for k in networks pools images nodes policies; do
        q get "$k"
        expect "get $k" 0 "^NAME"
    done
    q get vm nothere
    expect "get an unknown name: exit 1" 1 "vm 'nothere' not found"
    q get gizmos
    expect "get an unknown kind: exit 1" 1 "unknown kind 'gizmos'"

    V setmaxmem c-2 128M --config >/dev/null
    q drift -f "$ST_M"
    expect "state: drift is recorded" 2 "maxMemory"
    q history 2
    expect "history of a drift run: its findings, since when" 0 "Run 2: drift, drift" \
        "changed +VM/c-2 spec.maxMemory: desired 64MiB, actual 128MiB +\(since .*, run 2\)"
    q describe vm c-2
    expect "describe: spec, observed, drift, events" 0 "^Name: +c-2" "^Sync: +Unknown|^Sync: +OutOfSync|^Sync: +Synced" \
        "^Spec:" "^Observed:" "spec.maxMemory: desired 64MiB, actual 128MiB" "Normal +Created +created" \
        "Warning +DriftDetected"
    q describe vm c-2 -f "$ST_M"
    expect "describe -f: drift from a plan" 0 "^Sync: +OutOfSync" "spec.maxMemory: desired 64MiB, actual 128MiB"
    q events --since 1h
    expect "events --since 1h" 0 "^AGE +TYPE +REASON +OBJECT +MESSAGE" "Normal +Created +pool/c-pool" \
        "Warning +DriftDetected +vm/c-2"
    holds "events fits 80 columns" '[ "$(printf "%s\n" "$out" | awk "{ if (length > 80) n++ } END { print n+0 }")" = 0 ]'
    q apply -f "$ST_M" --yes
    q drift -f "$ST_M"
    q events vm c-2
    expect "drift healed by apply: DriftResolved" 0 "Normal +DriftResolved +vm/c-2 +healed by apply \(run [0-9]+\)"
    q describe vm c-2
    expect "describe after the heal: no drift left" 0 "^Drift .*: none"

    # --- the lock: a guest without an OS ignores ACPI, so the first apply's
    # stop of c-1 waits out --shutdown-timeout (300 s: far more than the
    # checks below take, even under valgrind on a loaded machine). Each step
    # waits for an event, never for a stretch of time.
    st_write "$ST_M" stopped
    "$QKVM" -c "$IT_URI" --state "$IT_STATE" apply -f "$ST_M" --yes --shutdown-timeout 300 \
        >"$TESTTMP/st-first.out" 2>&1 &
    local first=$!
    # It holds the lock once its stop of c-1 is in the journal, pending. The
    # 120 s bound only keeps a broken build from hanging the suite.
    local stop_sql="SELECT a.status FROM actions a JOIN runs r ON r.id = a.run WHERE r.pid = $first AND a.kind = 'vm' AND a.name = 'c-1' AND a.verb = 'stop'"
    local stop="" deadline=$((SECONDS + 120))
    while [ "$SECONDS" -lt "$deadline" ] && kill -0 "$first" 2>/dev/null; do
        stop=$(sqlite3 "$IT_STATE" "$stop_sql" 2>/dev/null)
        [ "$stop" = pending ] && break
        sleep 0.1
    done
    holds "the first apply is stopping c-1 (journalled pending)" \
        '[ "$stop" = pending ] || { cat "$TESTTMP/st-first.out"; false; }'
    q apply -f "$ST_M" --yes --lock-timeout 1
    expect "a second apply waits, then names the holder" 1 \
        "state locked by pid $first \(apply started [0-9]{2}:[0-9]{2}:[0-9]{2}\)" "nothing was changed"
    q history
    expect "history does not wait for the lock" 0 "apply"
    q get vms
    expect "get does not wait for the lock" 0 "c-1"
    q plan -f "$ST_M"
    expect "plan does not wait for the lock" 0 "vm/c-1"
    holds "... all while the first apply still holds it, stopping c-1" \
        'kill -0 "$first" 2>/dev/null && [ "$(sqlite3 "$IT_STATE" "$stop_sql")" = pending ]'
    # killed in the middle of its stop (it waits for the guest for minutes)
    kill -9 "$first"
    wait "$first" 2>/dev/null
    q history --limit 3 -o json
    holds "a killed apply shows as interrupted, with its last action" \
        'printf "%s" "$out" | python3 -c "import json,sys; r=[x for x in json.load(sys.stdin)[\"items\"] if x[\"pid\"] == $first][0]; assert r[\"result\"] == \"interrupted\" and r[\"lastAction\"] == \"vm/c-1 stop (pending)\", r"'
    q apply -f "$ST_M" --yes --shutdown-timeout 1
    expect "the next apply takes the dead process's lock over" 0 \
        "the lock of pid $first \(apply started .*\) was taken over" "vm/c-1: stopped"
    q events
    expect "the takeover and the interruption are events" 0 "Warning +LockTakenOver" "Warning +Interrupted"
    st_write "$ST_M"

    # --- bad state files: clear errors, libvirt untouched, file untouched
    st_reset
    printf 'not a database at all, just text\n%.0s' $(seq 1 200) >"$IT_STATE"
    cp "$IT_STATE" "$TESTTMP/st-foreign"
    q apply -f "$ST_M" --yes
    expect "a file that is not SQLite: refused" 1 "is not a qkvm state database \(not an SQLite file\)" \
        "nothing was changed"
    holds "... the file is left as it was, the host untouched" \
        'cmp -s "$IT_STATE" "$TESTTMP/st-foreign" && [ -z "$(V list --name)" ] && ! V pool-info c-pool >/dev/null 2>&1'
    rm -f "$IT_STATE"
    sqlite3 "$IT_STATE" 'CREATE TABLE cookbook(recipe TEXT); INSERT INTO cookbook VALUES ("soup")'
    cp "$IT_STATE" "$TESTTMP/st-foreign"
    q apply -f "$ST_M" --yes
    expect "another program's SQLite database: refused" 1 "an SQLite database of another program"
    holds "... left as it was" 'cmp -s "$IT_STATE" "$TESTTMP/st-foreign"'
    rm -f "$IT_STATE"
    "$QKVM" --state "$IT_STATE" history >/dev/null
    q plan -f "$ST_M"
    sqlite3 "$IT_STATE" 'PRAGMA user_version = 99'
    cp "$IT_STATE" "$TESTTMP/st-newer"
    q apply -f "$ST_M" --yes
    expect "a newer schema: refused, named" 1 "written by a newer qkvm \(schema version 99; this qkvm knows up to [0-9]+\)"
    q history
    expect "... by readers too" 1 "written by a newer qkvm"
    holds "... left as it was" 'cmp -s "$IT_STATE" "$TESTTMP/st-newer"'
    rm -f "$IT_STATE"
    q plan -f "$ST_M"
    sqlite3 "$IT_STATE" 'ALTER TABLE runs ADD COLUMN note TEXT'
    cp "$IT_STATE" "$TESTTMP/st-altered"
    q apply -f "$ST_M" --yes
    expect "a qkvm database whose schema was altered: refused, named" 1 \
        "is not a qkvm state database: its schema was altered \(table 'runs' differs\)" \
        "nothing was changed"
    q history
    expect "... by readers too" 1 "its schema was altered"
    holds "... left as it was, the host untouched" \
        'cmp -s "$IT_STATE" "$TESTTMP/st-altered" && ! V pool-info c-pool >/dev/null 2>&1'
    rm -f "$IT_STATE"
    # corrupt: a valid header, garbage in the pages after it
    q plan -f "$ST_M"
    sqlite3 "$IT_STATE" 'PRAGMA wal_checkpoint(TRUNCATE)' >/dev/null
    dd if=/dev/urandom of="$IT_STATE" bs=1024 seek=1 count=16 conv=notrunc status=none
    cp "$IT_STATE" "$TESTTMP/st-corrupt"
    q apply -f "$ST_M" --yes
    expect "a corrupt database: a clear error, exit 1" 1 "state database|malformed|not a qkvm state database|damaged"
    holds "... left as it was, the host untouched" \
        'cmp -s "$IT_STATE" "$TESTTMP/st-corrupt" && ! V pool-info c-pool >/dev/null 2>&1'
    rm -f "$IT_STATE"*
    q apply -f "$ST_M" --yes --state "$TESTTMP/st/no/such/dir/state.db"
    expect "a state path in a missing directory: named" 1 "directory '.*/st/no/such/dir' does not exist"
    # read-only and full file systems, in a mount namespace of their own
    mkdir -p "$TESTTMP/st/ro"
    "$QKVM" --state "$TESTTMP/st/ro/state.db" -c "$IT_URI" plan -f "$ST_M" >/dev/null
    rc=0
    out=$(unshare -m sh -c 'mount --bind "$1" "$1" && mount -o remount,ro,bind "$1" &&
        exec "$2" -c "$3" --state "$1/state.db" apply -f "$4" --yes' sh "$TESTTMP/st/ro" "$QKVM" "$IT_URI" "$ST_M" 2>&1) || rc=$?
    expect "a read-only state file: apply refuses, nothing changed" 1 \
        "'.*/st/ro/state.db' is on a read-only file system: cannot write the state database" \
        "nothing was changed"
    holds "... the host untouched" '! V pool-info c-pool >/dev/null 2>&1 && [ -z "$(V list --name)" ]'
    rc=0
    out=$(unshare -m sh -c 'mount --bind "$1" "$1" && mount -o remount,ro,bind "$1" &&
        exec "$2" --state "$1/state.db" history' sh "$TESTTMP/st/ro" "$QKVM" 2>&1) || rc=$?
    expect "... a reader says so too" 1 "'.*/st/ro/state.db' is on a read-only file system"
    mkdir -p "$TESTTMP/st/full"
    rc=0
    out=$(unshare -m sh -c 'mount -t tmpfs -o size=96k tmpfs "$1" &&
        "$2" -c "$3" --state "$1/state.db" plan -f "$4" >/dev/null 2>&1;
        dd if=/dev/zero of="$1/filler" bs=4k 2>/dev/null;
        exec "$2" -c "$3" --state "$1/state.db" apply -f "$4" --yes' sh "$TESTTMP/st/full" "$QKVM" "$IT_URI" "$ST_M" 2>&1) || rc=$?
    expect "a full file system: apply stops with a clear error" 1 \
        "the file system holding '.*/st/full/state.db' is full" "nothing was changed"
    holds "... not sqlite's \"disk I/O error\"" '! printf "%s" "$out" | grep -q "I/O error"'
    holds "... the host untouched" '! V pool-info c-pool >/dev/null 2>&1 && [ -z "$(V list --name)" ]'

    # --- crash safety: SIGKILL after every commit
    local n=1 points=0 bad=""
    while [ "$n" -le 80 ]; do
        st_reset
        # in a subshell that outlives the kill, so bash's "Killed" goes to the file
        (QKVM_TEST_CRASH_AFTER_COMMITS=$n "$QKVM" -c "$IT_URI" --state "$IT_STATE" \
            apply -f "$ST_M" --yes; echo "rc=$?") >"$TESTTMP/st-kill.out" 2>&1
        rc=$(sed -n 's/^rc=//p' "$TESTTMP/st-kill.out")
        if [ "$rc" -eq 0 ]; then
            break                      # fewer than n commits: every point was covered
        fi
        if [ "$rc" -ne 137 ]; then
            bad="kill point $n: exit $rc: $(cat "$TESTTMP/st-kill.out")"
            break
        fi
        points=$((points + 1))
        st_after_kill "kill after commit $n"
        if [ -n "$st_bad" ]; then bad=$st_bad; break; fi
        n=$((n + 1))
    done
    if [ -z "$bad" ] && [ "$points" -ge 10 ]; then
        pass "crash: SIGKILL after each of $points commits of an apply: integrity ok, interrupted run shown, next apply converges, nothing duplicated or deleted"
    else
        fail "crash: SIGKILL after each commit" "${bad:-only $points kill points}"
    fi
    # ... and at moments inside libvirt calls (starting a TCG guest takes a while)
    bad=""
    for t in 0.15 0.3 0.5 0.8 1.2; do
        st_reset
        "$QKVM" -c "$IT_URI" --state "$IT_STATE" apply -f "$ST_M" --yes >/dev/null 2>&1 &
        local pid=$!
        sleep "$t"
        kill -9 "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null || true
        st_after_kill "kill at ${t}s"
        if [ -n "$st_bad" ]; then bad=$st_bad; break; fi
    done
    if [ -z "$bad" ]; then
        pass "crash: SIGKILL in the middle of libvirt calls (0.15 to 1.2 s into an apply): the next apply converges"
    else
        fail "crash: SIGKILL in the middle of libvirt calls" "$bad"
    fi
    st_reset
    V undefine keep-me >/dev/null
}
