# tests/cli.sh — the command line as a user meets it (sourced by tests/run).
if [ -z "${passed+x}" ]; then . "$(dirname "${BASH_SOURCE[0]}")/lib.sh"; fi

# check (tests/lib.sh) runs qkvm and checks its exit code and streams.

# help, version, usage errors
check "--help" 0 '^Usage: qkvm' '' -- --help
check "help validate" 0 '^Usage: qkvm validate' '' -- help validate
check "validate --help" 0 '^Usage: qkvm validate' '' -- validate --help
check "--version" 0 '^qkvm [0-9]+\.[0-9]+\.[0-9]+' '' -- --version
check "version" 0 '^qkvm [0-9]' '' -- version
check "no command" 1 '' '^Usage: qkvm' --
check "unknown command" 1 '' "unknown command 'frobnicate'" -- frobnicate
check "unknown global flag" 1 '' "unknown flag '--bogus'" -- --bogus validate
check "unknown command flag" 1 '' "unknown flag '--bogus'" -- validate --bogus -f examples/minimal
check "unknown short flag" 1 '' "unknown flag '-Z'" -- validate -Z
check "flag without value" 1 '' "flag '-f' needs a value" -- validate -f
check "bad output format" 1 '' "unknown output format 'xml'" -- -o xml validate -f examples/minimal
check "validate without -f" 1 '' 'needs manifests: -f PATH' -- validate
check "validate with an argument" 1 '' 'takes no arguments' -- validate examples/minimal
check "--reference outside explain" 1 '' "flag of 'explain'" -- validate --reference

# validate: results on stdout, problems on stderr, exit codes
check "validate example" 0 '^valid: 5 objects in 4 files' '' -- validate -f examples/minimal
check "flags before the command" 0 '^valid: 24 objects' '*' -- -f examples/homelab validate
check "-q prints nothing when valid" 0 '' '' -- validate -q -f examples/minimal
check "ha and fence, acted on by the controller, are not warned about" 0 '' '' -- validate -q -f examples/homelab
check "-v reports timing" 0 '*' 'read 9 files .* load [0-9.]+ ms' -- validate -v -f examples/homelab
check "several -f: one set, so two Projects are refused" 3 '' "a manifest set is one project: Project 'minimal' is a second one" -- validate -f examples/homelab -f examples/minimal
check "several -f" 0 '^valid: 28 objects in 12 files' '*' -- validate -f examples/homelab -f examples/minimal/vm.yaml -f examples/minimal/network.yaml -f examples/minimal/storage.yaml
check "invalid: exit 3, nothing on stdout" 3 '' "unknown field 'cpu'" -- validate -f tests/data/invalid/unknown-field.yaml
check "warnings only: exit 0" 0 '^valid: .* with warnings' 'warning: selector' -- validate -f tests/data/invalid/policy-selector-matches-nothing.yaml
check "missing path: exit 1" 1 '' "^/nonexistent/x: cannot read: No such file or directory" -- validate -f /nonexistent/x
check "-o json valid (warnings on stderr)" 0 '"valid": true' 'warning: selector' -- validate -o json -f tests/data/invalid/policy-selector-matches-nothing.yaml
check "-o json invalid: the document on stdout, the failure on stderr too" 3 '"severity": "error"' 'qkvm: error: 1 error' -- validate -o json -f tests/data/invalid/bad-mac.yaml
check "-o yaml" 0 '^valid: true' '' -- validate -o yaml -f examples/minimal
if command -v python3 >/dev/null; then
    rc=0; $WRAP "$QKVM" validate -o json -f tests/data/invalid >"$TESTTMP/all.json" 2>/dev/null || rc=$?
    if [ "$rc" -eq 3 ] && python3 - "$TESTTMP/all.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
assert r["valid"] is False and r["errors"] > 40, r["errors"]
keys = {"file", "line", "column", "severity", "kind", "name", "field", "message"}
for f in r["findings"]:
    assert set(f) == keys, f
    assert f["severity"] in ("error", "warning")
    assert "\n" not in f["message"]
order = [(f["file"], f["line"] or 0, f["column"] or 0) for f in r["findings"]]
assert order == sorted(order), "findings are not sorted"
PY
    then pass "-o json: every finding has the documented shape, sorted"
    else fail "-o json: every finding has the documented shape, sorted" "exit $rc"; fi
else
    skip "-o json shape" "python3 is not installed (tools/install-deps test installs it)"
fi

# colour: only on a terminal, never with NO_COLOR
if command -v script >/dev/null; then
    bad=tests/data/invalid/unknown-field.yaml
    env -u NO_COLOR TERM=xterm script -qec "$QKVM validate -f $bad" /dev/null >"$TESTTMP/tty" 2>&1
    if grep -q $'\033\[' "$TESTTMP/tty"; then pass "colour on a terminal"; else fail "colour on a terminal" "$(cat -v "$TESTTMP/tty")"; fi
    NO_COLOR=1 TERM=xterm script -qec "$QKVM validate -f $bad" /dev/null >"$TESTTMP/tty" 2>&1
    if grep -q $'\033\[' "$TESTTMP/tty"; then fail "NO_COLOR respected" "$(cat -v "$TESTTMP/tty")"; else pass "NO_COLOR respected"; fi
    env -u NO_COLOR "$QKVM" validate -f "$bad" 2>"$TESTTMP/pipe" >/dev/null
    if grep -q $'\033\[' "$TESTTMP/pipe"; then fail "no colour into a pipe"; else pass "no colour into a pipe"; fi
else
    skip "colour checks" "script(1) is not installed"
fi

# the loader: what it reads and what it refuses
d="$TESTTMP/tree"
mkdir -p "$d/sub/deeper" "$d/.git" "$d/.hidden" "$TESTTMP/outside"
cp examples/minimal/network.yaml "$d/"
cp examples/minimal/storage.yaml "$d/sub/"
cp examples/minimal/vm.yaml "$d/sub/deeper/vm.yml"
echo 'this: [is not' >"$d/.git/broken.yaml"
echo 'this: [is not' >"$d/.hidden.yaml"
echo 'this: [is not' >"$d/notes.txt"
check "recursive walk, .yml, dot entries and other files skipped" 0 '^valid: 4 objects in 3 files' '' -- validate -f "$d"
check "trailing slash names files the same" 0 '^valid: 4 objects in 3 files' '' -- validate -f "$d/"
echo 'apiVersion: qkvm.dev/v1' >"$TESTTMP/outside/secret.yaml"
ln -s "$TESTTMP/outside/secret.yaml" "$d/escape.yaml"
check "symlink out of the tree: skipped with a warning" 0 '^valid: 4 objects' 'escape.yaml: warning: skipped: symbolic link' -- validate -f "$d"
rm "$d/escape.yaml"
ln -s sub "$d/loop.yaml"
ln -s .. "$d/sub/up"
check "symlinked directories are not followed" 0 '^valid: 4 objects' 'warning: skipped: symbolic links to directories' -- validate -f "$d"
rm "$d/loop.yaml" "$d/sub/up"
ln -s network.yaml "$d/link-inside.yaml"
check "symlink inside the tree is read" 3 '' "duplicate Network 'min-net'" -- validate -f "$d"
rm "$d/link-inside.yaml"
mkfifo "$d/pipe.yaml"
check "a FIFO in the tree is skipped, not opened" 0 '^valid' 'pipe.yaml: warning: skipped: not a regular file' -- validate -f "$d"
check "a FIFO given by name is refused without blocking" 1 '' 'not a regular file' -- validate -f "$d/pipe.yaml"
rm "$d/pipe.yaml"
truncate -s 17M "$d/huge.yaml"
check "a file over the size cap" 3 '' 'huge.yaml: file is larger than 16 MiB' -- validate -f "$d"
rm "$d/huge.yaml"
check "a device is refused" 1 '' 'not a regular file' -- validate -f /dev/zero
: >"$TESTTMP/empty.yaml"
check "an empty file is valid and empty" 0 '^valid: 0 objects in 1 file' '' -- validate -f "$TESTTMP/empty.yaml"
check "a file named without .yaml is read when named" 3 '' 'notes.txt:[0-9]+:[0-9]+: invalid YAML' -- validate -f "$d/notes.txt"

# render
check "render: normalised YAML" 0 'gateway: 10.77.0.1' '' -- render -f examples/minimal
check "render -o json" 0 '"kind": "VM"' '' -- render -o json -f examples/minimal
check "render refuses invalid input" 3 '' 'manifests are invalid' -- render -f tests/data/invalid/bad-ip.yaml

# explain and schema
check "explain lists kinds" 0 '^   VM$' '' -- explain
check "explain a kind (any case, plural)" 0 '^KIND:     VM' '' -- explain vms
check "explain a field" 0 '^FIELD:    spec.nics <\[\]object>' '' -- explain vm.spec.nics
check "explain a leaf" 0 '^DEFAULT:  virtio' '' -- explain VM.spec.nics.model
check "explain suggests" 1 '' "no field 'nic' in VM.spec \(did you mean 'nics'\?\)" -- explain vm.spec.nic
check "explain suggests spec." 1 '' "did you mean 'spec.cpus'" -- explain vm.cpus
check "explain unknown kind" 1 '' "unknown kind 'vn' \(did you mean 'VM'\?\)" -- explain vn.spec
check "explain --reference" 0 '^### VM' '' -- explain --reference
check "schema" 0 '"\$schema": "https://json-schema.org/draft/2020-12/schema"' '' -- schema

# plan, apply, drift: usage errors never reach libvirt
check "plan needs -f" 1 '' 'plan needs manifests' -- plan
check "--yes is a flag of apply" 1 '' '--yes is a flag of: apply' -- plan --yes -f examples/minimal
check "--shutdown-timeout takes seconds" 1 '' 'takes seconds' -- apply -f examples/minimal --shutdown-timeout soon
check "apply of invalid manifests: exit 3 before connecting" 3 '' 'nothing was changed' -- \
    apply -f tests/data/invalid/many-errors-sorted.yaml -c test:///nonexistent.xml --yes
check "plan: an unreachable URI is an error" 1 '' 'cannot connect' -- \
    plan -f examples/minimal -c "test://$PWD/tests/data/plan/no-such-host.xml" --state "$TESTTMP/s.db"
check "plan --help" 0 'detailed-exitcode' '' -- plan --help
check "--since takes a duration, named as the flag" 1 '' "--since takes a duration like 30s, 5m, 1h or 30d, not 'soon'" -- \
    history --since soon --state "$TESTTMP/s.db"
check "--connect-timeout takes a duration" 1 '' "--connect-timeout takes a duration like 30s or 5m, not 'soon'" -- \
    plan -f examples/minimal --connect-timeout soon
check "--keepalive-interval takes whole seconds" 1 '' "--keepalive-interval takes a duration .*\(whole seconds\)" -- \
    plan -f examples/minimal --keepalive-interval 1x
check "--keepalive-count takes 1 to 100" 1 '' "--keepalive-count takes a number from 1 to 100, not '0'" -- \
    plan -f examples/minimal --keepalive-count 0
check "the libvirt limits are global flags" 0 '*' '*' -- \
    --connect-timeout 5s --keepalive-interval 2 --keepalive-count 1 plan -f examples/minimal \
    -c "test://$PWD/tests/data/plan/create-all/host.xml" --state "$TESTTMP/s.db"

# arguments are checked before any setup: a usage error never waits for a host
check "get: an unknown kind is refused before connecting" 1 '' "unknown kind 'bogus'" -- \
    get bogus -c "qemu+unix:///system?socket=$TESTTMP/nowhere.sock" --state "$TESTTMP/s.db"
check "import without KIND NAME or --all: its usage, before connecting" 1 '' \
    "import takes KIND NAME" -- import -c "qemu+unix:///system?socket=$TESTTMP/nowhere.sock"
check "get with too many arguments: its usage" 1 '' "get takes KIND \[NAME\], e.g." -- get vm a b
check "-v is not hidden by -q" 0 '' 'qkvm: read 4 files' -- -v -q validate -f examples/minimal/vm.yaml -f examples/minimal/network.yaml -f examples/minimal/storage.yaml -f examples/minimal/project.yaml
check "history of an empty database says which database" 0 "no runs recorded in $TESTTMP/empty.db" '' -- history --state "$TESTTMP/empty.db"
check "-o wide where it adds nothing is refused" 1 '' "-o wide is for get, history and events" -- -o wide plan -f examples/minimal
check "-o junit is refused before apply runs" 1 '' "-o junit is for plan and drift; apply prints" -- -o junit apply -f examples/minimal -c test:///default --yes --state "$TESTTMP/junit-refused.db"
if [ ! -e "$TESTTMP/junit-refused.db" ]; then
    pass "-o junit refused: nothing ran (no state database)"
else
    fail "-o junit refused: nothing ran (no state database)" "$TESTTMP/junit-refused.db exists"
fi
check "an unknown -o names junit among the formats" 1 '' "table, wide, json, yaml or junit" -- -o xml plan -f examples/minimal

# qkvm_objects of a fleet: the controller on test-driver nodes (the
# placement case: hv4 unreachable, two VMs no node takes) counts each
# object once: a Node or Policy not once per node, an unschedulable VM and
# the unreachable node's objects too
F="$TESTTMP/fleet-objects"
mkdir -p "$F/m"
for f in tests/data/fleet/placement/manifests/*.yaml; do
    sed "s#@DIR@#$PWD/tests/data/fleet/placement#g" "$f" >"$F/m/$(basename "$f")"
done
$WRAP "$QKVM" run -f "$F/m" --state "$F/state.db" --listen 127.0.0.1:0 --observe-interval 1h \
    >"$F/log" 2>&1 &
fpid=$!
wait_until 1200 eval 'grep -q "sync run [0-9]*:" "$F/log" || ! kill -0 "$fpid" 2>/dev/null'
fport=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$F/log" | head -1)
fm=$(curl -s "http://127.0.0.1:$fport/metrics" | grep '^qkvm_objects' | grep -v ' 0$' | sort)
kill -TERM "$fpid" 2>/dev/null
wait "$fpid" 2>/dev/null
want='qkvm_objects{kind="Network",sync="Synced"} 4
qkvm_objects{kind="Network",sync="Unknown"} 1
qkvm_objects{kind="Node",sync="Synced"} 3
qkvm_objects{kind="Node",sync="Unknown"} 1
qkvm_objects{kind="Policy",sync="Synced"} 2
qkvm_objects{kind="VM",sync="Synced"} 7
qkvm_objects{kind="VM",sync="Unschedulable"} 2'
if [ "$fm" = "$want" ]; then
    pass "run: a fleet's qkvm_objects counts each object once (unreachable node and unschedulable VMs included)"
else
    fail "run: a fleet's qkvm_objects counts each object once (unreachable node and unschedulable VMs included)" "$fm
$(tail -5 "$F/log")"
fi

# qkvm metrics: the controller's exposition from one observation and the
# state database, for node_exporter's textfile collector
M="$TESTTMP/metrics"
mkdir -p "$M"
check "metrics prints the drift, the objects and the node (exit 2: drift)" 2 \
    '^qkvm_drift_findings\{kind="VM",category="missing"\} 1$' '' -- \
    metrics -f examples/minimal -c test:///default --state "$M/state.db"
grep -qx 'qkvm_objects{kind="VM",sync="Missing"} 1' "$TESTTMP/o" &&
    grep -qx 'qkvm_nodes{state="ready"} 1' "$TESTTMP/o" &&
    grep -qx 'qkvm_manifest_errors 0' "$TESTTMP/o" &&
    pass "metrics: objects by sync state, nodes by state, no manifest error" ||
    fail "metrics: objects by sync state, nodes by state, no manifest error" "$(cat "$TESTTMP/o")"
if ! command -v promtool >/dev/null; then
    fail "metrics: promtool check metrics passes" "promtool is not installed (tools/install-deps testbed installs prometheus)"
elif out=$(promtool check metrics <"$TESTTMP/o" 2>&1); then
    pass "metrics: promtool check metrics passes"
else
    fail "metrics: promtool check metrics passes" "$out"
fi
check "metrics -o FILE writes the file, nothing on stdout" 2 '' '' -- \
    metrics -f examples/minimal -c test:///default --state "$M/state.db" -o "$M/qkvm.prom"
if [ "$(stat -c %a "$M/qkvm.prom" 2>/dev/null)" = 644 ] &&
   grep -qx 'qkvm_runs_total{kind="metrics",result="drift"} 1' "$M/qkvm.prom" &&
   [ "$(ls "$M" | grep -c tmp)" = 0 ]; then
    pass "metrics -o: mode 0644, the earlier run counted from the state database, no temporary file left"
else
    fail "metrics -o: mode 0644, the earlier run counted from the state database, no temporary file left" "$(ls -la "$M"; cat "$M/qkvm.prom" 2>&1 | head -20)"
fi
cp "$M/qkvm.prom" "$M/before.prom"
touch "$M/not-a-dir"
check "metrics -o into a path that cannot be written: exit 1, the path and why" 1 '' \
    "cannot write '$M/not-a-dir/qkvm.prom': Not a directory" -- \
    metrics -f examples/minimal -c test:///default --state "$M/state.db" -o "$M/not-a-dir/qkvm.prom"
check "metrics of invalid manifests: exit 3, qkvm_manifest_errors says how many" 3 '^qkvm_manifest_errors [1-9]' '*' -- \
    metrics -f tests/data/invalid/many-errors-sorted.yaml -c test:///default --state "$M/state.db"

# QKVM_HOST_PATHS: the only directories a manifest may name on a host
QKVM_HOST_PATHS=/srv/boot:/var/log/qkvm check "QKVM_HOST_PATHS refuses boot, consoleLog and file:// outside it (.. included)" 3 '' \
    "escape.yaml:19:18: spec.boot.kernel of VM 'v' is /etc/shadow, outside the directories QKVM_HOST_PATHS allows" -- \
    validate -f tests/data/hostpaths/escape.yaml
if ! grep -q "spec.consoleLog of VM 'v' is /etc/cron.d/x" "$TESTTMP/e" ||
   ! grep -q "spec.url of Image 'i' is /srv/boot/../../etc/shadow" "$TESTTMP/e" ||
   grep -q "initrd" "$TESTTMP/e"; then
    fail "... consoleLog and the file:// URL refused, the initrd inside it allowed" "$(cat "$TESTTMP/e")"
else
    pass "... consoleLog and the file:// URL refused, the initrd inside it allowed"
fi
check "without QKVM_HOST_PATHS any host path is taken (one operator's host)" 0 '*' '' -- \
    validate -q -f tests/data/hostpaths/escape.yaml
