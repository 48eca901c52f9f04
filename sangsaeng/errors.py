"""The platform's error classes: every error a user can meet says what to do next.

`TransientError` means trying again later may succeed (a broker still starting, a
network blip); `TerminalError` means it will not until something is changed (a
missing JDK, a port held by another program). Only transient errors are retried.
"""


class PlatformError(Exception):
    """An error the CLI prints as one line, without a traceback."""


class TransientError(PlatformError):
    """Retrying later may succeed."""


class TerminalError(PlatformError):
    """Retrying will not help until the user changes something."""


class ConfigError(TerminalError):
    """A setting is missing, unknown or invalid."""
