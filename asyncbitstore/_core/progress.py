"""Progress bars for bulk operations (tqdm, imported only when a bar is asked for).

A bar counts blobs and, when asked, bytes. With the bytes' total known in advance (files to
upload) the bar advances by bytes and shows the blobs beside it; otherwise it advances by blobs
(with their total when the input has a length) and shows the bytes moved so far beside it, so
the final line on stderr always says how many bytes went through.
"""

from __future__ import annotations

from collections.abc import Iterable, Sized
from typing import Any

__all__ = ["ProgressBar", "progress_bar"]

#: Byte figures in binary multiples (1 kB shown = 1,024 bytes), as tqdm prints them.
_DIVISOR = 1024


def format_bytes(count: int) -> str:
    """``count`` bytes as a short figure such as ``3.00kB``."""
    from tqdm import tqdm

    return str(tqdm.format_sizeof(count, "B", _DIVISOR))


class ProgressBar:
    """A thin wrapper over a tqdm bar; ``update()`` per finished item, ``close()`` at the end.

    Args:
        total: how many blobs the input holds (None: unknown).
        description: what is being done, shown before the bar ("warming", "copying", ...).
        total_bytes: how many bytes the blobs hold, when known in advance: the bar then
            advances by bytes.
        count_bytes: show the bytes moved so far (implied by `total_bytes`).
    """

    def __init__(
        self,
        total: int | None,
        description: str,
        *,
        total_bytes: int | None = None,
        count_bytes: bool = False,
    ) -> None:
        from tqdm.auto import tqdm

        self._total = total
        #: How many items have finished so far.
        self.count = 0
        #: How many bytes the finished items held, as reported to `update`.
        self.bytes = 0
        self._by_bytes = total_bytes is not None
        self._count_bytes = count_bytes or self._by_bytes
        if self._by_bytes:
            self._bar: Any = tqdm(
                total=total_bytes,
                desc=description,
                unit="B",
                unit_scale=True,
                unit_divisor=_DIVISOR,
                dynamic_ncols=True,
            )
        else:
            self._bar = tqdm(total=total, desc=description, unit="blob", dynamic_ncols=True)
        self._show_aside()

    def _show_aside(self) -> None:
        if self._by_bytes:
            of = f"/{self._total}" if self._total is not None else ""
            self._bar.set_postfix_str(f"{self.count}{of} blobs", refresh=False)
        elif self._count_bytes:
            self._bar.set_postfix_str(format_bytes(self.bytes), refresh=False)

    def update(self, count: int = 1, nbytes: int = 0) -> None:
        """Advance the bar by ``count`` items that held ``nbytes`` bytes."""
        self.count += count
        self.bytes += nbytes
        self._show_aside()
        self._bar.update(nbytes if self._by_bytes else count)

    def close(self) -> None:
        """Finish the bar (its last line shows the final figures)."""
        self._bar.close()


def progress_bar(
    enabled: bool,
    items: Iterable[Any] | object,
    description: str,
    *,
    total: int | None = None,
    total_bytes: int | None = None,
    count_bytes: bool = False,
) -> ProgressBar | None:
    """A bar when ``enabled``, else ``None``.

    Args:
        enabled: whether a bar is wanted.
        items: the input; its length, when it has one, is the bar's total.
        description: what is being done, shown before the bar.
        total: the number of items, for an input without a length whose size is known.
        total_bytes: the bytes of all the items, when known in advance.
        count_bytes: show the bytes moved so far.
    """
    if not enabled:
        return None
    if total is None and isinstance(items, Sized):
        total = len(items)
    return ProgressBar(total, description, total_bytes=total_bytes, count_bytes=count_bytes)
