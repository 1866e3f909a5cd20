# tests/report.sh — qkvm report: the Report tree (-o json), the HTML page
# (--html), hostile text in every output, and the page in a real browser
# (headless Chromium over its DevTools pipe, tests/cdp.py). Sourced by
# tests/run; libvirt's test:/// driver is the host.
if [ -z "${passed+x}" ]; then . "$(dirname "${BASH_SOURCE[0]}")/lib.sh"; fi

R="$TESTTMP/report"
mkdir -p "$R"

check "report: a summary per node, exit 2 (drift)" 2 '^localhost +ready +8 +7 +7$' '' -- \
    report -f examples/minimal -c test:///default --state "$R/state.db"
check "report --html: the page is written, said on stderr" 2 '' \
    "wrote $R/r.html: 7 findings" -- \
    report -f examples/minimal -c test:///default --state "$R/state.db" --html "$R/r.html"
# self-contained: nothing it would load (no src, no link, no import, no
# url(), no external href), one script, and the parts the issue lists
if out=$(python3 - "$R/r.html" <<'ZZEND' 2>&1
import sys, re
from html.parser import HTMLParser
src = open(sys.argv[1], encoding="utf-8").read()
class P(HTMLParser):
    def __init__(s):
        super().__init__(); s.bad = []; s.scripts = 0; s.ids = set()
    def handle_starttag(s, tag, attrs):
        a = dict(attrs)
        if tag == "script":
            s.scripts += 1
        if "src" in a or tag in ("iframe", "object", "embed", "img"):
            s.bad.append((tag, attrs))
        if tag == "link" and a.get("href") != "data:,":
            s.bad.append((tag, attrs))
        if "href" in a and not a["href"].startswith("#") and a["href"] != "data:,":
            s.bad.append((tag, attrs))
        if "id" in a:
            s.ids.add(a["id"])
p = P(); p.feed(src)
assert src.startswith("<!DOCTYPE html>"), "no doctype"
assert not p.bad, "loads something: %r" % p.bad
assert p.scripts == 1, "%d scripts" % p.scripts
assert "@import" not in src and "url(" not in src, "the style loads something"
want = {"summary", "drift", "orphans", "nodes", "runs", "failovers", "events", "filter"}
assert want <= p.ids, "missing sections: %r" % (want - p.ids)
ZZEND
); then
    pass "report --html: self-contained (nothing loaded, one script), every section there"
else
    fail "report --html: self-contained (nothing loaded, one script), every section there" "$out"
fi
if [ "$(stat -c %a "$R/r.html")" = "$(printf '%o' $((0666 & ~$(umask))))" ] &&
   [ "$(ls "$R" | grep -c tmp)" = 0 ]; then
    pass "report --html: mode 0666 less the umask, no temporary file left"
else
    fail "report --html: mode 0666 less the umask, no temporary file left" "$(ls -la "$R"; umask)"
fi
chmod 600 "$R/r.html"
$WRAP "$QKVM" report -q -f examples/minimal -c test:///default --state "$R/state.db" --html "$R/r.html"
if [ "$(stat -c %a "$R/r.html")" = 600 ]; then
    pass "report --html: a page made private stays private when written again"
else
    fail "report --html: a page made private stays private when written again" "$(ls -la "$R/r.html")"
fi
check "report -o json: the Report tree" 2 '"kind": "Report"' '' -- \
    report -f examples/minimal -c test:///default --state "$R/state.db" -o json
if out=$(python3 - "$TESTTMP/o" <<'ZZEND' 2>&1
import json, sys
r = json.load(open(sys.argv[1]))
s = r["summary"]
assert s["objects"]["Missing"] == 4 and s["objects"]["Orphan"] == 3, s
assert s["findings"] == 7 and s["nodes"] == {"ready": 1}, s
f = [x for x in r["findings"] if x["name"] == "min-vm-1"]
assert f and f[0]["category"] == "missing" and f[0]["node"] == "localhost", f
o = [x for x in r["findings"] if x["category"] == "orphan"]
assert o and all("import" in x["advice"] for x in o), o
vm = [x for x in r["objects"] if x["kind"] == "VM" and x["name"] == "min-vm-1"]
assert vm and vm[0]["labels"] == {"app": "demo"}, vm
# the runs this database holds: the four reports so far, newest first
assert [x["kind"] for x in r["runs"]] == ["report"] * 4, r["runs"]
assert r["runs"][0]["id"] > r["runs"][1]["id"]
assert any(e["reason"] == "DriftDetected" for e in r["events"]), r["events"][:3]
ZZEND
); then
    pass "report -o json: counts, the finding's node, advice for orphans, labels, runs, events"
else
    fail "report -o json: counts, the finding's node, advice for orphans, labels, runs, events" "$out"
fi
cp "$R/r.html" "$R/before.html"
touch "$R/not-a-dir"
check "report --html into a path that cannot be written: exit 1, the path and why" 1 '' \
    "cannot write '$R/not-a-dir/r.html': Not a directory" -- \
    report -f examples/minimal -c test:///default --state "$R/state.db" --html "$R/not-a-dir/r.html"
check "report of invalid manifests: exit 3, nothing written" 3 '' '*' -- \
    report -f tests/data/invalid/many-errors-sorted.yaml -c test:///default --state "$R/state.db" \
    --html "$R/r.html"
if cmp -s "$R/r.html" "$R/before.html"; then
    pass "report: a failed or refused report leaves the earlier page as it was"
else
    fail "report: a failed or refused report leaves the earlier page as it was"
fi
check "report -o junit is refused before anything runs" 1 '' \
    "-o junit is for plan and drift" -- report -f examples/minimal -o junit
check "--html is report's alone" 1 '' "html" -- drift -f examples/minimal --html "$R/x.html"

# a fleet of one Node: its objects on it, the Policy and the Project the
# fleet's own (not the node's)
mkdir -p "$R/one/m"
cp examples/minimal/*.yaml "$R/one/m/"
cat >"$R/one/m/node.yaml" <<'EOF'
apiVersion: qkvm.dev/v1
kind: Node
metadata: {name: n1}
spec: {uri: "test:///default"}
---
apiVersion: qkvm.dev/v1
kind: Policy
metadata: {name: all}
spec: {selector: {}, drift: {mode: report}}
EOF
check "report of a fleet of one Node" 2 '"kind": "Report"' '*' -- \
    report -f "$R/one/m" --state "$R/one/state.db" -o json --html "$R/one/r.html"
if out=$(python3 - "$TESTTMP/o" "$R/one/r.html" <<'ZZEND' 2>&1
import json, sys
r = json.load(open(sys.argv[1]))
assert r["fleet"] is True, r["fleet"]
n1 = [n for n in r["nodes"] if n["name"] == "n1"][0]
mine = [o for o in r["objects"] if o["kind"] in ("Policy", "Project")]
assert len(mine) == 2, mine
# the node's objects: its networks, pools, disks and VMs; not the Policy,
# the Project or the VM no node can take (test:///default's own "test"
# domain holds all of its memory: min-vm-1 is unschedulable)
theirs = [o for o in r["objects"] if o["kind"] not in ("Policy", "Project") and o["sync"] != "Unschedulable"]
assert n1["objects"] == len(theirs) and len(theirs) >= 4, (n1, r["objects"])
assert any(o["sync"] == "Unschedulable" for o in r["objects"]), r["objects"]
page = open(sys.argv[2], encoding="utf-8").read()
assert "the fleet&#39;s own objects" in page or "the fleet's own objects" in page, "no group of the fleet's own objects"
ZZEND
); then
    pass "report: one Node's objects are its own; the Policy and the Project are the fleet's"
else
    fail "report: one Node's objects are its own; the Policy and the Project are the fleet's" "$out"
fi

# hostile text: a domain name and a label value (in the qkvm mark of a
# domain, as hand-edited XML could leave it) with markup, quotes and
# non-ASCII, in the page (escaped: text, never markup) and the tree (exact)
H=tests/data/plan/drift-junit-hostile
mkdir -p "$R/hostile"
cp "$H/owned" "$R/hostile/state.db.owned"
check "report of hostile names" 2 '"kind": "Report"' '*' -- report -f "$H/manifests" -c "test://$PWD/$H/host.xml" \
    --state "$R/hostile/state.db" --html "$R/hostile/r.html" -o json
if out=$(python3 - "$TESTTMP/o" "$R/hostile/r.html" <<'ZZEND' 2>&1
import json, sys
from html.parser import HTMLParser
label = "<script>alert(\"x\")</script> it's \u00e9 \u00fc"
name = "x<script>alert(\"1\")<\\script>&'\u00e9]]>"
r = json.load(open(sys.argv[1]))
web = [o for o in r["objects"] if o["name"] == "web-1"]
assert web and web[0]["labels"] == {"note": label}, web
assert any(f["name"] == name for f in r["findings"]), [f["name"] for f in r["findings"]]
src = open(sys.argv[2], encoding="utf-8").read()
class P(HTMLParser):
    def __init__(s):
        super().__init__(convert_charrefs=True); s.scripts = 0; s.text = []
    def handle_starttag(s, tag, attrs):
        s.scripts += tag == "script"
    def handle_data(s, d):
        s.text.append(d)
p = P(); p.feed(src)
text = "".join(p.text)
assert p.scripts == 1, "%d script elements: markup got in" % p.scripts
assert "note=" + label in text, "the label is not in the page's text"
assert name in text, "the domain name is not in the page's text"
assert "<script>alert" not in src, "raw markup in the page"
ZZEND
); then
    pass "report: hostile label and name are text in the page, exact in the tree"
else
    fail "report: hostile label and name are text in the page, exact in the tree" "$out"
fi

# ---- the page in a real browser ----
if ! command -v chromium >/dev/null; then
    fail "report in Chromium" "chromium is not installed (tools/install-deps test installs it)"
else
    # the detector first: a page that logs an error and throws must be caught
    printf '<!DOCTYPE html><title>t</title><script>console.error("boom");undefined_fn();</script>\n' \
        >"$R/bad.html"
    if out=$(timeout 120 python3 tests/cdp.py "file://$R/bad.html" 2>&1) &&
       python3 -c 'import json,sys; d=json.loads(sys.argv[1]); assert "boom" in d["console"] and d["exceptions"], d' "$out" 2>/dev/null; then
        pass "cdp.py: a console error and an uncaught exception are caught"
    else
        fail "cdp.py: a console error and an uncaught exception are caught" "$out"
    fi
    # the report: no console error, visible text, filtering (the box, and
    # #filter= in the address), sorting, a screenshot
    steps=(
        --step "document.body.innerText"
        --step "(function(){var b=document.getElementById('filter');b.value='min-net';b.dispatchEvent(new Event('input'));return [document.body.innerText.indexOf('min-pool')<0, document.body.innerText.indexOf('min-net')>=0, document.getElementById('filtercount').textContent, location.hash];})()"
        --step "(function(){var b=document.getElementById('filter');b.value='';b.dispatchEvent(new Event('input'));var th=document.querySelector('#drift th');th.click();th.click();var first=document.querySelector('#drift tbody tr').cells[0].textContent;return [th.getAttribute('aria-sort'), document.querySelectorAll('tr.hidden').length];})()"
    )
    if out=$(timeout 180 python3 tests/cdp.py "file://$R/r.html" --screenshot "$R/r.png" "${steps[@]}" 2>&1) &&
       check_out=$(python3 - "$out" "$R/r.png" <<'ZZEND' 2>&1
import json, sys, os
d = json.loads(sys.argv[1])
assert not d["console"] and not d["exceptions"], (d["console"], d["exceptions"])
assert [u for u in d["requests"] if not u.startswith("file://") and not u.startswith("data:")] == [], d["requests"]
text, filt, sort = d["results"]
for s in ("min-vm-1", "localhost", "declared, not on the host", "Orphans", "qkvm import"):
    assert s in text, "%r is not visible" % s
assert filt[0] and filt[1], filt
assert filt[2].endswith("rows match") and filt[3] == "#filter=min-net", filt
assert sort == ["descending", 0], sort
png = open(sys.argv[2], "rb").read()
assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10000, len(png)
ZZEND
); then
        pass "report in Chromium: no console error, the drift and node visible, filter and sort work, a screenshot"
    else
        fail "report in Chromium: no console error, the drift and node visible, filter and sort work, a screenshot" "$out $check_out"
    fi
    # a filter in the address, as a link someone sends
    if out=$(timeout 120 python3 tests/cdp.py "file://$R/r.html#filter=orphan" \
             --step "[document.getElementById('filter').value, document.querySelectorAll('#drift tbody tr:not(.hidden)').length, document.querySelectorAll('#orphans tbody tr:not(.hidden)').length]" 2>&1) &&
       python3 -c 'import json,sys; d=json.loads(sys.argv[1]); assert d["results"][0]==["orphan",0,3], d' "$out" 2>/dev/null; then
        pass "report in Chromium: #filter=orphan in the address filters the tables"
    else
        fail "report in Chromium: #filter=orphan in the address filters the tables" "$out"
    fi
    # the hostile page runs no script of its text
    if out=$(timeout 120 python3 tests/cdp.py "file://$R/hostile/r.html" \
             --step "[document.scripts.length, document.body.innerText.indexOf('note=<script>alert(\"x\")</script>')>=0]" \
             --step "(function(){var r=Array.prototype.find.call(document.querySelectorAll('#drift tbody tr'),function(tr){return tr.cells[2].innerText==='lab';});return r?[r.cells[3].innerText,r.cells[4].innerText,r.cells[6].innerText]:null;})()" 2>&1) &&
       python3 -c 'import json,sys; d=json.loads(sys.argv[1]); assert d["results"][0]==[1,True] and d["results"][1]==["changed","spec.dhcp.hosts[52:54:00:10:00:21]","10.10.0.21"] and not d["console"] and not d["exceptions"], d' "$out" 2>/dev/null; then
        pass "report in Chromium: the hostile label is shown as text, no script of it runs; the drifted field and its actual value are visible"
    else
        fail "report in Chromium: the hostile label is shown as text, no script of it runs; the drifted field and its actual value are visible" "$out"
    fi
fi
