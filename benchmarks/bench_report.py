"""The benchmark's report: the results as the tables, notes and targets printed at the end of a run."""

from __future__ import annotations

from typing import Any

TARGET_P99_ADDED_MS = 5.0
TARGET_P99_AT = 200
TARGET_IDLE_KB = 64.0


def fmt(value: float | None, spec: str = ".2f") -> str:
    return "—" if value is None else format(value, spec)


def ratio(a: float | None, b: float | None) -> str:
    if a is None or b is None or b <= 0:
        return "—"
    return f"{a / b:.1f}×"


def diff(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a - b


def report(results: dict[str, Any]) -> str:
    config, machine, rows = results["config"], results["machine"], results["rows"]
    lines = [
        f"Inkstream bridge benchmark: {config['rate']:g} tokens/s per stream, "
        f"{config['seconds']:g} s streams, paragraph every {config['paragraph'] or '∞'} tokens, "
        f"{'aligned' if config['aligned'] else 'random'} "
        f"token phases; {machine['cpus']} CPUs, load before {machine['loadavg_before']}",
        "Delay per token = receive time - upstream write time (ms); added = bridge - baseline.",
        "",
    ]
    head = (
        f"{'N':>5} | {'baseline p50':>12} {'p99':>7} | {'bridge p50':>10} {'p99':>7} | "
        f"{'added p50':>9} {'p99':>7} | {'×baseline p50':>13} {'p99':>6} | {'tokens/s':>8} {'of':>6}"
    )
    lines += [head, "-" * len(head)]
    for row in rows:
        base, bridge = row["baseline"], row["bridge"]
        lines.append(
            f"{row['streams']:>5} | {fmt(base['p50_ms']):>12} {fmt(base['p99_ms']):>7} | "
            f"{fmt(bridge['p50_ms']):>10} {fmt(bridge['p99_ms']):>7} | "
            f"{fmt(diff(bridge['p50_ms'], base['p50_ms'])):>9} "
            f"{fmt(diff(bridge['p99_ms'], base['p99_ms'])):>7} | "
            f"{ratio(bridge['p50_ms'], base['p50_ms']):>13} {ratio(bridge['p99_ms'], base['p99_ms']):>6} | "
            f"{bridge['tokens_per_s']:>8.0f} {bridge['expected_tokens_per_s']:>6.0f}"
        )
    lines.append("")
    head = (
        f"{'N':>5} | {'frames/s':>8} {'tok/frame':>9} | {'server CPU':>10} {'µs/token':>8} {'RSS MB':>6} | "
        f"{'CPU upstream':>12} {'clients':>7} {'others':>6} | {'p99.9':>7} {'max':>7} | "
        f"{'undelivered':>11} {'errors':>6}"
    )
    lines += [head, "-" * len(head)]
    for row in rows:
        base, bridge = row["baseline"], row["bridge"]
        lost = sum(r["tokens_expected"] - r["tokens_received"] for r in (base, bridge))
        errors = sum(sum(r["errors"].values()) for r in (base, bridge))
        lines.append(
            f"{row['streams']:>5} | {bridge['frames_per_s']:>8.0f} {fmt(bridge['tokens_per_frame']):>9} | "
            f"{bridge['cpu_percent']['server']:>9.0f}% {fmt(bridge['server_cpu_us_per_token'], '.0f'):>8} "
            f"{bridge['server_rss_mb']:>6.0f} | {bridge['cpu_percent']['upstream']:>11.0f}% "
            f"{bridge['client_cpu_percent']:>6.0f}% {bridge['other_cpu_percent']:>5.0f}% | "
            f"{fmt(bridge['p999_ms']):>7} {fmt(bridge['max_ms']):>7} | {lost:>11} {errors:>6}"
        )
    lines.append(
        "(bridge phase; CPU in % of one core over the window; others = the rest of the machine; "
        "undelivered tokens and errors count both phases)"
    )
    notes = []
    for row in rows:
        base, bridge = row["baseline"], row["bridge"]
        if base["other_cpu_percent"] > 25 or bridge["other_cpu_percent"] > 25:
            notes.append(
                f"  N={row['streams']}: other processes used {base['other_cpu_percent']:.0f}% (baseline) and "
                f"{bridge['other_cpu_percent']:.0f}% (bridge) of a CPU: figures are disturbed"
            )
        if bridge["drain_s"] > 1:
            notes.append(
                f"  N={row['streams']}: the bridge fell behind; its last stream ended "
                f"{bridge['drain_s']:.1f} s after the upstream's"
            )
        spikes = {k: v for k, v in bridge["worst_ms_by_second"].items() if v > 50}
        if spikes:
            shown = ", ".join(f"{v:.0f} ms at {k} s" for k, v in list(spikes.items())[:6])
            notes.append(
                f"  N={row['streams']}: bridge delays over 50 ms in {len(spikes)} of "
                f"{len(bridge['worst_ms_by_second'])} s of the window: {shown}"
            )
    if notes:
        lines += ["", "Notes:", *notes]
    idle = results.get("idle")
    if idle:
        lines += [
            "",
            f"Idle sockets: {idle['ready']} of {idle['sockets']} open (handshake + hello); server RSS "
            f"{idle['rss_before_mb']:.1f} -> {idle['rss_with_mb']:.1f} MB, "
            f"{idle['rss_after_close_mb']:.1f} MB after closing: "
            f"{fmt(idle['kb_per_socket'], '.1f')} KB per idle socket",
        ]
    lines += ["", "Targets (from the issue; printed, not asserted):"]
    at = next((r for r in rows if r["streams"] == TARGET_P99_AT), None)
    if at is not None:
        added99 = diff(at["bridge"]["p99_ms"], at["baseline"]["p99_ms"])
        verdict = "—" if added99 is None else ("met" if added99 <= TARGET_P99_ADDED_MS else "NOT met")
        lines.append(
            f"  p99 added at {TARGET_P99_AT} streams ≤ {TARGET_P99_ADDED_MS:g} ms: "
            f"{fmt(added99)} ms, {verdict}"
        )
    else:
        lines.append(f"  p99 added at {TARGET_P99_AT} streams: not measured in this run")
    if idle and idle["kb_per_socket"] is not None:
        verdict = "met" if idle["kb_per_socket"] <= TARGET_IDLE_KB else "NOT met"
        lines.append(
            f"  memory per idle socket ≤ {TARGET_IDLE_KB:g} KB: {idle['kb_per_socket']:.1f} KB, {verdict}"
        )
    problems = []
    for row in rows:
        for side in ("baseline", "bridge"):
            r = row[side]
            if r["errors"] or r["tokens_received"] != r["tokens_expected"]:
                problems.append(
                    f"  N={row['streams']} {side}: {r['tokens_received']} of {r['tokens_expected']} tokens, "
                    f"end states {r['end_states']}, errors {r['errors']}"
                )
                problems += [f"    {sample}" for sample in r["error_samples"][:5]]
    if results.get("server_log_problems"):
        problems.append(f"  server log: {len(results['server_log_problems'])} warning/error lines, e.g.:")
        problems += [f"    {line}" for line in results["server_log_problems"][:5]]
    if problems:
        lines += ["", "Problems:", *problems]
    return "\n".join(lines)
