"""Command-line arguments that name places: local paths as typed, ``-``, and store URIs.

A local argument (no scheme, or ``file://``) is taken from the working folder, as a shell user
expects, not from the configuration's folder: ``bitstore cp data/ s3://b/p/`` copies ``data/``
beside the user. A trailing ``/`` is kept, since it means "inside this folder".

A store for an argument comes from the configuration (a URI under a tier's prefix gets that
tier's options); when it cannot be built, the error names the argument as the user typed it
(``SOURCE 'x': ...``), since the argument is what to fix.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import NoReturn

from .._core.redact import redact
from ..errors import BitstoreError, InvalidURI, NotFoundInStore
from ..raw import BY_SCHEME, schemes_text
from ..store import Store
from ._run import NOT_FOUND, App, Failure, explain, fail

__all__ = ["STDIO", "Place", "is_location", "named", "no_match", "place", "wrong"]

#: The argument meaning stdin (for an input) or stdout (for an output).
STDIO = "-"
_FILE = "file://"


@dataclass(frozen=True)
class Place:
    """One argument resolved: what the user typed, its role, and the URI it stands for.

    Attributes:
        arg: the argument as typed.
        role: what it is to the command (``SOURCE``, ``TARGET``, ``PREFIX``...), for messages.
        uri: the URI: a local argument becomes an absolute path.
    """

    arg: str
    role: str
    uri: str

    @property
    def local(self) -> bool:
        """Whether it is a path on this machine."""
        return "://" not in self.uri

    @property
    def folder(self) -> bool:
        """Whether it names a prefix: it ends with ``/``, or is a local folder."""
        return self.uri.endswith("/") or (self.local and os.path.isdir(self.uri))

    def inside(self) -> Place:
        """The same place as a prefix (``/`` added when missing)."""
        uri = self.uri if self.uri.endswith("/") else self.uri + "/"
        return Place(self.arg, self.role, uri)

    def child(self, name: str) -> Place:
        """The place ``name`` inside this prefix."""
        return Place(self.arg, self.role, self.inside().uri + name)

    def store(self, app: App) -> Store:
        """A raw store for the URI, with the options of the tier it falls under.

        Raises:
            Failure: it cannot be built; the message starts with the argument.
        """
        app.config  # noqa: B018 - a broken file is reported as such, not as this argument's
        try:
            return app.config.raw_store(self.uri)
        except BitstoreError as exc:
            raise wrong(self, exc) from exc


def _local_path(arg: str) -> str:
    path = arg[len(_FILE) :] if arg.lower().startswith(_FILE) else arg
    if path.lower().startswith("localhost/"):
        path = path[len("localhost") :]
    absolute = os.path.abspath(os.path.expanduser(path)) if path else ""
    if path.endswith(("/", os.sep)) and not absolute.endswith("/"):
        absolute += "/"
    return absolute


def place(arg: str, role: str) -> Place:
    """Resolve ``arg``: a local path against the working folder, a URI as it is.

    Raises:
        Failure: an empty argument, ``-`` where a store is needed, or an unknown scheme.
    """
    if not arg:
        fail(f"{role} is empty; give a local path or a URI such as s3://bucket/key")
    if arg == STDIO:
        fail(f"{role} '-' (stdin or stdout) cannot be used here; give a path or a URI")
    scheme, sep, _ = arg.partition("://")
    if not sep or scheme.lower() == "file":
        return Place(arg, role, _local_path(arg))
    if scheme.lower() not in BY_SCHEME:
        fail(
            f"{named(role, arg)}: unknown scheme {scheme + '://'!r}; "
            f"use a local path or one of {schemes_text()}"
        )
    return Place(arg, role, arg)


def is_location(arg: str) -> bool:
    """Whether ``arg`` names a place outside the chain's keys: a URI, or a local path written
    as one (``/abs``, ``./rel``, ``../rel``, ``~/rel``). Keys of named chains never look so."""
    return "://" in arg or arg.startswith(("/", "./", "../", "~")) or arg in (".", "..")


def wrong(where: Place, exc: BaseException) -> Failure:
    """``exc`` as a failure whose message starts with the argument it concerns."""
    message, code = explain(exc)
    if isinstance(exc, NotFoundInStore):
        message, code = f"not found at {redact(where.uri)!r}; check the path or key", NOT_FOUND
    elif isinstance(exc, InvalidURI):
        message = f"{exc}; give a path or URI of that form"
    return Failure(f"{named(where.role, where.arg)}: {message}", code)


def named(role: str, arg: str) -> str:
    """``ROLE 'arg'`` for a message, with any password in the argument masked."""
    return f"{role} {redact(arg)!r}"


def no_match(role: str, pattern: str) -> NoReturn:
    """Stop with exit 1: a wildcard pattern matched nothing (a typo is not a silent no-op)."""
    fail(
        f"{named(role, pattern)}: nothing matches the pattern; check it with `bitstore ls`",
        NOT_FOUND,
    )
