"""Collects the stores the contract suite runs against.

Each ``targets_*.py`` module in this folder defines fixtures named ``contract_<name>`` that
return a :class:`~tests.contract.target.Target`, and lists those names in ``TARGETS``. Adding a
backend to the suite means adding one such module; nothing here changes.
"""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path
from typing import Any

import pytest

TARGET_NAMES: list[str] = []

for _info in sorted(pkgutil.iter_modules([str(Path(__file__).parent)]), key=lambda m: m.name):
    if _info.name.startswith("targets_"):
        _module = importlib.import_module(f"{__name__.rsplit('.', 1)[0]}.{_info.name}")
        TARGET_NAMES.extend(_module.TARGETS)
        for _attr in dir(_module):
            if _attr.startswith("contract_"):
                globals()[_attr] = getattr(_module, _attr)


@pytest.fixture(params=TARGET_NAMES)
def target(request: pytest.FixtureRequest) -> Any:
    """Each registered store in turn."""
    return request.getfixturevalue(f"contract_{request.param}")
