"""The commands' help as people read it: defaults shown, plain flags without a value
placeholder, and examples under each command.

Options whose default comes from a recipe (``extract``) or a suite (``probe``) have ``None`` as
their command-line default; their help states the recipe's or the shipped ``physics`` suite's
value, read from where those defaults live (:class:`probekit.extraction.recipe.ExtractOptions`,
``probes/physics.toml``). Examples are each command module's ``EXAMPLES`` tuple.
"""

from __future__ import annotations

import importlib
from typing import Any, Callable

#: The text a help line ends with to state a default.
DEFAULT_TEXT = "[default: {}]"


def _escape(text: str) -> str:
    """Help text for typer's rich formatting (square brackets are markup there)."""
    try:
        from rich.markup import escape
    except ImportError:  # plain click formatting: brackets print as they are
        return text
    return escape(text)


def _value(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def extract_defaults() -> dict[str, str]:
    """Default text of ``probekit extract``'s recipe options: the recipe's value, else the built-in one."""
    from probekit.extraction.recipe import ExtractOptions

    found = {}
    for name, field in ExtractOptions.model_fields.items():
        default = field.get_default(call_default_factory=True)
        if default is None or isinstance(default, bool) or name in ("data", "out"):
            continue
        found[name] = f"the recipe's, else {_value(default)}"
    found["threads"] = "the recipe's, else torch's own"
    found["encoder"] = "the recipe's, else tiny-vjepa2"
    found["progress"] = "the recipe's, else --progress"
    return found


def probe_defaults() -> dict[str, str]:
    """Default text of ``probekit probe``'s suite options: the shipped physics suite's values."""
    from probekit.shipped import find_suite_file
    from probekit.validation import read_toml

    table = read_toml(find_suite_file("physics"), "suite physics")
    suite = table.get("suite", {})
    layers = suite.get("layers", {})
    found = {"suite": "physics"}
    for name in ("readouts", "folds", "seed", "n_boot", "stages"):
        if name in suite:
            found[name] = f"the suite's; physics: {_value(suite[name])}"
    if "targets" in suite:
        found["targets"] = f"the suite's; physics: {len(suite['targets'])} targets"
    for readout in ("attentive", "mlp"):
        if readout in layers:
            found[f"{readout}_layers"] = f"the suite's; physics: {_value(layers[readout])}"
    return found


#: Command name -> where the text of its recipe- or suite-given defaults comes from.
DEFAULT_SOURCES: dict[str, Callable[[], dict[str, str]]] = {"extract": extract_defaults, "probe": probe_defaults}


def _plain_help_flag(command) -> None:
    """``--help`` is made per context by click: strip its value placeholder when it is made."""
    make = command.get_help_option

    def get_help_option(ctx):
        option = make(ctx)
        if option is not None and option.metavar is None:
            option.metavar = ""
        return option

    command.get_help_option = get_help_option


def polish(group, *, defaults_for: str | None = None) -> None:
    """Make the commands' help readable: no ``<bool>`` after plain flags, square brackets in
    help texts kept, examples as epilogs and (``with_defaults``) recipe and suite defaults stated.

    Parameters
    ----------
    group
        The click group typer built from :data:`probekit.cli.app`.
    defaults_for
        The command whose recipe- or suite-given defaults are read into its help (that imports
        their modules, so it is done only for the command whose help is asked for).
    """
    for command in (group, *group.commands.values()):
        _plain_help_flag(command)
    for name, command in group.commands.items():
        module = importlib.import_module(f"probekit.cli.{name}")
        examples = getattr(module, "EXAMPLES", ())
        if examples and not command.epilog:
            command.epilog = "Examples:\n\n" + "\n\n".join(f"  {_escape(line)}" for line in examples)
        defaults = DEFAULT_SOURCES[name]() if name == defaults_for and name in DEFAULT_SOURCES else {}
        for param in command.params:
            if getattr(param, "is_flag", False) and param.metavar is None:
                param.metavar = ""  # a flag takes no value: no <bool> after it
            help_text = getattr(param, "help", None)
            if help_text and "[" in help_text:
                param.help = _escape(help_text)
            if param.name in defaults and param.default is None and not isinstance(param.show_default, str):
                param.help = f"{param.help or ''}  " + _escape(DEFAULT_TEXT.format(defaults[param.name]))
