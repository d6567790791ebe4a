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

import ast
import functools
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


@functools.lru_cache(maxsize=4)
def _functions(source: str) -> dict[int, str]:
    """Line number -> the qualified name of the innermost function or class around it."""
    found: dict[int, str] = {}

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                name = prefix + child.name
                for line in range(child.lineno, (child.end_lineno or child.lineno) + 1):
                    found[line] = name
                visit(child, name + ".")
            else:
                visit(child, prefix)

    visit(ast.parse(source), "")
    return found


def function_of(lines: list[str], line: int) -> str:
    """The function (``Class.method``) a line of ``lines`` is in; ``<module>`` outside any."""
    return _functions("\n".join(lines)).get(line, "<module>")


def key(mutation: dict[str, Any], lines: list[str]) -> tuple[object, ...]:
    """A mutant by what it changes: its operator, function, the text of its line and its columns.

    The function is in it so that a line that left one function does not shift which
    of the same lines elsewhere the others are (``continue``, ``except OSError:``).
    """
    (line, col), (end_line, end_col) = mutation["start_pos"], mutation["end_pos"]
    return (mutation["operator_name"], function_of(lines, line), lines[line - 1].strip(), col, end_line - line, end_col)


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


def session(name: str) -> tuple[str, list[tuple[dict[str, Any], dict[str, Any] | None]]]:
    """The config scripts/mutation.sh wrote for the session of ``name``, and its jobs."""
    return (WORK / f"{name}.toml").read_text(), dump(WORK / f"{name}.sqlite")


def survivors_of(jobs: list[tuple[dict[str, Any], dict[str, Any] | None]]) -> list[dict[str, Any]]:
    return [job["mutations"][0] for job, result in jobs if result and result.get("test_outcome") == "survived"]


def mutants_now(config: str, lines: list[str]) -> dict[tuple[object, ...], list[dict[str, Any]]]:
    """Every mutant of the module as it is now, by key, from a throw-away session."""
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp)
        (scratch / "cr.toml").write_text(re.sub(r"^test-command = .*$", 'test-command = "true"', config, flags=re.M))
        subprocess.run(
            [BIN / "cosmic-ray", "init", scratch / "cr.toml", scratch / "now.sqlite", "--force"],
            cwd=ROOT,
            check=True,
            capture_output=True,
        )
        return by_key([job["mutations"][0] for job, _ in dump(scratch / "now.sqlite")], lines)


def nth(mutation: dict[str, Any], lines: list[str], found: dict[tuple[object, ...], list[dict[str, Any]]]) -> int:
    """Which of the mutants with the same key (operator, line text, columns) ``mutation`` is."""
    return next(i for i, m in enumerate(found[key(mutation, lines)]) if m["occurrence"] == mutation["occurrence"])


def first_failure(output: str) -> str:
    """The test that failed first in pytest's ``-q`` output (``-x`` stops there), or what ended it."""
    match = re.search(r"^(?:FAILED|ERROR) (\S+)", output, re.MULTILINE)
    if match:
        return match.group(1)
    match = re.search(r"^_+ (\S+) _+$", output, re.MULTILINE)
    return match.group(1) if match else "no failed test named (a timeout or a crash)"


def main() -> int:
    name, *tests = sys.argv[1:] or ["gate"]
    # The test command scripts/mutation.sh wrote into the session's config.
    config, jobs = session(name)
    match = re.search(r'^test-command = "(.*)"$', config, re.MULTILINE)
    assert match, f"no test-command in .mutation/{name}.toml"
    command = shlex.split(match.group(1))
    if tests:
        first = next(i for i, arg in enumerate(command) if arg.startswith("tests"))
        command = [*command[:first], *tests]
    survivors = survivors_of(jobs)
    if not survivors:
        print("no survivors")
        return 0
    path = str(survivors[0]["module_path"])
    then = (WORK / f"src-{name}" / path).read_text().splitlines()
    now = (ROOT / path).read_text().splitlines()
    current = mutants_now(config, now)
    old = by_key([job["mutations"][0] for job, _ in jobs], then)
    # MUTATION_RECHECK_LINES=REGEX: only the survivors whose source line matches.
    only = re.compile(os.environ.get("MUTATION_RECHECK_LINES", ""))
    survivors = [m for m in survivors if only.search(then[m["start_pos"][0] - 1])]
    killed = gone = 0
    for mutation in survivors:
        k = key(mutation, then)
        index = nth(mutation, then, old)
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
            try:
                done = subprocess.run(command, cwd=copy, env=env, capture_output=True, text=True, timeout=600)
                failed, by = done.returncode != 0, f" by {first_failure(done.stdout)}"
            except subprocess.TimeoutExpired:  # a hang: a kill, as cosmic-ray counts it
                failed, by = True, " by the 600 s timeout"
        outcome = "killed" if failed else "SURVIVED"
        killed += failed
        by = by if failed else ""
        print(f"{outcome:9} {label}, now line {target['start_pos'][0]} #{target['occurrence']}{by}", flush=True)
    print(f"{killed} of {len(survivors)} survivors killed by the tests as they are now ({gone} gone)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
