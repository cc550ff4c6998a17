"""docs/report.png is the report of scripts/report_png.py's fixed sample run, and `--check`
(make docs-check) fails when the report's HTML changed since the picture was taken."""
from __future__ import annotations

import re
import subprocess
import sys

from project_scripts import ROOT, load

SCRIPT, report_png = load("report_png")


def test_the_committed_picture_is_of_the_current_report():
    result = subprocess.run([sys.executable, str(SCRIPT), "--check"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert report_png.PNG.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_sample_report_is_the_same_html_every_time():
    assert report_png.sample_html() == report_png.sample_html()


def test_the_sample_is_a_whole_run_whose_distribution_adds_up():
    merged, summary, plan, verdicts, _over = report_png.sample_run()
    assert summary["requests"] == plan["expected_requests"] and summary["state"] == "completed"
    assert summary["failures"] > 0 and all(verdict["passed"] for verdict in verdicts)
    rows = dict(report_png.report.label_distributions(merged))
    for label, row in summary["latency"]["labels"].items():
        assert sum(rows[label]) == row["requests"]
    assert sum(rows["all"]) == summary["requests"]


def test_check_fails_and_names_the_fix_when_the_report_changed(tmp_path, monkeypatch, capsys):
    committed = report_png.PNG.read_bytes()
    png, digest = tmp_path / "docs" / "report.png", tmp_path / "docs" / "report.png.sha256"
    png.parent.mkdir()
    png.write_bytes(committed)
    digest.write_text("0" * 64 + "  an older report\n")
    monkeypatch.setattr(report_png, "PNG", png)
    monkeypatch.setattr(report_png, "HASH", digest)
    assert report_png.main(["--check"]) == 1
    said = capsys.readouterr().err
    assert f"{png} is out of date" in said and "run `make docs`" in said
    assert png.read_bytes() == committed and digest.read_text().startswith("0" * 64)  # --check wrote nothing


def test_the_recorded_hash_is_the_current_htmls():
    recorded = (ROOT / "docs" / "report.png.sha256").read_text().split()[0]
    assert re.fullmatch(r"[0-9a-f]{64}", recorded) and recorded == report_png.recorded_hash(report_png.sample_html())
