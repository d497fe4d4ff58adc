"""One root error; each subclass carries a user-facing message and an exit code.

Exit codes (docs/design.md): 0 ok, 1 error, 2 usage, 3 some cases failed,
4 regression gate tripped, 130 interrupted.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_CASES_FAILED = 3
EXIT_REGRESSION = 4
EXIT_INTERRUPTED = 130


class SegbenchError(Exception):
    """An error the user can act on. ``str(err)`` is the one line printed."""

    exit_code = EXIT_ERROR

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class UsageError(SegbenchError):
    """Bad arguments or settings."""

    exit_code = EXIT_USAGE


class ModelError(SegbenchError):
    """A model file that is missing, unreadable, truncated or of an unknown format."""


class RuntimeUnavailable(SegbenchError):
    """The runtime a model needs is not installed here (the hint says which extra)."""


class InputError(SegbenchError):
    """An input tensor or image that cannot be used for a model."""


class StoreError(SegbenchError):
    """A reports directory or run that cannot be read or written."""


class ParseError(SegbenchError):
    """A benchmark log that cannot be read at all (not: a log of a failed run)."""


class DeviceError(SegbenchError):
    """A device that is missing, offline, unauthorized or went away."""


class DeviceGone(DeviceError):
    """The connection to a device broke during a command (unplugged, rebooted, Wi-Fi lost)."""
