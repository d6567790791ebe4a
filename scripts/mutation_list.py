"""List the survivors of a scripts/mutation.sh session one by one, each with its class.

Usage: python scripts/mutation_list.py MODULE [--markdown PAGE]
  MODULE: a key of scripts/mutation.sh (watch, gate, ...). Prints every survivor:
  its function, the source line it mutated, the operator, what the mutant makes
  of the line (cosmic-ray's diff), the line it is on now (or "gone": that code is
  no longer in the file), and its class from scripts/mutation_classes/MODULE.json.
  --markdown PAGE also writes the table and the counts per class as a docs page.

The classes file is a JSON list; each entry names survivors by "function", "line"
(the text of the source line as the session saw it, stripped) and "operator" (a
glob: "core/ReplaceComparisonOperator_*"), optionally "mutant" (text the mutated
line contains), "col" (the mutated column) and "nth" (which of the mutants with
that same operator, function, line and column), and
gives them a "class" and a one-line "reason" (what the mutant breaks, or why it
breaks nothing). The first such entry that matches wins. An entry with "killed_by"
(a test; the mutant's exact "col" and "nth" too) records a survivor a test kills
now (scripts/mutation_recheck.py said so): its class is then "killed now". A
survivor no class entry matches, or an entry that matches no survivor, is an
error: the file keeps up with the session. Survivors are found in the current file as
scripts/mutation_recheck.py finds them (by line text, not line number).
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from mutation_recheck import ROOT, WORK, by_key, function_of, key, mutants_now, nth, session, survivors_of

CLASSES = ("real gap", "killed now", "only how long", "equivalent", "gone")


def changed_line(result: dict[str, Any] | None, before: str) -> str:
    """What the mutant makes of its line: the first added line of cosmic-ray's diff."""
    diff = (result or {}).get("diff") or ""
    added = [line[1:].strip() for line in diff.splitlines() if line.startswith("+") and not line.startswith("+++")]
    if not added:
        return "(the line removed)"
    return added[0] if added[0] != before else " / ".join(added)


def matches(entry: dict[str, Any], function: str, line: str, mutation: dict[str, Any], index: int, mutant: str) -> bool:
    return (
        entry.get("function", function) == function
        and entry.get("mutant", "") in mutant
        and entry["line"] == line
        and fnmatchcase(str(mutation["operator_name"]), entry["operator"])
        and entry.get("col", mutation["start_pos"][1]) == mutation["start_pos"][1]
        and entry.get("nth", index) == index
    )


def cell(text: str) -> str:
    """Markdown table cell: code (mkdocs' tables leave a pipe inside a code span alone)."""
    return "`" + text.replace("`", "'") + "`"


def main() -> int:
    args = sys.argv[1:]
    markdown = None
    if "--markdown" in args:
        at = args.index("--markdown")
        markdown = Path(args[at + 1])
        del args[at : at + 2]
    name = args[0] if args else "watch"
    config, jobs = session(name)
    outcome = {
        (job["mutations"][0]["operator_name"], job["mutations"][0]["occurrence"]): result for job, result in jobs
    }
    survivors = survivors_of(jobs)
    path = str(jobs[0][0]["mutations"][0]["module_path"])
    then = (WORK / f"src-{name}" / path).read_text().splitlines()
    now = (ROOT / path).read_text().splitlines()
    old = by_key([job["mutations"][0] for job, _ in jobs], then)
    current = mutants_now(config, now)
    entries: list[dict[str, Any]] = json.loads((ROOT / "scripts" / "mutation_classes" / f"{name}.json").read_text())
    used = [0] * len(entries)
    rows = []
    problems = []
    for mutation in sorted(survivors, key=lambda m: (m["start_pos"], m["operator_name"], m["occurrence"])):
        line_no = mutation["start_pos"][0]
        line = then[line_no - 1].strip()
        function = function_of(then, line_no)
        index = nth(mutation, then, old)
        here = current.get(key(mutation, then), [])
        where = str(here[index]["start_pos"][0]) if index < len(here) else "gone"
        result = outcome[(mutation["operator_name"], mutation["occurrence"])]
        mutant = changed_line(result, line)
        hits = [i for i, e in enumerate(entries) if matches(e, function, line, mutation, index, mutant)]
        kill = next((i for i in hits if "killed_by" in entries[i]), None)
        found = next((i for i in hits if "killed_by" not in entries[i]), None)
        if kill is not None:
            used[kill] += 1
        if found is None:
            problems.append(
                f"unclassified: {function} | {line} | {mutation['operator_name']}"
                f" col {mutation['start_pos'][1]} nth {index}"
            )
            klass, reason = "?", "?"
        else:
            used[found] += 1
            klass, reason = entries[found]["class"], entries[found]["reason"]
            if klass not in CLASSES:
                problems.append(f"entry {found}: unknown class {klass!r}")
        if kill is not None:  # what it would break, and the test that now sees it
            klass, reason = "killed now", f"{reason}; killed by `{entries[kill]['killed_by']}`"
        operator = str(mutation["operator_name"]).removeprefix("core/")
        rows.append((function, where, line, operator, mutant, klass, reason))
    problems += [f"entry {i} matches no survivor: {json.dumps(e)}" for i, e in enumerate(entries) if not used[i]]
    for row in rows:
        print(" | ".join(row))
    counts = Counter(row[5] for row in rows)
    print(", ".join(f"{counts[c]} {c}" for c in CLASSES) + f" ({len(rows)} survivors)")
    for problem in problems:
        print(problem, file=sys.stderr)
    if markdown is not None:
        markdown.write_text(page(name, path, jobs, rows, counts))
    return 1 if problems else 0


def page(name: str, path: str, jobs: list[Any], rows: list[tuple[str, ...]], counts: Counter[str]) -> str:
    run = sum(1 for _, r in jobs if r and r.get("test_outcome") in ("killed", "survived"))
    killed = sum(1 for _, r in jobs if r and r.get("test_outcome") == "killed")
    out = [
        f"# Mutation survivors: `{path}`",
        "",
        f"Generated by `python scripts/mutation_list.py {name} --markdown docs/mutation-{name}.md` from the",
        f"session `.mutation/{name}.sqlite` and the classes in `scripts/mutation_classes/{name}.json`;",
        "do not edit it by hand. How the session ran and what the classes mean:",
        "[Testing hotwsgi](testing.md#mutation-score).",
        "",
        f"The session ran {run} mutants ({len(jobs) - run} in annotations skipped): {killed} killed,",
        f"{len(rows)} survived. Of the survivors:",
        "",
        "| class | survivors |",
        "|---|---|",
        *(f"| {c} | {counts[c]} |" for c in CLASSES),
        "",
        "- **real gap**: what a user would see break, and no test catches it;",
        "- **killed now**: a test catches it now (the reason names the test); the session ran before it,",
        "  or ran only the unit tests;",
        "- **only how long**: a timing constant or a wait; whether the change happens stays the same,",
        "  only when (the tests may not assert a speed);",
        "- **equivalent**: no behaviour changes (the reason says why);",
        "- **gone**: that code is no longer in the file.",
        "",
        '"Line" is where the mutant is in the file now. The mutant column is what cosmic-ray makes of',
        "the source line.",
        "",
        "| # | function | line | source line | operator | mutant | class | reason |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for i, (function, where, line, operator, mutant, klass, reason) in enumerate(rows, 1):
        out.append(
            f"| {i} | `{function}` | {where} | {cell(line)} | {operator} | {cell(mutant)} | {klass} | "
            + reason.replace("|", "\\|")
            + " |"
        )
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    sys.exit(main())
