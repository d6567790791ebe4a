"""Reload time of each framework example after an edit, as its reload line reports it.

Run from the checkout: ``.venv/bin/python benchmarks/framework_reloads.py``. Each example
is copied to a temporary folder, served by ``hotwsgi serve`` on its default server, and
edited three times; the line ``... -> generation N in X ms`` gives X.
"""

from __future__ import annotations

import re
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.helpers.util import EXAMPLES, serve, wait_for, write_file

#: (example folder, hotwsgi serve arguments, file edited)
CASES = [
    ("bottle_app", ["serve", "app:application", "--port", "0"], "app.py"),
    ("falcon_app", ["serve", "look.app:app", "--port", "0"], "look/images.py"),
    ("falcon_app", ["serve", "asgilook.app:app", "--port", "0"], "asgilook/images.py"),
    ("litestar_app", ["serve", "app:app", "--port", "0"], "controllers/books.py"),
    ("quart_app", ["serve", "app:app", "--port", "0"], "blog.py"),
]


def main() -> None:
    for name, argv, target in CASES:
        root = Path(tempfile.mkdtemp()) / name
        shutil.copytree(EXAMPLES / name, root, ignore=shutil.ignore_patterns("__pycache__"))
        with serve(argv, root) as server:
            times = []
            for n in range(1, 4):
                path = root / target
                write_file(path, path.read_text() + f"\n# edit {n}\n", dedent=False)
                wait_for(lambda n=n: f"generation {n} in" in server.log, timeout=20)
                times.append(float(re.findall(rf"generation {n} in ([\d.]+) ms", server.log)[0]))
        print(f"{name:14} {argv[1]:22} reload ms: {times}")


if __name__ == "__main__":
    main()
