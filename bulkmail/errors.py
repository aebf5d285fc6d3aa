"""The one error the CLI shows as a single line (never a traceback)."""


class CliError(Exception):
    """A bad argument or input, or an AWS answer the user can act on. Its text is one line."""

    exit_code = 2
