"""probekit: probe and interpret frozen video encoders against physics worlds.

The data flow is one direction, three files on disk::

    probekit generate  ->  world file (.h5)
    probekit extract   ->  latent store (.h5)
    probekit probe     ->  run directory
    probekit report    ->  one .html file

In a notebook::

    import probekit as pk
    store = pk.extract("my_videos/", "latents.h5", encoder="tiny-vjepa2")   # the commands as functions
    run = pk.probe([store], "runs/mine")                                   # (pk.generate, pk.report too)
    run = pk.load_run("runs/demo")        # run.results (DataFrame), run.manifest (dict)
    pk.verdicts(run)                      # the report's verdicts: gain over nuisance, minus each baseline store
    pk.targets()                          # every target: the store label it is built from, unit, definition
    store = pk.load_store("latents.h5")   # lazy: store.features(layer, "time"), store.labels(name)
    pk.plot.layer_curves(run, "position_camera", slot=0)

Attributes are loaded lazily, so ``import probekit`` (and the command line) stays fast.
"""

from importlib import import_module
from importlib.metadata import PackageNotFoundError, version
from typing import Any

try:
    __version__ = version("probekit")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+unknown"

#: Public names loaded on first use: name -> (module, attribute or None for the module itself).
_LAZY = {
    "load_run": ("probekit.rundir", "load_run"),
    "Run": ("probekit.rundir", "Run"),
    "load_store": ("probekit.store", "Store"),
    "Store": ("probekit.store", "Store"),
    "plot": ("probekit.plot", None),
    "write_report": ("probekit.report.build", "write_report"),
    "diagnose": ("probekit.report.diagnosis", "diagnose"),
    "verdicts": ("probekit.report.verdicts", "verdict_table"),
    "targets": ("probekit.evaluation.targets", "targets_table"),
    "generate": ("probekit.api", "generate"),
    "extract": ("probekit.api", "extract"),
    "probe": ("probekit.api", "probe"),
    "report": ("probekit.report", None),  # the package, callable as pk.report(run, out) (probekit.api.report)
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module_name, attribute = _LAZY[name]
        module = import_module(module_name)
        value = module if attribute is None else getattr(module, attribute)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'probekit' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(list(globals()) + list(_LAZY))
