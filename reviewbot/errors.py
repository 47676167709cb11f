"""Support: the one exception hierarchy. Every error reviewbot raises on purpose is a
ReviewbotError with a one-line message, an optional hint and the exit code the CLI uses.
The CLI is the only place that turns these into output (see cli.py)."""

from __future__ import annotations

# Exit codes, in the spirit of reviewdog's fail level.
EXIT_OK = 0
EXIT_FINDINGS = 1  # a finding at or above --fail-on
EXIT_USAGE = 2  # usage, config or input error
EXIT_SERVICE = 3  # every model call failed / an external service failed


class ReviewbotError(Exception):
    """Base error: `message` is one line; `hint` says what to do about it."""

    exit_code = EXIT_USAGE

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class UsageError(ReviewbotError):
    """Bad command-line usage."""


class ConfigError(ReviewbotError):
    """`.reviewbot.yml` is missing keys, has unknown keys or wrong types."""


class DiffError(ReviewbotError):
    """The input is not a unified diff we can review (e.g. a combined merge diff)."""


class MissingKeyError(ReviewbotError):
    """A configured model needs an API key that is not in the environment."""


class ServiceError(ReviewbotError):
    """An external service (model provider, GitHub) failed in a way we cannot work around."""

    exit_code = EXIT_SERVICE
