"""The one exception type for user mistakes.

A `UserError` carries a single line that says what was wrong and how to fix it. The CLI prints it
and exits with code 2; anything else that escapes is a bug and keeps its traceback.
"""

from __future__ import annotations


class UserError(Exception):
    """Bad input from the user: a missing file, a bad record, an unknown name, an invalid setting."""


class ConfigError(UserError):
    """An invalid or unknown configuration key or value."""


class RecordError(UserError):
    """A JSONL line that is not a valid record; the message starts with FILE:LINE."""
