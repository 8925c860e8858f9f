"""The encoder registry and its one factory, :func:`create_encoder`.

Names are either registered names (``pixels``, ``tiny-vjepa2``, anything added with
:func:`register_encoder` or declared by an installed package in the ``probekit.encoders``
entry-point group) or carry a source prefix (``hf:<hub id or local dir>``, ``timm:<model name>``,
``py:<package.module>:<factory>``).

The registry never imports :mod:`probekit.testing`: its ``planted`` encoder is a reference
(``module:attribute``) resolved only when asked for, like an entry point.
"""

from __future__ import annotations

from importlib.metadata import entry_points
from typing import Any, Callable

from probekit.encoders.base import Encoder
from probekit.errors import BadOptionError

EncoderFactory = Callable[..., Encoder]

_REGISTRY: dict[str, EncoderFactory] = {}
_PREFIXES: dict[str, EncoderFactory] = {}

INITS = ("pretrained", "random")


def register_encoder(name: str, factory: EncoderFactory, *, prefix: bool = False, overwrite: bool = False) -> None:
    """Make an encoder available to :func:`create_encoder`.

    Parameters
    ----------
    name
        Registered name (e.g. ``"planted"``), or a source prefix such as ``"hf"`` when ``prefix``.
    factory
        Called as ``factory(name, init=..., **kwargs)`` (for prefixes ``name`` is the part after
        the colon); returns an :class:`~probekit.encoders.base.Encoder`.
    prefix
        Register a source prefix rather than a single name.
    overwrite
        Replace an existing registration instead of raising.
    """
    table = _PREFIXES if prefix else _REGISTRY
    if name in table and not overwrite and table[name] is not factory:
        raise BadOptionError(f"encoder {'prefix' if prefix else 'name'} {name!r} is already registered")
    table[name] = factory


#: Entry-point group through which installed packages register encoders (name = encoder name,
#: value = ``package.module:factory``, a factory as :func:`probekit.encoders.user.call_factory` takes).
ENTRY_POINT_GROUP = "probekit.encoders"



def list_encoders() -> dict[str, list[str]]:
    """Registered names (entry points and references included) and source prefixes."""
    _load_builtins()
    return {"names": sorted(_REGISTRY), "prefixes": sorted(f"{p}:" for p in _PREFIXES)}


def create_encoder(name: str, init: str = "pretrained", **kwargs: Any) -> Encoder:
    """Build an encoder by name.

    Parameters
    ----------
    name
        ``hf:<hub id or local dir>``, ``timm:<name>``, ``py:<package.module>:<factory>``, or a
        registered name such as ``pixels`` or ``tiny-vjepa2`` (see :func:`list_encoders`).
    init
        ``"pretrained"`` (the weights named) or ``"random"`` (same architecture, seeded random
        weights; ``seed`` keyword, default 0).
    **kwargs
        Passed to the adapter (e.g. ``trust_remote_code=True``, ``seed=0``).

    Raises
    ------
    BadOptionError
        Unknown name or prefix, or an ``init`` other than pretrained/random.

    Examples
    --------
    >>> enc = create_encoder("tiny-vjepa2", init="random")      # doctest: +SKIP
    """
    _load_builtins()
    if init not in INITS:
        raise BadOptionError(f"--init {init!r}: use one of {', '.join(INITS)}")
    if name in _REGISTRY:
        return _REGISTRY[name](name, init=init, **kwargs)
    prefix, sep, rest = name.partition(":")
    if sep and prefix in _PREFIXES:
        if not rest:
            raise BadOptionError(f"--encoder {name!r}: give a model after '{prefix}:', e.g. {prefix}:<id>")
        return _PREFIXES[prefix](rest, init=init, **kwargs)
    known = list_encoders()
    raise BadOptionError(
        f"--encoder {name!r}: unknown encoder; use a source prefix ({', '.join(known['prefixes'])}) "
        f"or a registered name ({', '.join(known['names'])})"
    )


_LOADED = False


def _load_builtins() -> None:
    global _LOADED
    if _LOADED:
        return
    _LOADED = True
    from probekit.encoders import hf, pixels, timm_adapter, tiny, user

    register_encoder("hf", hf.create_hf_encoder, prefix=True, overwrite=True)
    register_encoder("timm", timm_adapter.create_timm_encoder, prefix=True, overwrite=True)
    register_encoder("py", user.create_py_encoder, prefix=True, overwrite=True)
    register_encoder("pixels", pixels.create_pixels_encoder, overwrite=True)
    register_encoder("tiny-vjepa2", tiny.create_tiny_vjepa2, overwrite=True)
    for point in entry_points(group=ENTRY_POINT_GROUP):
        if point.name not in _REGISTRY:
            _REGISTRY[point.name] = user.entry_point_factory(point)
