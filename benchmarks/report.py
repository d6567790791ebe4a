"""Turn the results dict of ``run.py`` into the Markdown tables of benchmarks/README.md."""

from __future__ import annotations

import math
from typing import Any

from reload_bench import CONTENDERS, HOT_FOR

# The targets of DESIGN.md "Performance targets", with the criterion each verdict applies.
LATENCY_SPEEDUP = 50.0  # vs uvicorn --reload and werkzeug's reloader
HMR_SPEEDUP = 5.0  # vs uvicorn-hmr
LATENCY_MEDIAN_MS = 10.0
WSGI_NS = 1000.0
ASGI_NS = 1000.0
OFF_NS = 20.0  # reloading off: the bare app's cost; a wrapper that must stay costs at most this
THROUGHPUT_PCT = 3.0
MEMORY_PCT = 5.0
SCALE_RATIO = 1.5
STORM_MIN_RELOADS = 200
SAVE_STORM_MAX_RELOADS = 25  # 200 saves 10 ms apart
WIDE_MS = 60.0  # a module imported by 500 others
STARTUP_PCT = 10.0  # the 2,000-module app's start-up over the bare app's


def _ms(value: float | None, digits: int = 0) -> str:
    if value is None:
        return "–"
    if value < 10 and digits == 0:
        return f"{value:.1f}"
    return f"{value:.{digits}f}"


def _s_or_ms(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value / 1000:.2f} s" if value >= 1000 else f"{value:.0f} ms" if value >= 10 else f"{value:.1f} ms"


def _verdict(ok: bool | None) -> str:
    """Bold met/missed; the few rows that cannot be judged say "n/a" or "inconclusive" instead."""
    return "n/a" if ok is None else ("**met**" if ok else "**missed**")


def _failed(bucket: dict[str, Any]) -> int:
    return sum(int(bucket.get(k, 0)) for k in ("refused", "reset", "timeout", "5xx", "other"))


def _runs(results: dict[str, Any]) -> list[dict[str, Any]]:
    return list(results.get("latency", {}).get("runs", []))


def _find(results: dict[str, Any], key: str, heavy: int) -> dict[str, Any] | None:
    for run in _runs(results):
        if run["key"] == key and run["heavy_ms"] == heavy:
            return run
    return None


def _median(run: dict[str, Any] | None) -> float | None:
    if not run or not run.get("available"):
        return None
    return run.get("latency_ms", {}).get("median")


def _reference(results: dict[str, Any], key: str, heavy: int) -> tuple[dict[str, Any] | None, str]:
    """The hotwsgi run a peer is compared with, and a footnote when it is not the same interface."""
    flavour = CONTENDERS[key].flavour if key in CONTENDERS else "wsgi"
    own = _find(results, HOT_FOR[flavour], heavy)
    if _median(own) is not None:
        return own, ""
    other = _find(results, "hotwsgi", heavy)
    if flavour == "asgi" and _median(other) is not None:
        return other, " †"
    return None, ""


def machine_section(results: dict[str, Any]) -> list[str]:
    m = results.get("machine", {})
    lines = [
        f"- Machine: {m.get('cpu', '?')}, {m.get('cores', '?')} cores, {m.get('memory_gb', '?')} GB memory, "
        f"{m.get('os', '?')}",
        f"- Python: {m.get('python', '?')} (benchmark environment `{m.get('python_path', '?')}`)",
        f"- Packages: {', '.join(f'{k} {v}' for k, v in sorted(m.get('packages', {}).items()))}",
        f"- wrk: {m.get('wrk', 'not installed')}",
        f"- hotwsgi commit: {m.get('commit', '?')}",
        "- Load average (1 min) at the start of each part: "
        + (", ".join(f"{part} {value:.1f}" for part, value in results.get("load", [])) or "?")
        + " (other processes on the machine disturb the absolute figures; the ratios are taken in the same run)",
        f"- Command: `{results.get('command', '?')}` ({results.get('mode', '?')} run, "
        f"{results.get('elapsed_s', 0):.0f} s, {results.get('date', '?')})",
    ]
    return lines


def targets_section(results: dict[str, Any]) -> list[str]:
    rows: list[tuple[str, str, str]] = []
    heavy_runs = [h for h in results.get("latency", {}).get("heavy", []) if h > 0]
    heavy = max(heavy_runs) if heavy_runs else None
    for peer in ("uvicorn", "werkzeug", "uvicorn-hmr"):
        name = CONTENDERS[peer].label
        target = HMR_SPEEDUP if peer == "uvicorn-hmr" else LATENCY_SPEEDUP
        if heavy is None:
            rows.append((f"latency ≥ {target:.0f}× shorter than `{name}` (1 s imports)", "not run", "n/a"))
            continue
        ref, mark = _reference(results, peer, heavy)
        peer_run = _find(results, peer, heavy)
        a, b = _median(ref), _median(peer_run)
        if a is None or b is None:
            why = (peer_run or {}).get("error", "").splitlines()[-1:] if peer_run else ["not run"]
            rows.append(
                (
                    f"latency ≥ {target:.0f}× shorter than `{name}` (heavy {heavy} ms)",
                    f"not available ({'; '.join(why) or 'no data'})",
                    "n/a",
                )
            )
            continue
        speedup = b / a
        note = " (hotwsgi WSGI: the ASGI flavour did not run)" if mark else ""
        rows.append(
            (
                f"latency ≥ {target:.0f}× shorter than `{name}` (heavy {heavy} ms)",
                f"{speedup:.1f}× ({_s_or_ms(a)} vs {_s_or_ms(b)}){note}",
                _verdict(speedup >= target),
            )
        )
    for key in ("hotwsgi", "hotwsgi-asgi"):
        medians = [(h, _median(_find(results, key, h))) for h in results.get("latency", {}).get("heavy", [])]
        medians = [(h, v) for h, v in medians if v is not None]
        label = CONTENDERS[key].label
        if not medians:
            run = next((r for r in _runs(results) if r["key"] == key), None)
            if run is not None:
                why = (run.get("error") or "no data").strip().splitlines()[-1]
                rows.append(
                    (
                        f"median latency ≤ {LATENCY_MEDIAN_MS:.0f} ms, 50-module app: {label}",
                        f"not available ({why})",
                        "n/a",
                    )
                )
            continue
        worst = max(v for _, v in medians)
        shown = ", ".join(f"{_ms(v)} ms (heavy {h})" for h, v in medians)
        rows.append(
            (
                f"median latency ≤ {LATENCY_MEDIAN_MS:.0f} ms, 50-module app: {label}",
                shown,
                _verdict(worst <= LATENCY_MEDIAN_MS),
            )
        )
    storm = results.get("storm")
    if storm and storm.get("available"):
        req = storm.get("requests", {})
        failed, regressions = _failed(req), int(req.get("regressions", 0))
        hot_runs = [r for r in _runs(results) if r["key"] in HOT_FOR.values() and r.get("available")]
        failed += sum(_failed(r.get("during_edits", {})) for r in hot_runs)
        regressions += sum(int(r.get("during_edits", {}).get("regressions", 0)) for r in hot_runs)
        requests = int(req.get("requests", 0)) + sum(
            int(r.get("during_edits", {}).get("requests", 0)) for r in hot_runs
        )
        reloads = int(storm.get("reloads_logged", 0))
        ok = failed == 0 and regressions == 0 and storm.get("missed_edits", 0) == 0
        note = "" if reloads >= STORM_MIN_RELOADS else f"; only {reloads} reloads in this run, target says hundreds"
        rows.append(
            (
                "zero failed requests, zero old answers after a new one, hundreds of reloads",
                f"{failed} failed, {regressions} old answers in {requests} requests over "
                f"{reloads} reloads ({storm.get('clients')} clients){note}",
                _verdict(ok) if reloads >= STORM_MIN_RELOADS or not ok else "met (small run)",
            )
        )
    rows += _burst_rows(results)
    ovh = results.get("overhead")
    if ovh and not ovh.get("error"):
        for key, what in (
            ("wsgi_list", "WSGI, list body"),
            ("wsgi_object", "WSGI, an app object, list body"),
            ("asgi", "ASGI"),
            ("asgi_object", "ASGI, an app object"),
        ):
            data = ovh.get(key)
            if data:
                cost = _cost(data, "off")
                rows.append(
                    (
                        f"reloading off costs the bare app's cost (a wrapper that stays: ≤ {OFF_NS:.0f} ns; {what})",
                        f"{cost:+.0f} ns per call over bare",
                        _verdict(cost <= OFF_NS),
                    )
                )
        for body in ("wsgi_list", "wsgi_iter"):
            data = ovh.get(body)
            if data:
                cost = _cost(data, "on")
                what = "list body" if body == "wsgi_list" else "iterable body with close(), like Flask's"
                rows.append(
                    (
                        f"WSGI per-call cost, reloading on, < {WSGI_NS / 1000:.0f} µs ({what})",
                        f"{cost:.0f} ns{_best(data)}",
                        _verdict(cost < WSGI_NS),
                    )
                )
        data = ovh.get("asgi")
        if data:
            cost = _cost(data, "on")
            rows.append(
                (
                    f"ASGI per-call cost, reloading on, < {ASGI_NS / 1000:.0f} µs",
                    f"{cost:.0f} ns{_best(data)}",
                    _verdict(cost < ASGI_NS),
                )
            )
        else:
            rows.append(
                (
                    f"ASGI per-call cost, reloading on, < {ASGI_NS / 1000:.0f} µs",
                    f"not available ({ovh.get('asgi_error', '?')})",
                    "n/a",
                )
            )
    tput = results.get("throughput")
    if tput:
        if not tput.get("available"):
            rows.append(
                (f"throughput within {THROUGHPUT_PCT:.0f} % of the bare app", f"not run ({tput.get('error')})", "n/a")
            )
        for server, row in tput.get("servers", {}).items():
            label = f"throughput within {THROUGHPUT_PCT:.0f} % of the bare app ({server})"
            delta = _delta(row)
            if delta is None:
                rows.append((label, f"not available ({row.get('error', 'no data')})", "n/a"))
            else:
                cpu = _cpu_delta(row)
                text = f"{delta:+.1f} % req/s ({len(_paired(row))} back-to-back pairs, {_ci_text(_paired(row))})"
                if cpu is not None:
                    text += f"; server CPU per request {cpu:+.1f} % ({_ci_text(_cpu_paired(row))})"
                by_rps = _judge(_paired(row), worse_if_below=True)
                by_cpu = _judge(_cpu_paired(row), worse_if_below=False)
                if by_rps is not None:
                    verdict = _verdict(by_rps)
                elif by_cpu is not None:
                    # req/s is too noisy here to tell; CPU per request is steadier: judge by it, say so.
                    text += "; req/s too noisy on this machine to tell, judged by CPU per request"
                    verdict = _verdict(by_cpu)
                elif median_ci(_paired(row)) is None:
                    text += "; too few rounds to judge (a full run makes 20)"
                    verdict = "inconclusive"
                else:
                    text += "; the noise of this machine is larger than the 3 % being judged"
                    verdict = "inconclusive"
                rows.append((label, text, verdict))
    mem = results.get("memory")
    if mem and mem.get("rows"):
        mrows = mem["rows"]
        first, base, last = mrows[0], (mrows[1] if len(mrows) > 2 else mrows[0]), mrows[-1]
        growth = (last["rss_mb"] - base["rss_mb"]) / base["rss_mb"] * 100
        flat = last["live_modules"] <= first["live_modules"] and growth <= MEMORY_PCT
        rows.append(
            (
                f"memory flat across {last['reloads']} reloads",
                f"RSS {first['rss_mb']:.1f} → {base['rss_mb']:.1f} → {last['rss_mb']:.1f} MB "
                f"(after {first['reloads']}/{base['reloads']}/{last['reloads']}), live modules "
                f"{first['live_modules']} → {last['live_modules']}",
                _verdict(flat),
            )
        )
    scale = results.get("scaling")
    if scale and len(scale.get("rows", [])) >= 2:
        srows = sorted(scale["rows"], key=lambda r: r["modules"])
        small, big = srows[0], srows[-1]
        ratio = big["reload_ms"]["median"] / small["reload_ms"]["median"]
        rows.append(
            (
                f"leaf reload in a {big['modules']}-module app about as fast as in a {small['modules']}-module "
                f"app (≤ {SCALE_RATIO}×)",
                f"{ratio:.1f}× ({_ms(big['reload_ms']['median'], 2)} vs {_ms(small['reload_ms']['median'], 2)} ms)",
                _verdict(ratio <= SCALE_RATIO),
            )
        )
        if small.get("reload_spaced_ms") and big.get("reload_spaced_ms"):
            paced = big["reload_spaced_ms"] / small["reload_spaced_ms"]
            rows.append(
                (
                    f"the same, reloads {small['spaced_s']} s apart (an editing pace: the old generation's "
                    "collection runs in between, not right before the next reload)",
                    f"{paced:.1f}× ({_ms(big['reload_spaced_ms'], 2)} vs {_ms(small['reload_spaced_ms'], 2)} ms)",
                    _verdict(paced <= SCALE_RATIO),
                )
            )
    rows += _wide_rows(results)
    out = ["| target (DESIGN.md) | measured | verdict |", "|---|---|---|"]
    out += [f"| {a} | {b} | {c} |" for a, b, c in rows]
    return out


def _burst_rows(results: dict[str, Any]) -> list[tuple[str, str, str]]:
    rows: list[tuple[str, str, str]] = []
    bursts = results.get("bursts") or {}
    for storm in bursts.get("storms", []):
        how = "in place" if storm.get("in_place") else "temp file + rename"
        label = f"a storm of saves 10 ms apart makes ≤ {SAVE_STORM_MAX_RELOADS} reloads and the last save wins ({how})"
        if not storm.get("available"):
            rows.append((label, f"not available ({(storm.get('error') or '?').strip().splitlines()[-1:]})", "n/a"))
            continue
        wins = storm.get("last_save_served_ms") is not None and storm.get("last_save_stays")
        served = storm.get("last_save_served_ms")
        rows.append(
            (
                label,
                f"{storm['reloads']} reloads for {storm['saves']} saves over {storm['storm_s']:.1f} s; last save "
                + (f"served {_s_or_ms(served)} after it" if wins else "NOT served"),
                _verdict(storm["reloads"] <= SAVE_STORM_MAX_RELOADS and bool(wins))
                if storm["saves"] >= 200
                else "met (small run)"
                if storm["reloads"] <= SAVE_STORM_MAX_RELOADS and wins
                else _verdict(False),
            )
        )
    checkout = bursts.get("checkout")
    if checkout:
        label = "a `git checkout` touching 100 files makes one reload"
        if not checkout.get("available"):
            rows.append((label, f"not available ({checkout.get('error')})", "n/a"))
        else:
            per = checkout["reloads_per_checkout"]
            served = [x for x in checkout["served_ms"] if x is not None]
            ok = all(n == 1 for n in per) and len(served) == len(per)
            rows.append(
                (
                    label.replace("100", str(checkout["files"])),
                    f"reloads per checkout: {', '.join(map(str, per))}; new branch served after "
                    + ", ".join(_s_or_ms(x) for x in served),
                    _verdict(ok) if checkout["files"] >= 100 or not ok else "met (small run)",
                )
            )
    return rows


def _wide_rows(results: dict[str, Any]) -> list[tuple[str, str, str]]:
    rows: list[tuple[str, str, str]] = []
    wide = results.get("wide")
    if wide:
        label = f"a module imported by 500 others reloads in ≤ {WIDE_MS:.0f} ms"
        if wide.get("error"):
            rows.append((label, f"not available ({wide['error']})", "n/a"))
        else:
            median = wide["reload_ms"]["median"]
            rows.append(
                (
                    label.replace("500", str(wide["dependents"])),
                    f"{_ms(median, 1)} ms median wall ({wide['rerun']} modules re-run; CPU "
                    f"{_ms(wide['cpu_ms']['median'], 1)} ms median, {_ms(wide['cpu_ms']['min'], 1)} ms best; "
                    f"first reload, nothing cached yet: {_ms(wide['first_reload_ms'], 1)} ms)",
                    _verdict(median <= WIDE_MS)
                    if wide["dependents"] >= 500
                    else "met (small run)"
                    if median <= WIDE_MS
                    else _verdict(False),
                )
            )
    start = results.get("startup")
    if start:
        label = f"the {start.get('modules', 2000)}-module app starts within {STARTUP_PCT:.0f} % of the bare app"
        if start.get("error"):
            rows.append((label, f"not available ({start['error']})", "n/a"))
        else:
            pct = (start["ratio"] - 1) * 100
            cpu = start.get("cpu_ratio")
            rows.append(
                (
                    label,
                    f"{pct:+.0f} % ({_s_or_ms(start['on_ms'])} vs {_s_or_ms(start['bare_ms'])} to the first response, "
                    f"median of {start['rounds']}; CPU used by then {((cpu or 1) - 1) * 100:+.0f} %)",
                    _verdict(pct <= STARTUP_PCT),
                )
            )
    return rows


def _cost(data: dict[str, Any], variant: str) -> float:
    """ns per call over the bare app: median of per-repeat differences (older results: of medians)."""
    paired = data.get(f"{variant}_minus_bare")
    return float(paired) if paired is not None else float(data[variant] - data["bare"])


def _best(data: dict[str, Any]) -> str:
    best = data.get("min")
    if not best:
        return ""
    return f" (median of repeats; best repeat of each: {best['on'] - best['bare']:+.0f} ns)"


def _paired(row: dict[str, Any]) -> list[float]:
    """Per-round differences in % (with middleware vs bare, measured back to back)."""
    samples = row.get("samples") or {}
    bare, on = samples.get("bare") or [], samples.get("on") or []
    return sorted((o - b) / b * 100 for b, o in zip(bare, on, strict=True))


def _cpu_paired(row: dict[str, Any]) -> list[float]:
    cpu = row.get("cpu_us_per_request") or {}
    bare, on = cpu.get("bare") or [], cpu.get("on") or []
    if len(bare) != len(on):
        return []
    return sorted((o - b) / b * 100 for b, o in zip(bare, on, strict=True))


def _cpu_delta(row: dict[str, Any]) -> float | None:
    """Median of the per-round differences of server CPU per request, in %."""
    paired = _cpu_paired(row)
    return _med(paired) if paired else None


def median_ci(values: list[float]) -> tuple[float, float] | None:
    """A distribution-free ~95 % confidence interval of the median (order statistics, sign test)."""
    data = sorted(values)
    n = len(data)
    k = int(n / 2 - 1.96 * math.sqrt(n) / 2)
    if n < 6 or k < 0:
        return None
    return data[k], data[n - 1 - k]


def _judge(paired: list[float], *, worse_if_below: bool) -> bool | None:
    """True (met) / False (missed) when the median's CI is on one side of the 3 % line, else None."""
    ci = median_ci(paired)
    if ci is None:
        return None
    lo, hi = ci if worse_if_below else (-ci[1], -ci[0])
    if lo >= -THROUGHPUT_PCT:
        return True
    if hi < -THROUGHPUT_PCT:
        return False
    return None


def _ci_text(paired: list[float]) -> str:
    ci = median_ci(paired)
    return f"95 % CI {ci[0]:+.1f} to {ci[1]:+.1f} %" if ci else "too few rounds for a CI"


def _delta(row: dict[str, Any]) -> float | None:
    """Median of the per-round differences: pairs cancel the drift of other load on the machine."""
    paired = _paired(row)
    return _med(paired) if paired else None


def _spread(row: dict[str, Any], *, cpu: bool = False) -> str:
    paired = _cpu_paired(row) if cpu else _paired(row)
    if len(paired) < 4:
        return ", ".join(f"{x:+.0f}" for x in paired) + " %"
    q1, q3 = paired[len(paired) // 4], paired[(3 * len(paired)) // 4]
    return f"{q1:+.1f} % to {q3:+.1f} %"


def _med(values: list[float]) -> float:
    data = sorted(values)
    n = len(data)
    return data[n // 2] if n % 2 else (data[n // 2 - 1] + data[n // 2]) / 2


def latency_section(results: dict[str, Any]) -> list[str]:
    out = [
        "| reloader | heavy import | hotwsgi ÷ this | this ÷ hotwsgi | median | p90 | max | edits seen | "
        "of which the reload (hotwsgi's log, median) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    footnote = False
    for heavy in results.get("latency", {}).get("heavy", []):
        for run in _runs(results):
            if run["heavy_ms"] != heavy:
                continue
            label = run["label"]
            if not run.get("available"):
                why = (run.get("error") or "?").strip().splitlines()[-1][:120]
                out.append(f"| {label} | {heavy} ms | not available: {why} | | | | | | |")
                continue
            lat = run.get("latency_ms", {})
            seen = f"{lat.get('n', 0)}/{lat.get('n', 0) + run.get('missed_edits', 0)}"
            if run.get("missed_edits"):
                seen += f" ({run['missed_edits']} not seen within {results['latency'].get('deadline_s', '?')} s)"
            if run.get("died"):
                seen += " (server died)"
            if run["key"] in HOT_FOR.values():
                ratio, inverse = "1 (reference)", "1"
            else:
                ref, mark = _reference(results, run["key"], heavy)
                a, b = _median(ref), lat.get("median")
                footnote = footnote or bool(mark)
                ratio = f"{a / b:.3f}{mark}" if a and b else "–"
                inverse = f"{b / a:.1f}×{mark}" if a and b else "–"
            out.append(
                f"| {label} | {heavy} ms | {ratio} | {inverse} | {_s_or_ms(lat.get('median'))} | "
                f"{_s_or_ms(lat.get('p90'))} | {_s_or_ms(lat.get('max'))} | {seen} | "
                f"{_s_or_ms((run.get('reload_log_ms') or {}).get('median'))} |"
            )
    if footnote:
        out.append("")
        out.append("† compared with hotwsgi's WSGI flavour, because its ASGI flavour did not run.")
    return out


def requests_section(results: dict[str, Any]) -> list[str]:
    out = [
        "| reloader | heavy import | requests | ok | refused | reset | timeout | 5xx | other | slowest ok | "
        "old answers after new |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for run in _runs(results):
        if not run.get("available"):
            continue
        b = run.get("during_edits", {})
        out.append(
            f"| {run['label']} | {run['heavy_ms']} ms | {b.get('requests', 0)} | {b.get('ok', 0)} | "
            f"{b.get('refused', 0)} | {b.get('reset', 0)} | {b.get('timeout', 0)} | {b.get('5xx', 0)} | "
            f"{b.get('other', 0)} | {_s_or_ms(b.get('slowest_ok_ms'))} | {b.get('regressions', 0)} |"
        )
    storm = results.get("storm")
    if storm and storm.get("available"):
        b = storm.get("requests", {})
        out.append(
            f"| hotwsgi storm: {storm.get('reloads_logged')} reloads, {storm.get('clients')} clients | 0 ms | "
            f"{b.get('requests', 0)} | {b.get('ok', 0)} | {b.get('refused', 0)} | {b.get('reset', 0)} | "
            f"{b.get('timeout', 0)} | {b.get('5xx', 0)} | {b.get('other', 0)} | "
            f"{_s_or_ms(b.get('slowest_ok_ms'))} | {b.get('regressions', 0)} |"
        )
    return out


def syntax_section(results: dict[str, Any]) -> list[str]:
    out = [
        "| reloader | heavy import | request 1.5 s after a broken save | failed while broken | slowest ok "
        "while broken | to the fixed version |",
        "|---|---|---|---|---|---|",
    ]
    for run in _runs(results):
        if not run.get("available"):
            continue
        s = run.get("syntax")
        if not s:
            out.append(f"| {run['label']} | {run['heavy_ms']} ms | not run (server gone) | | | |")
            continue
        b = s.get("while_broken", {})
        fixed = _s_or_ms(s.get("fixed_ms")) if s.get("fixed_ms") is not None else (s.get("fixed_note") or "–")
        out.append(
            f"| {run['label']} | {run['heavy_ms']} ms | {s['at_1_5s']} | {_failed(b)} of {b.get('requests', 0)} "
            f"| {_s_or_ms(b.get('slowest_ok_ms') or None)} | {fixed} |"
        )
    return out


def overhead_section(results: dict[str, Any]) -> list[str]:
    ovh = results.get("overhead")
    out = ["| app | bare | middleware off | middleware on | on − bare | off − bare |", "|---|---|---|---|---|---|"]
    names = {
        "wsgi_list": "WSGI, list body",
        "wsgi_iter": "WSGI, iterable body + close()",
        "wsgi_object": "WSGI, an app object (like Flask's), list body",
        "asgi": "ASGI",
        "asgi_object": "ASGI, an app object (like Starlette's)",
    }
    if not ovh or ovh.get("error"):
        out.append(f"| not run | {(ovh or {}).get('error', '')} | | | | |")
        names = {}
    for key, name in names.items():
        d = ovh.get(key)
        if not d:
            out.append(f"| {name} | not available: {ovh.get(key + '_error', '?')} | | | | |")
            continue
        out.append(
            f"| {name} | {d['bare']:.0f} ns | {d['off']:.0f} ns | {d['on']:.0f} ns | "
            f"{_cost(d, 'on'):+.0f} ns | {_cost(d, 'off'):+.0f} ns |"
        )
    tput = results.get("throughput")
    pinned = " (wrk on CPU 0, server on CPU 1)" if (tput or {}).get("pinned") else ""
    out += [
        "",
        f"| server{pinned}, wrk -t1 -c8 | bare app req/s | with middleware req/s | difference | "
        "difference (median of pairs, 95 % CI) | server CPU µs per request (bare → on) |",
        "|---|---|---|---|---|---|",
    ]
    if not tput or not tput.get("available"):
        out.append(f"| not run: {(tput or {}).get('error', 'skipped')} | | | | | |")
        return out
    for server, row in tput.get("servers", {}).items():
        delta = _delta(row)
        if delta is None:
            out.append(f"| {server} | not available: {row.get('error', 'no data')} | | | | |")
            continue
        s = row["samples"]
        cpu = row.get("cpu_us_per_request") or {}
        cpu_delta = _cpu_delta(row)
        cpu_text = (
            f"{_med(cpu['bare']):.0f} → {_med(cpu['on']):.0f} ({cpu_delta:+.1f} %, {_ci_text(_cpu_paired(row))})"
            if cpu.get("bare") and cpu.get("on") and cpu_delta is not None
            else "–"
        )
        out.append(
            f"| {server} | {_med(s['bare']):.0f} | {_med(s['on']):.0f} | {delta:+.1f} % | "
            f"{_ci_text(_paired(row))} | {cpu_text} |"
        )
    return out


def scaling_section(results: dict[str, Any]) -> list[str]:
    out = [
        "| user modules | import (s) | graph build at start-up | leaf reload median | p90 | max "
        "| median, 1.3 s apart | re-ran |",
        "|---|---|---|---|---|---|---|---|",
    ]
    scale = results.get("scaling") or {}
    for r in sorted(scale.get("rows", []), key=lambda r: r["modules"]):
        out.append(
            f"| {r['modules']} | {r['import_s']:.2f} | {_ms(r['graph_build_ms'], 1)} ms | "
            f"{_ms(r['reload_ms']['median'], 2)} ms | {_ms(r['reload_ms']['p90'], 2)} ms | "
            f"{_ms(r['reload_ms']['max'], 2)} ms | "
            + (f"{_ms(r['reload_spaced_ms'], 2)} ms" if r.get("reload_spaced_ms") else "")
            + f" | {', '.join(r['rerun'])} |"
        )
    for err in scale.get("errors", []):
        out.append(f"| error | {err} | | | | | | |")
    return out


def memory_section(results: dict[str, Any]) -> list[str]:
    mem = results.get("memory") or {}
    out = ["| reloads | RSS | live module objects | sys.modules |", "|---|---|---|---|"]
    for r in mem.get("rows", []):
        out.append(f"| {r['reloads']} | {r['rss_mb']:.1f} MB | {r['live_modules']} | {r['sys_modules']} |")
    if mem.get("error"):
        out.append(f"| error: {mem['error']} | | | |")
    return out


def bursts_section(results: dict[str, Any]) -> list[str]:
    out = [
        "| what | saves / files | reloads | last change served after | requests (4 clients) | failed | "
        "old answers after new |",
        "|---|---|---|---|---|---|---|",
    ]
    bursts = results.get("bursts") or {}
    for storm in bursts.get("storms", []):
        if not storm.get("available"):
            continue
        how = "in place" if storm.get("in_place") else "temp file + rename"
        req = storm.get("requests", {})
        out.append(
            f"| storm, saves 10 ms apart ({how}) | {storm['saves']} | {storm['reloads']} | "
            f"{_s_or_ms(storm.get('last_save_served_ms'))} | {req.get('requests', 0)} | {_failed(req)} | "
            f"{req.get('regressions', 0)} |"
        )
    checkout = bursts.get("checkout")
    if checkout and checkout.get("available"):
        served = [x for x in checkout["served_ms"] if x is not None]
        out.append(
            f"| git checkout, {len(checkout['reloads_per_checkout'])} times | {checkout['files']} | "
            f"{', '.join(map(str, checkout['reloads_per_checkout']))} | "
            f"{', '.join(_s_or_ms(x) for x in served)} | – | – | – |"
        )
    wide = results.get("wide")
    start = results.get("startup")
    out += ["", "| measurement | median | other figures |", "|---|---|---|"]
    if wide and not wide.get("error"):
        out.append(
            f"| reload of core.py, imported by {wide['dependents']} modules ({wide['rerun']} re-run) | "
            f"{_ms(wide['reload_ms']['median'], 1)} ms | p90 {_ms(wide['reload_ms']['p90'], 1)} ms; CPU "
            f"{_ms(wide['cpu_ms']['median'], 1)} ms (best {_ms(wide['cpu_ms']['min'], 1)}); first reload "
            f"{_ms(wide['first_reload_ms'], 1)} ms |"
        )
    if start and not start.get("error"):
        out.append(
            f"| start-up to the first response, {start['modules']} modules: bare → wrapped | "
            f"{_s_or_ms(start['bare_ms'])} → {_s_or_ms(start['on_ms'])} | CPU used by then "
            f"{start['bare_cpu_ms']:.0f} → {start['on_cpu_ms']:.0f} ms |"
        )
    return out


def render(results: dict[str, Any]) -> str:
    parts = [
        "### Targets of DESIGN.md",
        "",
        *targets_section(results),
        "",
        "### Machine and versions",
        "",
        *machine_section(results),
        "",
        "### 1. Edit-to-new-response latency",
        "",
        *latency_section(results),
        "",
        "### 2. Requests during reloads (background clients, fresh connection per request)",
        "",
        *requests_section(results),
        "",
        "### 3. Syntax error, then fix",
        "",
        *syntax_section(results),
        "",
        "### 4. Per-request overhead (in-process, median ns per call) and throughput",
        "",
        *overhead_section(results),
        "",
        "### 5. Scaling: one leaf module changed (views.py; re-runs views and main)",
        "",
        *scaling_section(results),
        "",
        "### 6. Memory across reloads (50-module "
        + ("Flask" if (results.get("memory") or {}).get("flavour") == "wsgi" else "bare WSGI")
        + " app)",
        "",
        *memory_section(results),
        "",
        "### 7. Bursts of saves, a module with 500 importers, start-up",
        "",
        *bursts_section(results),
        "",
    ]
    return "\n".join(parts)
