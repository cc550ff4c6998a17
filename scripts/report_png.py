#!/usr/bin/env python3
"""docs/report.png, the report the README shows, kept current with the report's code.

The picture is the report of a fixed sample run: two load hosts of two cores each, a
trapezoid of 60 requests per second (15 s ramp-up, 40 s constant, 10 s ramp-down) against three
labels, every planned request sent at its planned second, latencies and a few failures drawn
from a seeded random generator. No network, no Locust run, nothing of this machine in it (the
versions are those the repository pins), so the same code gives the same HTML byte for byte.

    scripts/report_png.py           # render the sample's report; screenshot it when it changed (chromium)
    scripts/report_png.py --check   # change nothing; exit 1 when docs/report.png is out of date

Chromium's PNG bytes are not stable across machines and versions (fonts, antialiasing), so
`--check` does not compare pictures: docs/report.png.sha256 records the SHA-256 of the HTML the
picture was taken of (and of how it was taken), and `--check` renders the HTML again and
compares that hash. It needs no browser; `make docs` (this script without --check) needs
Debian's chromium and retakes the picture only when the hash changed.
"""
from __future__ import annotations

import argparse
import hashlib
import math
import random
import re
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "collections"))
sys.path.insert(0, str(ROOT / "tests" / "integration"))  # browser.py: the tests' headless Chromium

# pylint: disable=wrong-import-position
from ansible_collections.romram.hailstorms.plugins.module_utils import plan_queries, run_settings  # noqa: E402
from ansible_collections.romram.hailstorms.plugins.module_utils import (  # noqa: E402
    contract, exports, planner, report, run_state, thresholds, versions)
from ansible_collections.romram.hailstorms.plugins.module_utils.records import (  # noqa: E402
    Histogram, end_record, meta_record, stats_record)
from ansible_collections.romram.hailstorms.plugins.module_utils.summary import (  # noqa: E402
    merge, phase_figures, summarize)

PNG = ROOT / "docs" / "report.png"
HASH = PNG.with_name(PNG.name + ".sha256")
GENERATOR = "scripts/report_png.py"
# how the picture is taken: part of the recorded hash, so changing it retakes the picture
SHOT = "browser.load, window 1280x900, full page (captureBeyondViewport)"

SEED = 19
START = 1_767_268_800.0  # 2026-01-01T12:00:00Z, the sample's shared start
SETTINGS = {"target": "https://shop.example.com", "rps": 60, "clients": 120, "rampup": 15, "constant": 40,
            "rampdown": 10, "locustfile": "locustfiles/shop.py"}
HOSTS = [("load-1", 2), ("load-2", 2)]
# label: (share of the requests, median ms, spread (sigma of the log), failure probability, failure kind)
LABELS = {"GET /": (0.5, 18.0, 0.35, 0.0, ""),
          "GET /items/{id}": (0.35, 42.0, 0.5, 0.004, "HTTP 503"),
          "POST /cart": (0.15, 95.0, 0.6, 0.02, "HTTP 409")}
THRESHOLDS = {"p95_ms": 400, "failure_rate": "1%", "labels": {"GET /": {"p99_ms": 100}}}


def _pins() -> dict[str, str]:
    """The versions the repository pins (the sample's 'made with', the same on every machine)."""
    def pin(path: Path, name: str) -> str:
        match = re.search(rf"^{re.escape(name)}==(\S+)", path.read_text(encoding="utf-8"), re.M)
        return match.group(1) if match else "-"
    runtime = ROOT / "collections" / "ansible_collections" / "romram" / "hailstorms" / "runtime" / "requirements.txt"
    return {"collection": versions.collection_version() or "-",
            "ansible_core": pin(ROOT / "requirements.txt", "ansible-core"),
            "controller_python": "3.11.2", "locust": pin(runtime, "locust"), "load_python": "3.11.2"}


def sample_run() -> tuple[dict[str, Any], dict[str, Any], dict[str, Any], list[dict[str, Any]], str]:
    """(merged, summary, plan, verdicts, phase description) of the sample run."""
    settings, warnings = run_settings.resolve_settings({"default": SETTINGS})
    pins = _pins()
    plan = {**planner.make_plan(settings, HOSTS), "run_id": "sample", "target": settings["target"],
            "profile": "default", "locustfile": settings["locustfile"], "warnings": warnings,
            "versions": {key: pins[key] for key in ("collection", "ansible_core", "controller_python")}}
    rng = random.Random(SEED)
    names = list(LABELS)
    shares = [LABELS[name][0] for name in names]
    sources = []
    for host, cores in HOSTS:
        for index in range(cores):
            core = plan["hosts"][host]["cores"][index]
            seconds: dict[int, dict[str, dict[str, Any]]] = {}
            active: dict[int, int] = {}
            iterations = 0
            for client in plan_queries.core_intervals(plan, core):
                for sec in range(math.floor(client[1]), math.ceil(client[3])):
                    if client[1] <= sec + 0.5 < client[3]:
                        active[sec] = active.get(sec, 0) + 1
                for at in plan_queries.request_times(client, float(plan["pace"])):
                    iterations += 1
                    label = rng.choices(names, shares)[0]
                    _share, median, sigma, fail, kind = LABELS[label]
                    slow = 1.0 + 1.5 * max(0.0, (at - 40) / 15)  # the service tires late in the constant phase
                    ms = rng.lognormvariate(math.log(median * slow), sigma)
                    failed = rng.random() < fail
                    cell = seconds.setdefault(math.floor(at), {}).setdefault(label, {
                        "requests": 0, "failures": 0, "bytes": 0, "time_us": 0, "errors": {}, "hist": {}})
                    hist = Histogram(cell["hist"])
                    hist.record_ms(ms)
                    cell.update(requests=cell["requests"] + 1, failures=cell["failures"] + failed,
                                bytes=cell["bytes"] + 1200, time_us=cell["time_us"] + int(ms * 1000),
                                hist=hist.to_json())
                    if failed:
                        cell["errors"][kind] = cell["errors"].get(kind, 0) + 1
            sources.append([meta_record(host=host, core=index, start_time=START, clients=core["clients"],
                                        start_delay=0.0004, locust=pins["locust"], python=pins["load_python"]),
                            stats_record(seconds, active, started=core["clients"], iterations=iterations,
                                         time=START + plan["duration"]),
                            end_record("done")])
    merged = merge(sources)
    summary = summarize(merged, plan)
    summary["clock"] = exports.run_clock(merged)
    checked = thresholds.check(THRESHOLDS)
    summary.update(run_state.run_state(summary, plan, thresholds.allowed_failures(checked)))
    figures = phase_figures(merged, plan, checked["phase"])
    return merged, summary, plan, thresholds.evaluate(checked, figures), figures["description"]


def sample_html() -> str:
    merged, summary, plan, verdicts, over = sample_run()
    files = {contract.SUMMARY_FILE: "the merged figures (JSON)", contract.REPORT_FILE: "this report"}
    return report.render(merged, summary, plan, verdicts, over, files, {"load-1": 0.0008, "load-2": -0.0011})


def _shown(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def recorded_hash(html: str) -> str:
    return hashlib.sha256((SHOT + "\n" + html).encode("utf-8")).hexdigest()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 when docs/report.png is stale")
    args = parser.parse_args(argv)
    html = sample_html()
    digest = recorded_hash(html)
    current = HASH.read_text(encoding="utf-8").split()[0] if HASH.exists() else ""
    if current == digest and PNG.exists():
        return 0
    if args.check:
        print(f"{_shown(PNG)} is out of date: the report's HTML changed (its hash is not the one in "
              f"{_shown(HASH)}); run `make docs` (needs chromium) and commit both files", file=sys.stderr)
        return 1
    from browser import CHROMIUM, load  # pylint: disable=import-outside-toplevel
    if CHROMIUM is None:
        print(f"{GENERATOR}: the report changed and chromium is not installed to take {_shown(PNG)} "
              "again: apt-get install -y chromium, then run `make docs`", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="hs-report-png-") as tmp:
        page = Path(tmp) / contract.REPORT_FILE
        page.write_text(html, encoding="utf-8")
        seen = load(page, "document.querySelectorAll('figure.chart').length", screenshot=PNG)
    if seen.errors or seen.requests != [page.resolve().as_uri()] or not seen.value:
        print(f"{GENERATOR}: the sample report did not load cleanly: errors {seen.errors}, requests {seen.requests}",
              file=sys.stderr)
        return 1
    HASH.write_text(f"{digest}  sha256 of the HTML {PNG.name} shows ({GENERATOR})\n", encoding="utf-8")
    print(f"wrote {_shown(PNG)} and {_shown(HASH)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
