"""Copying blobs between any two stores: [`transfer`][asyncbitstore.transfer.transfer].

Each blob is streamed from the source into the destination (``dst.put(uri, src.stream(uri))``),
so memory stays at a few chunks per blob in flight whatever the blobs' sizes, and a blob appears
in the destination only once complete (every store's ``put`` is atomic).

Which blobs, and where they go:

- ``uris_or_prefix`` a ``str``: the source is listed under that prefix, and each URI is mapped to
  the destination by replacing the prefix with ``dst_prefix`` (the same prefix when
  ``dst_prefix`` is None), e.g. ``transfer(s3, gs, "s3://a/logs/", dst_prefix="gs://b/old/")``
  copies ``s3://a/logs/x/1`` to ``gs://b/old/x/1``.
- an iterable (or async iterable) of URIs: each is copied to the same URI in the destination,
  or to ``dst_prefix + uri`` when ``dst_prefix`` is given (handy for keys of content-addressed
  stores); items may also be explicit ``(src_uri, dst_uri)`` pairs.

How blobs are encoded on arrival (``reencode``):

- ``None`` (the default): as they are stored in the source. Each blob is streamed in its stored
  form (``stream(stored=True)``) and written verbatim (``put(stored=True)``): a compressed blob
  stays compressed with the same codec, nothing is decoded or compressed again. (A store whose
  ``stream``/``put`` take no ``stored`` keyword, written before compression existed, gets the
  decoded bytes instead.)
- ``"gzip"``, ``"br"`` or ``"zstd"``: decoded as they leave the source and compressed with that
  codec (at ``level``) as they are written, whatever their encoding in the source.
- ``False`` or ``"none"``: decoded, and stored uncompressed.

When ``src`` and ``dst`` are one store, or two that reach the same blobs (see
``Store._same_blobs``: S3 stores on the same endpoint with the same credentials, GCS stores on
the same API root with the same credentials, file stores on the same root, Redis stores on the
same database) and ``reencode`` is None, each blob is copied with ``src.copy`` instead: on the
server where the backend can (S3 ``CopyObject``, GCS rewrite, ...), with no byte coming through
this process. It counts as copied, and its stored size (asked of the destination after the
copy) is added to ``bytes``.

Every other path streams, chunk by chunk. Compare with ``skip_existing="digest"`` across encodings:
``"size"`` compares stored sizes, which differ between encodings.

Attributes (``attributes=True``, the default): each blob's content type and user metadata, as
the source's ``head`` reports them, are written with it (``put(content_type=..., metadata=...)``).
That costs one ``head`` per blob: a HEAD request on S3 and GCS, a ``stat`` on files, nothing
but a lookup in memory. A blob without attributes is written as before. ``cache_control`` is
not carried (``ObjectMeta`` does not report it). ``attributes=False`` skips the ``head``.

Per-blob failures of the stores ([`BitstoreError`][asyncbitstore.errors.BitstoreError]: a blob gone
since it was listed, an outage after retries, a full store) are counted in
`TransferResult.failed` and do not stop the others; any other exception (a bug, a
``TypeError``) cancels the transfer and propagates.
"""

from __future__ import annotations

import hashlib
import inspect
import logging
from collections.abc import AsyncIterable, AsyncIterator, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from ._core.bulk import check_concurrency
from ._core.bulk_api import Bulk
from ._core.data import DEFAULT_CHUNK_SIZE, check_chunk_size
from ._core.put_attrs import put_attrs
from .compression.store_io import check_options, stored_option
from .errors import BitstoreError, NotFoundInStore
from .store import DEFAULT_CONCURRENCY, Store

__all__ = ["TransferResult", "transfer"]

logger = logging.getLogger("asyncbitstore.transfer")

#: At most this many per-blob errors are kept in `TransferResult.errors`.
MAX_ERRORS_KEPT = 1000

SkipExisting = bool | Literal["exists", "size", "digest"]
Item = str | tuple[str, str]


@dataclass
class TransferResult:
    """What a [`transfer`][asyncbitstore.transfer.transfer] did.

    Attributes:
        copied: blobs written to the destination.
        skipped: blobs left alone because the destination already had them.
        failed: blobs that could not be copied (see ``errors``).
        bytes: bytes streamed from the source to the destination (in their stored form when
            copied as they are; decoded when re-encoded).
        errors: ``{source URI: error}`` for the first `MAX_ERRORS_KEPT` failures.
    """

    copied: int = 0
    skipped: int = 0
    failed: int = 0
    bytes: int = 0
    errors: dict[str, BaseException] = field(default_factory=dict)


async def transfer(
    src: Store,
    dst: Store,
    uris_or_prefix: str | Iterable[Item] | AsyncIterable[Item],
    *,
    dst_prefix: str | None = None,
    concurrency: int = DEFAULT_CONCURRENCY,
    skip_existing: SkipExisting = False,
    reencode: str | Literal[False] | None = None,
    level: int | None = None,
    progress: bool = False,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    attributes: bool = True,
) -> TransferResult:
    """Copy blobs from ``src`` to ``dst``, streaming each one (see the module docstring).

    Args:
        src: the store to read from.
        dst: the store to write to.
        uris_or_prefix: a prefix to list in ``src``, or the URIs (or ``(src, dst)`` URI pairs)
            to copy; may be an endless async iterable.
        dst_prefix: with a prefix, what replaces it in destination URIs (default: the same);
            with URIs, prepended to each source URI (default: nothing).
        concurrency: the most blobs copied at once.
        skip_existing: ``False`` copies every blob. ``"exists"`` skips a blob the destination
            has; ``"size"`` (or ``True``) skips it when it has the same size; ``"digest"``
            also compares SHA-256 digests of both copies (reading both; content-addressed
            destinations, whose keys are digests, skip on ``exists``).
        reencode: ``None`` copies each blob as it is stored; a codec name (``"gzip"``,
            ``"br"``, ``"zstd"``) stores it compressed with that codec; ``False`` or
            ``"none"`` stores it uncompressed (see the module docstring).
        level: the codec level with a codec name as ``reencode``.
        progress: show a progress bar.
        chunk_size: bytes per streamed chunk.
        attributes: carry each blob's content type and user metadata (one ``head`` of the
            source per blob); ``False`` copies the bytes only.

    Returns:
        The counts: copied, skipped, failed, bytes.

    Raises:
        ValueError: bad ``skip_existing``, ``concurrency``, ``chunk_size``, ``reencode`` (the
            message lists the codecs) or ``level``.
        ImportError: the codec needs ``pip install 'asyncbitstore[compression]'``.
    """
    encoding = _encoding(reencode, level, src, dst)
    described = attributes and _takes(dst.put, "metadata")
    mode = _check_skip(skip_existing)
    check_concurrency(concurrency)
    check_chunk_size(chunk_size)
    result = TransferResult()
    items = _pairs(src, uris_or_prefix, dst_prefix)
    # One store (or two reaching the same blobs) and nothing to re-encode: copy in place.
    inside = encoding[0] and src._same_blobs(dst)

    async def copy_one(pair: tuple[str, str]) -> None:
        src_uri, dst_uri = pair
        try:
            if mode and await _present(src, dst, src_uri, dst_uri, mode, chunk_size):
                result.skipped += 1
                return
            if inside:  # a server-side copy keeps the attributes itself
                copied = await _copy_inside(src, src_uri, dst_uri)
            else:
                options = encoding[1] | (await _attributes(src, src_uri) if described else {})
                copied = await _copy(src, dst, src_uri, dst_uri, chunk_size, (encoding[0], options))
            result.bytes += copied  # not `+= await`: that reads the total before awaiting
            result.copied += 1
        except BitstoreError as exc:
            result.failed += 1
            if len(result.errors) < MAX_ERRORS_KEPT:
                result.errors[src_uri] = exc
            logger.warning("transfer of %s to %s failed: %s", src_uri, dst_uri, exc)

    await src._drain(copy_one, items, Bulk(concurrency, progress), "transfer")
    return result


def _encoding(
    reencode: object, level: int | None, src: Store, dst: Store
) -> tuple[bool, dict[str, Any]]:
    """``(read the stored form, keywords for dst.put)`` for a ``reencode`` argument."""
    if reencode is None:
        if level is not None:
            raise ValueError("level applies to reencode with a codec name")
        if _takes_stored(src.stream) and _takes_stored(dst.put):
            return True, {"stored": True}
        return False, {}
    if reencode is False or reencode == "none":
        if level is not None:
            raise ValueError("level applies to reencode with a codec name")
        return False, {}
    if not isinstance(reencode, str):
        raise ValueError(f"reencode must be None, False, 'none' or a codec name, not {reencode!r}")
    check_options(reencode, level, False)
    return False, {"compress": reencode, "level": level}


def _takes_stored(method: Any) -> bool:
    return _takes(method, "stored")


def _takes(method: Any, keyword: str) -> bool:
    try:
        return keyword in inspect.signature(method).parameters
    except (TypeError, ValueError):
        return False


async def _attributes(src: Store, uri: str) -> dict[str, Any]:
    """The ``put`` keywords that carry the attributes the source reports for ``uri``."""
    meta = await src.head(uri)
    options: dict[str, Any] = {}
    if meta.content_type and _storable(content_type=meta.content_type):
        options["content_type"] = meta.content_type
    kept = {k: v for k, v in meta.metadata.items() if _storable(metadata={k: v})}
    if len(kept) < len(meta.metadata):
        logger.debug(
            "%s: metadata keys not carried: %s", uri, sorted(set(meta.metadata) - set(kept))
        )
    if kept and _storable(metadata=kept):
        options["metadata"] = kept
    return options


def _storable(**attributes: Any) -> bool:
    """Whether ``put`` takes these attributes (another tool may have stored what it refuses,
    such as uppercase GCS metadata keys: those are left behind, not a failed copy)."""
    try:
        put_attrs(**attributes)
    except (TypeError, ValueError):
        return False
    return True


def _check_skip(skip_existing: object) -> str | None:
    if skip_existing is False or skip_existing is None:
        return None
    if skip_existing is True:
        return "size"
    if skip_existing in ("exists", "size", "digest"):
        return str(skip_existing)
    raise ValueError(
        f"skip_existing must be False, True, 'exists', 'size' or 'digest', not {skip_existing!r}"
    )


def _pairs(
    src: Store, what: str | Iterable[Item] | AsyncIterable[Item], dst_prefix: str | None
) -> Iterable[tuple[str, str]] | AsyncIterable[tuple[str, str]]:
    """The ``(source URI, destination URI)`` pairs to copy."""
    if isinstance(what, str):
        return _listed(src, what, what if dst_prefix is None else dst_prefix)
    if isinstance(what, bytes):
        raise TypeError("uris_or_prefix must be a str prefix or an iterable of URIs")
    if isinstance(what, AsyncIterable):
        return _mapped_async(what, dst_prefix or "")
    if isinstance(what, list | tuple):  # keeps a length, so a progress bar has a total
        return [_pair(item, dst_prefix or "") for item in what]
    return (_pair(item, dst_prefix or "") for item in what)


async def _listed(src: Store, prefix: str, dst_prefix: str) -> AsyncIterator[tuple[str, str]]:
    async for uri in src.list(prefix):
        yield uri, dst_prefix + uri[len(prefix) :]


async def _mapped_async(items: AsyncIterable[Item], dst_prefix: str) -> AsyncIterator[Any]:
    async for item in items:
        yield _pair(item, dst_prefix)


def _pair(item: Item, dst_prefix: str) -> tuple[str, str]:
    if isinstance(item, str):
        return item, dst_prefix + item
    if isinstance(item, tuple) and len(item) == 2 and all(isinstance(u, str) for u in item):
        return item
    raise TypeError(f"expected a URI or a (src_uri, dst_uri) pair, not {item!r}")


async def _copy(
    src: Store,
    dst: Store,
    src_uri: str,
    dst_uri: str,
    chunk_size: int,
    encoding: tuple[bool, dict[str, Any]],
) -> int:
    """Stream one blob; returns the bytes streamed. A missing source raises before anything
    is written."""
    stored, options = encoding
    chunks = src.stream(src_uri, chunk_size, **stored_option(stored))
    copied = 0
    try:
        first = await anext(chunks, None)  # NotFoundInStore here is the source's

        async def counted() -> AsyncIterator[bytes]:
            nonlocal copied
            chunk = first
            while chunk is not None:
                copied += len(chunk)
                yield chunk
                chunk = await anext(chunks, None)

        await dst.put(dst_uri, counted(), **options)
    finally:
        await chunks.aclose()  # type: ignore[attr-defined]
    return copied


async def _copy_inside(store: Store, src_uri: str, dst_uri: str) -> int:
    """``store.copy`` (server-side where the backend can); returns the stored size copied."""
    await store.copy(src_uri, dst_uri)
    return await store.size(dst_uri)


async def _present(
    src: Store, dst: Store, src_uri: str, dst_uri: str, mode: str, chunk_size: int
) -> bool:
    """Whether the destination already holds the blob, as ``mode`` judges it."""
    if mode == "exists" or (mode == "digest" and dst.key_algorithm is not None):
        return await dst.exists(dst_uri)
    try:
        size = await dst.size(dst_uri)
    except NotFoundInStore:
        return False
    if size != await src.size(src_uri):
        return False
    if mode == "size":
        return True
    return await _digest(dst, dst_uri, chunk_size) == await _digest(src, src_uri, chunk_size)


async def _digest(store: Store, uri: str, chunk_size: int) -> str:
    hasher = hashlib.sha256()
    async for chunk in store.stream(uri, chunk_size):
        hasher.update(chunk)
    return hasher.hexdigest()
