"""Users' own encoders: ``py:package.module:factory`` and the ``probekit.encoders`` entry points.

A factory is any callable returning either

- an :class:`~probekit.encoders.base.Encoder`, or
- ``(module, layer_names)`` or ``(module, layer_names, options)``: an ``nn.Module``, the names of
  the submodules whose outputs are the layers, and keyword options of
  :class:`~probekit.encoders.module.ModuleEncoder` (``kind``, ``input_size``, ``patch``, ...).

It is called with the keywords it accepts among ``name``, ``init``, ``seed`` and the recipe's
``[encoder_options]``. With ``--init random``, a returned module becomes its random twin
(:func:`~probekit.encoders.module.random_twin`); a factory that returns an ``Encoder`` and does not
take ``init`` itself must return a :class:`~probekit.encoders.module.ModuleEncoder` for that.

Example (``mypkg/models.py``)::

    def small_vit():
        model = MyViT.from_checkpoint("ckpt.pt")
        return model, ["blocks.0", "blocks.5", "norm"], {"input_size": 224, "patch": 16, "tubelet": 2}

``probekit extract --encoder py:mypkg.models:small_vit --data videos/ --out latents.h5``, or
in the package's ``pyproject.toml``::

    [project.entry-points."probekit.encoders"]
    my-vit = "mypkg.models:small_vit"

and ``--encoder my-vit``.
"""

from __future__ import annotations

import importlib
import inspect
from importlib.metadata import EntryPoint
from typing import Any, Callable

import torch

from probekit.encoders.base import Encoder
from probekit.errors import BadOptionError


def load_reference(reference: str, shown: str) -> Callable[..., Any]:
    """Import ``package.module:attribute`` (dots allowed in the attribute); ``shown`` names it in errors."""
    module_name, sep, attribute = reference.partition(":")
    if not sep or not module_name or not attribute:
        raise BadOptionError(f"--encoder {shown}: give py:<package.module>:<factory>, e.g. py:mypkg.models:small_vit")
    try:
        obj: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise BadOptionError(f"--encoder {shown}: cannot import {module_name!r} ({exc}); install it or add its folder to PYTHONPATH") from None
    for part in attribute.split("."):
        if not hasattr(obj, part):
            raise BadOptionError(f"--encoder {shown}: module {module_name!r} has no {attribute!r}; check the name after the colon")
        obj = getattr(obj, part)
    if not callable(obj):
        raise BadOptionError(f"--encoder {shown}: {reference} is not callable; point at a function returning an nn.Module or an Encoder")
    return obj


def _accepted(factory: Callable[..., Any], offered: dict[str, Any]) -> dict[str, Any]:
    try:
        parameters = inspect.signature(factory).parameters.values()
    except (TypeError, ValueError):
        return {}
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        return offered
    names = {p.name for p in parameters if p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)}
    return {k: v for k, v in offered.items() if k in names}


def call_factory(factory: Callable[..., Any], name: str, *, init: str = "pretrained", seed: int = 0, **options: Any) -> Encoder:
    """Call a user's factory and turn what it returns into an :class:`Encoder` named ``name``.

    Parameters
    ----------
    factory
        The user's callable (see the module docstring for what it may return).
    name
        Name recorded in the store (``py:...`` or the entry point's name).
    init, seed
        ``"pretrained"`` or ``"random"`` and the twin's seed.
    **options
        The recipe's ``[encoder_options]``; passed on where the factory accepts them.

    Raises
    ------
    BadOptionError
        The factory returned something else, or cannot give random weights.
    """
    options = {k: v for k, v in options.items() if k != "trust_remote_code" or v}
    offered = {"name": name, "init": init, "seed": seed, **options}
    kwargs = _accepted(factory, offered)
    unused = sorted(set(options) - set(kwargs))
    if unused:
        raise BadOptionError(f"--encoder {name}: the factory takes no option(s) {', '.join(unused)}; remove them from [encoder_options]")
    result = factory(**kwargs)
    if isinstance(result, Encoder):
        if init == "random" and "init" not in kwargs and getattr(result, "init", "pretrained") != "random":
            twin = getattr(result, "twin", None)
            if not callable(twin):
                raise BadOptionError(f"--encoder {name} --init random: the factory returned a {type(result).__name__}, which has no "
                                     f"random twin; return (module, layer names) instead, or accept an init argument")
            result = twin(seed)
        return result
    if isinstance(result, tuple) and len(result) in (2, 3) and isinstance(result[0], torch.nn.Module):
        from probekit.encoders.module import ModuleEncoder

        module, layers = result[0], list(result[1])
        extra = dict(result[2]) if len(result) == 3 else {}
        extra.setdefault("name", name)
        return ModuleEncoder(module, layers, init=init, seed=seed, **extra)
    raise BadOptionError(f"--encoder {name}: the factory returned {type(result).__name__}; return an Encoder or "
                         f"(nn.Module, layer names[, ModuleEncoder options])")


def create_py_encoder(reference: str, init: str = "pretrained", *, seed: int = 0, **options: Any) -> Encoder:
    """Factory behind the ``py:`` prefix: ``reference`` is ``package.module:factory``."""
    name = f"py:{reference}"
    encoder = call_factory(load_reference(reference, name), name, init=init, seed=seed, **options)
    if not encoder.label:
        encoder.label = reference.rpartition(":")[2]
    return encoder


def entry_point_factory(point: EntryPoint) -> Callable[..., Encoder]:
    """A registry factory that loads ``point`` on first use and calls it through :func:`call_factory`."""

    def factory(name: str, init: str = "pretrained", *, seed: int = 0, **options: Any) -> Encoder:
        try:
            loaded = point.load()
        except Exception as exc:  # a broken installed package: name it, do not hide the cause
            raise BadOptionError(f"--encoder {name}: the installed entry point {point.value!r} failed to load "
                                 f"({exc.__class__.__name__}: {exc}); reinstall the package that declares it") from None
        return call_factory(loaded, name, init=init, seed=seed, **options)

    return factory
