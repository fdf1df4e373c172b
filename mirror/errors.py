"""Every failure a user can cause or meet is a MirrorError with a stable exit code.

The CLI catches MirrorError once, prints its one-line message on stderr and exits
with its code; anything else is a bug (exit 1). Exit codes are a contract for
scripts, documented in the README.
"""

from __future__ import annotations


class MirrorError(Exception):
    """Root of the hierarchy: a one-line message that tells the user what to do next.

    `reason` is a stable machine-readable code (listed in the README); a class gives
    its default and a raise site names a more precise one.
    """

    exit_code = 1
    reason = "internal"

    def __init__(self, message: str, *, reason: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if reason is not None:
            self.reason = reason

    def __str__(self) -> str:
        return self.message


def refusal(exc: MirrorError) -> dict[str, object]:
    """The JSON of a refusal, the same on every surface (`--json`)."""
    return {"ok": False, "exit_code": exc.exit_code, "reason": exc.reason, "error": exc.message}


class UsageError(MirrorError):
    """Bad arguments or malformed input (a file that does not parse, a bad name)."""

    exit_code = 2
    reason = "usage"


class VerificationError(MirrorError):
    """Tampered bytes, a wrong or untrusted key, an expired or rolled-back feed."""

    exit_code = 3
    reason = "content-mismatch"


class NetworkError(MirrorError):
    """An HTTP server, gateway or IPFS node failed or did not answer in time."""

    exit_code = 4
    reason = "network"


class LimitExceeded(MirrorError):
    """A safety limit (size, count, depth, redirects) was exceeded."""

    exit_code = 5
    reason = "limit"


class StorageError(MirrorError):
    """A local file-system failure: permissions, full disk, read-only directory."""

    exit_code = 6
    reason = "storage"


class MalformedInput(UsageError):
    """Input that does not parse as what it claims to be (exit 2, reason `malformed`)."""

    reason = "malformed"


# Every reason code a verdict or refusal can carry, for docs and the completeness test.
VERDICT_REASONS = (
    "untrusted-key",
    "revoked-key",
    "threshold-not-met",
    "identity-invalid",
    "rollback",
    "expired",
    "content-mismatch",
    "unlisted-file",
    "missing-file",
    "non-canonical",
    "not-a-bundle",
    "wrong-type",
    "malformed",
    "limit",
)

EXIT_OK = 0
EXIT_INTERNAL = 1
