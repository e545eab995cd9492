"""`BoundedFileRaw`: a folder of blobs kept under a byte budget, least recently used out first.

The code lives with the other file-store modules in `asyncbitstore.raw.file`; this module is the
documented import path.
"""

from __future__ import annotations

from .raw.file.bounded import BoundedFileRaw

__all__ = ["BoundedFileRaw"]
