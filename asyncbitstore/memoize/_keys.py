"""Deterministic cache keys for ``memoize``: arguments and code encoded as bytes, then hashed.

`encode` turns a value into bytes that depend only on its contents: the same in every
process (no hash seed, no object identity, no pickle memo), so equal arguments give one key.
Builtin containers are walked; sets are sorted, while dicts keep their insertion order (a
function can see it). Any other object is encoded the way pickle would rebuild it (through
``__reduce_ex__``), classes and functions by their importable name. What pickle refuses, or a
cycle, raises `UnpicklableArgument`. The bytes are never unpickled: they are only hashed.

`code_fingerprint` encodes a function's code, and that of the functions of its own
module it calls (recursively): bytecode, constants, names and argument layout, but not
docstrings, line numbers or comments.
"""

from __future__ import annotations

import copyreg
import inspect
import pickle
import sys
import types
from typing import Any

__all__ = ["UnpicklableArgument", "code_fingerprint", "encode"]

_SCALARS = (type(None), bool, int, float, complex, str, bytes, type(...))
_BY_NAME = (type, types.FunctionType, types.BuiltinFunctionType, types.MethodDescriptorType)
_COMPREHENSIONS = frozenset({"<listcomp>", "<setcomp>", "<dictcomp>", "<genexpr>"})
_CO_HAS_DOCSTRING = 0x4000000  # Python 3.14+


class UnpicklableArgument(TypeError):
    """An argument of a memoized call cannot be encoded into a cache key (pickle refuses it)."""


def _frame(tag: bytes, *parts: bytes) -> bytes:
    return tag + b"".join(len(p).to_bytes(8, "little") + p for p in parts)


def encode(obj: object, _path: frozenset[int] = frozenset()) -> bytes:
    """Bytes that depend only on the contents of ``obj``.

    Raises:
        UnpicklableArgument: ``obj`` (or something inside it) cannot be pickled, or is cyclic.
    """
    kind = type(obj)
    if kind in _SCALARS:
        return _frame(b"s", pickle.dumps(obj, 4))
    if id(obj) in _path:
        raise UnpicklableArgument(f"a {kind.__name__} that contains itself")
    path = _path | {id(obj)}
    if kind is tuple or kind is list:
        return _frame(kind.__name__.encode(), *(encode(x, path) for x in obj))  # type: ignore[attr-defined]
    if kind is dict:
        return _frame(b"dict", *(encode(kv, path) for kv in obj.items()))  # type: ignore[attr-defined]
    if kind is set or kind is frozenset:
        return _frame(kind.__name__.encode(), *sorted(encode(x, path) for x in obj))  # type: ignore[attr-defined]
    if isinstance(obj, _BY_NAME):
        return _frame(b"name", _by_name(obj))
    return _frame(b"obj", *(encode(part, path) for part in _reduce(obj)))


def _by_name(obj: object) -> bytes:
    try:
        return pickle.dumps(obj, 4)  # a reference by module and qualified name
    except (pickle.PicklingError, TypeError, AttributeError) as exc:
        raise UnpicklableArgument(f"{obj!r} cannot be pickled by name: {exc}") from None


def _reduce(obj: object) -> tuple[Any, ...]:
    """What pickle would save for ``obj``: how to rebuild it, and its state."""
    reducer = copyreg.dispatch_table.get(type(obj))
    try:
        rv = reducer(obj) if reducer is not None else obj.__reduce_ex__(4)
    except Exception as exc:
        raise UnpicklableArgument(f"cannot pickle {type(obj).__name__!r} object: {exc}") from None
    if isinstance(rv, str):  # a module-level singleton, pickled by name
        return (_by_name(obj),)
    parts = list(rv) + [None] * (5 - len(rv))
    callable_, args, state, items, pairs = parts[:5]
    return (
        callable_,
        args,
        state,
        None if items is None else list(items),
        None if pairs is None else list(pairs),
    )


def _has_docstring_slot(code: types.CodeType) -> bool:
    """Whether ``co_consts[0]`` is the docstring (or its ``None`` placeholder)."""
    if sys.version_info >= (3, 14):
        return bool(code.co_flags & _CO_HAS_DOCSTRING)
    return code.co_name not in _COMPREHENSIONS and bool(code.co_consts)


def _encode_code(code: types.CodeType) -> bytes:
    consts = code.co_consts[1:] if _has_docstring_slot(code) else code.co_consts
    encoded = [_encode_code(c) if isinstance(c, types.CodeType) else encode(c) for c in consts]
    layout = (code.co_argcount, code.co_posonlyargcount, code.co_kwonlyargcount, code.co_flags)
    names = (code.co_names, code.co_varnames, code.co_freevars, code.co_cellvars)
    return _frame(b"code", code.co_code, encode(layout), encode(names), *encoded)


def _global_names(code: types.CodeType) -> list[str]:
    """Names the code (nested functions and comprehensions included) may load as globals."""
    names = list(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names.extend(_global_names(const))
    return names


def code_fingerprint(fn: Any) -> bytes:
    """The code of ``fn`` and of the functions of its module that it calls, recursively."""
    fn = inspect.unwrap(fn)
    module = fn.__module__
    seen: set[int] = set()
    parts: list[bytes] = []

    def visit(func: types.FunctionType) -> None:
        if id(func.__code__) in seen:
            return
        seen.add(id(func.__code__))
        parts.append(_encode_code(func.__code__))
        parts.append(_defaults(func))
        for name in _global_names(func.__code__):
            target = _function(func.__globals__.get(name))
            if target is not None and target.__module__ == module:
                visit(target)

    visit(fn)
    return _frame(b"fingerprint", *parts)


def _function(obj: object) -> types.FunctionType | None:
    """The plain function behind ``obj`` (through decorators such as memoize), if any."""
    if not callable(obj) or isinstance(obj, type):
        return None
    try:
        obj = inspect.unwrap(obj)
    except ValueError:  # a __wrapped__ cycle
        return None
    return obj if isinstance(obj, types.FunctionType) else None


def _defaults(func: types.FunctionType) -> bytes:
    try:
        return encode((func.__defaults__, func.__kwdefaults__))
    except UnpicklableArgument:  # defaults that cannot be encoded do not count
        return b""
