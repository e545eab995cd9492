"""Sizes of many S3 objects read from listings of their folders, for `S3Raw.size_many`.

A HEAD answers for one object; one ``ListObjectsV2`` page (delimiter ``/``) answers for up to
a thousand objects of one folder, with their stored sizes. `plan` splits the asked URIs into
folders worth listing (many asked keys under one ``bucket/…/``) and the rest, and `settle`
lists one folder between its smallest and largest asked key. S3 listings are strongly
consistent, so a key the listing went past without showing is missing; a key it could not
settle (the listing failed, or stopped because its pages answered for too few asked keys to
be worth their cost) is left for a HEAD.
"""

from __future__ import annotations

import bisect
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field

from ._list import Page

__all__ = ["HEADS_PER_PAGE", "MIN_KEYS", "Folder", "Settled", "plan", "settle"]

#: The fewest distinct asked keys in one folder for it to be listed rather than HEADed.
#: (Measured on loopback SeaweedFS: 50 keys answer faster by HEADs, 100 by one listing page.)
MIN_KEYS = 64
#: What one listing page of 1,000 keys costs, in HEADs (about 50 on loopback SeaweedFS). A
#: listing stops after a page that settled fewer asked keys than this.
HEADS_PER_PAGE = 50

#: Fetches one page: (prefix, continuation token, start-after) -> page with sizes.
FetchPage = Callable[[str, "str | None", "str | None"], Awaitable[Page]]


@dataclass
class Folder:
    """The asked keys directly under one ``prefix`` (ending in ``/``, or empty) of a bucket."""

    bucket: str
    prefix: str
    keys: set[str] = field(default_factory=set)


@dataclass
class Settled:
    """What a listing found out: sizes of keys it showed, keys it went past, keys left over."""

    sizes: dict[str, int] = field(default_factory=dict)
    missing: set[str] = field(default_factory=set)
    unsettled: set[str] = field(default_factory=set)


def plan(
    uris: Iterable[str], split: Callable[[str], tuple[str, str] | None], min_keys: int
) -> tuple[list[Folder], list[str]]:
    """The folders holding at least ``min_keys`` distinct asked keys, and the other URIs.

    ``split`` gives a URI's bucket and key, or None for one to leave to HEAD (an invalid
    URI, whose HEAD raises what `size` raises). A key ending in ``/`` is left to HEAD too.
    """
    folders: dict[tuple[str, str], Folder] = {}
    rest: list[str] = []
    for uri in uris:
        where = split(uri)
        if where is None or where[1].endswith("/"):
            rest.append(uri)
            continue
        bucket, key = where
        prefix = key[: key.rfind("/") + 1]
        folders.setdefault((bucket, prefix), Folder(bucket, prefix)).keys.add(key)
    listed = [folder for folder in folders.values() if len(folder.keys) >= min_keys]
    for folder in folders.values():
        if len(folder.keys) < min_keys:
            rest.extend(f"s3://{folder.bucket}/{key}" for key in folder.keys)
    return listed, rest


async def settle(folder: Folder, fetch: FetchPage, worth: int) -> Settled:
    """List ``folder`` from just before its smallest asked key.

    Stops once every asked key was shown; or, while the server lists in key order (as AWS S3
    does; checked page by page), once it lists past the largest; or after a page that settled
    fewer than ``worth`` asked keys (a sparse folder: HEADs cost less). Exceptions of
    ``fetch`` propagate: the caller decides what a failed listing means.
    """
    wanted = folder.keys
    ranked = sorted(wanted)
    lowest, highest = ranked[0], ranked[-1]
    settled = Settled()
    done = 0  # asked keys settled so far
    last = ""  # the largest key listed so far, while the listing is in order
    ordered = True
    token: str | None = None
    # A proper prefix sorts before the key (and is itself no asked key: asked keys have a name).
    start = lowest[:-1] if len(lowest) > len(folder.prefix) + 1 else None
    while True:
        page = await fetch(folder.prefix, token, start if token is None else None)
        for key, size in zip(page.keys, page.sizes, strict=True):
            if key in wanted:
                settled.sizes[key] = size
            ordered = ordered and key > last
            last = key if ordered else last
        token = page.token
        if token is None or len(settled.sizes) == len(wanted) or (ordered and last > highest):
            break
        before, done = done, bisect.bisect_right(ranked, last) if ordered else len(settled.sizes)
        if done - before < worth:
            break
    for key in wanted.difference(settled.sizes):
        went_past = token is None or (ordered and key < last)
        (settled.missing if went_past else settled.unsettled).add(key)
    return settled
