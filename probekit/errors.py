"""Errors that the command line turns into one-line messages and exit code 2."""


class ProbekitError(Exception):
    """Base class for errors caused by user input.

    The message must be one line that names what was wrong and how to fix it.
    The command line prints ``error: <message>`` and exits with code 2.
    """


class BadOptionError(ProbekitError, ValueError):
    """An option or argument has a value that is not allowed."""


class FileFormatError(ProbekitError):
    """A file is missing, foreign, of an unknown schema version, or incomplete."""
