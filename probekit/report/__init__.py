"""The report stage: a diagnosis with numbers, figures, and one self-contained HTML file.

:func:`write_report` reads a run directory and writes the HTML report;
:func:`probekit.report.diagnosis.diagnose` gives the diagnosis as data;
:mod:`probekit.report.figures` draws the figures (also ``probekit.plot``).
"""

from __future__ import annotations

import sys
import types
from typing import Any

__all__ = ["write_report", "diagnose", "Thresholds"]


def __getattr__(name: str) -> Any:
    if name == "write_report":
        from probekit.report.build import write_report

        return write_report
    if name in ("diagnose", "Thresholds"):
        from probekit.report import diagnosis

        return getattr(diagnosis, name)
    raise AttributeError(f"module 'probekit.report' has no attribute {name!r}")


class _CallableModule(types.ModuleType):
    """``probekit.report`` is this package and also ``pk.report(run, out)`` (:func:`probekit.api.report`)."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        from probekit.api import report

        return report(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
