"""Server-side copies for ``S3Raw``: ``CopyObject``, or a multipart copy for large objects.

S3 copies up to 5 GiB in one ``CopyObject``; a larger object is copied as a multipart upload
whose parts are ``UploadPartCopy`` ranges of the source, each pinned to the source's ETag so a
source replaced halfway fails the copy instead of mixing two versions. A failed or cancelled
multipart copy is aborted: no object and no parts are left behind.
"""

from __future__ import annotations

import asyncio
import functools
from dataclasses import dataclass
from typing import Any

from ...meta import ObjectMeta
from . import _multipart

__all__ = ["Copy", "copy_object"]

_MAX_PARTS = _multipart.MAX_PARTS


@dataclass(frozen=True)
class Copy:
    """One copy: where from, where to, and the source's meta (from a HEAD)."""

    uri: str
    src_bucket: str
    src_key: str
    dst_bucket: str
    dst_key: str
    meta: ObjectMeta


async def copy_object(store: _multipart.Uploader, job: Copy, single_max: int) -> None:
    """Copy with one ``CopyObject`` when the source is at most ``single_max`` bytes (or
    empty), else part by part with ``UploadPartCopy`` in parts of ``store.part_size`` bytes
    or more (at most 10,000 parts)."""
    source = {"Bucket": job.src_bucket, "Key": job.src_key}
    if job.meta.size <= single_max or job.meta.size == 0:
        await store.request(
            job.uri, job.dst_bucket, "copy",
            lambda c: c.client.copy_object(
                Bucket=job.dst_bucket, Key=job.dst_key, CopySource=source
            ),
        )  # fmt: skip
        return
    created = await store.request(
        job.uri, job.dst_bucket, "create multipart copy",
        lambda c: c.client.create_multipart_upload(
            Bucket=job.dst_bucket, Key=job.dst_key, **_kept_headers(job.meta)
        ),
    )  # fmt: skip
    upload_id: str = created["UploadId"]
    try:
        await _copy_parts(store, job, source, upload_id)
    except BaseException:
        # Shielded: a second cancellation must not leave the upload (and its parts) behind.
        await asyncio.shield(
            _multipart.abort(store, job.uri, job.dst_bucket, job.dst_key, upload_id)
        )
        raise


def _kept_headers(meta: ObjectMeta) -> dict[str, object]:
    """What ``CopyObject`` would carry over and a multipart upload must be told again."""
    kept: dict[str, object] = {}
    if meta.content_type:
        kept["ContentType"] = meta.content_type
    if meta.metadata:
        kept["Metadata"] = dict(meta.metadata)
    return kept


async def _copy_parts(
    store: _multipart.Uploader, job: Copy, source: dict[str, str], upload_id: str
) -> None:
    size = job.meta.size
    part_size = max(store.part_size, -(-size // _MAX_PARTS))
    done: list[dict[str, Any]] = []
    for number, start in enumerate(range(0, size, part_size), 1):
        span = f"bytes={start}-{min(start + part_size, size) - 1}"
        what = {"CopySource": source, "CopySourceRange": span}
        if job.meta.etag:  # pinned to the version measured: a replaced source fails the part
            what["CopySourceIfMatch"] = job.meta.etag
        part = functools.partial(_part_copy, job, upload_id, number, what)
        answer = await store.request(job.uri, job.dst_bucket, f"copy part {number}", part)
        done.append({"ETag": answer["CopyPartResult"]["ETag"], "PartNumber": number})
    await store.request(
        job.uri, job.dst_bucket, "complete multipart copy",
        lambda c: c.client.complete_multipart_upload(
            Bucket=job.dst_bucket, Key=job.dst_key, UploadId=upload_id,
            MultipartUpload={"Parts": done},
        ),
    )  # fmt: skip


async def _part_copy(
    job: Copy, upload_id: str, number: int, what: dict[str, Any], conn: Any
) -> dict[str, Any]:
    answer: dict[str, Any] = await conn.client.upload_part_copy(
        Bucket=job.dst_bucket, Key=job.dst_key, UploadId=upload_id, PartNumber=number, **what
    )
    return answer
