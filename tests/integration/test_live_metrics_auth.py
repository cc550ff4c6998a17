"""Live metrics and the report's queries through a back end that wants a tenant header and a
token (as Mimir, Cortex or Thanos behind a gateway do): a guard on loopback in front of Debian's
Prometheus refuses any request without them. hailstorm_prometheus_headers and the token in
hailstorm_environment reach every push and every query, and their values appear in no output, no
results file and no file of the load host's work directory; the report links to the run in
Grafana and says what the live metrics lost."""
from __future__ import annotations

import json
import subprocess
import threading
import urllib.error
import urllib.parse
import urllib.request
from html import unescape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from harness import BIN, ROOT, feeder, local_aliases, playbook_env
from test_live_metrics import LOCUSTFILE, NEEDS_PROMETHEUS, prometheus

TENANT = "tenant-7"
TOKEN = "s3cr3t-token-4711"
API_KEY = "k3y-0815-secret"


class Guard:
    """An HTTP proxy to `upstream` that answers 401 unless a request carries X-Scope-OrgID,
    X-Api-Key and the bearer token; counts what it let through and what it refused."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.passed: list[str] = []
        self.refused: list[str] = []
        guard = self

        class Handler(BaseHTTPRequestHandler):
            def _forward(self, body: bytes | None) -> None:
                if (self.headers.get("X-Scope-OrgID") != TENANT or self.headers.get("X-Api-Key") != API_KEY
                        or self.headers.get("Authorization") != f"Bearer {TOKEN}"):
                    guard.refused.append(self.path)
                    self.send_response(401)
                    self.end_headers()
                    return
                guard.passed.append(self.path.split("?")[0])
                request = urllib.request.Request(guard.upstream + self.path, data=body, method=self.command,
                                                 headers={k: v for k, v in self.headers.items()
                                                          if k.lower() in ("content-type", "content-encoding",
                                                                           "x-prometheus-remote-write-version")})
                try:
                    with urllib.request.urlopen(request, timeout=30) as answer:
                        status, payload = answer.status, answer.read()
                except urllib.error.HTTPError as error:
                    status, payload = error.code, error.read()
                self.send_response(status)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                self._forward(None)

            def do_POST(self) -> None:  # noqa: N802
                self._forward(self.rfile.read(int(self.headers.get("Content-Length") or 0)))

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@NEEDS_PROMETHEUS
def test_headers_and_token_reach_every_push_and_query_and_no_output_or_file_shows_them(tmp_path: Path):
    locustfile = tmp_path / "mixed.py"
    locustfile.write_text(LOCUSTFILE)
    results = tmp_path / "results"
    inventory = local_aliases(tmp_path, 1, cores=1, name="liveauth")
    with feeder() as target, prometheus(tmp_path / "prometheus", scrape=target) as prom:
        guard = Guard(prom)
        try:
            settings = {  # a vars file, as a vault would be: never on the command line
                "hailstorm_prometheus_remote_write": guard.url + "/api/v1/write",
                "hailstorm_prometheus_url": guard.url,
                "hailstorm_prometheus_headers": {"X-Scope-OrgID": TENANT, "X-Api-Key": API_KEY},
                "hailstorm_environment": {"HAILSTORM_PROMETHEUS_BEARER_TOKEN": TOKEN},
                "hailstorm_report_queries": {"answered": 'sum(hailstorm_feeder_requests_total{job="api"})'},
                "hailstorm_grafana_url": "https://grafana.example:3000",
                "hailstorm_thresholds": {"failure_rate": "50%"},
            }
            (tmp_path / "vars.json").write_text(json.dumps(settings))
            run = subprocess.run(
                [str(BIN / "ansible-playbook"), "playbooks/distribute.yml", "-i", str(inventory), "-v",
                 "-e", "hailstorm_profile=short", "-e", f"hailstorm_target={target}",
                 "-e", f"hailstorm_results_dir={results}", "-e", "hailstorm_run_id=auth",
                 "-e", f"hailstorm_locustfile={locustfile}", "-e", f"@{tmp_path / 'vars.json'}"],
                cwd=ROOT, env=playbook_env(), capture_output=True, text=True, timeout=600)
        finally:
            guard.close()
    assert run.returncode == 0, run.stdout[-4000:]
    assert guard.refused == [] and "/api/v1/write" in guard.passed and "/api/v1/query_range" in guard.passed
    summary = json.loads((results / "auth" / "summary.json").read_text())
    assert summary["live_metrics"]["lost"] == 0 and summary["live_metrics"]["pushed"] > 0
    assert summary["service_metrics"]["queries"]["answered"]["error"] is None
    for secret in (TOKEN, API_KEY):
        assert secret not in run.stdout + run.stderr
        for path in results.rglob("*"):  # the results and the load host's work directory (local backend)
            if path.is_file():
                assert secret.encode() not in path.read_bytes(), path
    page = (results / "auth" / "report.html").read_text()
    link = summary["grafana"]
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(link).query)
    assert link.startswith("https://grafana.example:3000/d/romram-hailstorms/")
    assert query["var-run_id"] == ["auth"]
    assert int(query["from"][0]) < summary["clock"]["start_epoch"] * 1000 < summary["clock"]["end_epoch"] * 1000 \
        < int(query["to"][0])
    assert f'href="{link}"' in unescape(page).replace("&amp;", "&") or link.replace("&", "&amp;") in page
    assert f"live metrics: {summary['live_metrics']['pushed']} of {summary['live_metrics']['samples']} samples" \
        in unescape(page)
    dashboard = json.loads((results / "auth" / "grafana-dashboard.json").read_text())
    assert [p for p in dashboard["panels"] if p["title"] == "answered"]  # the target's row: the report query


def test_bad_buckets_and_headers_are_refused_before_any_host_without_showing_a_header_s_value(tmp_path: Path):
    from harness import ansible_playbook

    (tmp_path / "vars.json").write_text(json.dumps({
        "hailstorm_prometheus_buckets": [0.1, -1],
        "hailstorm_prometheus_headers": {"X-Api-Key": API_KEY + "\nInjected: 1"}}))
    result = ansible_playbook("plan.yml", "seed-example", "-e", f"hailstorm_results_dir={tmp_path}/results",
                              "-e", f"@{tmp_path / 'vars.json'}")
    said = " ".join((result.stdout + result.stderr).split())
    assert result.returncode != 0 and "UNREACHABLE" not in result.stdout
    assert "hailstorm_prometheus_buckets: -1 in [0.1, -1] is not a positive number of seconds" in said
    assert not (tmp_path / "results").exists() or not any((tmp_path / "results").iterdir())
    (tmp_path / "vars.json").write_text(json.dumps({"hailstorm_prometheus_headers": {"X-Api-Key": API_KEY + "\nX: 1"}}))
    result = ansible_playbook("plan.yml", "seed-example", "-e", f"hailstorm_results_dir={tmp_path}/results",
                              "-e", f"@{tmp_path / 'vars.json'}")
    said = " ".join((result.stdout + result.stderr).split())
    assert result.returncode != 0 and "hailstorm_prometheus_headers: the value of X-Api-Key is not a one-line" in said
    assert API_KEY not in result.stdout + result.stderr
