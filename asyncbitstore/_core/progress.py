"""Progress bars for bulk operations (tqdm, imported only when a bar is asked for)."""

from __future__ import annotations

from collections.abc import Iterable, Sized
from typing import Any

__all__ = ["ProgressBar", "progress_bar"]


class ProgressBar:
    """A thin wrapper over a tqdm bar; ``update()`` per finished item, ``close()`` at the end."""

    def __init__(self, total: int | None, description: str) -> None:
        from tqdm.auto import tqdm

        self._bar: Any = tqdm(total=total, desc=description, unit="blob", dynamic_ncols=True)

    @property
    def count(self) -> int:
        """How many items have finished so far."""
        return int(self._bar.n)

    def update(self, count: int = 1) -> None:
        """Advance the bar by ``count`` items."""
        self._bar.update(count)

    def close(self) -> None:
        """Finish the bar."""
        self._bar.close()


def progress_bar(
    enabled: bool, items: Iterable[Any] | object, description: str
) -> ProgressBar | None:
    """A bar when ``enabled`` (with a total when ``items`` has a length), else ``None``."""
    if not enabled:
        return None
    total = len(items) if isinstance(items, Sized) else None
    return ProgressBar(total, description)
