"""The package logger has a ``NullHandler``: an application that configured no logging sees
nothing of the library's log on stderr (Python's last-resort handler stays out of it)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

SCRIPT = """
import logging
import asyncbitstore
logging.getLogger("asyncbitstore.retry").warning("library warning 1")
logging.getLogger("asyncbitstore").error("library error 2")
logging.getLogger("elsewhere").warning("application warning 3")
"""


def test_library_records_stay_off_stderr_without_logging_configuration() -> None:
    env = dict(
        os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    )
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert "library" not in result.stderr
    assert "application warning 3" in result.stderr  # the last resort still serves the app


def test_one_null_handler_on_the_package_logger() -> None:
    import logging

    import asyncbitstore  # noqa: F401

    handlers = logging.getLogger("asyncbitstore").handlers
    assert sum(isinstance(h, logging.NullHandler) for h in handlers) == 1
