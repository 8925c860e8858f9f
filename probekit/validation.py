"""Declared configuration: pydantic models for options and TOML files, errors as one line.

Every TOML file probekit reads (suites, extraction recipes, training recipes) and every
command's options are validated here before any work starts: types, ranges, finite numbers, and
unknown keys refused with a did-you-mean. A failure is one :class:`BadOptionError` line naming
the key (or option) and the file.
"""

from __future__ import annotations

import difflib
import math
import os
import sys
from pathlib import Path
from typing import Annotated, Any, Callable, Iterable, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, Strict, ValidationError

from probekit.errors import BadOptionError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

#: Largest seed accepted anywhere: numpy's legacy RandomState and most libraries take 32-bit seeds.
SEED_MAX = 2**32 - 1

#: A whole number (booleans, floats and strings refused).
Int = Annotated[int, Strict()]
#: A seed: a whole number in [0, 2**32 - 1].
Seed = Annotated[int, Strict(), Field(ge=0, le=SEED_MAX)]
#: A whole number >= 1.
PositiveInt = Annotated[int, Strict(), Field(ge=1)]
#: A whole number >= 0.
NonNegativeInt = Annotated[int, Strict(), Field(ge=0)]
#: true or false only.
Bool = Annotated[bool, Strict()]
#: A string only.
Str = Annotated[str, Strict()]


def _finite(value: float) -> float:
    if not math.isfinite(value):
        raise ValueError("must be a finite number (not nan or inf)")
    return value


#: A finite number (whole numbers accepted; nan, inf, booleans and strings refused).
FiniteFloat = Annotated[float, Strict(), AfterValidator(_finite)]

ModelT = TypeVar("ModelT", bound=BaseModel)


class StrictModel(BaseModel):
    """A model that refuses unknown keys; its fields use the strict types above (no coercion)."""

    model_config = ConfigDict(extra="forbid")


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """``"; did you mean 'x'?"`` for the closest of ``choices``, or ``""``."""
    close = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def _describe(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def error_line(exc: ValidationError, model: type[BaseModel], name_of: Callable[[tuple[Any, ...]], str],
               where: str) -> BadOptionError:
    """The first error of ``exc`` as one line: ``<where>: <name> <value>: <problem>``."""
    error = exc.errors(include_url=False)[0]
    loc = tuple(error.get("loc", ()))
    name = name_of(loc)
    if error.get("type") == "extra_forbidden":
        known = _known_keys(model, loc[:-1])
        return BadOptionError(f"{where}: unknown key {name}{did_you_mean(loc[-1], known)}"
                              f"{'' if did_you_mean(loc[-1], known) else '; valid keys: ' + ', '.join(sorted(known))}")
    if error.get("type") == "missing":
        return BadOptionError(f"{where}: {name} is required")
    message = str(error.get("msg", "invalid value"))
    message = message.removeprefix("Value error, ").removeprefix("Assertion failed, ")
    value = error.get("input")
    return BadOptionError(f"{where}: {name} = {_describe(value)}: {message[:1].lower()}{message[1:]}")


def _known_keys(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """Field names (and aliases) of the (nested) model at ``loc``."""
    current: Any = model
    for part in loc:
        fields = getattr(current, "model_fields", None)
        if not fields or part not in fields:
            return []
        annotation = fields[part].annotation
        current = annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None
        if current is None:
            return []
    fields = getattr(current, "model_fields", {})
    return [info.alias or key for key, info in fields.items()]


def validate(model: type[ModelT], data: Any, where: str, *, name_of: Callable[[tuple[Any, ...]], str] | None = None) -> ModelT:
    """``model.model_validate(data)``, or a one-line :class:`BadOptionError` naming the key and ``where``.

    Parameters
    ----------
    model
        The pydantic model.
    data
        The mapping to validate.
    where
        What the values came from (e.g. ``"recipe extract/x.toml"``).
    name_of
        How to print an error location (default: dotted keys).
    """
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise error_line(exc, model, name_of or (lambda loc: ".".join(str(p) for p in loc) or "value"), where) from None


def option_name(loc: tuple[Any, ...]) -> str:
    """The command-line spelling of a field: ``n_boot`` -> ``--n-boot``."""
    return "--" + str(loc[0]).replace("_", "-") if loc else "option"


def validate_options(model: type[ModelT], where: str, **values: Any) -> ModelT:
    """Validate a command's options (``None`` values left out, so defaults apply).

    Raises
    ------
    BadOptionError
        ``<where>: --option value: problem``.
    """
    supplied = {key: value for key, value in values.items() if value is not None}
    try:
        return model.model_validate(supplied)
    except ValidationError as exc:
        error = exc.errors(include_url=False)[0]
        loc = tuple(error.get("loc", ()))
        message = str(error.get("msg", "invalid value")).removeprefix("Value error, ")
        raise BadOptionError(
            f"{where}: {option_name(loc)} {error.get('input')!s}: {message[:1].lower()}{message[1:]}"
        ) from None


def read_toml(path: str | os.PathLike, what: str) -> dict[str, Any]:
    """Read a TOML file; missing, unreadable, non-UTF-8 or invalid files give one line.

    Parameters
    ----------
    path
        The file.
    what
        How the message names it (``"recipe"``, ``"--suite"``).
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise BadOptionError(f"{what} {path}: no such file; check the path") from None
    except IsADirectoryError:
        raise BadOptionError(f"{what} {path}: is a folder; give a .toml file") from None
    except OSError as exc:
        raise BadOptionError(f"{what} {path}: cannot read it ({os.strerror(exc.errno or 0) or exc.__class__.__name__})") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadOptionError(f"{what} {path}: not UTF-8 text (byte {exc.start}); save it as UTF-8 TOML") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise BadOptionError(f"{what} {path}: not valid TOML ({' '.join(str(exc).split())})") from None
    except RecursionError:
        raise BadOptionError(f"{what} {path}: not valid TOML (nested too deeply)") from None
