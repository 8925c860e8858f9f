"""The ``probekit`` command line: one small module per command.

Each command only parses its options and delegates to the library. User errors
(:class:`probekit.errors.ProbekitError`) become one line on stderr and exit code 2.
"""

from __future__ import annotations

import sys

import typer

from probekit.errors import ProbekitError

app = typer.Typer(
    name="probekit",
    help="Probe and interpret frozen video encoders against physics worlds with exact ground truth.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", help="Print probekit's version and exit.", is_eager=True),
) -> None:
    """Probe and interpret frozen video encoders against physics worlds with exact ground truth."""
    if version:
        from probekit import __version__

        typer.echo(__version__)
        raise typer.Exit()


def _register_commands() -> None:
    # Each module defines one function named like its command. Imports of heavy libraries
    # happen inside the command functions so that ``probekit --help`` stays fast.
    for optional in ("generate", "info", "extract", "merge", "probe", "attribute", "train", "evaluate", "report", "demo"):
        try:
            module = __import__(f"probekit.cli.{optional}", fromlist=[optional])
        except ModuleNotFoundError as exc:
            if exc.name != f"probekit.cli.{optional}":
                raise
            continue
        app.command(name=optional)(getattr(module, optional))


_register_commands()


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``probekit`` console script."""
    try:
        app(args=argv, prog_name="probekit", standalone_mode=True)
    except ProbekitError as exc:
        message = " ".join(str(exc).split())
        print(f"error: {message}", file=sys.stderr)
        sys.exit(2)
