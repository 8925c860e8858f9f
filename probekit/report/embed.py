"""Turn matplotlib figures into self-contained ``data:`` URIs for the HTML report."""

from __future__ import annotations

import base64
import io

from matplotlib.figure import Figure


def figure_data_uri(fig: Figure, fmt: str = "svg", dpi: int = 110) -> str:
    """Render ``fig`` as a base64 ``data:`` URI (``svg`` for line art, ``png`` for scatter).

    SVG text is drawn as paths, so the file needs no fonts; no date is written, so the same
    figure gives the same bytes.
    """
    buffer = io.BytesIO()
    if fmt == "svg":
        import matplotlib

        with matplotlib.rc_context({"svg.fonttype": "path", "svg.hashsalt": "probekit"}):
            fig.savefig(buffer, format="svg", metadata={"Date": None})
        mime = "image/svg+xml"
    elif fmt == "png":
        fig.savefig(buffer, format="png", dpi=dpi, metadata={"Software": None})
        mime = "image/png"
    else:
        raise ValueError(f"figure format {fmt!r}: use 'svg' or 'png'")
    return f"data:{mime};base64,{base64.b64encode(buffer.getvalue()).decode('ascii')}"
