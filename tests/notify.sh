# tests/notify.sh — notifications from the controller to a real
# Alertmanager (Debian's prometheus-alertmanager, on 127.0.0.1) and to a
# webhook receiver of our own on 127.0.0.1 (tests/hook-receiver.py): an
# orphan domain on a libvirt test:/// node is drift; it fires once however
# many runs see it, and resolves when it is gone. Sourced by tests/run.
if [ -z "${passed+x}" ]; then . "$(dirname "${BASH_SOURCE[0]}")/lib.sh"; fi

N="$TESTTMP/notify"
mkdir -p "$N/m" "$N/am"

nt_stop() {   # NAME LOG: SIGTERM to the controller $NT_PID; it must exit 0
    local rc=0
    kill -TERM "$NT_PID"
    wait "$NT_PID" || rc=$?
    if [ "$rc" = 0 ]; then
        pass "$1"
    else
        fail "$1" "exit $rc
$(tail -5 "$2")"
    fi
}
nt_free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# the node: "keep" as declared (qkvm's mark), "stray-1" that nobody declares
nt_host() {   # WITH_STRAY (1 or 0)
    {
        printf '<node>\n<cpu><nodes>1</nodes><sockets>1</sockets><cores>4</cores><threads>1</threads>'
        printf '<active>4</active><mhz>2000</mhz><model>x86_64</model></cpu><memory>4194304</memory>\n'
        printf "<domain type='test'><name>keep</name><uuid>11111111-0000-4000-8000-000000000001</uuid>"
        printf "<memory unit='KiB'>65536</memory><vcpu>1</vcpu><os><type arch='x86_64'>hvm</type></os>"
        printf '<metadata><qkvm:resource xmlns:qkvm="https://qkvm.dev/xmlns/1" kind="VM" name="keep" '
        printf 'project="nt" hash="0" source="" commit=""/></metadata></domain>\n'
        [ "$1" = 1 ] && printf "<domain type='test'><name>stray-1</name><uuid>11111111-0000-4000-8000-000000000002</uuid><memory unit='KiB'>65536</memory><vcpu>1</vcpu><os><type arch='x86_64'>hvm</type></os></domain>\n"
        printf '</node>\n'
    } >"$N/host.xml.tmp"
    mv "$N/host.xml.tmp" "$N/host.xml"
}
nt_host 1
cat >"$N/m/all.yaml" <<'EOF'
apiVersion: qkvm.dev/v1
kind: Project
metadata: {name: nt}
---
apiVersion: qkvm.dev/v1
kind: VM
metadata: {name: keep}
spec: {cpus: 1, memory: 64MiB, accel: tcg, console: none}
EOF

if ! command -v prometheus-alertmanager >/dev/null; then
    fail "notify: Alertmanager" "prometheus-alertmanager is not installed (tools/install-deps test installs it)"
    return 0 2>/dev/null || exit 0
fi
cat >"$N/am/am.yml" <<'EOF'
route: {receiver: none}
receivers: [{name: none}]
EOF
AM_PORT=$(nt_free_port)
prometheus-alertmanager --config.file="$N/am/am.yml" --storage.path="$N/am/data" \
    --web.listen-address="127.0.0.1:$AM_PORT" --cluster.listen-address= >"$N/am/log" 2>&1 &
AM_PID=$!
python3 tests/hook-receiver.py "$N/hook.port" "$N/hooks.log" >/dev/null 2>&1 &
HOOK_PID=$!
if ! wait_until 300 eval 'curl -sf "http://127.0.0.1:$AM_PORT/-/ready" >/dev/null' ||
   ! wait_until 300 eval '[ -s "$N/hook.port" ]'; then
    fail "notify: Alertmanager and the receiver start" "$(cat "$N/am/log")"
fi
HP=$(cat "$N/hook.port" 2>/dev/null)
printf '# the team channel, its token in the query\nhttp://127.0.0.1:%s/ok/team?token=s3cr3t-t0ken\n\nhttp://127.0.0.1:%s/flaky/ops\nhttp://127.0.0.1:%s/reject/gone\n' \
    "$HP" "$HP" "$HP" >"$N/hooks.txt"
printf 'a-signing-secret-0123\n' >"$N/secret"

am_alerts() {   # the QkvmDrift alerts Alertmanager holds, as "name category state" lines
    curl -s "http://127.0.0.1:$AM_PORT/api/v2/alerts?filter=alertname%3D%22QkvmDrift%22" |
        python3 -c 'import json,sys; [print(a["labels"].get("name"), a["labels"].get("category"), a["status"]["state"], a["labels"].get("project"), a["labels"].get("node")) for a in json.load(sys.stdin)]'
}
hooks() {   # PATH-PREFIX EVENT NAME: how many POSTs to that hook said EVENT of NAME
    python3 - "$N/hooks.log" "$1" "$2" "$3" <<'ZZEND'
import json, sys
n = 0
for line in open(sys.argv[1]):
    r = json.loads(line)
    b = json.loads(r["body"])
    if r["path"].startswith(sys.argv[2]) and b["event"] == sys.argv[3] and b["labels"].get("name") == sys.argv[4]:
        n += 1
print(n)
ZZEND
}

QKVM_NOTIFY_RETRY_MS=100 QKVM_NOTIFY_RESEND_MS=500 $WRAP "$QKVM" run -f "$N/m" -c "test://$N/host.xml" \
    --state "$N/state.db" --listen 127.0.0.1:0 --observe-interval 1h \
    --alertmanager "http://127.0.0.1:$AM_PORT" --notify-webhook-file "$N/hooks.txt" \
    --notify-secret-file "$N/secret" >"$N/log" 2>&1 &
NT_PID=$!
NT_PORT=
wait_until 600 eval '[ -n "$(sed -n "s/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p" "$N/log")" ]' &&
    NT_PORT=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$N/log" | head -1)

if wait_until 600 eval '[ "$(am_alerts)" = "stray-1 orphan active nt localhost" ]'; then
    pass "notify: the orphan is an active alert in Alertmanager (labels: name, category, project, node)"
else
    fail "notify: the orphan is an active alert in Alertmanager (labels: name, category, project, node)" \
        "alerts: $(am_alerts)
$(cat "$N/log")"
fi
if wait_until 600 eval '[ "$(hooks /ok/ DriftDetected stray-1)" = 1 ] && [ "$(hooks /flaky/ DriftDetected stray-1)" = 2 ] &&
                [ "$(hooks /reject/ DriftDetected stray-1)" = 1 ]'; then
    pass "notify: each webhook gets the drift; the one that answered 503 gets it again, the one that answered 400 does not"
else
    fail "notify: each webhook gets the drift; the one that answered 503 gets it again, the one that answered 400 does not" \
        "$(cat "$N/hooks.log" | head -c 3000)"
fi
if out=$(python3 - "$N/hooks.log" "$N/secret" <<'ZZEND' 2>&1
import json, sys, hmac, hashlib
secret = open(sys.argv[2]).read().strip().encode()
rows = [json.loads(l) for l in open(sys.argv[1])]
ok = [r for r in rows if r["path"].startswith("/ok/")]
flaky = [r for r in rows if r["path"].startswith("/flaky/")]
r = ok[0]
b = json.loads(r["body"])
want = "sha256=" + hmac.new(secret, r["body"].encode(), hashlib.sha256).hexdigest()
assert r["headers"]["x-qkvm-signature-256"] == want, (r["headers"], want)
assert r["headers"]["x-qkvm-delivery"] == b["id"] and r["headers"]["x-qkvm-event"] == "DriftDetected"
assert b["version"] == 1 and b["status"] == "firing" and b["endsAt"] is None, b
assert b["labels"] == {"alertname": "QkvmDrift", "project": "nt", "node": "localhost", "kind": "VM",
                       "name": "stray-1", "category": "orphan", "severity": "warning"}, b["labels"]
assert b["text"].startswith("[qkvm] FIRING: drift on localhost: VM/stray-1 orphan"), b["text"]
assert b["startsAt"].endswith("Z") and "summary" in b["annotations"], b
# the retry is the same delivery: same id, same body
assert flaky[0]["status"] == 503 and flaky[1]["status"] == 200, flaky
assert flaky[0]["headers"]["x-qkvm-delivery"] == flaky[1]["headers"]["x-qkvm-delivery"]
assert flaky[0]["body"] == flaky[1]["body"]
ZZEND
); then
    pass "notify: the payload (labels, text, times), its HMAC-SHA256 signature, the retry is the same delivery"
else
    fail "notify: the payload (labels, text, times), its HMAC-SHA256 signature, the retry is the same delivery" "$out"
fi
if grep -q 'notify: webhook #3 (http://127.0.0.1:[0-9]*/…) refused DriftDetected (drift on localhost: VM/stray-1 orphan): HTTP 400: no such channel; not sent again' "$N/log" &&
   ! grep -q 's3cr3t-t0ken' "$N/log"; then
    pass "notify: a refusal is said once, with the receiver's answer; the URL's token is never logged"
else
    fail "notify: a refusal is said once, with the receiver's answer; the URL's token is never logged" "$(cat "$N/log")"
fi

# a standing drift is one alert: two more full observations send nothing new
kill -HUP "$NT_PID"
wait_until 600 eval '[ "$(grep -cE "observe run [0-9]+: drift" "$N/log")" -ge 1 ]'
kill -HUP "$NT_PID"
wait_until 600 eval '[ "$(grep -cE "observe run [0-9]+: drift" "$N/log")" -ge 2 ]'
if [ "$(grep -cE "observe run [0-9]+: drift: 1 finding" "$N/log")" = 2 ] &&
   [ "$(hooks /ok/ DriftDetected stray-1)" = 1 ] && [ "$(am_alerts | wc -l)" = 1 ]; then
    pass "notify: a drift seen by three runs is one alert and one delivery"
else
    fail "notify: a drift seen by three runs is one alert and one delivery" "$(cat "$N/log")"
fi

# gone: the next observation resolves it, in Alertmanager and the webhooks
nt_host 0
kill -HUP "$NT_PID"
if wait_until 600 eval '[ "$(hooks /ok/ DriftResolved stray-1)" = 1 ]' &&
   wait_until 600 eval '[ -z "$(am_alerts)" ]'; then
    pass "notify: the orphan gone, the alert is resolved in Alertmanager and DriftResolved is delivered"
else
    fail "notify: the orphan gone, the alert is resolved in Alertmanager and DriftResolved is delivered" \
        "alerts: $(am_alerts)
$(tail -5 "$N/log")"
fi
if out=$(python3 - "$N/hooks.log" <<'ZZEND' 2>&1
import json, sys
rows = [json.loads(json.loads(l)["body"]) for l in open(sys.argv[1]) if json.loads(l)["path"].startswith("/ok/")]
r = [b for b in rows if b["event"] == "DriftResolved"][0]
f = [b for b in rows if b["event"] == "DriftDetected"][0]
assert r["status"] == "resolved" and r["endsAt"] and r["startsAt"] == f["startsAt"], (r, f)
assert r["text"].startswith("[qkvm] RESOLVED: "), r["text"]
ZZEND
); then
    pass "notify: DriftResolved: status resolved, the same startsAt, an endsAt"
else
    fail "notify: DriftResolved: status resolved, the same startsAt, an endsAt" "$out"
fi
m=$(curl -s "http://127.0.0.1:$NT_PORT/metrics")
if printf '%s\n' "$m" | grep -qE '^qkvm_notifications_total\{receiver="webhook",result="rejected"\} [1-9]' &&
   printf '%s\n' "$m" | grep -qE '^qkvm_notifications_total\{receiver="alertmanager",result="sent"\} [1-9]' &&
   printf '%s\n' "$m" | grep -qx 'qkvm_alerts_active 0' &&
   printf '%s\n' "$m" | promtool check metrics >/dev/null 2>&1; then
    pass "notify: /metrics counts the deliveries by receiver and result; promtool passes"
else
    fail "notify: /metrics counts the deliveries by receiver and result; promtool passes" \
        "$(printf '%s\n' "$m" | grep -E 'notif|alerts'; printf '%s\n' "$m" | promtool check metrics 2>&1)"
fi
nt_stop "notify: the controller stops cleanly (exit 0)" "$N/log"

# an Alertmanager that cannot be reached never holds up a reconcile
nt_host 1
DEAD=$(nt_free_port)
QKVM_NOTIFY_RETRY_MS=100 $WRAP "$QKVM" run -f "$N/m" -c "test://$N/host.xml" --state "$N/state2.db" \
    --listen 127.0.0.1:0 --observe-interval 1h --alertmanager "http://127.0.0.1:$DEAD" >"$N/log2" 2>&1 &
NT_PID=$!
if wait_until 600 eval 'grep -qE "sync run 1: ok" "$N/log2"' &&
   wait_until 600 eval 'grep -qE "notify: alertmanager http://127.0.0.1:$DEAD: .*(Connection refused|connect).*; trying again in" "$N/log2"'; then
    pass "notify: Alertmanager unreachable: the sync is made, the failure said, tried again"
else
    fail "notify: Alertmanager unreachable: the sync is made, the failure said, tried again" "$(cat "$N/log2")"
fi
nt_stop "notify: with Alertmanager still unreachable, the controller stops cleanly (exit 0)" "$N/log2"
kill "$AM_PID" "$HOOK_PID" 2>/dev/null
wait "$AM_PID" "$HOOK_PID" 2>/dev/null

# bad configuration: said before anything runs
printf 'http://127.0.0.1:1/ok\nslack.example/hook\n' >"$N/bad-hooks.txt"
check "notify: a line of --notify-webhook-file that is not a URL: exit 1, file:line" 1 '' \
    "$N/bad-hooks.txt:2: not an http:// or https:// URL" -- \
    run -f "$N/m" -c "test://$N/host.xml" --state "$N/state3.db" --notify-webhook-file "$N/bad-hooks.txt"
check "notify: --notify-secret-file alone signs nothing: exit 1" 1 '' \
    "--notify-secret-file without --notify-webhook-file" -- \
    run -f "$N/m" -c "test://$N/host.xml" --state "$N/state3.db" --notify-secret-file "$N/secret"
check "notify: --alertmanager takes a URL" 1 '' "--alertmanager takes an http:// or https:// URL" -- \
    run -f "$N/m" --alertmanager localhost:9093
