"""The fault-injecting proxy, under the name the first S3 and GCS tests import it by.

Everything lives in :mod:`tests.faults`; this module only re-exports it.
"""

from __future__ import annotations

from tests.faults import FaultProxy, Rule, Seen

__all__ = ["FaultProxy", "Rule", "Seen"]
