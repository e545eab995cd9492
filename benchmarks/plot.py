"""Charts of the benchmarks' JSON results, for the docs (PNG and SVG, drawn with matplotlib).

Run the benchmarks with ``--json`` into one folder, then draw what is there::

    python benchmarks/local.py --json benchmarks/results/local.json
    python benchmarks/plot.py [--results benchmarks/results] [--out docs/img] [--tables]

Each chart is drawn only when its JSON exists (a missing one is reported and skipped):

- ``local.json`` (``benchmarks/local.py``, the ``_common.report`` format: ``{"title", "rows":
  [{"name", "median_us", "min_us", "max_us", "baseline": {...} | null, "ratio", "target"}]}``)
  -> ``local.png/svg``: µs per blob of each case beside its baseline, with its target.
- ``s3.json`` (``benchmarks/s3.py``) -> ``s3.png/svg``: S3Raw beside plain aiobotocore, objects
  per second and client CPU per 1,000 objects. Format: ``{"title", "sets": [{"name": "4 KiB",
  "results": {"ours": [[objects_per_s, cpu_s_per_1000], ...], "plain": [...]}}]}`` (one pair
  per round).
- ``s3_peers.json`` (``benchmarks/s3_peers.py``) -> ``s3_peers.png/svg``: objects/s of every
  client at each object size (median, min–max whiskers) and client CPU per 1,000 objects, on
  each event loop measured, the fast path highlighted. Format: ``{"rounds", "concurrency",
  "asyncio": {"4 KiB": {"clients": {"fast": {"objects_per_s", "min", "max",
  "cpu_s_per_1000"}, ...}, "ratios": {...}}, ...}, "uvloop": {...}}`` (``uvloop`` optional).
- ``dask.json`` (``benchmarks/dask_scale.py``) -> ``dask.png/svg``: objects per second against
  the number of Dask workers, with linear scaling from one worker and the single-process
  ``iter_get`` runs for reference. Format: ``{"settings", "cores", "rows": [{"case",
  "workers", "objects_per_s", "server_cores", "workers_cores", "client_cores",
  "machine_cores", ...}, ...]}`` (``workers`` is 0 for the ``iter_get`` rows).

Each JSON drawn is copied beside its chart (``--out``), so the docs keep the figures they show.
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
        top = max(*ratios, 1.0) * 1.15
        for i, (ratio, med) in enumerate(zip(ratios, medians, strict=True)):
            text = f"×{ratio:.2f}\n" + note.format(med["ours"][k], med["plain"][k])
            if ratio > 0.45 * top:  # room inside the bar
                ax.text(i, ratio / 2, text, ha="center", va="center", fontsize=8, color="white")
            else:  # a short bar: the text above it, clear of the line at 1
                above = max(ratio, 1.0) + 0.02 * top if ratio > 0.8 else ratio + 0.02 * top
                ax.text(i, above, text, ha="center", va="bottom", fontsize=8, color="#24292f")
        ax.set_xticks(range(len(sets)), [s["name"] for s in sets])
        ax.set_ylim(0, top)
        ax.set_title(title, fontsize=9)
    axes[0].legend(frameon=False, loc="upper right", bbox_to_anchor=(1.0, 1.0), fontsize=8)
    fig.suptitle(data.get("title", "S3Raw.get_many vs aiobotocore"), x=0.02, ha="left", fontsize=10)
    return fig, table


LOOPS = ("asyncio", "uvloop")
PEER_LABELS = {
    "fast": "S3Raw fast path",
    "composite": "Sha1Composite over it",
    "slow": "S3Raw fast_path=False",
    "aiobotocore": "aiobotocore loop",
    "aiohttp": "aiohttp, unsigned",
    "obstore": "obstore (Rust)",
    "s3fs": "s3fs",
}
OURS_LIGHT = "#8cb8f5"  # our other paths: the chain over the fast path, and aiobotocore inside
HATCHES = ("", "////")  # asyncio plain, uvloop hatched


def s3_peers_chart(data: dict[str, Any]) -> tuple[Figure, list[str]]:
    """Objects/s per client and object size (min–max whiskers), and client CPU per 1,000."""
    loops = [name for name in LOOPS if name in data]
    sizes = list(data[loops[0]])
    names = list(data[loops[0]][sizes[0]]["clients"])
    colours = {
        n: OURS if n == "fast" else OURS_LIGHT if n in ("composite", "slow") else BASE
        for n in names
    }
    panels = [(size, "objects_per_s") for size in sizes] + [(size, "cpu") for size in sizes]
    fig, axes = plt.subplots(
        2, len(sizes), figsize=(4.8 * len(sizes), 0.42 * len(names) * 2 + 2.8), layout="constrained"
    )
    height = 0.8 / len(loops)
    for ax, (size, what) in zip(axes.flat, panels, strict=True):
        top = 0.0
        for j, loop in enumerate(loops):
            clients = data[loop][size]["clients"]
            for i, name in enumerate(names):
                row = clients[name]
                y = len(names) - 1 - i + (len(loops) - 1 - 2 * j) * height / 2
                style = {
                    "color": colours[name],
                    "height": height,
                    "hatch": HATCHES[j % len(HATCHES)],
                    "edgecolor": "white",
                    "linewidth": 0,
                }
                if what == "cpu":
                    value = row["cpu_s_per_1000"]
                    ax.barh(y, value, **style)
                    top = max(top, value)
                else:
                    value = row["objects_per_s"]
                    err = [[value - row["min"]], [row["max"] - value]]
                    ax.barh(y, value, xerr=err, capsize=2, error_kw={"linewidth": 0.8}, **style)
                    top = max(top, row["max"])
                text = f" {value:.3f}" if what == "cpu" else f" {value:,.0f}"
                at = value if what == "cpu" else row["max"]
                ax.text(at, y, text, va="center", fontsize=7, color="#24292f")
        ax.set_yticks(range(len(names)), [PEER_LABELS.get(n, n) for n in reversed(names)])
        for label, name in zip(ax.get_yticklabels(), reversed(names), strict=True):
            label.set_fontweight("bold" if name == "fast" else "normal")
        ax.set_xlim(0, top * 1.22)
        ax.set_xlabel(
            "CPU s per 1,000 objects, this process (lower is better)"
            if what == "cpu"
            else "objects/s: median, min–max (higher is better)",
            fontsize=8,
        )
        title = f"{size} objects: {'client CPU' if what == 'cpu' else 'throughput'}"
        ax.set_title(title, loc="left", fontsize=9)
    handles = [
        Rectangle((0, 0), 1, 1, color=OURS, label="S3Raw fast path"),
        Rectangle((0, 0), 1, 1, color=OURS_LIGHT, label="asyncbitstore, other paths"),
        Rectangle((0, 0), 1, 1, color=BASE, label="peers"),
    ]
    handles += [
        Rectangle((0, 0), 1, 1, facecolor="#57606a", edgecolor="white", hatch=hatch, label=loop)
        for loop, hatch in zip(loops, HATCHES, strict=False)
    ]
    fig.legend(handles=handles, loc="outside lower center", ncol=len(handles), frameon=False)
    fig.suptitle(
        f"S3 bulk reads from SeaweedFS on loopback, concurrency {data.get('concurrency', '?')}, "
        f"medians of {data.get('rounds', '?')} rounds",
        x=0.01,
        ha="left",
        fontsize=10,
    )
    table = [
        "| loop | client | "
        + " | ".join(f"{s} obj/s (min–max) | {s} CPU s/1,000" for s in sizes)
        + " |",
        "|---|---|" + "---:|---:|" * len(sizes),
    ]
    for loop in loops:
        for name in names:
            cells = []
            for size in sizes:
                row = data[loop][size]["clients"][name]
                cells.append(
                    f"{row['objects_per_s']:,.0f} ({row['min']:,.0f}–{row['max']:,.0f}) | "
                    f"{row['cpu_s_per_1000']:.3f}"
                )
            label = f"**{PEER_LABELS[name]}**" if name == "fast" else PEER_LABELS.get(name, name)
            table.append(f"| {loop} | {label} | " + " | ".join(cells) + " |")
    return fig, table


def dask_chart(data: dict[str, Any]) -> tuple[Figure, list[str]]:
    """Objects/s against Dask workers, with linear scaling from one worker and iter_get lines."""
    rows = sorted((r for r in data["rows"] if r["workers"] > 0), key=lambda r: r["workers"])
    single = [r for r in data["rows"] if r["workers"] == 0]  # iter_get in one process
    workers = [r["workers"] for r in rows]
    rates = [r["objects_per_s"] for r in rows]
    fig, ax = plt.subplots(figsize=(7, 3.8))
    ideal = [rates[0] * w / workers[0] for w in workers]
    ax.plot(workers, ideal, linestyle="--", color=BASE, label="linear scaling from 1 worker")
    ax.plot(workers, rates, marker="o", color=OURS, label="read_blobs on Dask workers")
    for w, r in zip(workers, rates, strict=True):
        ax.annotate(f"{r:,.0f}", (w, r), textcoords="offset points", xytext=(6, -12), fontsize=8)
    right = workers[-1] + 1.2  # room right of the curve for the iter_get labels
    for row in single:
        ax.axhline(row["objects_per_s"], color="#57606a", linestyle=":", linewidth=1)
        ax.annotate(
            f"{row['case']}: {row['objects_per_s']:,.0f}",
            (right, row["objects_per_s"]),
            textcoords="offset points",
            xytext=(-2, 3),
            ha="right",
            fontsize=7,
            color="#57606a",
        )
    settings = data.get("settings", {})
    ax.set_xticks(workers)
    ax.set_xlim(workers[0] - 0.3, right)
    ax.set_ylim(0, max(ideal + rates + [r["objects_per_s"] for r in single]) * 1.15)
    ax.set_xlabel("Dask worker processes (one thread each)")
    ax.set_ylabel("objects per second (median)")
    ax.set_title(
        f"Dask scaling: {settings.get('objects', '?'):,} objects of {settings.get('size', '?')} B "
        f"from SeaweedFS, {data.get('cores', '?')} cores",
        loc="left",
        fontsize=10,
    )
    ax.legend(frameon=False, loc="lower right", fontsize=8)
    table = [
        "| case | objects/s | vs 1 worker | server cores | worker cores | client cores "
        "| machine busy cores |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    one = rates[0] if workers[0] == 1 else None
    for row in data["rows"]:
        speedup = f"×{row['objects_per_s'] / one:.2f}" if one and row["workers"] else "–"
        table.append(
            f"| {row['case']} | {row['objects_per_s']:,.0f} | {speedup} | "
            f"{row['server_cores']:.2f} | {row['workers_cores']:.2f} | "
            f"{row['client_cores']:.2f} | {row['machine_cores']:.2f} |"
        )
    return fig, table


CHARTS: dict[str, Callable[[dict[str, Any]], tuple[Figure, list[str]]]] = {
    "local": local_chart,
    "s3": s3_chart,
    "s3_peers": s3_peers_chart,
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
        if fig.get_layout_engine() is None:  # a chart may bring its own (constrained) layout
            fig.tight_layout()
        for fmt in args.formats:
            target = args.out / f"{name}.{fmt}"
            metadata = {"Date": None} if fmt == "svg" else {"Software": None}
            fig.savefig(target, dpi=144, metadata=metadata)
            print(f"wrote {target}")
        plt.close(fig)
        copy = args.out / source.name
        if copy.resolve() != source.resolve():
            copy.write_text(source.read_text())
            print(f"wrote {copy}")
        if args.tables:
            print("\n".join(table) + "\n")
        drawn += 1
    return 0 if drawn else 1


if __name__ == "__main__":
    sys.exit(main())
