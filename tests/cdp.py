#!/usr/bin/env python3
"""tests/cdp.py — drive headless Chromium (Debian's package) over its
DevTools pipe, for the report's browser tests and the page-load benchmark.

    cdp.py URL [--screenshot PNG] [--step JS]... [--mark FIFO] [--timeout S]

Opens URL in a fresh profile, waits for its load event, then evaluates
each --step expression in order (a step may return a promise; its value
is awaited; --mark: a line is written to FIFO once the first step is done,
so a test can change something while a later step waits for the page to
show it) and prints one JSON object on stdout:

    {"console": [...errors and warnings the page logged...],
     "exceptions": [...uncaught exceptions...],
     "results": [...each step's value...],
     "requests": [...every URL the page asked for, the page's own first...],
     "loadMs": the navigation's loadEventEnd (ms from its start)}

The protocol is Chromium's --remote-debugging-pipe: JSON messages ended
by a NUL byte, read by the browser on fd 3 and written on fd 4. Nothing
listens on a port, and the page is the only thing it loads. Exit 0 when
the page loaded, 1 otherwise (said on stderr).
"""
import argparse
import base64
import json
import os
import select
import subprocess
import sys
import tempfile
import time


class Browser:
    def __init__(self, profile, timeout):
        self.deadline = time.monotonic() + timeout
        to_r, self.to_w = os.pipe()       # we write, the browser reads (its fd 3)
        self.from_r, from_w = os.pipe()   # it writes (its fd 4), we read

        def fds():
            os.dup2(to_r, 3)
            os.dup2(from_w, 4)

        exe = os.environ.get("CHROMIUM", "chromium")
        self.proc = subprocess.Popen(
            [exe, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--no-default-browser-check", "--disable-extensions", "--disable-sync",
             "--disable-background-networking", "--disable-component-update",
             "--remote-debugging-pipe", "--user-data-dir=" + profile,
             "--window-size=1280,2000", "about:blank"],
            pass_fds=(3, 4), preexec_fn=fds, stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=open(os.path.join(profile, "stderr"), "wb"))
        os.close(to_r)
        os.close(from_w)
        self.buf = b""
        self.next_id = 0
        self.events = []

    def close(self):
        try:
            self.send("Browser.close")
        except Exception:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def _read(self):
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("the browser did not answer in time")
        r, _, _ = select.select([self.from_r], [], [], left)
        if not r:
            raise TimeoutError("the browser did not answer in time")
        chunk = os.read(self.from_r, 1 << 20)
        if not chunk:
            raise EOFError("the browser went away")
        self.buf += chunk

    def _message(self):
        while b"\0" not in self.buf:
            self._read()
        raw, self.buf = self.buf.split(b"\0", 1)
        return json.loads(raw)

    def send(self, method, params=None, session=None):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self.to_w, json.dumps(msg).encode() + b"\0")
        want = self.next_id
        while True:
            m = self._message()
            if m.get("id") == want:
                if "error" in m:
                    raise RuntimeError("%s: %s" % (method, m["error"]))
                return m.get("result", {})
            self.events.append(m)

    def wait_event(self, method):
        for i, m in enumerate(self.events):
            if m.get("method") == method:
                del self.events[i]
                return m
        while True:
            m = self._message()
            if m.get("method") == method:
                return m
            self.events.append(m)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("url")
    ap.add_argument("--screenshot")
    ap.add_argument("--step", action="append", default=[])
    ap.add_argument("--mark")
    ap.add_argument("--timeout", type=float, default=120)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="qkvm-cdp.") as profile:
        b = Browser(profile, a.timeout)
        out = {"console": [], "exceptions": [], "results": [], "requests": [], "loadMs": None}
        try:
            targets = b.send("Target.getTargets")["targetInfos"]
            page = next(t for t in targets if t["type"] == "page")
            sid = b.send("Target.attachToTarget",
                         {"targetId": page["targetId"], "flatten": True})["sessionId"]
            for m in ("Page.enable", "Runtime.enable", "Log.enable", "Network.enable"):
                b.send(m, session=sid)
            b.events.clear()                      # about:blank's
            nav = b.send("Page.navigate", {"url": a.url}, session=sid)
            if nav.get("errorText"):
                raise RuntimeError("navigation: " + nav["errorText"])
            b.wait_event("Page.loadEventFired")
            timing = b.send("Runtime.evaluate", {
                "expression": "performance.getEntriesByType('navigation')[0].loadEventEnd",
                "returnByValue": True}, session=sid)
            out["loadMs"] = timing.get("result", {}).get("value")
            for step in a.step:
                r = b.send("Runtime.evaluate", {"expression": step, "returnByValue": True,
                                                "awaitPromise": True}, session=sid)
                if "exceptionDetails" in r:
                    out["exceptions"].append("step %r: %s" % (
                        step, r["exceptionDetails"].get("exception", {}).get("description",
                                                                             r["exceptionDetails"].get("text"))))
                    out["results"].append(None)
                else:
                    out["results"].append(r.get("result", {}).get("value"))
                if a.mark and step is a.step[0]:
                    with open(a.mark, "w") as f:
                        f.write("first step done\n")
            # one more round trip: what the page logged last is read too
            b.send("Runtime.evaluate", {"expression": "1"}, session=sid)
            if a.screenshot:
                shot = b.send("Page.captureScreenshot", {"format": "png"}, session=sid)
                with open(a.screenshot, "wb") as f:
                    f.write(base64.b64decode(shot["data"]))
            for m in b.events:
                p = m.get("params", {})
                if m.get("method") == "Network.requestWillBeSent":
                    out["requests"].append(p.get("request", {}).get("url", ""))
                if m.get("method") == "Runtime.consoleAPICalled" and p.get("type") in ("error", "warning", "assert"):
                    out["console"].append(" ".join(str(x.get("value", x.get("description", "")))
                                                   for x in p.get("args", [])))
                elif m.get("method") == "Runtime.exceptionThrown":
                    d = p.get("exceptionDetails", {})
                    out["exceptions"].append(d.get("exception", {}).get("description", d.get("text")))
                elif m.get("method") == "Log.entryAdded" and p.get("entry", {}).get("level") in ("error", "warning"):
                    out["console"].append(p["entry"].get("text", ""))
        except Exception as e:
            print("cdp.py: %s" % e, file=sys.stderr)
            b.close()
            return 1
        b.close()
        print(json.dumps(out))
        return 0


if __name__ == "__main__":
    sys.exit(main())
