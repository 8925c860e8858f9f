"""The report stage: a diagnosis with numbers, figures, and one self-contained HTML file.

:func:`write_report` reads a run directory and writes the HTML report;
:func:`probekit.report.diagnosis.diagnose` gives the diagnosis as data;
:mod:`probekit.report.figures` draws the figures (also ``probekit.plot``).
"""

from __future__ import annotations

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
