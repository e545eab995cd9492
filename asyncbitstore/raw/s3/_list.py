"""``ListObjectsV2`` pages: `list_page`, and `parse_page` for the fast path's.

Botocore spends most of a listing in its XML parser, building every field of every object (its
dates above all) when a listing only needs the keys. On a `FastConnection` a page is fetched
signed by the store and read by `parse_page`, which takes the keys, the common prefixes,
``IsTruncated`` and the continuation token with regular expressions (and, when asked, each
object's ``<Size>``, for `S3Raw.size_many`). Pages are requested with
``encoding-type=url`` (as botocore does), so a key holding characters XML cannot carry (control
characters) arrives percent-encoded; the XML escapes (``&amp;``, ``&#x2F;`` …) are undone first,
then the percent-encoding, exactly where the page says ``<EncodingType>url</EncodingType>``.

The parser reads the XML S3 and its imitators write: elements without attributes or namespace
prefixes, text escaped with entities. A page it cannot read with certainty (a CDATA section, a
comment or a DOCTYPE, an unknown entity, a ``<Key>`` holding markup, a missing
``IsTruncated``, a size asked for that is missing or not a plain decimal count) raises
``ClientError`` with code ``InvalidListPage`` instead of being guessed at; ``fast_path=False``
lists through botocore. Pages are bounded (`MAX_LIST_PAGE` bytes).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote_plus

from botocore.exceptions import ClientError

from ._client import Connection, refused
from ._fast import FastConnection
from ._sign import canonical_query

__all__ = ["Page", "list_page", "parse_page"]

_KEY = re.compile(r"<Key>([^<]*)</Key>")
_CONTENTS = re.compile(r"<Contents>(.*?)</Contents>", re.DOTALL)
_SIZE = re.compile(r"<Size>\s*([0-9]{1,19})\s*</Size>")
_MAX_SIZE = (1 << 63) - 1
_COMMON = re.compile(r"<CommonPrefixes>\s*<Prefix>([^<]*)</Prefix>\s*</CommonPrefixes>")
_TRUNCATED = re.compile(r"<IsTruncated>\s*(true|false)\s*</IsTruncated>")
_TOKEN = re.compile(r"<NextContinuationToken>([^<]*)</NextContinuationToken>")
_URL_ENCODED = re.compile(r"<EncodingType>\s*url\s*</EncodingType>")
_ROOT = re.compile(r"\s*(?:<\?xml[^>]*\?>)?\s*<ListBucketResult[\s>]")
_ENTITY = re.compile(r"&(?:(amp|lt|gt|quot|apos)|#([0-9]{1,7})|#x([0-9a-fA-F]{1,6}));")
_NAMED = {"amp": "&", "lt": "<", "gt": ">", "quot": '"', "apos": "'"}
#: The options a page is asked with only when given: (query parameter, botocore keyword).
_OPTIONAL = (
    ("delimiter", "Delimiter"),
    ("continuation-token", "ContinuationToken"),
    ("start-after", "StartAfter"),
)


@dataclass
class Page:
    """What a listing needs of one ``ListObjectsV2`` page.

    Attributes:
        keys: the objects' keys, in the page's order.
        prefixes: the common prefixes (with a delimiter), in the page's order.
        token: the continuation token of the next page; None on the last page.
        sizes: the objects' sizes in bytes, one per key, when the page was read for them
            (else empty).
    """

    keys: list[str]
    prefixes: list[str]
    token: str | None
    sizes: list[int] = field(default_factory=list)


async def list_page(
    conn: Connection, bucket: str, prefix: str, delimiter: str | None, token: str | None,
    max_keys: int, *, start_after: str | None = None, sizes: bool = False,
) -> Page:  # fmt: skip
    """One page of ``bucket`` under ``prefix``: on the fast path when ``conn`` has one.

    ``start_after`` skips the keys up to it (``start-after``, used by the first page only);
    ``sizes`` fills `Page.sizes`.
    """
    options = zip(_OPTIONAL, (delimiter, token, start_after), strict=True)
    given = [(names, value) for names, value in options if value]
    if isinstance(conn, FastConnection):
        params = {"list-type": "2", "prefix": prefix, "max-keys": str(max_keys)}
        params["encoding-type"] = "url"
        params |= {query: value for (query, _), value in given}
        body = await conn.list_objects(bucket, canonical_query(params))
        return parse_page(body, sizes=sizes)
    kwargs: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix, "MaxKeys": max_keys}
    kwargs |= {keyword: value for (_, keyword), value in given}
    page = await conn.client.list_objects_v2(**kwargs)
    following = page.get("NextContinuationToken") if page.get("IsTruncated") else None
    contents = page.get("Contents", ())
    return Page(
        [item["Key"] for item in contents],
        [item["Prefix"] for item in page.get("CommonPrefixes", ())],
        following or None,
        [int(item["Size"]) for item in contents] if sizes else [],
    )


def parse_page(body: bytes, *, sizes: bool = False) -> Page:
    """The keys, common prefixes and next token of a ``ListObjectsV2`` XML answer; with
    ``sizes``, each object's size too.

    Raises:
        ClientError: code ``InvalidListPage``: the body is not such a page, or uses XML this
            parser does not read.
    """
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise _invalid("it is not UTF-8") from None
    if not _ROOT.match(text) or not text.rstrip().endswith("</ListBucketResult>"):
        raise _invalid("it is no ListBucketResult document")
    if "<!" in text:
        raise _invalid("it holds a CDATA section, a comment or a DOCTYPE")
    truncated = _TRUNCATED.search(text)
    if truncated is None:
        raise _invalid("it has no IsTruncated")
    keys, found_sizes = _keys_and_sizes(text) if sizes else (_KEY.findall(text), [])
    prefixes = _COMMON.findall(text)
    if text.count("<Contents>") != len(keys) or text.count("<CommonPrefixes>") != len(prefixes):
        raise _invalid("an object or common prefix has no readable key")
    found = _TOKEN.search(text)
    token = _text(found[1]) if found is not None and truncated[1] == "true" else None
    keys = [_text(key) for key in keys]
    prefixes = [_text(prefix) for prefix in prefixes]
    if _URL_ENCODED.search(text):
        keys = [_unquote(key) for key in keys]
        prefixes = [_unquote(prefix) for prefix in prefixes]
    return Page(keys, prefixes, token or None, found_sizes)


def _keys_and_sizes(text: str) -> tuple[list[str], list[int]]:
    """Each ``<Contents>`` element's key (still escaped) and size, read element by element so
    that a size can only be taken for its own key."""
    keys: list[str] = []
    sizes: list[int] = []
    for element in _CONTENTS.findall(text):
        key = _KEY.findall(element)
        size = _SIZE.findall(element)
        if len(key) != 1 or "<Contents>" in element:
            raise _invalid("an object has no readable key")
        if len(size) != 1 or element.count("<Size>") != 1 or int(size[0]) > _MAX_SIZE:
            raise _invalid("an object has no readable size (one decimal count of bytes)")
        keys.append(key[0])
        sizes.append(int(size[0]))
    return keys, sizes


def _text(escaped: str) -> str:
    """XML character data with its entity and character references resolved."""
    if "&" not in escaped:
        return escaped
    if escaped.count("&") != len(_ENTITY.findall(escaped)):
        raise _invalid("a value holds an unknown entity or a bare '&'")
    return _ENTITY.sub(_resolve, escaped)


def _resolve(match: re.Match[str]) -> str:
    named, decimal, hexadecimal = match.groups()
    if named:
        return _NAMED[named]
    code = int(decimal) if decimal else int(hexadecimal, 16)
    if not 0 < code <= 0x10FFFF or 0xD800 <= code <= 0xDFFF:
        raise _invalid(f"a value refers to character {code}, which XML cannot hold")
    return chr(code)


def _unquote(value: str) -> str:
    try:
        return unquote_plus(value, errors="strict")
    except UnicodeDecodeError:
        raise _invalid("a percent-encoded key is not UTF-8") from None


def _invalid(reason: str) -> ClientError:
    message = (
        f"the listing page cannot be read: {reason} (list with fast_path=False to use "
        "botocore's parser)"
    )
    return refused("InvalidListPage", message, "ListObjectsV2")
