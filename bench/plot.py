"""Plot throughput against batch size from a result file (needs matplotlib: the ``bench``
extra, ``pip install -e '.[bench]'``).

    python -m bench.plot bench/results/latest.json bench/results/throughput.png
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["plot_throughput"]

STYLE = {
    "ours": ("ours (handler)", "tab:blue", "o"),
    "ceiling": ("ceiling (helpers.bulk, same documents)", "tab:green", "s"),
    "exact": ("exact ceiling (ceiling + the _mget of unseen ids)", "tab:olive", "D"),
    "seed": ("seed's way (per record, refresh=True)", "tab:red", "^"),
}


def plot_throughput(result: Mapping[str, Any], out: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt

    throughput = result["throughput"]
    sizes = throughput["config"]["batch_sizes"]
    goal_rows = result.get("goals") or []
    columns = 3 if goal_rows else 2
    figure, axes = plt.subplots(
        1,
        columns,
        figsize=(11 + 5 * (columns - 2), 4.2),
        gridspec_kw={"width_ratios": [3, 2, 3][:columns]},
    )
    rates_ax, ratio_ax = axes[0], axes[1]
    if goal_rows:
        _plot_goals(axes[2], goal_rows)
    for variant, (label, colour, marker) in STYLE.items():
        entries = [throughput["rates"][variant][str(s)] for s in sizes]
        medians = [e["median"] for e in entries]
        errors = [
            [m - e["min"] for m, e in zip(medians, entries, strict=True)],
            [e["max"] - m for m, e in zip(medians, entries, strict=True)],
        ]
        rates_ax.errorbar(
            sizes, medians, yerr=errors, label=label, color=colour, marker=marker, capsize=3
        )
    rates_ax.set(
        xscale="log",
        yscale="log",
        xlabel="stream batch size (records per invocation)",
        ylabel="records/s (median, min-max bars)",
        title="Function throughput vs batch size",
    )
    rates_ax.set_xticks(sizes, [str(s) for s in sizes])
    rates_ax.grid(True, which="both", alpha=0.3)
    rates_ax.legend(fontsize=8)

    positions = range(len(sizes))
    bars = (
        ("ours_over_ceiling", "of the bulk ceiling", "tab:blue", -0.2),
        ("ours_over_exact", "of the exact ceiling", "tab:olive", 0.2),
    )
    for name, label, colour, offset in bars:
        ratios = [throughput["ratios"][name][str(s)] for s in sizes]
        ratio_ax.bar(
            [p + offset for p in positions],
            [r["median"] for r in ratios],
            width=0.4,
            yerr=[
                [r["median"] - r["min"] for r in ratios],
                [r["max"] - r["median"] for r in ratios],
            ],
            color=colour,
            capsize=3,
            label=label,
        )
    ratio_ax.axhline(0.9, color="tab:orange", linestyle="--", label="goal 0.9x (bulk ceiling)")
    ratio_ax.set_xticks(list(positions), [str(s) for s in sizes])
    ratio_ax.set(
        ylim=(0, 1.15),
        xlabel="stream batch size",
        ylabel="ours / ceiling",
        title="Share of the ceilings",
    )
    ratio_ax.legend(fontsize=8)
    load = result.get("meta", {}).get("load_average_start")
    if load:
        figure.text(
            0.01,
            0.01,
            f"load average at start {load[0]:.2f} on {result['meta'].get('cpus')} CPUs",
            fontsize=7,
            color="grey",
        )
    figure.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out, dpi=110)
    plt.close(figure)
    return out


def _plot_goals(axis: Any, rows: list[Mapping[str, Any]]) -> None:
    """Issue 14's goals: measured over goal (at-least goals) or goal over measured (at-most
    goals), so that 1.0 or more is met, whichever the direction."""
    labels = [f"{row['figure'][:38]}\n{row['value']:g} ({row['goal']})" for row in rows]
    colours = ["tab:green" if row["met"] else "tab:red" for row in rows]
    axis.barh(labels, [row["progress"] for row in rows], color=colours)
    limits = [
        (i, row["limit"] / row["value"] * row["progress"])
        for i, row in enumerate(rows)
        if row.get("limit") and row["value"]
    ]
    if limits:
        axis.scatter(
            [x for _, x in limits],
            [i for i, _ in limits],
            marker="|",
            s=200,
            color="black",
            label="limit measured here",
            zorder=3,
        )
    axis.axvline(1.0, color="tab:orange", linestyle="--", label="goal")
    axis.invert_yaxis()
    axis.tick_params(axis="y", labelsize=6)
    axis.set(xlabel="share of the goal reached (1 = met)", title="Goals of issue 14, this run")
    axis.legend(fontsize=8)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("result", type=Path)
    parser.add_argument("out", type=Path)
    args = parser.parse_args()
    print(plot_throughput(json.loads(args.result.read_text()), args.out))


if __name__ == "__main__":
    main()
