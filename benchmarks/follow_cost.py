"""What following costs: the added time of a leaf reload, and the heap pass at 100k and 1M objects.

    python benchmarks/follow_cost.py                  # both parts, prints a table and one JSON line
    python benchmarks/follow_cost.py leaf --rounds 6  # only the leaf reload
    python benchmarks/follow_cost.py heap             # only the heap pass

*Leaf reload*: the 50-module Flask app of appgen (a bare WSGI app when Flask is
missing), wrapped with ``HotReloadMiddleware("main:app", watch=(), follow=...)``;
``views.py`` is rewritten with a new VERSION and reloaded 30 times per round, in a
fresh interpreter per round, rounds alternating between follow on and off. The figure
is the median ``duration_ms`` of each variant (up to the new code serving) and their
difference, and the same for the whole ``reload()`` call, which includes the garbage
collection that runs after the gate opened.

*Heap pass*: N live objects (one in a thousand an instance of a class that a reload
redefines, the rest small lists and dicts, as an app's data would be), then one
``follow()`` of a module whose class changed: the pass that moves the instances
(it runs before the gate opens on a heap of up to about 200,000 tracked objects, after
it on a bigger one) and, separately, the one garbage collection that runs after the
gate opened when an old class cannot follow (an Enum here). Median of 5.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import types
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)


def _leaf_child(follow: bool, reloads: int) -> list[list[float]]:
    import appgen

    try:
        import flask  # noqa: F401

        flavour = "wsgi"
    except ImportError:
        flavour = "bare-wsgi"
    root = tempfile.mkdtemp(prefix="hotwsgi-follow-")
    try:
        app = appgen.generate(root, flavour=flavour, modules=50, heavy_ms=0)
        sys.path[:0] = [app["app_dir"], app["heavy_dir"]]
        from hotwsgi import HotReloadMiddleware

        mw = HotReloadMiddleware("main:app", watch=(), follow=follow)
        for v in (2, 3):  # warm-up
            appgen.set_version(app["views"], v)
            mw.reload([app["views"]])
        durations, walls = [], []
        for i in range(reloads):
            appgen.set_version(app["views"], 4 + i)
            started = time.perf_counter()
            result = mw.reload([app["views"]])
            walls.append((time.perf_counter() - started) * 1000)
            if result is None or not result.ok:
                raise RuntimeError(f"reload failed: {result and result.error}")
            durations.append(result.duration_ms)
        mw.close()
        return [durations, walls]
    finally:
        shutil.rmtree(root, ignore_errors=True)


def leaf(rounds: int, reloads: int) -> dict[str, Any]:
    samples: dict[str, list[float]] = {"on": [], "off": []}
    walls: dict[str, list[float]] = {"on": [], "off": []}
    for r in range(rounds):
        for variant in ("on", "off") if r % 2 == 0 else ("off", "on"):
            out = subprocess.run(
                [sys.executable, __file__, "_leaf", variant, str(reloads)],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            durations, wall = json.loads(out.strip().splitlines()[-1])
            samples[variant].extend(durations)
            walls[variant].extend(wall)
    on, off = statistics.median(samples["on"]), statistics.median(samples["off"])
    wall_on, wall_off = statistics.median(walls["on"]), statistics.median(walls["off"])
    return {
        "follow_on_ms": on,
        "follow_off_ms": off,
        "added_ms": on - off,
        "wall_on_ms": wall_on,
        "wall_off_ms": wall_off,
        "wall_added_ms": wall_on - wall_off,
        "reloads_each": len(samples["on"]),
    }


MODULE_V1 = """
import enum

class Item:
    def __init__(self, n):
        self.n = n
    def value(self):
        return self.n

class Kind(enum.Enum):
    A = 1
"""


def heap(sizes: list[int], repeats: int = 5) -> list[dict[str, Any]]:
    from hotwsgi.engine import follow as follow_module

    rows = []
    for size in sizes:
        passes, checks = [], []
        for _ in range(repeats):
            old = types.ModuleType("bench_model")
            exec(MODULE_V1, old.__dict__)
            fresh = types.ModuleType("bench_model")
            exec(MODULE_V1.replace("return self.n", "return self.n + 1"), fresh.__dict__)
            data: list[Any] = [old.Item(i) if i % 1000 == 0 else ([i] if i % 2 else {"i": [i]}) for i in range(size)]
            kind = old.Kind.A  # held: the Enum cannot follow, so the check after the gate runs
            gc.collect()
            tracked = len(gc.get_objects())
            before_gate = sys.getallocatedblocks() <= follow_module._HEAP_PASS_BEFORE_GATE_MAX_BLOCKS
            following = follow_module.follow({"bench_model": old}, {"bench_model": fresh}, heap_pass_now=True)
            del old, fresh
            t = time.perf_counter()
            following.finish(_result())
            checks.append((time.perf_counter() - t) * 1000)
            report = following.report
            assert report.instances == size // 1000 + (1 if size % 1000 else 0), report
            assert type(data[0]).__name__ == "Item" and data[0].value() == 1  # moved: runs the new code
            passes.append(report.heap_ms)
            del data, kind, following
            gc.collect()
        rows.append(
            {
                "objects": size,
                "tracked": tracked,
                "heap_pass_ms": statistics.median(passes),
                "heap_pass_runs": "before the gate opens" if before_gate else "after the gate opened",
                "check_after_gate_ms": statistics.median(checks),
            }
        )
    return rows


def _result() -> Any:
    from hotwsgi.core.result import ReloadResult

    return ReloadResult(ok=True, generation=1)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "_leaf":
        print(json.dumps(_leaf_child(sys.argv[2] == "on", int(sys.argv[3]))))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("part", nargs="?", choices=["leaf", "heap", "all"], default="all")
    parser.add_argument("--rounds", type=int, default=6, help="fresh interpreters per variant (leaf)")
    parser.add_argument("--reloads", type=int, default=30, help="reloads per interpreter (leaf)")
    parser.add_argument("--sizes", default="100000,1000000", help="live objects (heap)")
    args = parser.parse_args()
    out: dict[str, Any] = {}
    if args.part in ("leaf", "all"):
        out["leaf"] = row = leaf(args.rounds, args.reloads)
        print(
            f"leaf reload, 50-module app: follow on {row['follow_on_ms']:.2f} ms, off {row['follow_off_ms']:.2f} ms, "
            f"added {row['added_ms']:+.2f} ms (median of {row['reloads_each']} reloads each); "
            f"whole reload() call, with the collection after the gate opened: on {row['wall_on_ms']:.2f} ms, "
            f"off {row['wall_off_ms']:.2f} ms, added {row['wall_added_ms']:+.2f} ms"
        )
    if args.part in ("heap", "all"):
        out["heap"] = heap([int(s) for s in args.sizes.split(",")])
        for row in out["heap"]:
            print(
                f"heap pass at {row['objects']:,} objects ({row['tracked']:,} tracked by gc): "
                f"{row['heap_pass_ms']:.1f} ms (run {row['heap_pass_runs']}); "
                f"check after it opened (gc.collect): {row['check_after_gate_ms']:.1f} ms"
            )
    print(json.dumps(out))


if __name__ == "__main__":
    main()
