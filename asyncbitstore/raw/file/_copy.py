"""Blocking copies and renames inside one ``FileRaw`` folder, run on its worker threads.

A copy writes a new file (never a hard link: a link would tie the two names to one inode, so
an outside program editing one file in place, or a tool counting bytes per file, would see
them as one) and lets the kernel move the bytes where it can (``copy_file_range``: a reflink
on Btrfs/XFS, a server-side copy on NFS 4.2). It goes to a temporary name that is renamed over
the destination once complete, like every write of the folder.
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
from typing import BinaryIO

from . import _ops as ops

__all__ = ["copy_file", "move_file"]

_STEP = 1 << 30  # bytes asked of copy_file_range per call


def copy_file(fs: ops.Folder, src: str, dst: str, fsync: bool) -> None:
    """Copy the regular file ``src`` to ``dst`` atomically (``FileNotFoundError`` if missing)."""
    with fs.open_read(src) as source:
        file, temp = fs.open_temp(dst)
        try:
            _copy_bytes(source, file)
        except BaseException:
            ops.abort(file, temp)
            raise
        ops.commit(file, temp, fsync)


def _copy_bytes(source: BinaryIO, target: BinaryIO) -> None:
    if hasattr(os, "copy_file_range"):
        try:
            while os.copy_file_range(source.fileno(), target.fileno(), _STEP):
                pass
            return
        except OSError as exc:  # not across these file systems: copy it ourselves
            if exc.errno not in (errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
                raise
            source.seek(0)
            target.seek(0)
            target.truncate()
    shutil.copyfileobj(source, target, 1 << 20)


def move_file(fs: ops.Folder, src: str, dst: str, fsync: bool) -> None:
    """Rename the regular file ``src`` over ``dst``, creating ``dst``'s folders.

    Raises ``FileNotFoundError`` when ``src`` is missing (or no regular file) and
    ``OSError(EXDEV)`` when the two are on different file systems.
    """
    src_fd, src_name = fs.parent(src)
    try:
        if not stat.S_ISREG(os.stat(src_name, dir_fd=src_fd, follow_symlinks=False).st_mode):
            raise FileNotFoundError(errno.ENOENT, "not a regular file", src)
        dst_fd, dst_name = fs.parent(dst, make=True)
        try:
            os.replace(src_name, dst_name, src_dir_fd=src_fd, dst_dir_fd=dst_fd)
            if fsync:
                os.fsync(dst_fd)
                os.fsync(src_fd)
        finally:
            os.close(dst_fd)
    finally:
        os.close(src_fd)
