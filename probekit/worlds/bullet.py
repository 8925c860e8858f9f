"""Import pybullet without its build-time banner on stdout/stderr (it would pollute CLI output)."""

from __future__ import annotations

import os
import sys


def _import_quietly():
    sys.stdout.flush()
    sys.stderr.flush()
    saved = {fd: os.dup(fd) for fd in (1, 2)}
    try:
        with open(os.devnull, "w") as devnull:
            for fd in saved:
                os.dup2(devnull.fileno(), fd)
            import pybullet

            import pybullet_data
    finally:
        for fd, copy in saved.items():
            os.dup2(copy, fd)
            os.close(copy)
    return pybullet, pybullet_data


pb, pybullet_data = _import_quietly()
