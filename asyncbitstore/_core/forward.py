"""`Forwarded`: a read-only attribute whose value is kept by another object of the instance."""

from __future__ import annotations

import operator
from typing import Any, Generic, NoReturn, TypeVar, overload

__all__ = ["Forwarded"]

T = TypeVar("T")


class Forwarded(Generic[T]):
    """A read-only attribute read through a dotted path from the instance.

    In a class body, ``key_algorithm = Forwarded[str]("keys.algorithm")`` makes
    ``obj.key_algorithm`` give ``obj.keys.algorithm``, as a property returning it would, and
    assigning to it raise ``AttributeError``. Give it a docstring as a string literal right
    after the assignment, where the docs renderer reads it.

    Args:
        path: the attribute to read, dotted (``"_fresh.ttl"``).
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self._read = operator.attrgetter(path)
        self._name = path
        self.__doc__ = f"Read-only: the instance's ``{path}``."

    def __set_name__(self, owner: type, name: str) -> None:
        self._name = name

    @overload
    def __get__(self, instance: None, owner: type | None = None) -> Forwarded[T]: ...

    @overload
    def __get__(self, instance: object, owner: type | None = None) -> T: ...

    def __get__(self, instance: object, owner: type | None = None) -> Any:
        if instance is None:
            return self
        return self._read(instance)

    def __set__(self, instance: object, value: object) -> NoReturn:
        raise AttributeError(f"{self._name} is read-only")
