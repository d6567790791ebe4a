"""Run every hotwsgi benchmark and print the table of benchmarks/README.md.

    python benchmarks/run.py                  # full run (about 15 minutes on 2 cores)
    python benchmarks/run.py --quick          # under 3 minutes, fewer edits and samples
    python benchmarks/run.py --update-readme  # also write the table into benchmarks/README.md

The first run creates ``benchmarks/.work/venv`` with the pinned versions of
benchmarks/requirements.txt and hotwsgi installed from this repository
(editable), and installs wrk from Debian when it is missing and we are root.
Servers run on that venv's Python; this script itself needs only the standard
library. Results go to benchmarks/results/latest.json and latest.md.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import platform
import shlex
import shutil
import subprocess
import sys
import time
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import bench_common  # noqa: E402
import reload_bench  # noqa: E402
import report  # noqa: E402
import throughput  # noqa: E402
from bench_common import log, run_json  # noqa: E402

REPO = os.path.dirname(HERE)
WORK = os.path.join(HERE, ".work")
VENV = os.path.join(WORK, "venv")
REQUIREMENTS = os.path.join(HERE, "requirements.txt")
README = os.path.join(HERE, "README.md")
MARK_START = "<!-- results:start -->"
MARK_END = "<!-- results:end -->"
PACKAGES = (
    "hotwsgi",
    "flask",
    "gunicorn",
    "httptools",
    "hupper",
    "starlette",
    "uvicorn",
    "uvloop",
    "watchfiles",
    "werkzeug",
)

PROFILES: dict[str, dict[str, Any]] = {
    "full": {
        "saves": 200,
        "checkouts": 4,
        "checkout_files": 100,
        "dependents": 500,
        "wide_reloads": 20,
        "startup_modules": 2000,
        "startup_rounds": 10,
        "edits": 8,
        "spacing": 2.0,
        "jitter": 1.0,
        "deadline": 20.0,
        "heavy": [1000, 0],
        "storm": 300,
        "storm_clients": 4,
        "ovh_calls": 100_000,
        "ovh_repeats": 15,
        "tput_seconds": 2,
        "tput_rounds": 20,
        "sizes": [20, 200, 2000],
        "scale_reloads": 30,
        "scale_spaced": 8,
        "memory": [0, 100, 1000],
    },
    "quick": {
        "saves": 200,
        "checkouts": 2,
        "checkout_files": 100,
        "dependents": 500,
        "wide_reloads": 10,
        "startup_modules": 2000,
        "startup_rounds": 4,
        "edits": 3,
        "spacing": 0.8,
        "jitter": 0.4,
        "deadline": 10.0,
        "heavy": [1000],
        "storm": 100,
        "storm_clients": 3,
        "ovh_calls": 50_000,
        "ovh_repeats": 5,
        "tput_seconds": 1,
        "tput_rounds": 3,
        "sizes": [20, 200, 2000],
        "scale_reloads": 10,
        "memory": [0, 100, 1000],
    },
    "smoke": {
        "saves": 20,
        "checkouts": 1,
        "checkout_files": 10,
        "dependents": 20,
        "wide_reloads": 2,
        "startup_modules": 20,
        "startup_rounds": 1,
        "edits": 1,
        "spacing": 0.3,
        "jitter": 0.1,
        "deadline": 10.0,
        "heavy": [0],
        "storm": 5,
        "storm_clients": 2,
        "ovh_calls": 2_000,
        "ovh_repeats": 2,
        "tput_seconds": 1,
        "tput_rounds": 1,
        "sizes": [20],
        "scale_reloads": 2,
        "memory": [0, 5],
    },
}
PARTS = ("latency", "storm", "bursts", "overhead", "throughput", "scaling", "wide", "startup", "memory")


# -- the benchmark environment ------------------------------------------------------------------
def _stamp() -> str:
    h = hashlib.sha256()
    for path in (REQUIREMENTS, os.path.join(REPO, "pyproject.toml")):
        with open(path, "rb") as f:
            h.update(f.read())
    return h.hexdigest()


def setup_env() -> str:
    """Create or refresh the pinned venv; install wrk if missing. Returns the venv's python."""
    python = os.path.join(VENV, "bin", "python")
    stamp_path = os.path.join(VENV, ".hotwsgi-bench-stamp")
    os.makedirs(WORK, exist_ok=True)
    if not os.path.exists(python):
        log(f"creating {os.path.relpath(VENV)}")
        subprocess.run([sys.executable, "-m", "venv", VENV], check=True)
    stamp = _stamp()
    try:
        with open(stamp_path) as f:
            current = f.read().strip()
    except OSError:
        current = ""
    if current != stamp:
        log("installing the pinned contenders and hotwsgi (editable) into the benchmark venv")
        pip = [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        subprocess.run([*pip, "-r", REQUIREMENTS], check=True)
        subprocess.run([*pip, "-e", REPO], check=True)
        with open(stamp_path, "w") as f:
            f.write(stamp)
    if shutil.which("wrk") is None and hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("apt-get"):
        log("installing wrk from Debian")
        subprocess.run(["apt-get", "update", "-qq"], check=False)
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", "wrk"],
            check=False,
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
        )
    return python


def _python_312() -> str | None:
    """A Python >= 3.12 interpreter on this machine (uvicorn-hmr needs one), or None."""
    import glob

    candidates = [shutil.which(f"python3.{minor}") for minor in range(20, 11, -1)]
    # pyenv's shims answer only for the selected version: look at its versions too.
    pyenv = os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")
    found = glob.glob(os.path.join(pyenv, "versions", "3.*", "bin", "python3"))
    candidates += sorted(found, reverse=True)  # each is asked its version below
    if sys.version_info >= (3, 12):
        candidates.insert(0, sys.executable)
    for candidate in candidates:
        if not candidate:
            continue
        try:
            out = subprocess.run(
                [candidate, "-c", "import sys; print(sys.version_info >= (3, 12))"],
                capture_output=True,
                text=True,
                timeout=30,
            )
        except (OSError, subprocess.TimeoutExpired):
            continue
        if out.stdout.strip() == "True":
            return candidate
    return None


def setup_hmr_env() -> None:
    """uvicorn-hmr's own venv (pinned), from any Python >= 3.12 found; skipped without one."""
    venv = reload_bench.HMR_VENV
    stamp_path = os.path.join(venv, ".hotwsgi-bench-stamp")
    stamp = " ".join(reload_bench.HMR_REQUIREMENTS)
    try:
        with open(stamp_path) as f:
            if f.read().strip() == stamp:
                return
    except OSError:
        pass
    python = _python_312()
    if python is None:
        log("uvicorn-hmr: no Python >= 3.12 on this machine; it is reported as skipped")
        return
    log(f"creating {os.path.relpath(venv)} for uvicorn-hmr with {python}")
    subprocess.run([python, "-m", "venv", venv], check=True)
    pip = [os.path.join(venv, "bin", "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, *reload_bench.HMR_REQUIREMENTS], check=True)
    with open(stamp_path, "w") as f:
        f.write(stamp)


def machine_info(python: str) -> dict[str, Any]:
    info: dict[str, Any] = {"cores": os.cpu_count(), "os": platform.platform(terse=True), "python_path": python}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    info["cpu"] = line.split(":", 1)[1].strip()
                    break
        with open("/proc/meminfo") as f:
            info["memory_gb"] = round(int(f.readline().split()[1]) / 1024 / 1024)
    except OSError:
        pass
    code = (
        "import importlib.metadata as m, json, platform\nout = {}\n"
        f"for name in {list(PACKAGES)!r}:\n"
        "    try:\n        out[name] = m.version(name)\n    except m.PackageNotFoundError:\n        pass\n"
        "print(json.dumps({'python': platform.python_version(), 'packages': out}))"
    )
    try:
        got = json.loads(subprocess.run([python, "-c", code], capture_output=True, text=True, check=True).stdout)
        info.update(got)
    except (subprocess.CalledProcessError, json.JSONDecodeError, OSError) as exc:
        info["python"] = f"? ({exc})"
    wrk = shutil.which("wrk")
    if wrk:
        out = subprocess.run([wrk, "--version"], capture_output=True, text=True)
        info["wrk"] = (out.stdout or out.stderr).splitlines()[0].split(" Copyright")[0].strip()
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "hotwsgi"], cwd=REPO, capture_output=True, text=True
        ).stdout.strip()
        info["commit"] = commit + (" + uncommitted changes in hotwsgi/" if dirty else "")
    except (subprocess.CalledProcessError, OSError):
        info["commit"] = "?"
    return info


# -- parts ---------------------------------------------------------------------------------------
def part_latency(args: argparse.Namespace, p: dict[str, Any], python: str, workdir: str) -> dict[str, Any]:
    runs = []
    for heavy in p["heavy"]:
        for key in args.contenders:
            contender = reload_bench.CONTENDERS[key]
            log(f"latency: {contender.label}, heavy import {heavy} ms, {p['edits']} edits")
            run = reload_bench.run_contender(
                contender,
                python=python,
                heavy_ms=heavy,
                edits=p["edits"],
                spacing=p["spacing"],
                jitter=p["jitter"],
                seed=args.seed,
                deadline=p["deadline"],
                workdir=workdir,
            )
            if run.get("available"):
                lat = run["latency_ms"]
                log(
                    f"  median {lat['median']} ms, missed {run['missed_edits']}, "
                    f"background {run['during_edits']}, syntax {run.get('syntax', {}).get('at_1_5s')}"
                )
            runs.append(run)
    return {
        "heavy": p["heavy"],
        "edits": p["edits"],
        "spacing_s": p["spacing"],
        "jitter_s": p["jitter"],
        "deadline_s": p["deadline"],
        "runs": runs,
    }


def part_overhead(p: dict[str, Any], python: str) -> dict[str, Any]:
    log(f"overhead: {p['ovh_calls']} calls x {p['ovh_repeats']} repeats per variant")
    return run_json(
        [python, os.path.join(HERE, "overhead.py"), str(p["ovh_calls"]), str(p["ovh_repeats"])], cwd=HERE, timeout=600
    )


def part_bursts(p: dict[str, Any], python: str, workdir: str) -> dict[str, Any]:
    out: dict[str, Any] = {"storms": []}
    for in_place in (False, True):
        log(f"bursts: {p['saves']} saves 10 ms apart ({'in place' if in_place else 'temp file + rename'}), 4 clients")
        out["storms"].append(
            reload_bench.run_save_storm(python=python, saves=p["saves"], in_place=in_place, workdir=workdir)
        )
    log(f"bursts: git checkout of {p['checkout_files']} files, {p['checkouts']} times")
    out["checkout"] = reload_bench.run_checkout(
        python=python, files=p["checkout_files"], rounds=p["checkouts"], workdir=workdir
    )
    return out


def part_wide(p: dict[str, Any], python: str) -> dict[str, Any]:
    log(f"wide: a module imported by {p['dependents']} others, {p['wide_reloads']} reloads")
    try:
        return run_json(
            [python, os.path.join(HERE, "scaling.py"), "wide", str(p["dependents"]), str(p["wide_reloads"])],
            cwd=HERE,
            timeout=900,
        )
    except RuntimeError as exc:
        return {"error": str(exc).strip().splitlines()[-1]}


def part_startup(p: dict[str, Any], python: str) -> dict[str, Any]:
    log(f"startup: {p['startup_modules']} modules, {p['startup_rounds']} rounds bare and wrapped")
    try:
        return run_json(
            [python, os.path.join(HERE, "scaling.py"), "startup", str(p["startup_modules"]), str(p["startup_rounds"])],
            cwd=HERE,
            timeout=900,
        )
    except RuntimeError as exc:
        return {"error": str(exc).strip().splitlines()[-1]}


def part_scaling(p: dict[str, Any], python: str) -> dict[str, Any]:
    rows, errors = [], []
    for size in p["sizes"]:
        log(f"scaling: {size} modules, {p['scale_reloads']} reloads")
        try:
            rows.append(
                run_json(
                    [
                        python,
                        os.path.join(HERE, "scaling.py"),
                        "scale",
                        str(size),
                        str(p["scale_reloads"]),
                        str(p.get("scale_spaced", 0)),
                    ],
                    cwd=HERE,
                    timeout=600,
                )
            )
        except RuntimeError as exc:
            errors.append(str(exc).strip().splitlines()[-1])
    return {"rows": rows, "errors": errors}


def part_memory(p: dict[str, Any], python: str) -> dict[str, Any]:
    log(f"memory: checkpoints {p['memory']}")
    try:
        return run_json(
            [python, os.path.join(HERE, "scaling.py"), "memory", ",".join(map(str, p["memory"]))], cwd=HERE, timeout=900
        )
    except RuntimeError as exc:
        return {"rows": [], "error": str(exc).strip().splitlines()[-1]}


# -- main --------------------------------------------------------------------------------------------
def parse_args(argv: list[str]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="a smaller run, under 3 minutes")
    mode.add_argument("--smoke", action="store_true", help="tiny run for the test suite (one edit, hotwsgi only)")
    ap.add_argument(
        "--heavy-ms",
        default=None,
        help="import time of the heavy dependency in ms; comma list (default 1000,0; --quick 1000)",
    )
    ap.add_argument("--edits", type=int, default=None, help="edits per contender (default 8; --quick 3)")
    ap.add_argument(
        "--contenders",
        default=None,
        help=f"comma list out of {','.join(reload_bench.CONTENDERS)} (default all; --smoke hotwsgi)",
    )
    ap.add_argument("--parts", default=",".join(PARTS), help=f"comma list out of {','.join(PARTS)}")
    ap.add_argument(
        "--python", default=None, help="Python to run servers with (default: the benchmark venv, created if needed)"
    )
    ap.add_argument("--no-setup", action="store_true", help="do not create/refresh the venv nor install wrk")
    ap.add_argument("--out", default=os.path.join(HERE, "results"), help="folder for latest.json and latest.md")
    ap.add_argument("--update-readme", action="store_true", help="write the table into benchmarks/README.md")
    ap.add_argument("--seed", type=int, default=5, help="seed of the edit spacing jitter")
    args = ap.parse_args(argv)
    args.mode = "smoke" if args.smoke else "quick" if args.quick else "full"
    default_contenders = ["hotwsgi"] if args.smoke else list(reload_bench.CONTENDERS)
    args.contenders = args.contenders.split(",") if args.contenders else default_contenders
    unknown = [c for c in args.contenders if c not in reload_bench.CONTENDERS]
    if unknown:
        ap.error(f"unknown contender(s): {', '.join(unknown)}")
    args.parts = args.parts.split(",")
    bad = [p for p in args.parts if p not in PARTS]
    if bad:
        ap.error(f"unknown part(s): {', '.join(bad)}")
    return args


def update_readme(markdown: str) -> None:
    with open(README, encoding="utf-8") as f:
        text = f.read()
    start, end = text.find(MARK_START), text.find(MARK_END)
    if start < 0 or end < start:
        raise SystemExit(f"{README} has no {MARK_START} ... {MARK_END} section")
    text = text[: start + len(MARK_START)] + "\n" + markdown.rstrip() + "\n" + text[end:]
    with open(README, "w", encoding="utf-8") as f:
        f.write(text)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    bench_common.install_cleanup()
    profile = dict(PROFILES[args.mode])
    if args.heavy_ms is not None:
        profile["heavy"] = [int(x) for x in args.heavy_ms.split(",")]
    if args.edits is not None:
        profile["edits"] = args.edits
    if args.python:
        python = os.path.abspath(args.python) if os.sep in args.python else shutil.which(args.python) or args.python
    elif args.no_setup:
        python = os.path.join(VENV, "bin", "python")
    else:
        python = setup_env()
    if "uvicorn-hmr" in args.contenders and "latency" in args.parts and not args.no_setup:
        setup_hmr_env()
    started = time.perf_counter()
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%d-%H%M%S")
    workdir = os.path.join(WORK, "runs", f"{stamp}-{args.mode}")
    os.makedirs(workdir, exist_ok=True)
    os.makedirs(args.out, exist_ok=True)
    shown = [a for a in (sys.argv[1:] if argv is None else argv) if a != "--update-readme"]
    results: dict[str, Any] = {
        "command": "python benchmarks/run.py" + ("" if not shown else " " + shlex.join(shown)),
        "mode": args.mode,
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine_info(python),
        "profile": profile,
        "logs": os.path.relpath(workdir, REPO),
    }
    json_path = os.path.join(args.out, "latest.json")

    results["load"] = []

    def note_load(part: str) -> None:
        try:
            with open("/proc/loadavg") as f:
                results["load"].append([part, float(f.read().split()[0])])
        except OSError:
            pass

    def save() -> None:
        results["elapsed_s"] = time.perf_counter() - started
        with open(json_path, "w", encoding="utf-8") as f:
            json.dump(results, f, indent=1)

    try:
        if "latency" in args.parts:
            note_load("latency")
            results["latency"] = part_latency(args, profile, python, workdir)
            save()
        if "storm" in args.parts:
            note_load("storm")
            log(f"storm: {profile['storm']} reloads of hotwsgi with {profile['storm_clients']} clients")
            results["storm"] = reload_bench.run_storm(
                python=python,
                reloads=profile["storm"],
                clients=profile["storm_clients"],
                workdir=workdir,
                seed=args.seed,
            )
            save()
        if "bursts" in args.parts:
            note_load("bursts")
            results["bursts"] = part_bursts(profile, python, workdir)
            save()
        if "overhead" in args.parts:
            note_load("overhead")
            try:
                results["overhead"] = part_overhead(profile, python)
            except RuntimeError as exc:
                results["overhead"] = {"error": str(exc).strip().splitlines()[-1]}
            save()
        if "throughput" in args.parts:
            note_load("throughput")
            servers = ("werkzeug",) if args.mode == "smoke" else throughput.SERVERS
            log(f"throughput: {', '.join(servers)}, {profile['tput_rounds']} rounds of {profile['tput_seconds']} s")
            results["throughput"] = throughput.run(
                python=python,
                seconds=profile["tput_seconds"],
                rounds=profile["tput_rounds"],
                servers=servers,
                workdir=workdir,
            )
            save()
        if "scaling" in args.parts:
            note_load("scaling")
            results["scaling"] = part_scaling(profile, python)
            save()
        if "wide" in args.parts:
            note_load("wide")
            results["wide"] = part_wide(profile, python)
            save()
        if "startup" in args.parts:
            note_load("startup")
            results["startup"] = part_startup(profile, python)
            save()
        if "memory" in args.parts:
            note_load("memory")
            results["memory"] = part_memory(profile, python)
            save()
    finally:
        note_load("end")
        bench_common.kill_all()
        save()
    markdown = report.render(results)
    with open(os.path.join(args.out, "latest.md"), "w", encoding="utf-8") as f:
        f.write(markdown)
    print(markdown)
    if args.update_readme:
        update_readme(markdown)
        log(f"updated {os.path.relpath(README)}")
    log(f"done in {time.perf_counter() - started:.0f} s; results in {os.path.relpath(json_path)}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        bench_common.kill_all()
        log("interrupted: every process this run started has been stopped")
        sys.exit(130)
