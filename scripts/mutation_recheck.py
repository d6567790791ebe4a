"""Re-run the survivors of a scripts/mutation.sh session against the tests as they are now.

Usage: python scripts/mutation_recheck.py MODULE [TEST...]
  MODULE: a key of scripts/mutation.sh (gate, socket, ...); TEST: pytest paths
  (default: the session's own test command). Each survivor is applied to a fresh
  copy of the checkout and the tests run once; prints each one's outcome now.
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
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / ".mutation"
BIN = ROOT / ".venv" / "bin"


def survivors(session: Path) -> list[dict[str, object]]:
    dump = subprocess.run([BIN / "cosmic-ray", "dump", session], capture_output=True, text=True, check=True)
    found = []
    for line in dump.stdout.splitlines():
        job, result = json.loads(line)
        if result and result.get("test_outcome") == "survived":
            found.append(job["mutations"][0])
    return found


def main() -> int:
    name, *tests = sys.argv[1:] or ["gate"]
    # The test command scripts/mutation.sh wrote into the session's config.
    match = re.search(r'^test-command = "(.*)"$', (WORK / f"{name}.toml").read_text(), re.MULTILINE)
    assert match, f"no test-command in .mutation/{name}.toml"
    command = shlex.split(match.group(1))
    if tests:
        first = next(i for i, arg in enumerate(command) if arg.startswith("tests"))
        command = [*command[:first], *tests]
    killed = 0
    mutants = survivors(WORK / f"{name}.sqlite")
    for mutation in mutants:
        with tempfile.TemporaryDirectory() as tmp:
            copy = Path(tmp) / "src"
            files = subprocess.run(
                ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
                cwd=ROOT,
                capture_output=True,
                text=True,
                check=True,
            ).stdout.splitlines()
            for file in files:
                if (ROOT / file).is_file():
                    (copy / file).parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(ROOT / file, copy / file)
            path = str(mutation["module_path"])
            subprocess.run(
                [BIN / "cosmic-ray", "apply", path, str(mutation["operator_name"]), str(mutation["occurrence"])],
                cwd=copy,
                check=True,
                capture_output=True,
            )
            env = {**os.environ, "PYTHONPATH": str(copy)}
            done = subprocess.run(command, cwd=copy, env=env, capture_output=True, text=True, timeout=600)
            outcome = "killed" if done.returncode != 0 else "SURVIVED"
            killed += done.returncode != 0
            line = mutation["start_pos"][0]  # type: ignore[index]
            print(f"{outcome:9} {mutation['operator_name']} #{mutation['occurrence']} ({path}:{line})", flush=True)
    print(f"{killed} of {len(mutants)} survivors killed by the tests as they are now")
    return 0


if __name__ == "__main__":
    sys.exit(main())
