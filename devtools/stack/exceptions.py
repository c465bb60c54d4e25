"""Errors of the local stack."""

from viewcount.errors import ViewcountError


class StackError(ViewcountError):
    """Base class for local-stack failures."""


class MissingTool(StackError):
    """A program or the JVM jars the stack needs are not installed; the message names the fix."""


class ServiceFailed(StackError):
    """A service did not become healthy in time; the message carries its log tail."""
