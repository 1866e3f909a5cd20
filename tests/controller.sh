# tests/controller.sh — qkvm run, the controller, against a real libvirtd
# (sourced by tests/integration.sh, which runs ct_cases on a node of its
# own).
#
# The controller runs in the background on a directory of manifests, its
# log in a file; every step waits for the log line that says it happened
# (ct_wait, bounded), never for a fixed time. Its HTTP endpoint listens on
# 127.0.0.1, on a port the kernel picks (--listen 127.0.0.1:0), read back
# from the log. It is stopped with SIGTERM, by its PID.
#   - the first sync applies the directory; /readyz, /healthz, /metrics and
#     /api/v1/status answer; promtool check metrics passes; a real
#     Prometheus (Debian's) scrapes it and a metric is read back through
#     its query API
#   - a file saved the way editors do (written beside, renamed over) and a
#     file in a new subdirectory are applied
#   - an invalid edit is reported with file:line:col and nothing changes;
#     fixing it is applied
#   - virsh destroy of a VM a heal Policy selects is seen through libvirt's
#     lifecycle events and repaired; of a VM in report mode only reported
#     (a drift finding); a second destroy right after the heal waits for
#     the backoff, then is healed; SIGHUP reads the source and observes
#   - the observer's cases: a VM paused by hand (a state mismatch) is
#     reported; a killed qemu of a heal-mode VM is recovered; the thorough
#     observation reports an orphan file in a pool, a domain whose disk
#     file is gone and a qemu process no domain accounts for
#   - a second controller on the same state database is refused
#   - a non-loopback --listen needs --token-file; the token is checked
#   - SIGTERM exits 0 and leaves no run open in the journal; SIGTERM in the
#     middle of a sync ends it after the action under way, the rest
#     journalled as not started
# With --git (ct_git): a bare repository in the test's directory, pushed
# to with git; the controller fetches file:// every hour, and at once on a
# webhook signed with HMAC-SHA256 (openssl dgst computes the signature):
#   - a commit is applied, its id recorded on the run and in the domain's
#     mark; an invalid commit is not (prod/FILE:line:col); a wrongly signed
#     or unsigned webhook is refused (401) and fetches nothing; a force
#     push is said and followed
# With --verify-commits (ct_signed): keys made with gpg in homes of the
# test's, commits signed with git commit -S: a commit signed by the
# keyring's key is applied, an unsigned one and one signed by another key
# are reported and not applied, the next good one is.

CT_TIMEOUT=${CT_TIMEOUT:-120}

ct_vm() {   # NAME LABEL: a small TCG guest without disks
    cat <<EOF
apiVersion: qkvm.dev/v1
kind: VM
metadata: {name: $1, labels: {app: $2}}
spec: {memory: 64MiB, accel: tcg}
EOF
}

# ct_wait PATTERN [COUNT]: until the log has COUNT lines matching PATTERN
# (default 1), or the controller ended, or CT_TIMEOUT seconds passed.
ct_wait() {
    local pat=$1 n=${2:-1} i
    for i in $(seq 1 $((CT_TIMEOUT * 10))); do
        [ "$(ct_count "$pat")" -ge "$n" ] && return 0
        kill -0 "$CT_PID" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}

ct_count() { grep -cE -- "$1" "$CT_LOG"; }

# ct_stop NAME: SIGTERM to the controller; it must exit 0 (under valgrind,
# a leak or an error is exit 99)
ct_stop() {
    kill -TERM "$CT_PID"
    local rc=0
    wait "$CT_PID" || rc=$?
    holds "$1" '[ "$rc" = 0 ]'
}

ct_http() {   # PATH [CURL-ARGS...]: body in $body, status in $code
    local p=$1
    shift
    body=$(curl -s -o - -w '\n%{http_code}' "$@" "http://127.0.0.1:$CT_PORT$p")
    code=${body##*$'\n'}
    body=${body%$'\n'*}
}

ct_cases() {
    local CT="$TESTTMP/ct" i
    CT_LOG="$CT/log"
    IT_STATE="$CT/state.db"
    mkdir -p "$CT/m"
    cat >"$CT/m/policy.yaml" <<'EOF'
apiVersion: qkvm.dev/v1
kind: Policy
metadata: {name: heal-web}
spec: {selector: {app: web}, drift: {mode: heal}}
EOF
    ct_vm ct-web web >"$CT/m/web.yaml"
    ct_vm ct-db db >"$CT/m/db.yaml"

    $WRAP "$QKVM" run -f "$CT/m" -c "$IT_URI" --state "$IT_STATE" --listen 127.0.0.1:0 \
        --observe-interval 1h --debounce 200ms --shutdown-timeout 5 >"$CT_LOG" 2>&1 &
    CT_PID=$!
    if ! ct_wait "sync run [0-9]+: ok"; then
        fail "run: the first sync applies the directory" "$(cat "$CT_LOG")"
        kill "$CT_PID" 2>/dev/null
        wait "$CT_PID" 2>/dev/null
        return
    fi
    pass "run: the first sync applies the directory"
    holds "run: both VMs run" '[ "$(V domstate ct-web)" = running ] && [ "$(V domstate ct-db)" = running ]'
    CT_PORT=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$CT_LOG" | head -1)
    ct_http /readyz
    holds "run: /readyz says ready after the sync" '[ "$code" = 200 ] && printf "%s" "$body" | grep -qx ready'
    ct_http /healthz
    holds "run: /healthz answers" '[ "$code" = 200 ]'
    ct_http /metrics
    holds "run: /metrics counts the sync and the nodes" \
        'printf "%s\n" "$body" | grep -qx "qkvm_runs_total{kind=\"sync\",result=\"ok\"} 1" &&
         printf "%s\n" "$body" | grep -qx "qkvm_nodes{state=\"ready\"} 1" &&
         printf "%s\n" "$body" | grep -q "^# TYPE qkvm_run_duration_seconds histogram"'
    holds "run: /metrics counts the objects by sync state (both VMs synced, none missing)" \
        'printf "%s\n" "$body" | grep -qx "qkvm_objects{kind=\"VM\",sync=\"Synced\"} 2" &&
         printf "%s\n" "$body" | grep -qx "qkvm_objects{kind=\"VM\",sync=\"Missing\"} 0"'
    holds "run: promtool check metrics passes" 'printf "%s\n" "$body" | promtool check metrics'
    # qkvm metrics (for hosts without the controller) writes the same
    # families: every one it prints is the controller's, with its type
    local mrc=0
    $WRAP "$QKVM" metrics -f "$CT/m" -c "$IT_URI" --state "$CT/metrics.db" -o "$CT/qkvm.prom" \
        >"$CT/metrics.out" 2>&1 || mrc=$?
    holds "run: qkvm metrics prints the controller's metric families (same names and types)" \
        '{ [ "$mrc" = 0 ] || [ "$mrc" = 2 ]; } && [ "$(grep -c "^# TYPE" "$CT/qkvm.prom")" -ge 10 ] &&
         ! grep "^# TYPE" "$CT/qkvm.prom" | grep -vxFf <(printf "%s\n" "$body" | grep "^# TYPE") &&
         grep -qx "qkvm_objects{kind=\"VM\",sync=\"Synced\"} 2" "$CT/qkvm.prom"'
    ct_prometheus
    ct_http /api/v1/status
    holds "run: /api/v1/status names the synced revision" \
        'printf "%s" "$body" | python3 -c "import json,sys; s=json.load(sys.stdin); assert s[\"ready\"] and s[\"valid\"] and len(s[\"revision\"])==64 and s[\"syncedRevision\"]==s[\"revision\"], s"'
    ct_http /nope
    holds "run: an unknown path is 404" '[ "$code" = 404 ]'
    ct_http /metrics -X POST
    holds "run: POST to /metrics is 405" '[ "$code" = 405 ]'
    ct_http /api/v1/status -X PUT --data-binary "@$CT/m/db.yaml"
    holds "run: a body sent anywhere but the webhook is refused (400)" '[ "$code" = 400 ]'

    # an editor's save: written beside, renamed over the file
    { ct_vm ct-web web; ct_vm ct-new web | sed '1s/^/---\n/'; } >"$CT/m/.web.yaml.swp"
    mv "$CT/m/.web.yaml.swp" "$CT/m/web.yaml"
    if ct_wait "sync run [0-9]+: ok" 2 && ct_wait "vm/ct-new: (created|started)"; then
        pass "run: a file saved by rename is applied"
    else
        fail "run: a file saved by rename is applied" "$(cat "$CT_LOG")"
    fi
    holds "run: the new VM runs" '[ "$(V domstate ct-new)" = running ]'
    # a new subdirectory, and a file in it
    mkdir "$CT/m/more"
    ct_vm ct-sub db >"$CT/m/more/sub.yaml"
    if ct_wait "sync run [0-9]+: ok" 3 && ct_wait "vm/ct-sub: (created|started)"; then
        pass "run: a file in a new subdirectory is applied"
    else
        fail "run: a file in a new subdirectory is applied" "$(cat "$CT_LOG")"
    fi

    # an invalid edit: reported where, nothing applied
    local syncs
    syncs=$(ct_count "sync run [0-9]+:")
    printf 'apiVersion: qkvm.dev/v1\nkind: VM\nmetadata: {name: ct-bad}\nspec: {memory: lots}\n' \
        >"$CT/m/more/bad.yaml"
    if ct_wait "more/bad.yaml:4:[0-9]+: "; then
        pass "run: an invalid edit is reported with file:line:col"
    else
        fail "run: an invalid edit is reported with file:line:col" "$(cat "$CT_LOG")"
    fi
    ct_http /api/v1/status
    holds "run: the status says invalid and names the error" \
        'printf "%s" "$body" | python3 -c "import json,sys; s=json.load(sys.stdin); assert not s[\"valid\"] and s[\"ready\"] and \"bad.yaml:4\" in s[\"errors\"][0], s"'
    holds "run: nothing of the invalid revision is applied" \
        '[ "$(ct_count "sync run [0-9]+:")" = "$syncs" ] && ! V dominfo ct-bad >/dev/null 2>&1'
    printf 'apiVersion: qkvm.dev/v1\nkind: VM\nmetadata: {name: ct-bad}\nspec: {memory: 64MiB, accel: tcg, state: stopped}\n' \
        >"$CT/m/more/bad.yaml"
    if ct_wait "sync run [0-9]+: ok" 4 && V dominfo ct-bad >/dev/null 2>&1; then
        pass "run: the fixed file is applied"
    else
        fail "run: the fixed file is applied" "$(cat "$CT_LOG")"
    fi

    # drift by hand: libvirt's lifecycle events bring an observation at once
    # (no signal, no interval: it is 1h); heal mode repaired, report mode
    # reported
    V destroy ct-web >/dev/null
    V destroy ct-db >/dev/null
    # started once by the first sync, once by this heal. The observation
    # may be one another event brought (ct-bad's definition, just before):
    # then it sees the destroy, heals, and drops the destroy's own event as
    # handled; with --observe-interval 1h, an event brought it either way
    if ct_wait "drift: VM/ct-web: stopped" && ct_wait "vm/ct-web: started" 2; then
        pass "run: a VM of a heal Policy destroyed by hand is seen through events and started again"
    else
        fail "run: a VM of a heal Policy destroyed by hand is seen through events and started again" "$(cat "$CT_LOG")"
    fi
    if ct_wait "drift: VM/ct-db: stopped"; then
        pass "run: a VM in report mode destroyed by hand is reported"
    else
        fail "run: a VM in report mode destroyed by hand is reported" "$(cat "$CT_LOG")"
    fi
    holds "run: ct-web runs again, ct-db (report mode) stays shut off" \
        '[ "$(V domstate ct-web)" = running ] && [ "$(V domstate ct-db)" = "shut off" ]'
    holds "run: ct-db's drift is recorded" \
        '[ "$(sqlite3 -cmd ".timeout 10000" "$IT_STATE" "SELECT count(*) FROM findings WHERE name = '"'ct-db'"' AND category = '"'stopped'"'")" -ge 1 ]'
    # destroyed again at once: the backoff holds the heal, then heals
    V destroy ct-web >/dev/null
    if ct_wait "vm/ct-web: not healed now: healed 1 time in a row, the next heal in [0-9]+s"; then
        pass "run: a second heal right after the first waits for the backoff"
    else
        fail "run: a second heal right after the first waits for the backoff" "$(cat "$CT_LOG")"
    fi
    if ct_wait "vm/ct-web: started" 3 && [ "$(V domstate ct-web)" = running ]; then
        pass "run: after the backoff, the heal is made"
    else
        fail "run: after the backoff, the heal is made" "$(cat "$CT_LOG")"
    fi
    # the observer's cases: a VM on a disk of a pool, then a state mismatch
    # (paused by hand), a qemu killed (recovered, heal mode), an orphan
    # file in the pool, a domain whose disk file is gone, a qemu no domain
    # accounts for; the thorough observation (SIGHUP's, as every
    # --observe-interval) sees the last three
    mkdir -p "$CT/pool"
    cat >"$CT/m/disk.yaml" <<EOF
apiVersion: qkvm.dev/v1
kind: Pool
metadata: {name: ct-pool}
spec: {path: $CT/pool}
---
apiVersion: qkvm.dev/v1
kind: Disk
metadata: {name: ct-disk-root}
spec: {pool: ct-pool, size: 8MiB}
---
apiVersion: qkvm.dev/v1
kind: VM
metadata: {name: ct-disk, labels: {app: db}}
spec: {memory: 64MiB, accel: tcg, disks: [{disk: ct-disk-root, boot: 1}]}
EOF
    if ! ct_wait "sync run [0-9]+: ok" 5 || ! ct_wait "vm/ct-disk: started"; then
        fail "run: a VM on a pool's disk is applied" "$(cat "$CT_LOG")"
    fi
    V suspend ct-disk >/dev/null
    if ct_wait "event: .*vm/ct-disk suspended" && ct_wait "drift: VM/ct-disk: paused"; then
        pass "run: a state mismatch made by hand (paused, report mode) is reported"
    else
        fail "run: a state mismatch made by hand (paused, report mode) is reported" "$(cat "$CT_LOG")"
    fi
    # that was the quick check: ct-disk alone (the sync created it there),
    # a run of kind observe with its finding in the state database; the
    # drift found before (ct-db, stopped) is gone from the status as from
    # the state database: the sync started it
    ct_wait "observe run [0-9]+: drift: 1 finding; vm/ct-disk, from its events"
    ct_http /api/v1/status
    holds "run: an event's VM is checked alone, journalled with its finding; what the sync made right is not drift any more" \
        'grep -qE "observe run [0-9]+: drift: 1 finding; vm/ct-disk, from its events" "$CT_LOG" &&
         [ "$(sqlite3 -cmd ".timeout 10000" "$IT_STATE" "SELECT count(*) FROM findings WHERE name = '"'ct-disk'"' AND category = '"'paused'"' AND closed_run IS NULL")" = 1 ] &&
         [ "$(sqlite3 -cmd ".timeout 10000" "$IT_STATE" "SELECT result || '"' '"' || summary FROM runs WHERE kind = '"'observe'"' ORDER BY id DESC LIMIT 1")" = "drift 1 finding; vm/ct-disk, from its events" ] &&
         echo "$body" | jq -e ".drift | (map(select(.name == \"ct-disk\" and .category == \"paused\")) | length == 1) and (map(select(.name == \"ct-db\")) | length == 0)" >/dev/null &&
         [ "$(sqlite3 -cmd ".timeout 10000" "$IT_STATE" "SELECT count(*) FROM findings WHERE name = '"'ct-db'"' AND closed_run IS NULL")" = 0 ]'
    V resume ct-disk >/dev/null
    if ct_wait "observe run [0-9]+: ok: 0 findings; vm/ct-disk, from its events" &&
       [ "$(sqlite3 -cmd ".timeout 10000" "$IT_STATE" "SELECT count(*) FROM findings WHERE name = '"'ct-disk'"' AND closed_run IS NULL")" = 0 ]; then
        pass "run: resumed by hand, the quick check closes the finding"
    else
        fail "run: resumed by hand, the quick check closes the finding" "$(cat "$CT_LOG")"
    fi
    V suspend ct-disk >/dev/null
    if ct_wait "drift: VM/ct-disk: paused" 2; then
        pass "run: paused again, reported again"
    else
        fail "run: paused again, reported again" "$(cat "$CT_LOG")"
    fi
    # the dashboard, live: / and /api/v1/report from the status the loop
    # published and the state database; in Chromium, the page shows the
    # paused VM, then, with no reload, that the check saw it resumed
    ct_http /api/v1/report
    holds "run: /api/v1/report is the Report tree of the status (ct-disk paused, ct-web synced, the runs)" \
        'echo "$body" | jq -e "(.kind == \"Report\") and .live and (.findings | map(select(.name == \"ct-disk\" and .category == \"paused\")) | length == 1) and (.objects | map(select(.name == \"ct-web\" and .sync == \"Synced\")) | length == 1) and (.runs | length >= 3)" >/dev/null'
    ct_http /
    holds "run: / serves the page (HTML, the paused VM in it)" \
        '[ "$code" = 200 ] && printf "%s" "$body" | head -c 15 | grep -qx "<!DOCTYPE html>" && printf "%s" "$body" | grep -q ">ct-disk<"'
    local fifo="$CT/page.fifo" cdp_out="$CT/page.json" cdp_pid
    mkfifo "$fifo"
    python3 tests/cdp.py "http://127.0.0.1:$CT_PORT/" --mark "$fifo" --timeout 180 \
        --step "document.querySelector('#drift').innerText.indexOf('ct-disk') >= 0" \
        --step "new Promise(function(ok){var t0=Date.now();(function look(){var d=document.querySelector('#drift');if(d&&d.innerText.indexOf('ct-disk')<0)return ok([Date.now()-t0, document.getElementById('live').textContent]);if(Date.now()-t0>90000)return ok(null);setTimeout(look,100);})();})" \
        >"$cdp_out" 2>&1 &
    cdp_pid=$!
    if timeout 120 head -n 1 "$fifo" >/dev/null; then
        V resume ct-disk >/dev/null
        ct_wait "observe run [0-9]+: ok: 0 findings; vm/ct-disk, from its events" 2
    fi
    wait "$cdp_pid"
    holds "run: the live page in Chromium: no console error, the paused VM shown, then gone without a reload once resumed" \
        'jq -e "(.console | length == 0) and (.exceptions | length == 0) and .results[0] == true and (.results[1][1] | startswith(\"live: updated\"))" "$cdp_out" >/dev/null'
    V suspend ct-disk >/dev/null
    ct_wait "drift: VM/ct-disk: paused" 3
    local qpid
    qpid=$(cat "${QKVM_TESTBED:-/tmp/qkvm-testbed}/$IT_NODE/run/qemu/ct-new.pid")
    kill -KILL "$qpid"
    if ct_wait "event: .*vm/ct-new (stopped|crashed)" && ct_wait "vm/ct-new: started" 2 &&
       [ "$(V domstate ct-new)" = running ] &&
       [ "$(cat "${QKVM_TESTBED:-/tmp/qkvm-testbed}/$IT_NODE/run/qemu/ct-new.pid")" != "$qpid" ]; then
        pass "run: a killed qemu (heal mode) is recovered: the VM runs again in a new process"
    else
        fail "run: a killed qemu (heal mode) is recovered: the VM runs again in a new process" "$(cat "$CT_LOG")"
    fi
    echo junk >"$CT/pool/stray.img"
    cat >"$CT/gone.xml" <<EOF
<domain type='qemu'><name>ct-gone</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>
<os><type arch='x86_64'>hvm</type></os><devices><disk type='file' device='disk'>
<driver name='qemu' type='qcow2'/><source file='$CT/gone.qcow2'/><target dev='vda' bus='virtio'/>
</disk></devices></domain>
EOF
    V define "$CT/gone.xml" >/dev/null
    # a qemu started by hand in the node's namespaces, ended below by its PID
    nsenter -t "$(cat "${QKVM_TESTBED:-/tmp/qkvm-testbed}/$IT_NODE/libvirtd.pid")" -n -m \
        qemu-system-x86_64 -name guest=ct-ghost -uuid 6a1b2c3d-0000-4000-8000-000000000002 \
        -machine none -nodefaults -display none -S </dev/null >/dev/null 2>&1 &
    local ghost=$!
    # SIGHUP: the source read again and a thorough observation at once
    kill -HUP "$CT_PID"
    if ct_wait "SIGHUP: reading the source again" && ct_wait "observe run [0-9]+: drift: [0-9]+ finding" 1; then
        pass "run: SIGHUP reads the source and observes"
    else
        fail "run: SIGHUP reads the source and observes" "$(cat "$CT_LOG")"
    fi
    if ct_wait "drift: .*stray.img: orphan-file" && ct_wait "drift: VM/ct-gone: disk-missing" &&
       ct_wait "drift: .*stray-process.*ct-ghost"; then
        pass "run: the thorough observation reports an orphan file, a missing disk file and a stray qemu"
    else
        fail "run: the thorough observation reports an orphan file, a missing disk file and a stray qemu" "$(cat "$CT_LOG")"
    fi
    holds "run: an orphan file is reported, never deleted" '[ -f "$CT/pool/stray.img" ]'
    kill "$ghost" 2>/dev/null
    wait "$ghost" 2>/dev/null
    V undefine ct-gone >/dev/null
    rm -f "$CT/pool/stray.img"
    V resume ct-disk >/dev/null
    q history --limit 0
    expect "run: history lists the controller's sync and observe runs" 0 "^1 +sync .* ok " \
        "observe .* drift "

    # one controller per state database
    rc=0
    out=$(timeout 30 $WRAP "$QKVM" run -f "$CT/m" -c "$IT_URI" --state "$IT_STATE" 2>&1) || rc=$?
    expect "run: a second controller on the same state database is refused" 1 \
        "another controller \\(pid $CT_PID\\)"
    rc=0
    out=$($WRAP "$QKVM" run -f "$CT/m" --state "$CT/other.db" --listen 0.0.0.0:0 2>&1) || rc=$?
    expect "run: --listen on a non-loopback address needs --token-file" 1 "give --token-file"

    kill -TERM "$CT_PID"
    rc=0
    wait "$CT_PID" || rc=$?
    holds "run: SIGTERM ends the controller with exit 0" '[ "$rc" = 0 ] && grep -q "SIGTERM: stopped" "$CT_LOG"'
    holds "run: no run is left open in the journal" \
        '[ "$(sqlite3 "$IT_STATE" "SELECT count(*) FROM runs WHERE result = '"'running'"'")" = 0 ]'

    # the token, on loopback too when given
    head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$CT/token"
    $WRAP "$QKVM" run -f "$CT/m" -c "$IT_URI" --state "$IT_STATE" --listen 127.0.0.1:0 \
        --token-file "$CT/token" --observe-interval 1h >"$CT/log2" 2>&1 &
    CT_PID=$!
    CT_LOG="$CT/log2"
    if ct_wait "listening on"; then
        CT_PORT=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$CT_LOG" | head -1)
        ct_http /healthz
        local c1=$code
        ct_http /healthz -H "Authorization: Bearer $(cat "$CT/token")"
        holds "run: --token-file: 401 without the token, 200 with it" '[ "$c1" = 401 ] && [ "$code" = 200 ]'
    else
        fail "run: --token-file: 401 without the token, 200 with it" "$(cat "$CT_LOG")"
    fi
    ct_stop "run: the token controller ends with exit 0 on SIGTERM (under valgrind: no leak, no error)"

    # SIGTERM in the middle of a sync: the action under way ends, the rest
    # is journalled as not started, exit 0
    for i in 1 2 3 4 5 6; do ct_vm "ct-m$i" db | sed '1s/^/---\n/'; done >"$CT/m/many.yaml"
    CT_LOG="$CT/log3"
    $WRAP "$QKVM" run -f "$CT/m" -c "$IT_URI" --state "$IT_STATE" --observe-interval 1h \
        --parallelism 1 >"$CT_LOG" 2>&1 &
    CT_PID=$!
    if ct_wait "vm/ct-m[0-9]: (created|started)"; then
        kill -TERM "$CT_PID"
        rc=0
        wait "$CT_PID" || rc=$?
        holds "run: SIGTERM mid-sync exits 0 after the action under way, the rest journalled as not started" \
            '[ "$rc" = 0 ] && grep -q "SIGTERM: stopped" "$CT_LOG" &&
             [ "$(sqlite3 "$IT_STATE" "SELECT count(*) FROM actions WHERE run = (SELECT max(id) FROM runs WHERE kind = '"'sync'"') AND error LIKE '"'not started:%'"'")" -ge 1 ] &&
             [ "$(sqlite3 "$IT_STATE" "SELECT count(*) FROM runs WHERE result = '"'running'"'")" = 0 ] &&
             [ "$(V list --all --name | grep -c "^ct-m")" -lt 6 ]'
    else
        fail "run: SIGTERM mid-sync exits 0 after the action under way, the rest journalled as not started" "$(cat "$CT_LOG")"
        kill -TERM "$CT_PID"
        wait "$CT_PID" 2>/dev/null
    fi
    rm -f "$CT/m/many.yaml"
    for i in ct-web ct-db ct-new ct-sub ct-bad ct-disk ct-m1 ct-m2 ct-m3 ct-m4 ct-m5 ct-m6; do
        V destroy "$i" >/dev/null 2>&1
        V undefine "$i" >/dev/null 2>&1
    done
    V vol-delete --pool ct-pool ct-disk-root >/dev/null 2>&1
    V pool-destroy ct-pool >/dev/null 2>&1
    V pool-undefine ct-pool >/dev/null 2>&1
    ct_git
}

# A real Prometheus (Debian's) on 127.0.0.1 scrapes the controller every
# second; the test reads a metric back through its query API.
ct_prometheus() {
    local P="$CT/prom" pport pid i v=""
    mkdir -p "$P/data"
    pport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    printf '%s\n' 'global: {scrape_interval: 1s, evaluation_interval: 1s}' 'scrape_configs:' \
        '  - job_name: qkvm' "    static_configs: [{targets: ['127.0.0.1:$CT_PORT']}]" \
        >"$P/prometheus.yml"
    prometheus --config.file="$P/prometheus.yml" --storage.tsdb.path="$P/data" \
        --web.listen-address="127.0.0.1:$pport" >"$P/log" 2>&1 &
    pid=$!
    for i in $(seq 1 $((CT_TIMEOUT * 10))); do
        v=$(curl -s "http://127.0.0.1:$pport/api/v1/query" \
                --data-urlencode 'query=qkvm_runs_total{kind="sync",result="ok"}' 2>/dev/null |
            python3 -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else "")' 2>/dev/null)
        [ -n "$v" ] && break
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    holds "run: a real Prometheus scrapes /metrics and reads qkvm_runs_total back (1 sync)" '[ "$v" = 1 ]'
    [ "$v" = 1 ] || printf '     %s\n' "$(tail -5 "$P/log")"
    kill "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
}

ct_sign() {   # BODY: X-Hub-Signature-256's value for BODY with $CT/secret
    printf 'sha256=%s' "$(printf %s "$1" | openssl dgst -sha256 -hmac "$(cat "$CT/secret")" | sed 's/.*= //')"
}

ct_push() {   # MESSAGE [git push flags]: commit everything in the work tree, push to main
    local msg=$1
    shift
    git -C "$CT/work" add -A && git -C "$CT/work" commit -qm "$msg" &&
        git -C "$CT/work" push -q "$@" origin HEAD:main 2>/dev/null
}

ct_git() {
    local CT="$TESTTMP/ct" hook='{"ref":"refs/heads/main"}' c1 c2
    git init -q --bare "$CT/repo.git"
    git -C "$CT/repo.git" symbolic-ref HEAD refs/heads/main
    git init -q "$CT/work"
    git -C "$CT/work" config user.email qkvm@test.invalid
    git -C "$CT/work" config user.name qkvm
    git -C "$CT/work" remote add origin "$CT/repo.git"
    mkdir -p "$CT/work/prod"
    ct_vm ct-git web >"$CT/work/prod/vm.yaml"
    echo "not a manifest" >"$CT/work/README"
    ct_push one
    c1=$(git -C "$CT/work" rev-parse HEAD)
    printf 'a-webhook-secret-of-some-length' >"$CT/secret"
    CT_LOG="$CT/log3"
    $WRAP "$QKVM" run --git "file://$CT/repo.git" --ref main --path prod -c "$IT_URI" \
        --state "$CT/git.db" --listen 127.0.0.1:0 --webhook-secret-file "$CT/secret" \
        --interval 1h --observe-interval 1h >"$CT_LOG" 2>&1 &
    CT_PID=$!
    if ct_wait "sync run [0-9]+: ok" && [ "$(V domstate ct-git)" = running ]; then
        pass "run --git: the branch's commit is applied"
    else
        fail "run --git: the branch's commit is applied" "$(cat "$CT_LOG")"
    fi
    CT_PORT=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$CT_LOG" | head -1)
    holds "run --git: the commit is recorded on the run" \
        '[ "$(sqlite3 -cmd ".timeout 10000" "$CT/git.db" "SELECT commit_id FROM runs ORDER BY id LIMIT 1")" = "$c1" ]'
    holds "run --git: the commit is recorded in the domain's mark" \
        'V dumpxml ct-git | grep -q "commit=.$c1."'
    # an invalid commit: reported with its path in the repository, not applied
    printf 'apiVersion: qkvm.dev/v1\nkind: VM\nmetadata: {name: ct-git-2}\nspec: {memory: 64MiB, colour: blue}\n' \
        >"$CT/work/prod/vm2.yaml"
    ct_push two
    ct_http /api/v1/webhook -X POST -d "$hook"
    holds "run --git: an unsigned webhook is refused" '[ "$code" = 401 ]'
    ct_http /api/v1/webhook -X POST -d "$hook" -H "X-Hub-Signature-256: $(ct_sign "$hook.")"
    holds "run --git: a webhook signed over another body is refused" '[ "$code" = 401 ]'
    holds "run --git: a refused webhook fetches nothing" '[ "$(ct_count "fetched commit")" = 1 ]'
    ct_http /api/v1/webhook -X POST -d "$hook" -H "X-Hub-Signature-256: $(ct_sign "$hook")"
    holds "run --git: a signed webhook is accepted" '[ "$code" = 202 ]'
    if ct_wait "prod/vm2.yaml:4:[0-9]+: unknown field 'colour'"; then
        pass "run --git: an invalid commit is reported with file:line:col"
    else
        fail "run --git: an invalid commit is reported with file:line:col" "$(cat "$CT_LOG")"
    fi
    holds "run --git: nothing of the invalid commit is applied" \
        '[ "$(ct_count "sync run [0-9]+:")" = 1 ] && ! V dominfo ct-git-2 >/dev/null 2>&1'
    # fixed by rewriting history: a force push
    git -C "$CT/work" reset -q --hard "$c1"
    printf 'apiVersion: qkvm.dev/v1\nkind: VM\nmetadata: {name: ct-git-2}\nspec: {memory: 64MiB, accel: tcg, state: stopped}\n' \
        >"$CT/work/prod/vm2.yaml"
    ct_push three -f
    c2=$(git -C "$CT/work" rev-parse HEAD)
    ct_http /api/v1/webhook -X POST -d "$hook" -H "X-Hub-Signature-256: $(ct_sign "$hook")"
    if ct_wait "sync run [0-9]+: ok" 2 && V dominfo ct-git-2 >/dev/null 2>&1; then
        pass "run --git: the force-pushed fix is applied"
    else
        fail "run --git: the force-pushed fix is applied" "$(cat "$CT_LOG")"
    fi
    holds "run --git: the force push is said" 'grep -q "main was rewritten (a force push): ${c2:0:12} does not descend" "$CT_LOG"'
    ct_http /api/v1/status
    holds "run --git: the status names the commit applied" \
        'printf "%s" "$body" | python3 -c "import json,sys; s=json.load(sys.stdin); assert s[\"syncedCommit\"]==\"$c2\" and s[\"valid\"], s"'
    ct_http /metrics
    holds "run --git: the metrics count the webhooks" \
        'printf "%s\n" "$body" | grep -qx "qkvm_webhooks_total{result=\"refused\"} 2" &&
         printf "%s\n" "$body" | grep -qx "qkvm_webhooks_total{result=\"accepted\"} 2"'
    # the remote gone: reported, the last good commit stays
    mv "$CT/repo.git" "$CT/repo.moved"
    ct_http /api/v1/webhook -X POST -d "$hook" -H "X-Hub-Signature-256: $(ct_sign "$hook")"
    if ct_wait "cannot fetch 'file://$CT/repo.git'.*the last valid commit stays applied"; then
        ct_http /api/v1/status
        holds "run --git: an unreachable remote is reported, the last good commit stays" \
            'printf "%s" "$body" | python3 -c "import json,sys; s=json.load(sys.stdin); assert s[\"syncedCommit\"]==\"$c2\" and \"cannot fetch\" in s[\"lastError\"], s"'
    else
        fail "run --git: an unreachable remote is reported, the last good commit stays" "$(cat "$CT_LOG")"
    fi
    mv "$CT/repo.moved" "$CT/repo.git"
    ct_stop "run --git: the controller ends with exit 0 on SIGTERM (under valgrind: no leak, no error)"
    # a name that is both a branch and a tag is refused, never guessed
    git -C "$CT/work" push -q origin HEAD:refs/heads/dup HEAD:refs/tags/dup 2>/dev/null
    CT_LOG="$CT/log4"
    $WRAP "$QKVM" run --git "file://$CT/repo.git" --ref dup -c "$IT_URI" --state "$CT/dup.db" \
        --interval 1h >"$CT_LOG" 2>&1 &
    CT_PID=$!
    if ct_wait "'dup' is both a branch and a tag of the repository"; then
        pass "run --git: a --ref that is both a branch and a tag is refused"
    else
        fail "run --git: a --ref that is both a branch and a tag is refused" "$(cat "$CT_LOG")"
    fi
    ct_stop "run --git: the refused-ref case's controller ends with exit 0"
    # credentials in the URL stay out of the log and the status
    CT_LOG="$CT/log5"
    $WRAP "$QKVM" run --git "http://qkvm:pa@ss-word@127.0.0.1:1/fleet.git" -c "$IT_URI" \
        --state "$CT/cred.db" --listen 127.0.0.1:0 --interval 1h >"$CT_LOG" 2>&1 &
    CT_PID=$!
    if ct_wait "cannot fetch 'http://127.0.0.1:1/fleet.git'"; then
        CT_PORT=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$CT_LOG" | head -1)
        ct_http /api/v1/status
        holds "run --git: a URL's password is in neither the log nor the status" \
            '! grep -q "ss-word" "$CT_LOG" && ! printf "%s" "$body" | grep -q "ss-word" &&
             printf "%s" "$body" | grep -q "cannot fetch"'
    else
        fail "run --git: a URL's password is in neither the log nor the status" "$(cat "$CT_LOG")"
    fi
    ct_stop "run --git: the credentials case's controller ends with exit 0"
    for i in ct-git ct-git-2; do
        V destroy "$i" >/dev/null 2>&1
        V undefine "$i" >/dev/null 2>&1
    done
    ct_signed
}

# gpg --quick-gen-key into a GnuPG home of the test's; prints the fingerprint
ct_key() {   # HOME NAME
    mkdir -p -m 700 "$1"
    GNUPGHOME="$1" gpg --batch --quiet --passphrase '' --quick-gen-key "$2 <$2@test.invalid>" \
        ed25519 sign never 2>/dev/null
    GNUPGHOME="$1" gpg --batch --with-colons --list-keys 2>/dev/null | awk -F: '/^fpr/ { print $10; exit }'
}

ct_commit_as() {   # HOME FPR MESSAGE: a commit of everything, signed by FPR (none: unsigned)
    git -C "$CT/sw" add -A
    if [ -n "$2" ]; then
        GNUPGHOME="$1" git -C "$CT/sw" -c gpg.program=gpg -c user.signingkey="$2" commit -q -S -m "$3"
    else
        git -C "$CT/sw" commit -q -m "$3"
    fi
    git -C "$CT/sw" push -q origin HEAD:main 2>/dev/null
}

# --verify-commits: a commit signed by a key of the keyring is applied; an
# unsigned one and one signed by another key are reported, never applied
ct_signed() {
    local CT="$TESTTMP/ct" good bad
    good=$(ct_key "$CT/gpg-good" trusted)
    bad=$(ct_key "$CT/gpg-bad" stranger)
    GNUPGHOME="$CT/gpg-good" gpg --batch --export "$good" >"$CT/keyring.gpg" 2>/dev/null
    git init -q --bare "$CT/signed.git"
    git -C "$CT/signed.git" symbolic-ref HEAD refs/heads/main
    git init -q "$CT/sw"
    git -C "$CT/sw" config user.email qkvm@test.invalid
    git -C "$CT/sw" config user.name qkvm
    git -C "$CT/sw" remote add origin "$CT/signed.git"
    ct_vm ct-sig-1 db >"$CT/sw/vm1.yaml"
    ct_commit_as "$CT/gpg-good" "$good" one
    CT_LOG="$CT/log6"
    # gpgme's verification fails under valgrind ("Inappropriate ioctl for
    # device" from gpgme_op_verify, gpgme 1.18 with valgrind 3.19; the same
    # calls pass under valgrind in a small program): this one controller
    # runs uninstrumented in check-valgrind; check-asan instruments it
    local wrap=$WRAP
    case "$WRAP" in
    *valgrind*)
        echo "note: run --verify-commits runs without valgrind (gpgme_op_verify fails under it); check-asan covers it"
        wrap= ;;
    esac
    $wrap "$QKVM" run --git "file://$CT/signed.git" --ref main --verify-commits "$CT/keyring.gpg" \
        -c "$IT_URI" --state "$CT/signed.db" --listen 127.0.0.1:0 \
        --webhook-secret-file "$CT/secret" --interval 1h --observe-interval 1h >"$CT_LOG" 2>&1 &
    CT_PID=$!
    if ct_wait "signed by $good, a key of the keyring" && ct_wait "sync run [0-9]+: ok" &&
       [ "$(V domstate ct-sig-1)" = running ]; then
        pass "run --verify-commits: a commit signed by a key of the keyring is applied"
    else
        fail "run --verify-commits: a commit signed by a key of the keyring is applied" "$(cat "$CT_LOG")"
    fi
    CT_PORT=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$CT_LOG" | head -1)
    local hook='{"ref":"refs/heads/main"}'
    ct_vm ct-sig-2 db >"$CT/sw/vm2.yaml"
    ct_commit_as "" "" unsigned
    ct_http /api/v1/webhook -X POST -d "$hook" -H "X-Hub-Signature-256: $(ct_sign "$hook")"
    if ct_wait "is not applied: it is not signed"; then
        pass "run --verify-commits: an unsigned commit is reported"
    else
        fail "run --verify-commits: an unsigned commit is reported" "$(cat "$CT_LOG")"
    fi
    ct_vm ct-sig-3 db >"$CT/sw/vm3.yaml"
    ct_commit_as "$CT/gpg-bad" "$bad" foreign
    ct_http /api/v1/webhook -X POST -d "$hook" -H "X-Hub-Signature-256: $(ct_sign "$hook")"
    if ct_wait "is not applied: signed by key $bad, which is not in the keyring"; then
        pass "run --verify-commits: a commit signed by another key is reported"
    else
        fail "run --verify-commits: a commit signed by another key is reported" "$(cat "$CT_LOG")"
    fi
    holds "run --verify-commits: neither is applied" \
        '[ "$(ct_count "sync run [0-9]+:")" = 1 ] && ! V dominfo ct-sig-2 >/dev/null 2>&1 &&
         ! V dominfo ct-sig-3 >/dev/null 2>&1'
    echo "signed again" >"$CT/sw/README"
    ct_commit_as "$CT/gpg-good" "$good" "signed again"
    ct_http /api/v1/webhook -X POST -d "$hook" -H "X-Hub-Signature-256: $(ct_sign "$hook")"
    if ct_wait "sync run [0-9]+: ok" 2 && V dominfo ct-sig-3 >/dev/null 2>&1; then
        pass "run --verify-commits: the next commit signed by the keyring's key is applied"
    else
        fail "run --verify-commits: the next commit signed by the keyring's key is applied" "$(cat "$CT_LOG")"
    fi
    ct_stop "run --verify-commits: the controller ends with exit 0 on SIGTERM"
    # the agents key generation and signing started, by their homes' sockets
    GNUPGHOME="$CT/gpg-good" gpgconf --kill gpg-agent 2>/dev/null
    GNUPGHOME="$CT/gpg-bad" gpgconf --kill gpg-agent 2>/dev/null
    GNUPGHOME="$CT/git.gnupg" gpgconf --kill all 2>/dev/null
    for i in ct-sig-1 ct-sig-2 ct-sig-3; do
        V destroy "$i" >/dev/null 2>&1
        V undefine "$i" >/dev/null 2>&1
    done
}
