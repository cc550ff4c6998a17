"""Load a page in headless Chromium (Debian's `chromium`) over the DevTools protocol: what it logged,
what it requested, what a script in the page measured, and a full-page screenshot."""
from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import websocket  # websocket-client, pinned in requirements.txt

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@dataclass
class PageLoad:
    errors: list[str] = field(default_factory=list)      # console errors, exceptions, log errors
    requests: list[str] = field(default_factory=list)    # every URL the page asked for
    value: Any = None                                     # what the probe script returned


class DevTools:
    def __init__(self, url: str) -> None:
        self.ws = websocket.create_connection(url, timeout=30, suppress_origin=True)
        self.next_id = 0
        self.events: list[dict] = []

    def call(self, method: str, session: str | None = None, **params: Any) -> dict:
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        self.ws.send(json.dumps(message))
        while True:
            reply = json.loads(self.ws.recv())
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_for(self, method: str, timeout: float = 30) -> dict:
        deadline = time.monotonic() + timeout
        for event in self.events:
            if event.get("method") == method:
                return event
        while time.monotonic() < deadline:
            self.ws.settimeout(max(0.1, deadline - time.monotonic()))
            event = json.loads(self.ws.recv())
            self.events.append(event)
            if event.get("method") == method:
                return event
        raise TimeoutError(method)


def load(page: Path, probe: str, screenshot: Path | None = None, settle: float = 1.0) -> PageLoad:
    """Open `page` from file://, run the JavaScript expression `probe` once it has loaded."""
    assert CHROMIUM, "chromium is not installed (apt-get install -y chromium)"
    profile = tempfile.mkdtemp(prefix="hs-chromium-")
    process = subprocess.Popen(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--no-default-browser-check",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--remote-debugging-port=0", f"--user-data-dir={profile}", "--window-size=1280,900", "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        url = None
        deadline = time.monotonic() + 60
        while url is None and time.monotonic() < deadline:
            line = process.stderr.readline()
            if not line and process.poll() is not None:
                raise RuntimeError("chromium exited before listening")
            match = re.search(r"DevTools listening on (ws://\S+)", line)
            url = match.group(1) if match else None
        assert url, "chromium did not print its DevTools address within 60 s"
        tools = DevTools(url)
        target = tools.call("Target.createTarget", url="about:blank")["targetId"]
        session = tools.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            tools.call(f"{domain}.enable", session)
        tools.call("Page.navigate", session, url=page.resolve().as_uri())
        tools.wait_for("Page.loadEventFired")
        time.sleep(settle)  # late console messages or requests, if any
        result = tools.call("Runtime.evaluate", session, expression=probe, returnByValue=True)
        outcome = PageLoad(value=result.get("result", {}).get("value"))
        if screenshot is not None:
            shot = tools.call("Page.captureScreenshot", session, format="png", captureBeyondViewport=True)
            screenshot.write_bytes(base64.b64decode(shot["data"]))
        for event in tools.events:
            method, params = event.get("method"), event.get("params", {})
            if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                outcome.errors.append(" ".join(str(arg.get("value", arg.get("description"))) for arg in params["args"]))
            elif method == "Runtime.exceptionThrown":
                details = params["exceptionDetails"]
                outcome.errors.append(f"{details.get('text', 'exception')} "
                                      f"{details.get('exception', {}).get('description', '')}".strip())
            elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
                outcome.errors.append(params["entry"].get("text", ""))
            elif method == "Network.requestWillBeSent":
                outcome.requests.append(params["request"]["url"])
        tools.ws.close()
        return outcome
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        shutil.rmtree(profile, ignore_errors=True)


# Per chart: the points its series declare, and the polylines the browser laid out with a
# non-empty length and box (i.e. actually drawn); the hover columns it declares, those laid out
# with a non-empty <title> (the value shown on hover), and of the points drawn at x in the plot
# mid-height, how many land on an element with a <title> (what the pointer shows there).
CHART_PROBE = """(() => Array.from(document.querySelectorAll('figure.chart')).map(f => {
  const lines = Array.from(f.querySelectorAll('polyline.series'));
  const drawn = lines.filter(l => l.points.numberOfItems > 0 && l.getTotalLength() > 0
                                  && l.getBoundingClientRect().width > 0);
  const columns = Array.from(f.querySelectorAll('rect.hover'));
  const titled = columns.filter(c => c.getBoundingClientRect().width > 0
                                     && (c.querySelector('title') || {}).textContent);
  const hits = columns.map(c => {
    c.scrollIntoView({block: 'center'});
    const box = c.getBoundingClientRect();
    const hit = document.elementFromPoint(box.left + box.width / 2, box.top + box.height / 2);
    return Boolean(hit && hit.closest('figure') === f && hit.querySelector(':scope > title'));
  });
  return {id: f.id, declared: Number(f.dataset.points),
          points: lines.reduce((n, l) => n + l.points.numberOfItems, 0),
          drawn: drawn.length, series: lines.length,
          width: f.querySelector('svg').getBoundingClientRect().width,
          hover_declared: Number(f.dataset.hover), hover: titled.length,
          hover_hits: hits.filter(Boolean).length};
}))()"""

# The report's tables as the browser shows them: per label, the requests, successes, failures
# and whether the failure cells are emphasised (table.labels), and the distribution's counts
# (table.distribution).
TABLES_PROBE = """(() => {
  const rows = (cls) => Array.from(document.querySelectorAll(`table.${cls} tbody tr`)).map(
    r => Array.from(r.cells).map(c => ({text: c.textContent, failed: c.classList.contains('failed'),
                                        color: getComputedStyle(c).color})));
  return {labels: rows('labels'), distribution: rows('distribution'), settings: rows('settings'),
          versions: rows('versions')};
})()"""
