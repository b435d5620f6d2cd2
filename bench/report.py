"""The result as tables: rich when writing to a terminal, plain aligned text otherwise."""

from __future__ import annotations

import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["Table", "print_tables", "tables"]

MAX_EXTRA_ROWS = 20


@dataclass(frozen=True)
class Table:
    title: str
    columns: tuple[str, ...]
    rows: list[tuple[str, ...]]
    note: str = ""


def _num(value: Any, digits: int = 0, unit: str = "") -> str:
    if value is None:
        return "-"
    if isinstance(value, int | float):
        return f"{value:,.{digits}f}{unit}"
    return str(value)


def _rate(entry: Mapping[str, Any]) -> str:
    return f"{_num(entry['median'])} ±{entry['spread_pct'] / 2:.0f}%"


def _ratio(entry: Mapping[str, Any], digits: int) -> str:
    return f"{entry['median']:.{digits}f}x [{entry['min']:.{digits}f}-{entry['max']:.{digits}f}]"


def throughput_table(result: Mapping[str, Any]) -> Table:
    config = result["config"]
    rows = []
    for size in map(str, config["batch_sizes"]):
        rows.append(
            (
                size,
                _rate(result["rates"]["ours"][size]),
                _rate(result["rates"]["ceiling"][size]),
                _rate(result["rates"]["exact"][size]),
                _rate(result["rates"]["seed"][size]),
                _ratio(result["ratios"]["ours_over_ceiling"][size], 2),
                _ratio(result["ratios"]["ours_over_exact"][size], 2),
                _ratio(result["ratios"]["ours_over_seed"][size], 0),
            )
        )
    mapping = result.get("mapping_us_per_record")
    note = (
        f"mapping (to_change + compact, no I/O): {mapping} us/record. "
        f"records/s, median of {config['runs']} runs ± half the min-max spread; ratios: median "
        f"[min-max] of per-run pairs. {config['records']} records per measurement "
        f"({config['seed_records']} for the seed's way)."
    )
    return Table(
        "Function throughput (records/s)",
        (
            "batch",
            "ours (handler)",
            "ceiling (helpers.bulk)",
            "exact ceiling (+ _mget)",
            "seed (per record)",
            "ours/ceiling",
            "ours/exact",
            "ours/seed",
        ),
        rows,
        note,
    )


def e2e_table(result: Mapping[str, Any]) -> Table:
    rows = []
    for phase in ("api", "table"):
        r = result.get(phase)
        if not r:
            continue
        rows.append(
            (
                phase,
                f"{r['written']}/{r['items']}",
                f"{_num(r['target_rate'])} -> {_num(r['write_rate'], 1)}",
                _num(r.get("lag_p50_s"), 2, " s"),
                _num(r.get("lag_p95_s"), 2, " s"),
                _num(r.get("lag_max_s"), 2, " s"),
                _num(r.get("indexed_lag_p95_s"), 2, " s"),
                _num(r["sustained_items_per_s"], 1),
                _num(r["write_latency_p50_s"], 3, " s"),
            )
        )
    return Table(
        "End-to-end lag (write acknowledged -> searchable)",
        (
            "writes via",
            "items",
            "rate target -> got /s",
            "p50",
            "p95",
            "max",
            "p95 stored",
            "items/s",
            "write p50",
        ),
        rows,
        "'p95 stored': until a real-time GET finds it (searchable after the next refresh)",
    )


def stack_table(result: Mapping[str, Any]) -> Table:
    rows: list[tuple[str, ...]] = []
    life = result.get("lifecycle", {})
    if "skipped" in life:
        rows.append(("make up / make deploy", f"skipped: {life['skipped']}"))
    else:
        rows += [
            (
                "make up, fresh state folder (venvs + build present)",
                _num(life.get("make_up_fresh_s"), 1, " s"),
            ),
            ("make up, warm restart (data kept)", _num(life.get("make_up_warm_s"), 1, " s")),
            ("make up, already up", _num(life.get("make_up_noop_s"), 2, " s")),
            ("make deploy, first apply", _num(life.get("make_deploy_s"), 1, " s")),
        ]
        for process, mib in (life.get("memory_after_deploy_mib") or {}).items():
            rows.append((f"RSS {process}, fresh stack just deployed", _num(mib, 0, " MiB")))
    for phase, label in (
        ("at_rest", "at rest"),
        ("peak_throughput", "peak, throughput bench"),
        ("peak_e2e", "peak, e2e load"),
    ):
        memory = result.get("memory_mib", {}).get(phase) or {}
        for process, mib in memory.items():
            if process == "lambda_environment_count":
                rows.append((f"Lambda environments, {label}", _num(mib)))
            else:
                rows.append((f"RSS {process}, {label}", _num(mib, 0, " MiB")))
    for phase, shares in result.get("cpu_pct_of_one_core", {}).items():
        for process, pct in shares.items():
            rows.append((f"CPU {process}, during {phase}", _num(pct, 0, "% of a core")))
    return Table("Stack", ("figure", "value"), rows)


def _leaves(value: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(value, Mapping):
        for key, item in value.items():
            yield from _leaves(item, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(value, int | float | str) and not isinstance(value, bool):
        yield prefix, value


def e2e_load_rows(result: Mapping[str, Any]) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = []
    for phase in ("api", "table"):
        for process, pct in (result.get(phase, {}).get("cpu_pct_of_one_core") or {}).items():
            rows.append((f"CPU {process}, e2e writes via {phase}", _num(pct, 0, "% of a core")))
    return rows


def extras_table(extras: Mapping[str, Any]) -> Table:
    """Each module's top two levels of figures (the JSON file has everything)."""
    rows = []
    for name, result in extras.items():
        shallow = [(p, v) for p, v in _leaves(result) if p.count(".") <= 1]
        for path, value in shallow[:MAX_EXTRA_ROWS]:
            rows.append((name, path, _num(value, 3) if isinstance(value, float) else str(value)))
    return Table("Other benchmarks", ("module", "figure", "value"), rows, "all figures: JSON file")


def goals_table(rows: Sequence[Mapping[str, Any]]) -> Table:
    """Issue 14's goals, each beside what this run measured, and the limit this run measured
    for it where there is one."""
    return Table(
        "Goals (issue 14), this run",
        ("figure", "measured", "goal", "met", "limit here", "of limit"),
        [
            (
                row["figure"],
                _num(row["value"], 2),
                row["goal"],
                "yes" if row["met"] else "no",
                _num(row["limit"], 2) if "limit" in row else "",
                f"{row['of_limit']:.2f}" if "of_limit" in row else "",
            )
            for row in rows
        ],
        "ratios are measured side by side in this run; a limit is what bounds the figure on this "
        "machine, measured in the same run (limited_by in the JSON); bench/README.md explains each",
    )


def tables(result: Mapping[str, Any]) -> list[Table]:
    found = []
    if result.get("goals"):
        found.append(goals_table(result["goals"]))
    if "throughput" in result:
        found.append(throughput_table(result["throughput"]))
    if "e2e" in result:
        found.append(e2e_table(result["e2e"]))
    if "stack" in result:
        stack = stack_table(result["stack"])
        stack.rows.extend(e2e_load_rows(result.get("e2e", {})))
        found.append(stack)
    if result.get("extras"):
        found.append(extras_table(result["extras"]))
    return found


def headline(result: Mapping[str, Any]) -> str:
    head = result.get("throughput", {}).get("headline")
    if not head:
        return ""
    return (
        f"Headline at batch {head['batch_size']}: ours = {head['ours_over_ceiling']:.2f}x the "
        f"bulk ceiling (goal >= 0.9x), {head['ours_over_exact']:.2f}x the exact ceiling (the "
        f"bulk ceiling plus the read an exact sync needs: itself "
        f"{head['exact_over_ceiling']:.2f}x the bulk ceiling), {head['ours_over_seed']:.0f}x "
        f"the seed's way (goal >= 100x; the bare ceiling is {head['ceiling_over_seed']:.0f}x)."
    )


def _plain(table: Table) -> str:
    widths = [
        max(len(table.columns[i]), *(len(row[i]) for row in table.rows)) if table.rows else len(c)
        for i, c in enumerate(table.columns)
    ]
    lines = [table.title, "  ".join(c.ljust(w) for c, w in zip(table.columns, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)) for row in table.rows]
    if table.note:
        lines.append(table.note)
    return "\n".join(lines)


def print_tables(result: Mapping[str, Any], rich: bool | None = None) -> None:
    """Print every table; ``rich=None`` means rich when stdout is a terminal."""
    use_rich = sys.stdout.isatty() if rich is None else rich
    found: Sequence[Table] = tables(result)
    if use_rich:
        try:
            _print_rich(found)
        except ImportError:
            use_rich = False
    if not use_rich:
        for table in found:
            print(_plain(table), end="\n\n")
    line = headline(result)
    if line:
        print(line)


def _print_rich(found: Sequence[Table]) -> None:
    from rich.console import Console
    from rich.table import Table as RichTable

    console = Console()
    for table in found:
        rich_table = RichTable(title=table.title, caption=table.note or None)
        for column in table.columns:
            rich_table.add_column(column)
        for row in table.rows:
            rich_table.add_row(*row)
        console.print(rich_table)
