"""Every figure of the report and of ``pk.plot`` on a real tiny run (a generated world, a
5-layer planted store and the 7-layer tiny-vjepa2, probed): axes, legends and points checked as
matplotlib objects against the files themselves (world file, stores, selection table)."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest
from world_run import world_run

import probekit as pk
from probekit.report import build
from probekit.report.figures import DEPTH_AXIS
from probekit.report.sections import Figure as ReportFigure
from probekit.rundir import load_run


def _world_truth(run_dir):
    """Scenario of each clip and slot roles per scenario, read straight from the world file."""
    world = run_dir.parent / "worlds.h5"
    with h5py.File(world, "r") as f:
        scenarios = [s.decode() if isinstance(s, bytes) else str(s) for s in f["clips/scenario"][()]]
        kinds = [s.decode() if isinstance(s, bytes) else str(s) for s in f["clips/kind"][()]]
        raw = f.attrs["slot_roles"]
        roles = json.loads(raw.decode() if isinstance(raw, bytes) else raw)
    return scenarios, kinds, roles


def _depth(store_path) -> int:
    with h5py.File(store_path, "r") as f:
        return int(f.attrs["n_encoder_layers"])


@pytest.fixture(scope="module")
def report_figures(tmp_path_factory):
    """The report's figures as matplotlib objects (captured before they are inlined)."""
    run_dir = world_run(tmp_path_factory)
    captured: dict[str, list] = {}

    def capture(fig, kind, title, caption, fmt_="svg"):
        captured.setdefault(kind, []).append((fig, title, caption))
        return ReportFigure(kind=kind, title=title, uri="data:,", caption=caption, alt=title)

    patch = pytest.MonkeyPatch()
    patch.setattr(build, "_render_figure", capture)
    try:
        context = build.build_context(load_run(run_dir), umap_target="contact")
    finally:
        patch.undo()
    return run_dir, context, captured


def _legend_texts(fig) -> list[str]:
    legends = list(fig.legends) + [ax.get_legend() for ax in fig.axes if ax.get_legend() is not None]
    return [t.get_text() for legend in legends for t in legend.get_texts()]


def test_frame_strip_shows_each_scenario_with_its_slot_roles(report_figures):
    run_dir, context, captured = report_figures
    scenarios, _, roles = _world_truth(run_dir)
    assert context["frames"].absent == ""
    (fig, _, _), = captured["frames"]
    rows = [ax.get_ylabel() for ax in fig.axes if ax.get_visible() and ax.get_ylabel()]
    assert rows == list(dict.fromkeys(scenarios))
    texts = _legend_texts(fig)
    for scenario in rows:
        for slot, role in enumerate(roles[scenario]):
            assert f"slot {slot}: {role}" in texts
    # one outline per object visible in the frame (the world file's segmentation, first original clip)
    framed = [ax for ax in fig.axes if ax.get_visible() and ax.images]
    assert len(framed) == len(rows) * 5
    scenarios_all, kinds, _ = _world_truth(run_dir)
    with h5py.File(run_dir.parent / "worlds.h5", "r") as f:
        segmentation = f["video/segmentation"]
        frames = np.linspace(0, segmentation.shape[1] - 1, 5).round().astype(int)
        expected = []
        for scenario in rows:
            clip = next(i for i, (s, k) in enumerate(zip(scenarios_all, kinds)) if s == scenario and k == "original")
            expected += [len([k for k in np.unique(segmentation[clip, t]) if k >= 0]) for t in frames]
    assert [len(ax.collections) for ax in framed] == expected


def test_layer_curves_use_relative_depth_and_name_slot_roles(report_figures):
    run_dir, context, captured = report_figures
    run = load_run(run_dir)
    _, _, roles = _world_truth(run_dir)
    depths = {label: _depth(run.store_path(label)) for label in run.stores}
    assert len(set(depths.values())) == 2  # 5 and 7 layers: the axis must be relative
    curves = captured["curves"]
    assert curves
    for fig, title, _ in curves:
        ax = fig.axes[0]
        assert ax.get_xlabel() == DEPTH_AXIS
        labels = _legend_texts(fig)
        for label in run.stores:
            line = next(l for l in ax.get_lines() if l.get_label() == f"{label} · linear")
            layers = sorted(run.results.loc[(run.results["store"] == label) & (run.results["layer"] >= 0), "layer"].unique())
            assert np.allclose(line.get_xdata(), np.array(layers) / (depths[label] - 1))
            assert f"{label} · linear" in labels
        assert any(text.startswith("chance (") for text in labels)
        if "[slot 0]" in ax.get_title():  # the role of slot 0 in each scenario, as the world file names it
            assert "slot 0: " in ax.get_title()
            assert all(f"{names[0]} ({scenario})" in ax.get_title() for scenario, names in roles.items())
        assert ax.get_xlim()[0] <= 0 and ax.get_xlim()[1] >= 1


def test_summary_heatmap_and_selectivity(report_figures):
    run_dir, _, captured = report_figures
    run = load_run(run_dir)
    (summary, _, _), = captured["summary"]
    ticks = [t.get_text() for ax in summary.axes for t in ax.get_yticklabels()]
    selection = run.selection
    for row in selection[selection["choice"] == "layer"].itertuples():
        if row.slot == 0 and row.target == "contact":
            assert any(t.startswith(f"{row.store} · contact [slot 0] · linear @ L") for t in ticks), ticks
    assert {"required control", "ceiling", "chance", *run.stores} <= set(_legend_texts(summary))
    (heatmap, _, _), = captured["heatmap"]
    assert [ax.get_title() for ax in heatmap.axes if ax.get_title()] == run.stores
    (selectivity, _, _), = captured["selectivity"]
    panels = [ax for ax in selectivity.axes if ax.get_visible() and ax.get_title()]
    assert panels and all(ax.get_xlabel() == "relative depth (layer / deepest layer)" for ax in panels)
    assert all(ax.get_ylabel() == "selectivity (unitless)" for ax in panels if ax.get_ylabel())


def test_umap_is_one_point_per_clip_with_categorical_colours_for_a_binary_label(report_figures):
    run_dir, _, captured = report_figures
    scenarios, _, _ = _world_truth(run_dir)
    (fig, title, caption), = captured["umap"]
    target_ax, scenario_ax = [ax for ax in fig.axes if ax.collections]
    n_points = [sum(len(c.get_offsets()) for c in ax.collections) for ax in (target_ax, scenario_ax)]
    assert n_points[0] == n_points[1] <= len(scenarios)
    assert n_points[0] >= len(scenarios) - 1  # one point per clip (a clip without slot 0 may drop out)
    # contact is binary: categories with a legend (and counts), no colour bar
    contact = target_ax.get_legend()
    assert contact is not None and contact.get_title().get_text().startswith("contact [slot 0]")
    names = [t.get_text().split(" (")[0] for t in contact.get_texts()]
    assert set(names) <= {"0", "1"} and len(fig.axes) == 2
    counts = {t.get_text().split(" (")[0]: int(t.get_text().split("(")[1].rstrip(")")) for t in scenario_ax.get_legend().get_texts()}
    truth = {s: scenarios.count(s) for s in set(scenarios)}
    assert set(counts) == set(truth) and all(counts[s] <= truth[s] for s in counts) and sum(counts.values()) == n_points[1]
    assert "one point per clip" in caption and "fitted once" in caption


def test_pk_plot_figures_on_the_same_run(report_figures):
    run_dir, _, _ = report_figures
    run = pk.load_run(run_dir)
    scenarios, _, roles = _world_truth(run_dir)
    fig = pk.plot.layer_curves(run, "position_camera", slot=0)
    assert fig.axes[0].get_xlabel() == DEPTH_AXIS and "falling (drop)" in fig.axes[0].get_title()
    assert {f"{s} · linear" for s in run.stores} <= set(_legend_texts(fig))
    heat = pk.plot.heatmap(run)
    assert [ax.get_title() for ax in heat.axes if ax.get_title()] == run.stores
    sel = pk.plot.selectivity(run)
    assert any(ax.get_xlabel().startswith("relative depth") for ax in sel.axes)
    summary = pk.plot.diagnosis_summary(run)
    assert set(run.stores) <= set(_legend_texts(summary))
    strip = pk.plot.frames(run, n_frames=3)
    assert [ax.get_ylabel() for ax in strip.axes if ax.get_ylabel()] == list(dict.fromkeys(scenarios))
    assert f"slot 1: {roles['collide'][1]}" in _legend_texts(strip)
    with pk.load_store(run.store_path(run.stores[0])) as store:
        umap_fig = pk.plot.umap(store, layer=store.layers[-1], color="contact", slot=0, kind="mean")
        n_clips = store.n_clips
    ax = next(a for a in umap_fig.axes if a.collections)
    assert sum(len(c.get_offsets()) for c in ax.collections) <= n_clips
    assert ax.get_legend() is None or ax.get_legend().get_title().get_text() == "contact"
