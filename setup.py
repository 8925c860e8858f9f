"""Package layout: probekit's packages plus two folders of shipped TOML files.

The probe suites (top-level ``probes/``) and extraction/training recipes (top-level ``extract/``)
stay where users find them in a checkout and ship in the wheel as the package data of
``probekit.suites`` and ``probekit.recipes`` (see :mod:`probekit.shipped`). Everything else is
declared in ``pyproject.toml``.
"""

from setuptools import find_namespace_packages, setup

SHIPPED_FOLDERS = {"probekit.suites": "probes", "probekit.recipes": "extract"}

setup(
    packages=find_namespace_packages(include=["probekit", "probekit.*"]) + list(SHIPPED_FOLDERS),
    package_dir=dict(SHIPPED_FOLDERS),
)
