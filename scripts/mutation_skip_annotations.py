"""Mark a cosmic-ray session's mutants inside type annotations as skipped.

Usage: python scripts/mutation_skip_annotations.py SESSION (run from the copy the
session mutates). Every module scripts/mutation.sh mutates starts with
``from __future__ import annotations``: an annotation is a string that nothing
evaluates, so ``int | None`` made ``int & None`` (eleven such mutants per ``|``)
is equivalent by construction. Running the tests for each costs a full run (they
all survive); they are marked SKIPPED instead and counted as equivalent.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

from cosmic_ray.work_db import use_db
from cosmic_ray.work_item import WorkerOutcome, WorkResult


def annotation_spans(tree: ast.AST) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    spans = []
    for node in ast.walk(tree):
        found: list[ast.expr | None] = []
        if isinstance(node, ast.arg):
            found.append(node.annotation)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            found.append(node.returns)
        elif isinstance(node, ast.AnnAssign):
            found.append(node.annotation)
        for annotation in found:
            if annotation is not None:
                spans.append(
                    ((annotation.lineno, annotation.col_offset), (annotation.end_lineno, annotation.end_col_offset))
                )
    return spans


def main() -> int:
    (session,) = sys.argv[1:]
    spans: dict[str, list[tuple[tuple[int, int], tuple[int, int]]]] = {}
    skipped = 0
    with use_db(session) as db:
        for item in db.work_items:
            mutation = item.mutations[0]
            path = str(mutation.module_path)
            if path not in spans:
                source = Path(path).read_text()
                assert "from __future__ import annotations" in source, f"{path}: annotations are evaluated"
                spans[path] = annotation_spans(ast.parse(source))
            start, end = tuple(mutation.start_pos), tuple(mutation.end_pos)
            if any(low <= start and end <= high for low, high in spans[path]):
                db.set_result(
                    item.job_id,
                    WorkResult(output=None, test_outcome=None, diff=None, worker_outcome=WorkerOutcome.SKIPPED),
                )
                skipped += 1
    print(f"{skipped} mutants inside annotations skipped (equivalent)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
