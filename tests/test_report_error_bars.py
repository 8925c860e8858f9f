"""A score outside its own bootstrap interval still draws (bars end at the estimate)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from probekit.report.figures import error_bars  # noqa: E402


def test_interval_that_excludes_its_estimate_draws_one_sided_bars():
    bars = error_bars([0.5, 0.2], [0.6, 0.1], [0.9, 0.3])
    assert np.allclose(bars, [[0.0, 0.1], [0.4, 0.1]])
    fig, ax = plt.subplots()
    ax.errorbar([0.5, 0.2], [0, 1], xerr=bars)  # matplotlib refuses negative bars; these are not
    plt.close(fig)
