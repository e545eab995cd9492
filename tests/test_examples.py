"""The examples run as documented."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_quickstart_demo_serves_the_second_pass_from_the_caches() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "quickstart.py")],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    out = result.stdout
    assert "API calls in all: 300" in out
    second = out.split("second pass")[1]
    assert "   0 hits  SlowAPI" in second
    assert "   0 hits  Sha1Store(FileRaw" in second
