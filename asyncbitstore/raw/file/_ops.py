"""Blocking file operations run on worker threads by ``FileRaw`` and the bounded cache.

Writes are atomic: bytes go to a temporary file in the destination folder, which is renamed over
the destination only once complete, so readers see the old blob or the new one, never a part.

A `Folder` confines every call to a root: the path below the root is walked one name at
a time from an open descriptor of the root, with ``O_NOFOLLOW``, so a symlink planted under the
root (as a folder on the way or as the file itself) is refused with `Escape` instead of
being followed. Without a root, paths are used as given (symlinks followed), as before.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
from typing import BinaryIO

from ..._core.put_attrs import PLAIN, PutAttrs
from ..._core.temp import TEMP_PREFIX
from . import _attrs as file_attrs

__all__ = [
    "ANYWHERE",
    "TEMP_PREFIX",
    "Escape",
    "Folder",
    "MissingRoot",
    "PastEnd",
    "Taken",
    "Temp",
    "taken",
]

_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_READ_FLAGS = os.O_RDONLY | _CLOEXEC
_OPEN_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _CLOEXEC
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | _CLOEXEC
_NOFOLLOW = os.O_NOFOLLOW


class PastEnd(Exception):
    """A range starts past the end of the file."""

    def __init__(self, size: int) -> None:
        super().__init__(size)
        self.size = size


class Escape(OSError):
    """A path under a root passes through a symlink (the store maps it to ``PathEscapesRoot``)."""

    def __init__(self, path: str, root: str) -> None:
        super().__init__(errno.ELOOP, "a symlink under the root", path)
        self.root = root


class MissingRoot(FileNotFoundError):
    """The root folder itself is missing, and the folder may not create it."""

    def __init__(self, root: str) -> None:
        super().__init__(errno.ENOENT, "the root folder does not exist", root)
        self.root = root


class Temp:
    """A temporary file being written: its folder (held open), its name and the final name."""

    def __init__(self, folder_fd: int, temp: str, name: str) -> None:
        self.folder_fd = folder_fd
        self.temp = temp
        self.name = name

    def close(self) -> None:
        """Release the folder's descriptor (idempotent)."""
        fd, self.folder_fd = self.folder_fd, -1
        if fd >= 0:
            os.close(fd)


class Folder:
    """File calls on paths under ``root`` that never follow a symlink below it.

    Args:
        root: the folder the paths are under (itself trusted as given); None for no confinement.
        create_root: a missing root is created by the first write, and reads find nothing
            there; when false, every call raises `MissingRoot` while the root is missing.
    """

    def __init__(self, root: str | None, *, create_root: bool = True) -> None:
        self.create_root = create_root
        self.root = None if root is None else root.rstrip("/") or "/"
        self._prefix = None if self.root is None else self.root.rstrip("/") + "/"

    def _names(self, path: str) -> list[str]:
        assert self._prefix is not None and path.startswith(self._prefix), path
        return path[len(self._prefix) :].rstrip("/").split("/")

    def _enter(self, fd: int, name: str, path: str, make: bool) -> int:
        """A descriptor of sub-folder ``name`` of ``fd``, refusing a symlink."""
        try:
            return os.open(name, _DIR_FLAGS | _NOFOLLOW, dir_fd=fd)
        except FileNotFoundError:
            if not make:
                raise
            with contextlib.suppress(FileExistsError):
                os.mkdir(name, 0o777, dir_fd=fd)
            return self._enter(fd, name, path, False)
        except NotADirectoryError:  # a file, or (with O_NOFOLLOW) a symlink
            self._refuse_link(fd, name, path)
            raise

    def _refuse_link(self, fd: int, name: str, path: str) -> None:
        try:
            link = stat.S_ISLNK(os.stat(name, dir_fd=fd, follow_symlinks=False).st_mode)
        except OSError:
            return
        if link:
            raise Escape(path, self.root or "/")

    def _open_root(self, make: bool) -> int:
        assert self.root is not None
        try:
            return os.open(self.root, _DIR_FLAGS)
        except FileNotFoundError:
            if not self.create_root:
                raise MissingRoot(self.root) from None
            if not make:
                raise
            os.makedirs(self.root, exist_ok=True)  # the root itself is trusted as given
            return os.open(self.root, _DIR_FLAGS)

    def parent(self, path: str, *, make: bool = False) -> tuple[int, str]:
        """An open descriptor of the folder holding ``path`` (the caller closes it), and the
        file's name in it; with ``make``, missing folders are created on the way."""
        if self.root is None:
            folder, name = os.path.split(path)
            if make:
                os.makedirs(folder, exist_ok=True)
            return os.open(folder or "/", _DIR_FLAGS), name
        names = self._names(path)
        fd = self._open_root(make)
        try:
            for name in names[:-1]:
                inner = self._enter(fd, name, path, make)
                os.close(fd)
                fd = inner
        except BaseException:
            os.close(fd)
            raise
        return fd, names[-1]

    def open_dir(self, path: str, *, make: bool = False) -> int:
        """An open descriptor of the folder at ``path``."""
        if self.root is None:
            if make:
                os.makedirs(path, exist_ok=True)
            return os.open(path, _DIR_FLAGS)
        if path.rstrip("/") == self.root.rstrip("/"):
            return self._open_root(make)
        fd, name = self.parent(path.rstrip("/"), make=make)
        try:
            return self._enter(fd, name, path, make)
        finally:
            os.close(fd)

    def open(self, path: str, flags: int = _READ_FLAGS) -> int:
        """``os.open(path, flags)``, with no symlink followed below the root."""
        if self.root is None:
            return os.open(path, flags)
        fd, name = self.parent(path)
        try:
            return os.open(name, flags | _NOFOLLOW, dir_fd=fd)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise Escape(path, self.root) from None
            raise
        finally:
            os.close(fd)

    def status(self, path: str) -> os.stat_result:
        """The status of the file (under a root, of the file itself: ``Escape`` for a symlink)."""
        if self.root is None:
            return os.stat(path)
        fd, name = self.parent(path)
        try:
            found = os.stat(name, dir_fd=fd, follow_symlinks=False)
        finally:
            os.close(fd)
        if stat.S_ISLNK(found.st_mode):
            raise Escape(path, self.root)
        return found

    # -- reads ----------------------------------------------------------------------------------

    def read(self, path: str) -> bytes:
        """The whole file."""
        # os-level calls: a buffered file object per read costs more than reading 4 KiB.
        fd = self.open(path)
        try:
            size = os.fstat(fd).st_size
            data = os.read(fd, size) if size else b""
            if len(data) < size:  # short read: collect the rest
                parts = [data]
                while chunk := os.read(fd, 1 << 20):
                    parts.append(chunk)
                data = b"".join(parts)
            return data
        finally:
            os.close(fd)

    def read_range(self, path: str, start: int, end: int) -> bytes:
        """Bytes ``[start, end)`` of the file (``PastEnd`` if it starts past the end)."""
        fd = self.open(path)
        try:
            size = os.fstat(fd).st_size
            if start > size:
                raise PastEnd(size)
            parts = []
            while start < end and (chunk := os.pread(fd, min(end - start, 1 << 24), start)):
                parts.append(chunk)
                start += len(chunk)
            return b"".join(parts)
        finally:
            os.close(fd)

    def file_size(self, path: str) -> int:
        """The size of the regular file at ``path``."""
        return self.regular_status(path).st_size

    def regular_status(self, path: str) -> os.stat_result:
        """The status of the regular file at ``path`` (``IsADirectoryError`` for anything else)."""
        found = self.status(path)
        if not stat.S_ISREG(found.st_mode):
            raise IsADirectoryError(errno.EISDIR, "not a regular file", path)
        return found

    def is_file(self, path: str) -> bool:
        """Whether a regular file is at ``path`` (``Escape`` through a symlink)."""
        try:
            return stat.S_ISREG(self.status(path).st_mode)
        except (Escape, MissingRoot):
            raise
        except (OSError, ValueError):
            return False

    def open_read(self, path: str) -> BinaryIO:
        """The regular file at ``path``, open for reading."""
        file = open(self.open(path), "rb")  # noqa: SIM115 - closed by the streaming caller
        if not stat.S_ISREG(os.fstat(file.fileno()).st_mode):
            file.close()
            raise IsADirectoryError(errno.EISDIR, "not a regular file", path)
        return file

    def walk(self, base: str, path_prefix: str) -> list[str]:
        """Sorted paths of the files under ``base`` whose path starts with ``path_prefix``.

        Sub-folders that are symlinks are not entered; under a root, only regular files (not
        symlinks) are listed.
        """
        try:
            fd = self.open_dir(base)
        except MissingRoot:
            raise
        except (FileNotFoundError, NotADirectoryError):
            return []
        found: list[str] = []
        try:
            self._walk(fd, base.rstrip("/"), path_prefix, found)
        finally:
            os.close(fd)
        found.sort()
        return found

    def _walk(self, fd: int, folder: str, path_prefix: str, found: list[str]) -> None:
        with os.scandir(fd) as scanned:
            entries = list(scanned)
        for entry in entries:
            full = f"{folder}/{entry.name}"
            if entry.is_dir(follow_symlinks=False):
                if (full + "/").startswith(path_prefix) or path_prefix.startswith(full + "/"):
                    try:
                        inner = os.open(entry.name, _DIR_FLAGS | _NOFOLLOW, dir_fd=fd)
                    except OSError:
                        continue  # gone or unreadable meanwhile: skipped, as os.walk does
                    try:
                        self._walk(inner, full, path_prefix, found)
                    finally:
                        os.close(inner)
            elif (
                not entry.name.startswith(TEMP_PREFIX)
                and full.startswith(path_prefix)
                and self._listed(entry)
            ):
                found.append(full)

    def _listed(self, entry: os.DirEntry[str]) -> bool:
        if self.root is None:
            return not entry.is_dir()  # what os.walk lists as files
        return entry.is_file(follow_symlinks=False)

    # -- writes ---------------------------------------------------------------------------------

    def unlink(self, path: str) -> None:
        """Remove the file (or a symlink itself, never its target) if it is there."""
        try:
            if self.root is None:
                os.unlink(path)
                return
            fd, name = self.parent(path)
            try:
                os.unlink(name, dir_fd=fd)
            finally:
                os.close(fd)
        except MissingRoot:
            raise
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            pass

    def open_temp(self, path: str) -> tuple[BinaryIO, Temp]:
        """A new temporary file beside ``path``, creating the folders on the way."""
        if self.root is None:
            return open_temp(path)
        return _temp_in(*self.parent(path, make=True))

    def write_atomic(
        self,
        path: str,
        data: bytes | bytearray | memoryview,
        fsync: bool,
        attrs: PutAttrs = PLAIN,
    ) -> None:
        """Write ``data`` to a temporary file and rename it over ``path`` (see `commit`)."""
        file, temp = self.open_temp(path)
        try:
            file.write(data)
        except BaseException:
            abort(file, temp)
            raise
        commit(file, temp, fsync, attrs)

    def described_status(self, path: str) -> tuple[os.stat_result, PutAttrs]:
        """The status of the regular file at ``path`` and its stored attributes, both read
        from one open file (so they describe the same blob)."""
        fd = self.open(path)
        try:
            found = os.fstat(fd)
            if not stat.S_ISREG(found.st_mode):
                raise IsADirectoryError(errno.EISDIR, "not a regular file", path)
            return found, file_attrs.read(fd)
        finally:
            os.close(fd)


ANYWHERE = Folder(None)


def open_temp(path: str) -> tuple[BinaryIO, Temp]:
    """A new temporary file beside ``path`` (symlinks followed), creating the folders."""
    return _temp_in(*ANYWHERE.parent(path, make=True))


def _temp_in(folder_fd: int, name: str) -> tuple[BinaryIO, Temp]:
    temp = TEMP_PREFIX + secrets.token_hex(8)
    try:
        fd = os.open(temp, _OPEN_FLAGS, 0o666, dir_fd=folder_fd)
    except BaseException:
        os.close(folder_fd)
        raise
    return os.fdopen(fd, "wb"), Temp(folder_fd, temp, name)


def read_chunk(file: BinaryIO, size: int) -> bytes:
    return file.read(size)


def close(file: BinaryIO) -> None:
    file.close()


def write_chunk(file: BinaryIO, chunk: bytes) -> None:
    file.write(chunk)


def finish(file: BinaryIO, fsync: bool, attrs: PutAttrs = PLAIN) -> None:
    """Flush and close a temporary file (to the disk with ``fsync``), with its attributes."""
    file_attrs.write(file.fileno(), attrs)
    file.flush()
    if fsync:
        os.fsync(file.fileno())
    file.close()


def taken(temp: Temp) -> bool:
    """Whether something is at the final name of ``temp``."""
    try:
        os.lstat(temp.name, dir_fd=temp.folder_fd)
    except FileNotFoundError:
        return False
    return True


class Taken(Exception):
    """A create found a file (or anything else) at the final name; nothing was replaced."""


def rename(temp: Temp, fsync: bool, create: bool = False) -> None:
    """Rename the finished temporary file over its final name (a symlink there is replaced,
    not followed) and release its folder.

    With ``create``, the file is hard-linked to the final name instead, which fails if the
    name is taken (`Taken`): of concurrent creates exactly one wins. The temporary name is
    then removed.
    """
    if create:
        try:
            os.link(
                temp.temp,
                temp.name,
                src_dir_fd=temp.folder_fd,
                dst_dir_fd=temp.folder_fd,
                follow_symlinks=False,
            )
        except FileExistsError:
            raise Taken(temp.name) from None
        os.unlink(temp.temp, dir_fd=temp.folder_fd)
        if fsync:
            os.fsync(temp.folder_fd)
        temp.close()
        return
    os.replace(temp.temp, temp.name, src_dir_fd=temp.folder_fd, dst_dir_fd=temp.folder_fd)
    if fsync:
        os.fsync(temp.folder_fd)
    temp.close()


def commit(file: BinaryIO, temp: Temp, fsync: bool, attrs: PutAttrs = PLAIN) -> None:
    """Close the temporary file (with ``attrs`` kept on it) and rename it over its final name
    (with ``attrs.create``, only if nothing is there: see `rename`); on failure remove it."""
    try:
        finish(file, fsync, attrs)
        rename(temp, fsync, attrs.create)
    except BaseException:
        abort(file, temp)
        raise


def abort(file: BinaryIO, temp: Temp) -> None:
    """Close and remove a temporary file (nothing if it was renamed already)."""
    try:
        file.close()
        if temp.folder_fd >= 0:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp.temp, dir_fd=temp.folder_fd)
    finally:
        temp.close()


def abort_pair(opened: tuple[BinaryIO, Temp]) -> None:
    """`abort` for the result of `open_temp`."""
    abort(*opened)
