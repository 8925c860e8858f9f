"""Report sections: one module per section, each returning a :class:`Section`.

A stage's section is registered with :func:`register_section` under the stage's name; the report
renders it only when the run holds that stage (no placeholders). A stage with a table and no
registered section is shown as its table.

To add a section: write one module here defining ``render(run) -> Section`` and calling
``register_section("<stage>", render)`` at import, and add the module to ``SECTION_MODULES``.

A stage may also add evidence under the verdicts (:func:`register_evidence`): short lines per
(store, target) that sit beside a verdict without changing its rule.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

import pandas as pd

if TYPE_CHECKING:  # pragma: no cover
    from probekit.rundir import Run

#: Modules imported on first use; each registers the section of one stage.
SECTION_MODULES: tuple[str, ...] = (
    "probekit.report.sections.binding",
    "probekit.report.sections.structure",
    "probekit.report.sections.surprise",
    "probekit.report.sections.attribution",
)


@dataclass
class Figure:
    """One inlined figure of the report."""

    kind: str
    title: str
    uri: str
    caption: str
    alt: str


@dataclass
class Section:
    """A report section: figures and/or tables, or one line saying why it is absent."""

    key: str
    title: str
    figures: list[Figure] = field(default_factory=list)
    absent: str = ""
    intro: str = ""
    table: pd.DataFrame | None = None


#: Evidence under the verdicts: (store, target) -> lines; target "" for lines about a whole store.
Evidence = dict[tuple[str, str], list[str]]
_EVIDENCE: dict[str, Callable[["Run"], Evidence]] = {}


def register_evidence(stage: str, evidence: Callable[["Run"], Evidence]) -> None:
    """Register ``evidence(run)``: lines a stage adds under the verdicts of each (store, target)."""
    _EVIDENCE[stage] = evidence


def verdict_evidence(run: "Run") -> Evidence:
    """Evidence lines of every stage the run holds, merged per (store, target).

    A stage whose table cannot be read adds nothing here (its section says why).
    """
    section_renderers()  # loads the built-in section modules, which register their evidence
    merged: Evidence = {}
    for stage in run.stages:
        if stage not in _EVIDENCE:
            continue
        try:
            found = _EVIDENCE[stage](run)
        except Exception:  # noqa: BLE001 - a damaged stage table: the section reports it
            continue
        for key, lines in found.items():
            merged.setdefault(key, []).extend(lines)
    return merged


def render_figure(fig, kind: str, title: str, caption: str, fmt_: str = "svg") -> Figure:
    """Inline a matplotlib figure as a data URI (the figure is closed)."""
    from probekit.report.embed import figure_data_uri

    uri = figure_data_uri(fig, fmt_)
    return Figure(kind=kind, title=title, uri=uri, caption=caption, alt=f"{title}. {caption}")


_SECTIONS: dict[str, Callable[["Run"], Section]] = {}
_loaded = False


def register_section(stage: str, render: Callable[["Run"], Section]) -> None:
    """Register ``render(run) -> Section`` as the report section of ``stage``."""
    _SECTIONS[stage] = render


def section_renderers() -> dict[str, Callable[["Run"], Section]]:
    """Stage name -> section renderer, built-in sections loaded."""
    global _loaded
    if not _loaded:
        _loaded = True
        for module in SECTION_MODULES:
            importlib.import_module(module)
    return dict(_SECTIONS)


def stage_sections(run: "Run") -> list[Section]:
    """The sections of the stages this run holds beyond the probes, in the run's stage order.

    A stage the run skipped gets one line with the recorded reason.
    """
    from probekit.stages import PROBE_STAGE, get_stage

    renderers = section_renderers()
    sections = []
    for stage in run.stages:
        if stage == PROBE_STAGE:
            continue
        if stage in renderers:
            sections.append(renderers[stage](run))
            continue
        try:
            title = get_stage(stage).title
        except Exception:  # noqa: BLE001 - a stage from a plug-in that is not installed here
            title = stage
        section = Section(stage, title)
        table = run.table(stage)
        section.table = table
        section.intro = f"The {stage} table ({len(table)} rows)."
        sections.append(section)
    for stage, reason in (run.manifest.get("stage_skips") or {}).items():
        sections.append(Section(str(stage), str(stage), absent=f"The {stage} stage was asked for and skipped: {reason}"))
    return sections


__all__ = ["Evidence", "Figure", "Section", "register_evidence", "register_section", "render_figure", "section_renderers",
           "stage_sections", "verdict_evidence"]
