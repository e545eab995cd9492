"""Figures of the ``bitstore`` command summed over its runs, kept in a file per configuration.

Each run adds its chain's [`ChainStats`][asyncbitstore.stats.ChainStats] to the file (under a lock,
so
concurrent runs add up) and ``bitstore stats`` shows the total. Tiers are matched by name.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..stats import ChainStats, TierStats

__all__ = ["load", "record", "reset", "stats_file"]


def stats_file(origin: str) -> Path:
    """The file holding the totals for the configuration read from ``origin``."""
    import platformdirs

    if os.path.isfile(origin):  # one file, however it was named
        origin = os.path.realpath(origin)
    digest = hashlib.sha256(origin.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    return Path(platformdirs.user_state_dir("asyncbitstore")) / "stats" / f"{digest}.json"


def _tier_to_json(tier: TierStats) -> dict[str, Any]:
    data = {f.name: getattr(tier, f.name) for f in dataclasses.fields(tier) if f.name != "latency"}
    lat = tier.latency
    data["latency"] = {
        "buckets": {str(k): v for k, v in lat.buckets.items()},
        "count": lat.count,
        "total": lat.total,
        "max": lat.max,
    }
    return data


def _tier_from_json(data: dict[str, Any]) -> TierStats:
    names = {f.name for f in dataclasses.fields(TierStats)} - {"latency"}
    tier = TierStats(**{k: v for k, v in data.items() if k in names})
    saved = data.get("latency", {})
    tier.latency.buckets = {int(k): int(v) for k, v in saved.get("buckets", {}).items()}
    tier.latency.count = int(saved.get("count", 0))
    tier.latency.total = float(saved.get("total", 0.0))
    tier.latency.max = float(saved.get("max", 0.0))
    return tier


def _to_json(stats: ChainStats) -> dict[str, Any]:
    data: dict[str, Any] = dataclasses.asdict(stats)  # every count; tiers replaced below
    data["tiers"] = [_tier_to_json(tier) for tier in stats.tiers]
    return data


def _from_json(data: dict[str, Any]) -> ChainStats:
    names = {f.name for f in dataclasses.fields(ChainStats)} - {"tiers"}
    stats = ChainStats(**{k: v for k, v in data.items() if k in names})
    stats.tiers = [_tier_from_json(tier) for tier in data.get("tiers", [])]
    return stats


def load(path: Path) -> ChainStats:
    """The totals in ``path`` (empty when there are none, or the file is unreadable)."""
    try:
        return _from_json(json.loads(path.read_text("utf-8")))
    except (OSError, ValueError, TypeError):
        return ChainStats()


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_suffix(".lock"), "a+b") as lock:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows: runs rarely overlap; no lock
            yield
            return
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def record(path: Path, run: ChainStats) -> None:
    """Add one run's figures to the totals in ``path``."""
    with _locked(path):
        total = load(path).followed_by(run)
        temp = path.with_name(f".{path.name}.{os.getpid()}")
        temp.write_text(json.dumps(_to_json(total)), "utf-8")
        os.replace(temp, path)


def reset(path: Path) -> int:
    """Forget the totals; return how many tiers had figures."""
    with _locked(path):
        tiers = len(load(path).tiers)
        path.unlink(missing_ok=True)
    return tiers
