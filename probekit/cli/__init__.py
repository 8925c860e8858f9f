"""The ``probekit`` command line: one small module per command.

Each command only parses its options and delegates to the library. User errors
(:class:`probekit.errors.ProbekitError`) become one line on stderr and exit code 2.
"""

from __future__ import annotations

import sys
import warnings

import typer

from probekit.errors import ProbekitError

app = typer.Typer(
    name="probekit",
    help="Probe and interpret frozen video encoders against physics worlds with exact ground truth.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _print_version(value: bool) -> None:
    if value:
        from probekit import __version__

        typer.echo(__version__)
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", help="Print probekit's version and exit.", is_eager=True, callback=_print_version
    ),
) -> None:
    """Probe and interpret frozen video encoders against physics worlds with exact ground truth."""


#: The commands, in the order ``probekit --help`` lists them; each is the function of the same
#: name in ``probekit.cli.<name>``.
COMMANDS = ("generate", "info", "extract", "merge", "probe", "attribute", "train", "evaluate", "report", "demo")


def _register_commands() -> None:
    # Imports of heavy libraries happen inside the command functions so that ``probekit --help``
    # stays fast.
    import importlib

    for name in COMMANDS:
        app.command(name=name)(getattr(importlib.import_module(f"probekit.cli.{name}"), name))


_register_commands()


def command(*, defaults_for: str | None = None):
    """The click command typer builds from :data:`app`, its help polished
    (:func:`probekit.cli.help.polish`: defaults shown, plain flags, examples; the recipe- or
    suite-given defaults of ``defaults_for``)."""
    from probekit.cli.help import polish

    group = typer.main.get_command(app)
    polish(group, defaults_for=defaults_for)
    return group


def _click_exceptions():
    """click's exception classes as typer raises them (typer >= 0.24 bundles its own click)."""
    try:
        from typer._click import exceptions
    except ImportError:  # typer that uses the installed click
        from click import exceptions
    return exceptions


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _usage_message(exc: "Exception") -> str:
    """click's usage error as one line naming the command and where its help is."""
    command = exc.ctx.command_path if exc.ctx is not None else "probekit"
    return f"{command}: {_one_line(exc.format_message()).rstrip('.')}; see '{command} --help'"


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """A warning as one ``warning: ...`` line on stderr (no source line): the user's terminal, not a traceback."""
    text = " ".join(str(message).split())
    kind = "" if category is UserWarning else f" ({category.__name__})"
    print(f"warning: {text}{kind}", file=file if file is not None else sys.stderr)


def _fail(line: str, code: int) -> None:
    """End the command with its one error line: progress still running is silenced first."""
    from probekit.progress import silence

    silence()
    print(line, file=sys.stderr)
    sys.exit(code)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``probekit`` console script.

    Every user mistake, click's and typer's own usage errors included (missing argument,
    unknown option, a value of the wrong type), ends as one ``error: ...`` line and exit code 2.
    """
    click_exceptions = _click_exceptions()
    warnings.showwarning = _show_warning
    args = sys.argv[1:] if argv is None else list(argv)
    try:
        asked = next((a for a in args if not a.startswith("-")), None) if "--help" in args else None
        code = command(defaults_for=asked).main(
            args=args, prog_name="probekit", standalone_mode=False)
    except click_exceptions.NoArgsIsHelpError as exc:
        print(exc.ctx.get_help() if exc.ctx is not None else "", file=sys.stderr)
        sys.exit(2)
    except click_exceptions.UsageError as exc:
        _fail(f"error: {_usage_message(exc)}", 2)
    except click_exceptions.ClickException as exc:
        _fail(f"error: {_one_line(exc.format_message())}", 2)
    except ProbekitError as exc:
        _fail(f"error: {_one_line(exc)}", 2)
    except (KeyboardInterrupt, typer.Abort):
        _fail("error: interrupted", 130)
    sys.exit(code if isinstance(code, int) else 0)
