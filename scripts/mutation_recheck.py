"""Re-run the survivors of a scripts/mutation.sh session against the code and tests as they are now.

Usage: python scripts/mutation_recheck.py MODULE [TEST...]
  MODULE: a key of scripts/mutation.sh (gate, socket, ...); TEST: pytest paths
  (default: the session's own test command). Each survivor is applied to a fresh
  copy of the checkout and the tests run once; prints each one's outcome now.

The module may have changed since the session (its lines moved): a survivor is
found again in the current file by its operator and the source line it mutated
(the text of that line and the columns), not by its line number or occurrence.
A survivor whose line is gone is reported as such. MUTATION_RECHECK_LINES=REGEX
re-runs only the survivors whose source line matches REGEX.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / ".mutation"
BIN = ROOT / ".venv" / "bin"


def dump(session: Path) -> list[tuple[dict[str, Any], dict[str, Any] | None]]:
    done = subprocess.run([BIN / "cosmic-ray", "dump", session], capture_output=True, text=True, check=True)
    return [tuple(json.loads(line)) for line in done.stdout.splitlines()]  # type: ignore[misc]


def key(mutation: dict[str, Any], lines: list[str]) -> tuple[object, ...]:
    (line, col), (end_line, end_col) = mutation["start_pos"], mutation["end_pos"]
    return (mutation["operator_name"], lines[line - 1].strip(), col, end_line - line, end_col)


def by_key(mutations: list[dict[str, Any]], lines: list[str]) -> dict[tuple[object, ...], list[dict[str, Any]]]:
    found: dict[tuple[object, ...], list[dict[str, Any]]] = defaultdict(list)
    for mutation in sorted(mutations, key=lambda m: (m["start_pos"], m["occurrence"])):
        found[key(mutation, lines)].append(mutation)
    return found


def copy_checkout(into: Path) -> None:
    files = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    for file in files:
        if (ROOT / file).is_file():
            (into / file).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / file, into / file)


def main() -> int:
    name, *tests = sys.argv[1:] or ["gate"]
    # The test command scripts/mutation.sh wrote into the session's config.
    config = (WORK / f"{name}.toml").read_text()
    match = re.search(r'^test-command = "(.*)"$', config, re.MULTILINE)
    assert match, f"no test-command in .mutation/{name}.toml"
    command = shlex.split(match.group(1))
    if tests:
        first = next(i for i, arg in enumerate(command) if arg.startswith("tests"))
        command = [*command[:first], *tests]
    jobs = dump(WORK / f"{name}.sqlite")
    survivors = [job["mutations"][0] for job, result in jobs if result and result.get("test_outcome") == "survived"]
    if not survivors:
        print("no survivors")
        return 0
    path = str(survivors[0]["module_path"])
    then = (WORK / f"src-{name}" / path).read_text().splitlines()
    now = (ROOT / path).read_text().splitlines()
    # Every mutant of the file as it is now, from a throw-away session.
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp)
        (scratch / "cr.toml").write_text(re.sub(r"^test-command = .*$", 'test-command = "true"', config, flags=re.M))
        subprocess.run(
            [BIN / "cosmic-ray", "init", scratch / "cr.toml", scratch / "now.sqlite", "--force"],
            cwd=ROOT,
            check=True,
            capture_output=True,
        )
        current = by_key([job["mutations"][0] for job, _ in dump(scratch / "now.sqlite")], now)
    old = by_key([job["mutations"][0] for job, _ in jobs], then)
    # MUTATION_RECHECK_LINES=REGEX: only the survivors whose source line matches.
    only = re.compile(os.environ.get("MUTATION_RECHECK_LINES", ""))
    survivors = [m for m in survivors if only.search(then[m["start_pos"][0] - 1])]
    killed = gone = 0
    for mutation in survivors:
        k = key(mutation, then)
        index = next(i for i, m in enumerate(old[k]) if m["occurrence"] == mutation["occurrence"])
        line = mutation["start_pos"][0]
        label = f"{mutation['operator_name']} at {path}:{line} ({then[line - 1].strip()[:60]})"
        if index >= len(current.get(k, [])):
            gone += 1
            print(f"{'gone':9} {label}: that code is no longer in the file", flush=True)
            continue
        target = current[k][index]
        with tempfile.TemporaryDirectory() as tmp:
            copy = Path(tmp) / "src"
            copy_checkout(copy)
            subprocess.run(
                [BIN / "cosmic-ray", "apply", path, str(target["operator_name"]), str(target["occurrence"])],
                cwd=copy,
                check=True,
                capture_output=True,
            )
            env = {**os.environ, "PYTHONPATH": str(copy), "PYTHONDONTWRITEBYTECODE": "1"}
            done = subprocess.run(command, cwd=copy, env=env, capture_output=True, text=True, timeout=600)
        outcome = "killed" if done.returncode != 0 else "SURVIVED"
        killed += done.returncode != 0
        print(f"{outcome:9} {label}, now line {target['start_pos'][0]} #{target['occurrence']}", flush=True)
    print(f"{killed} of {len(survivors)} survivors killed by the tests as they are now ({gone} gone)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
