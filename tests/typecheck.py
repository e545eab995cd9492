"""Run mypy (strict) over a snippet, for tests of what the package's types tell its users."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MYPY = (sys.executable, "-m", "mypy", "--strict", "--no-incremental", "--follow-imports=silent")


def assert_mypy_accepts(snippet: str, path: Path) -> None:
    """Write ``snippet`` to ``path`` and fail with mypy's output unless it type-checks."""
    path.write_text(snippet)
    done = subprocess.run(
        [*MYPY, str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
