"""The root of every error viewcount raises on purpose.

Each concern has its own small ``exceptions.py`` whose errors derive from :class:`ViewcountError`,
so the CLI can turn any of them into a one-line reason and a non-zero exit.
"""


class ViewcountError(Exception):
    """Base class for expected, user-facing failures."""


class SettingsError(ViewcountError):
    """A ``VIEWCOUNT_*`` variable is missing, malformed or out of range."""

    def __init__(self, variable: str, message: str) -> None:
        super().__init__(f"VIEWCOUNT_{variable}: {message}")
        self.variable = variable


class DependencyUnavailable(ViewcountError):
    """A system viewcount stands on did not answer or is missing; trying again later may work. A
    caller that serves requests answers 503 for it, whichever concern raised it."""
