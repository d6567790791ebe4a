"""The benchmark harness runs, tiny: one edit, hotwsgi only, and prints a well-formed table.

No speed is asserted here: the figures depend on the machine. What is checked
is that every part ran and produced the rows the README table is made of.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers.util import ROOT

RUN = ROOT / "benchmarks" / "run.py"

SECTIONS = (
    "### Targets of DESIGN.md",
    "### Machine and versions",
    "### 1. Edit-to-new-response latency",
    "### 2. Requests during reloads",
    "### 3. Syntax error, then fix",
    "### 4. Per-request overhead",
    "### 5. Scaling",
    "### 6. Memory across reloads",
)


def _table_rows(markdown: str, heading: str) -> list[list[str]]:
    """The rows (cells) of the first table under ``heading``, header and separator excluded."""
    part = markdown.split(heading, 1)[1].split("\n### ", 1)[0]
    lines = [line for line in part.splitlines() if line.startswith("|")]
    assert len(lines) >= 3, f"no table under {heading!r}:\n{part}"
    width = lines[0].count("|")
    assert all(line.count("|") == width for line in lines[:3]), f"ragged table under {heading!r}"
    assert set(lines[1].replace("|", "").replace("-", "").strip()) == set(), lines[1]
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in lines[2:]]


@pytest.mark.server
@pytest.mark.timeout(120)
def test_benchmark_smoke_run(tmp_path: Path) -> None:
    out = tmp_path / "results"
    proc = subprocess.run(
        [sys.executable, str(RUN), "--smoke", "--python", sys.executable, "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=110,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    markdown = proc.stdout
    assert (out / "latest.md").read_text().strip() == markdown.strip()
    for heading in SECTIONS:
        assert heading in markdown, heading

    targets = _table_rows(markdown, "### Targets of DESIGN.md")
    verdicts = {row[0]: row[2] for row in targets}
    allowed = ("**met**", "**missed**", "n/a", "inconclusive", "met (small run)")
    assert all(v in allowed for v in verdicts.values()), verdicts
    assert any("median latency" in name and "WSGI" in name for name in verdicts)

    latency = _table_rows(markdown, "### 1. Edit-to-new-response latency")
    assert len(latency) == 1, latency
    name, heavy, ratio, _, median, _p90, _max, seen, reload_ms = latency[0]
    assert name.startswith("hotwsgi serve (WSGI")
    assert heavy == "0 ms" and ratio == "1 (reference)" and seen == "1/1"
    assert re.fullmatch(r"[\d.]+ (ms|s)", median), median
    assert re.fullmatch(r"[\d.]+ ms", reload_ms), reload_ms

    requests = _table_rows(markdown, "### 2. Requests during reloads")
    assert requests and all(int(row[2]) > 0 for row in requests), requests

    syntax = _table_rows(markdown, "### 3. Syntax error, then fix")
    assert len(syntax) == 1 and syntax[0][2], syntax

    overhead = _table_rows(markdown, "### 4. Per-request overhead")
    assert overhead[0][0] == "WSGI, list body" and overhead[0][1].endswith(" ns"), overhead

    scaling = _table_rows(markdown, "### 5. Scaling")
    assert scaling[0][0] == "20" and scaling[0][-1] == "views, main", scaling

    memory = _table_rows(markdown, "### 6. Memory across reloads")
    assert [row[0] for row in memory] == ["0", "5"], memory

    data = json.loads((out / "latest.json").read_text())
    assert data["mode"] == "smoke" and data["machine"]["cores"]
