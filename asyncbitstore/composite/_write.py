"""The write path: ``put`` to the first writable source, replication to the others in the
background, and ``delete`` from every tier that may hold the blob."""

from __future__ import annotations

import contextlib
import functools
from typing import Any

from .._core.data import PutData, check_put_data
from .._core.put_attrs import PLAIN, PutAttrs
from ..compression.store_io import check_options, put_options
from ..errors import NotWritable
from ._ask import verdict
from ._base import ChainBase
from ._fills import Abandoned
from ._generations import Since
from ._tier import Tier

__all__ = ["WritePath"]

#: The keywords of ``put`` that describe the blob rather than how it is encoded.
_ATTRIBUTES = frozenset({"mode", "content_type", "cache_control", "metadata"})


class WritePath(ChainBase):
    """``put`` and ``delete`` of a chain."""

    async def _prepare_put(self, key: str, data: PutData, stored: bool) -> PutData:
        """Checks (and for content-addressed chains, verification) before a put."""
        return data

    async def _put(
        self,
        uri: str,
        data: PutData,
        compress: str | None,
        level: int | None,
        stored: bool,
        *,
        attrs: PutAttrs = PLAIN,
    ) -> None:
        """Write to the ``write=True`` sources: the first now, the others in the background.

        ``compress``, ``level`` and the attributes are passed to each source's ``put``;
        ``stored`` data (a stored form) is written as it is (see ``Store.put``). With
        ``mode="create"`` the first writable source decides: its `AlreadyExists` is raised
        and nothing else happens; once it has written, the other sources get the blob in the
        background with ``mode="overwrite"`` (the first source's answer stands), and the
        caches drop their copies as after any put.

        Raises:
            AlreadyExists: ``mode="create"`` and the first writable source has the blob.
            NotWritable: no source was appended with ``write=True``.
        """
        key = self._key(uri)
        check_put_data(data)
        check_options(compress, level, stored)
        options = put_options(compress, level, stored, attrs)
        write = functools.partial(self._write, options=options)
        if self.tracer is not None:
            await self.tracer.put(self, key, data, write)
        else:
            await write(key, data)

    async def _write(self, key: str, data: PutData, options: dict[str, Any]) -> None:
        writers = [t for t in self._tiers if t.write and t.store.is_valid(key)]
        if not writers:
            raise NotWritable(self, "put (no tier was appended with write=True)")
        data = await self._prepare_put(key, data, bool(options.get("stored")))
        first = writers[0]
        with self._writing(key):
            if self.tracer is None:
                put = functools.partial(first.store.put, **options) if options else first.store.put
                await first.call(put, key, data)
            else:
                await self.tracer.tier_put(first, key, data, **options)
            await self._after_put(key)
        since = self._writes.now()
        for tier in writers[1:]:
            await self._background.start_replication(
                key,
                f"replication to {tier.name}",
                functools.partial(_replicate, first, tier, key, data, options, since),
            )

    async def _after_put(self, key: str) -> None:
        """Drop cached copies, which may hold the old bytes of ``key``."""
        await self._background.wait_for_key(key)
        for tier in self._tiers:
            if tier.is_cache and tier.store.is_valid(key):
                call = tier.call(tier.store.delete, key)
                with contextlib.suppress(Exception):  # noted in the tier's health
                    await tier.noted("delete of a stale copy", key, call)

    async def delete(self, uri: str) -> None:
        """Remove the blob from every writable tier and every cache.

        Raises:
            NotWritable: the chain has no writable tier and no cache.
            StoreNotAvailable: some tier failed (the others were still asked).
        """
        key = self._key(uri)
        targets = [t for t in self._tiers if (t.write or t.is_cache) and t.store.is_valid(key)]
        if not targets:
            raise NotWritable(self, "delete (no writable tier or cache)")
        failures: list[tuple[Tier, BaseException]] = []
        with self._writing(key):
            # Pending fills and replications must not bring the blob back once it is deleted.
            await self._background.wait_for_key(key)
            for tier in targets:  # every tier, not the first to answer: no first_answer here
                try:
                    await tier.call(tier.store.delete, key)
                except Exception as exc:
                    failures.append((tier, exc))
        if failures:
            raise verdict(self, key, failures)


async def _replicate(
    first: Tier,
    target: Tier,
    key: str,
    data: PutData,
    options: dict[str, Any],
    since: Since,
) -> None:
    """Write ``data`` (or, once a stream was consumed, the first writer's copy) to ``target``,
    unless a later put or delete of ``key`` began first (it wins)."""
    if not since.current(key):
        raise Abandoned("a later write of the key replaces this replication")
    described = {k: v for k, v in options.items() if k in _ATTRIBUTES}
    if "mode" in described:
        described["mode"] = "overwrite"  # the first writer decided; the copies follow it
    options = {k: v for k, v in options.items() if k not in _ATTRIBUTES} | described
    if not isinstance(data, (bytes, bytearray, memoryview)):
        # The stream was consumed: copy from the first writer (its stored form as it is,
        # when that may be compressed, rather than compressing it once more).
        if set(options) - _ATTRIBUTES:
            data, options = first.store.stream(key, stored=True), {"stored": True} | described
        else:
            data = first.store.stream(key)
    put = functools.partial(target.store.put, **options) if options else target.store.put
    await target.noted("replication", key, target.call(put, key, data))
