"""The report in a real browser: headless chromium opens the file from disk and the DevTools
protocol reports console errors, broken images and every request the page makes.

Chromium is required (``PROBEKIT_SETUP_BROWSER=1 bash scripts/setup.sh`` installs Debian's):
without it this test fails, it does not skip. The screenshot is kept as
``reports/report-screenshot.png``.
"""

from __future__ import annotations

import json

import h5py
from pathlib import Path

import pytest
from cdp import chromium_binary, inspect_page
from world_run import world_run

from probekit.report.build import write_report
from probekit.rundir import load_run

REPO_ROOT = Path(__file__).resolve().parents[1]

PAGE_SCRIPT = """
JSON.stringify({
  images: Array.from(document.images).map(i => ({complete: i.complete, width: i.naturalWidth, height: i.naturalHeight})),
  figures: document.querySelectorAll('figure.report-figure').length,
  kinds: Array.from(document.querySelectorAll('figure.report-figure')).map(f => f.dataset.kind),
  diagnoses: document.querySelectorAll('li.diagnosis').length,
  title: document.title,
  strip: (() => {
    const img = document.querySelector('section#frames figure[data-kind="frames"] img');
    const diagnosis = document.querySelector('section#diagnosis');
    if (!img || !diagnosis) return null;
    return {loaded: img.complete && img.naturalWidth > 0, above: img.getBoundingClientRect().top < diagnosis.getBoundingClientRect().top,
            roles: Array.from(document.querySelectorAll('ul.slot-roles li')).map(li => li.textContent)};
  })(),
  headline: Array.from(document.querySelectorAll('section#diagnosis .headline')).map(h => h.innerText),
  curves: Array.from(document.querySelectorAll('section#curves figure[data-kind="curves"] img')).filter(i => i.naturalWidth > 0).length,
})
"""


def _expected_figures(run_dir: Path) -> dict[str, int]:
    """What the run's sections call for, computed from the run directory itself."""
    run = load_run(run_dir)
    results = run.results
    scored = results[results["control"].isin(["none", "pixels", "random_init", "shuffled"]) & results["score"].notna()]
    has_store = any(run.store_path(s) is not None for s in run.stores)
    return {
        "summary": 1,
        "curves": len(scored[["target", "slot"]].drop_duplicates()),
        "heatmap": 1,
        "selectivity": int((results["metric"] == "selectivity").any()),
        "umap": int(has_store),
    }


def test_report_opens_in_headless_chromium_without_errors_or_requests(tmp_path, tmp_path_factory):
    if chromium_binary() is None:
        pytest.fail("chromium is not installed: run `PROBEKIT_SETUP_BROWSER=1 bash scripts/setup.sh` (Debian's chromium)")
    run_dir = world_run(tmp_path_factory)  # a real run: generated world, planted store and tiny-vjepa2
    out = write_report(run_dir, tmp_path / "report.html")
    page = inspect_page(out, PAGE_SCRIPT, width=1280, height=2600)
    assert page.console_errors == []
    own_url = out.resolve().as_uri()
    foreign = [url[:80] for url in page.requests if url != own_url and not url.startswith("data:")]
    assert foreign == [], f"the report made requests: {foreign}"
    assert own_url in page.requests
    state = json.loads(page.evaluation)
    broken = [i for i, img in enumerate(state["images"]) if not img["complete"] or img["width"] == 0]
    assert broken == [], f"broken images: {broken}"
    expected = _expected_figures(run_dir)
    assert state["figures"] >= sum(expected.values())
    for kind, count in expected.items():
        assert state["kinds"].count(kind) >= count, (kind, state["kinds"])
    assert state["diagnoses"] >= 4
    # the frame strip at the top, with the slot roles the world file stores
    with h5py.File(run_dir.parent / "worlds.h5", "r") as f:
        raw = f.attrs["slot_roles"]
        roles = json.loads(raw.decode() if isinstance(raw, bytes) else raw)
    assert state["strip"] is not None and state["strip"]["loaded"] and state["strip"]["above"]
    assert any(f"{roles['drop'][0]} (drop)" in text for text in state["strip"]["roles"])
    # the headline names every encoder of the run, and one curve per scored target
    run = load_run(run_dir)
    assert state["headline"] and all(any(store in text for text in state["headline"]) for store in
                                     [s for s in run.stores if run.input(s).get("control") == "none"])
    assert state["curves"] == expected["curves"]
    assert page.screenshot[:8] == b"\x89PNG\r\n\x1a\n" and len(page.screenshot) > 20_000
    kept = REPO_ROOT / "reports" / "report-screenshot.png"
    kept.parent.mkdir(exist_ok=True)
    kept.write_bytes(page.screenshot)


def test_browser_check_catches_a_broken_image_and_a_remote_request(tmp_path):
    """The checks above can fail: a page with a broken image and a remote fetch is caught."""
    if chromium_binary() is None:
        pytest.fail("chromium is not installed: run `PROBEKIT_SETUP_BROWSER=1 bash scripts/setup.sh` (Debian's chromium)")
    bad = tmp_path / "bad.html"
    bad.write_text('<html><body><img src="data:image/png;base64,AAAA"><img src="http://127.0.0.1:9/x.png">'
                   '<script>console.error("boom")</script></body></html>')
    page = inspect_page(bad, PAGE_SCRIPT)
    state = json.loads(page.evaluation)
    assert any(img["width"] == 0 for img in state["images"])
    assert any(url.startswith("http://127.0.0.1:9/") for url in page.requests)
    assert any("boom" in message for message in page.console_errors)
