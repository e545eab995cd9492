"""Charts of the benchmarks' JSON results, for the docs (PNG and SVG, drawn with matplotlib).

Run the benchmarks with ``--json`` into one folder, then draw what is there::

    python benchmarks/local.py --json benchmarks/results/local.json
    python benchmarks/plot.py [--results benchmarks/results] [--out docs/img] [--tables]

Each chart is drawn only when its JSON exists (a missing one is reported and skipped):

- ``local.json`` (``benchmarks/local.py``, the ``_common.report`` format: ``{"title", "rows":
  [{"name", "median_us", "min_us", "max_us", "baseline": {...} | null, "ratio", "target"}]}``)
  -> ``local.png/svg``: µs per blob of each case beside its baseline, with its target.
- ``s3.json`` -> ``s3.png/svg``: S3Raw beside plain aiobotocore, objects per second and client
  CPU per 1,000 objects. Format: ``{"title", "sets": [{"name": "4 KiB", "results": {"ours":
  [[objects_per_s, cpu_s_per_1000], ...], "plain": [...]}}]}`` (one pair per round).
- ``dask.json`` -> ``dask.png/svg``: blobs per second against the number of Dask workers, with
  linear scaling from one worker for reference. Format: ``{"title", "rows": [{"workers": 1,
  "blobs_per_s": ...}, ...]}``.

``--tables`` also prints each chart's figures as a Markdown table, to paste beside the chart.
Needs ``pip install matplotlib`` (the ``plots`` extra).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle

ROOT = Path(__file__).resolve().parents[1]
OURS, BASE, TARGET = "#1f6feb", "#9aa4ae", "#d1242f"
STYLE: dict[str, Any] = {
    "font.family": "DejaVu Sans",
    "font.size": 10,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "svg.fonttype": "none",  # text stays text: smaller files that scale
    "svg.hashsalt": "asyncbitstore",  # stable ids: a redraw of equal figures is an equal file
}


def local_chart(data: dict[str, Any]) -> tuple[Figure, list[str]]:
    """µs per blob per case (median, min–max whiskers), baseline beside it, target marked."""
    rows = data["rows"]
    fig, ax = plt.subplots(figsize=(7.5, 0.75 * len(rows) + 1.2))
    height = 0.36
    for i, row in enumerate(rows):
        y = len(rows) - 1 - i
        err = [[row["median_us"] - row["min_us"]], [row["max_us"] - row["median_us"]]]
        ax.barh(y + height / 2, row["median_us"], height, xerr=err, color=OURS, capsize=2)
        ax.text(row["max_us"], y + height / 2, f"  {row['median_us']:.2f}", va="center")
        base = row.get("baseline")
        if base:
            ax.barh(y - height / 2, base["median_us"], height, color=BASE)
            note = f"  {base['median_us']:.2f} {base['name']}  (×{row['ratio']:.2f})"
            ax.text(base["median_us"], y - height / 2, note, va="center", color="#57606a")
        target = row.get("target")
        if target is not None:
            limit = target * base["median_us"] if base else target
            ax.plot([limit, limit], [y - 0.45, y + 0.45], color=TARGET, linewidth=2)
    ax.set_yticks(range(len(rows)), [r["name"] for r in reversed(rows)])
    ax.set_xlabel("µs per blob (median of rounds; lower is better)")
    ax.set_title(data.get("title", "local tiers"), loc="left", fontsize=10)
    ax.set_xlim(0, max(max(r["max_us"], _limit(r)) for r in rows) * 1.45)
    ax.legend(
        handles=[
            Rectangle((0, 0), 1, 1, color=OURS, label="asyncbitstore"),
            Rectangle((0, 0), 1, 1, color=BASE, label="baseline"),
            Line2D([], [], color=TARGET, linewidth=2, label="target"),
        ],
        loc="upper right",
        frameon=False,
    )
    table = ["| case | µs/blob | baseline µs | ratio | target |", "|---|---:|---:|---:|---:|"]
    for r in rows:
        base = r.get("baseline")
        target = r.get("target")
        table.append(
            f"| {r['name']} | {r['median_us']:.2f} | "
            + (
                f"{base['median_us']:.2f} ({base['name']}) | ×{r['ratio']:.2f} | "
                if base
                else "– | – | "
            )
            + ("–" if target is None else (f"≤ {target:g}×" if base else f"≤ {target:g} µs"))
            + " |"
        )
    return fig, table


def _limit(row: dict[str, Any]) -> float:
    target, base = row.get("target"), row.get("baseline")
    if target is None:
        return 0.0
    return float(target * base["median_us"] if base else target)


def s3_chart(data: dict[str, Any]) -> tuple[Figure, list[str]]:
    """Throughput and client CPU of S3Raw relative to plain aiobotocore (1.0), per object size."""
    sets = data["sets"]
    fig, axes = plt.subplots(1, 2, figsize=(8, 3.4), sharey=False)
    table = [
        "| objects | S3Raw obj/s | plain obj/s | S3Raw CPU s/1,000 | plain CPU s/1,000 |",
        "|---|---:|---:|---:|---:|",
    ]
    medians = []
    for one in sets:
        med = {
            name: tuple(statistics.median(run[k] for run in runs) for k in (0, 1))
            for name, runs in one["results"].items()
        }
        medians.append(med)
        ours, plain = med["ours"], med["plain"]
        table.append(
            f"| {one['name']} | {ours[0]:,.0f} | {plain[0]:,.0f} | {ours[1]:.3f} | {plain[1]:.3f} |"
        )
    panels = (
        (0, "throughput vs plain (higher is better)", "{:,.0f}\nvs {:,.0f}\nobj/s"),
        (1, "client CPU vs plain (lower is better)", "{:.3f}\nvs {:.3f}\nCPU s"),
    )
    for ax, (k, title, note) in zip(axes, panels, strict=True):
        ratios = [med["ours"][k] / med["plain"][k] for med in medians]
        ax.bar(range(len(sets)), ratios, 0.6, color=OURS)
        ax.axhline(1.0, color=BASE, linestyle="--", label="plain aiobotocore = 1")
        for i, (ratio, med) in enumerate(zip(ratios, medians, strict=True)):
            text = f"×{ratio:.2f}\n" + note.format(med["ours"][k], med["plain"][k])
            ax.text(i, ratio / 2, text, ha="center", va="center", fontsize=8, color="white")
        ax.set_xticks(range(len(sets)), [s["name"] for s in sets])
        ax.set_ylim(0, max(*ratios, 1.0) * 1.15)
        ax.set_title(title, fontsize=9)
    axes[0].legend(frameon=False, loc="upper right", bbox_to_anchor=(1.0, 1.0), fontsize=8)
    fig.suptitle(data.get("title", "S3Raw.get_many vs aiobotocore"), x=0.02, ha="left", fontsize=10)
    return fig, table


def dask_chart(data: dict[str, Any]) -> tuple[Figure, list[str]]:
    """Blobs per second against workers, with linear scaling from the first point."""
    rows = sorted(data["rows"], key=lambda r: r["workers"])
    workers = [r["workers"] for r in rows]
    rates = [r["blobs_per_s"] for r in rows]
    fig, ax = plt.subplots(figsize=(6, 3.6))
    ideal = [rates[0] * w / workers[0] for w in workers]
    ax.plot(workers, ideal, linestyle="--", color=BASE, label="linear scaling")
    ax.plot(workers, rates, marker="o", color=OURS, label="asyncbitstore.dask")
    ax.set_xticks(workers)
    ax.set_xlabel("Dask workers")
    ax.set_ylabel("blobs per second")
    ax.set_title(data.get("title", "Dask scaling"), loc="left", fontsize=10)
    ax.legend(frameon=False)
    table = ["| workers | blobs/s | of linear |", "|---:|---:|---:|"]
    table += [
        f"| {w} | {r:,.0f} | {r / i:.0%} |" for w, r, i in zip(workers, rates, ideal, strict=True)
    ]
    return fig, table


CHARTS: dict[str, Callable[[dict[str, Any]], tuple[Figure, list[str]]]] = {
    "local": local_chart,
    "s3": s3_chart,
    "dask": dask_chart,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=ROOT / "benchmarks" / "results")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "img")
    parser.add_argument("--formats", nargs="+", default=["png", "svg"])
    parser.add_argument("--tables", action="store_true", help="print Markdown tables too")
    args = parser.parse_args(argv)
    plt.style.use(STYLE)
    args.out.mkdir(parents=True, exist_ok=True)
    drawn = 0
    for name, draw in CHARTS.items():
        source = args.results / f"{name}.json"
        if not source.exists():
            print(f"skipped {name}: no {source}")
            continue
        fig, table = draw(json.loads(source.read_text()))
        fig.tight_layout()
        for fmt in args.formats:
            target = args.out / f"{name}.{fmt}"
            metadata = {"Date": None} if fmt == "svg" else {"Software": None}
            fig.savefig(target, dpi=144, metadata=metadata)
            print(f"wrote {target}")
        plt.close(fig)
        if args.tables:
            print("\n".join(table) + "\n")
        drawn += 1
    return 0 if drawn else 1


if __name__ == "__main__":
    sys.exit(main())
