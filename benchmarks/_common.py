"""Helpers shared by the benchmark scripts: repeated timing, medians, tables, JSON output."""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Figure:
    """Timings of one measured case over several rounds."""

    name: str
    per_item_us: list[float] = field(default_factory=list)
    cpu_per_item_us: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.per_item_us)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "median_us": self.median,
            "min_us": min(self.per_item_us),
            "max_us": max(self.per_item_us),
            "cpu_median_us": statistics.median(self.cpu_per_item_us),
        }


async def measure(figure: Figure, items: int, run: Callable[[], Awaitable[object]]) -> None:
    """Time one round of ``run`` and record µs per item (wall and CPU)."""
    wall, cpu = time.perf_counter(), time.process_time()
    await run()
    figure.per_item_us.append((time.perf_counter() - wall) / items * 1e6)
    figure.cpu_per_item_us.append((time.process_time() - cpu) / items * 1e6)


def arguments(description: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--rounds", type=int, default=7, help="measured rounds (medians reported)")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    return parser.parse_args()


def report(
    title: str, rows: list[tuple[Figure, Figure | None, float | None]], path: Path | None
) -> None:
    """Print ``figure  baseline  ratio  target`` rows; optionally save them as JSON."""
    print(title)
    print(f"{'case':<44}{'µs/blob':>10}{'min–max':>16}{'baseline µs':>13}{'ratio':>8}{'target':>9}")
    out = []
    for figure, baseline, target in rows:
        spread = f"{min(figure.per_item_us):.2f}–{max(figure.per_item_us):.2f}"
        base = f"{baseline.median:.2f}" if baseline else "-"
        ratio = figure.median / baseline.median if baseline else None
        ratio_text = f"{ratio:.2f}" if ratio is not None else "-"
        target_text = (
            "-" if target is None else (f"≤{target:g}" if baseline is None else f"≤{target:g}×")
        )
        print(
            f"{figure.name:<44}{figure.median:>10.2f}{spread:>16}{base:>13}{ratio_text:>8}{target_text:>9}"
        )
        entry = figure.as_dict() | {
            "baseline": baseline.as_dict() if baseline else None,
            "ratio": ratio,
            "target": target,
        }
        out.append(entry)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"title": title, "rows": out}, indent=2))
