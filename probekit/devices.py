"""Torch devices by name: ``--device auto|cpu|cuda|mps`` of extraction and of the torch probes."""

from __future__ import annotations

import os

import torch

from probekit.errors import BadOptionError

#: Values of ``--device``.
DEVICES = ("auto", "cpu", "cuda", "mps")


def pick_device(name: str) -> torch.device:
    """``auto`` -> cuda, then mps, then cpu; others are checked for availability.

    ``cuda:N`` names one GPU of several (checked against ``torch.cuda.device_count()``).
    """
    kind, _, index = str(name).partition(":")
    if kind == "cuda" and index:
        if not index.isdigit():
            raise BadOptionError(f"--device {name!r}: give cuda or cuda:N with N a GPU index such as 0")
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if int(index) >= count:
            if not count:
                raise BadOptionError(f"--device {name}: no CUDA device is available; use --device cpu or auto")
            raise BadOptionError(f"--device {name}: {count} CUDA device(s) are available; use cuda:0 .. cuda:{count - 1}")
        return torch.device("cuda", int(index))
    if name not in DEVICES:
        raise BadOptionError(f"--device {name!r}: use one of {', '.join(DEVICES)} (or cuda:N)")
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise BadOptionError("--device cuda: no CUDA device is available; use --device cpu or auto")
    if name == "mps" and not (getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()):
        raise BadOptionError("--device mps: MPS is not available; use --device cpu or auto")
    if name == "cuda":
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
    return torch.device(name)
