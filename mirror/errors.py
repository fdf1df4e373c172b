"""Every failure a user can cause or meet is a MirrorError with a stable exit code.

The CLI catches MirrorError once, prints its one-line message on stderr and exits
with its code; anything else is a bug (exit 1). Exit codes are a contract for
scripts, documented in the README.
"""

from __future__ import annotations


class MirrorError(Exception):
    """Root of the hierarchy: a one-line message that tells the user what to do next."""

    exit_code = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class UsageError(MirrorError):
    """Bad arguments or malformed input (a file that does not parse, a bad name)."""

    exit_code = 2


class VerificationError(MirrorError):
    """Tampered bytes, a wrong or untrusted key, an expired or rolled-back feed."""

    exit_code = 3


class NetworkError(MirrorError):
    """An HTTP server, gateway or IPFS node failed or did not answer in time."""

    exit_code = 4


class LimitExceeded(MirrorError):
    """A safety limit (size, count, depth, redirects) was exceeded."""

    exit_code = 5


class StorageError(MirrorError):
    """A local file-system failure: permissions, full disk, read-only directory."""

    exit_code = 6


EXIT_OK = 0
EXIT_INTERNAL = 1
