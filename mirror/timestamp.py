"""RFC 3161 timestamps: proof that a signature existed by a time nobody involved can forge.

What is stamped is the raw bytes of one signature (the 64 bytes of an Ed25519
signature as they sit, base64-decoded, in the envelope), hashed with SHA-256 into
the request's message imprint. The TSA's whole reply (RFC 3161 section 2.4.2
`TimeStampResp`: status and `TimeStampToken`) is what a signature's `tst` field
carries, base64 DER, as Sigstore bundles carry it; the token inside it is the
signed part. See docs/decisions/0008-timestamps.md.

All ASN.1 and CMS work is done by `rfc3161-client` (request building, reply parsing,
PKCS#7 signature and chain verification through OpenSSL with the timestamp-signing
purpose, at the stamped time) and `cryptography` (certificates). This module adds
the checks a verdict needs around it, each with a stable reason:

- `bad-timestamp`: not a granted reply, imprint over other bytes, signature that
  does not verify, TSA certificate lacking the critical id-kp-timeStamping extended
  key usage as its only purpose (RFC 3161 section 2.3), or not valid at the stamped
  time;
- `untrusted-tsa`: a well-formed token whose certificate does not chain to any of
  the TSA roots given.

Requesting a token is HTTP POST `application/timestamp-query` (RFC 3161 section
3.4) with a deadline and a size cap; a TSA that fails, hangs or answers anything but
a granted reply for our request is a NetworkError (exit 4).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from urllib.parse import urlsplit

import requests
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID
from rfc3161_client import (
    HashAlgorithm,
    PKIStatus,
    TimeStampRequest,
    TimestampRequestBuilder,
    TimeStampResponse,
    VerifierBuilder,
    decode_timestamp_response,
)
from rfc3161_client import VerificationError as TspVerificationError

from .clock import format_time, sha256_tag
from .envelope import Envelope, Signature
from .errors import NetworkError, UsageError, VerificationError

QUERY_TYPE = "application/timestamp-query"
REPLY_TYPE = "application/timestamp-reply"
MAX_REPLY = 64 << 10  # a reply with a certificate chain is a few KiB
MAX_CERTIFICATE = 64 << 10
DEFAULT_TIMEOUT = 20.0
BAD = "bad-timestamp"
UNTRUSTED = "untrusted-tsa"

_IMPRINT_HASHES: dict[str, Callable[[bytes], bytes]] = {
    "2.16.840.1.101.3.4.2.1": lambda b: hashlib.sha256(b).digest(),
    "2.16.840.1.101.3.4.2.2": lambda b: hashlib.sha384(b).digest(),
    "2.16.840.1.101.3.4.2.3": lambda b: hashlib.sha512(b).digest(),
}


@dataclass(frozen=True, slots=True)
class TsaRoot:
    """A TSA root certificate trusted under a name (the reader's, or an identity's)."""

    name: str
    certificate: x509.Certificate

    @classmethod
    def from_pem(cls, name: str, data: bytes, *, what: str = "TSA certificate") -> TsaRoot:
        """One self-signed CA certificate in PEM; anything else is a one-line UsageError."""
        return cls(name, load_root_certificate(data, what=what))

    def to_pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    @property
    def fingerprint(self) -> str:
        return sha256_tag(self.der)

    @property
    def der(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.DER)


def load_root_certificate(data: bytes, *, what: str = "TSA certificate") -> x509.Certificate:
    """Parse exactly one PEM certificate that is a self-signed CA (a trust anchor).

    The trusted certificate is the TSA's root: OpenSSL builds the chain from the
    token's signer up to a self-signed certificate in the trust store, so a TSA's
    own (leaf) certificate or an intermediate cannot serve as an anchor.
    """
    if len(data) > MAX_CERTIFICATE:
        raise UsageError(f"{what} is larger than {MAX_CERTIFICATE} bytes")
    try:
        certs = x509.load_pem_x509_certificates(data)
    except ValueError as exc:
        raise UsageError(f"{what} is not a PEM certificate") from exc
    if len(certs) != 1:
        raise UsageError(f"{what} must hold exactly one certificate, found {len(certs)}")
    cert = certs[0]
    try:
        constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        constraints = None
    except ValueError as exc:
        raise UsageError(f"{what} has malformed extensions") from exc
    if constraints is None or not constraints.ca:
        raise UsageError(
            f"{what} is not a CA certificate: give the TSA's root certificate, "
            "not the TSA's own certificate"
        )
    if cert.issuer != cert.subject or not _issued_by(cert, cert):
        raise UsageError(f"{what} is not self-signed: give the root of the TSA's chain")
    return cert


@dataclass(frozen=True, slots=True)
class Stamp:
    """A verified timestamp: the signed bytes existed by `time`, says TSA `tsa`."""

    time: datetime  # aware, UTC
    tsa: str  # the name under which the root it chains to is trusted
    subject: str  # the TSA certificate's subject (RFC 4514)

    def to_dict(self) -> dict[str, str]:
        return {"time": format_time(self.time), "tsa": self.tsa}


# --- requesting -------------------------------------------------------------------


def build_request(data: bytes) -> TimeStampRequest:
    """A SHA-256 request over `data`, with a nonce, asking for the TSA's certificate."""
    if not data:
        raise UsageError("nothing to timestamp: empty data")
    return (
        TimestampRequestBuilder()
        .data(data)
        .hash_algorithm(HashAlgorithm.SHA256)
        .nonce(nonce=True)
        .cert_request(cert_request=True)
        .build()
    )


def request_token(
    url: str,
    data: bytes,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    session: requests.Session | None = None,
) -> bytes:
    """Ask the TSA at `url` to stamp `data`; return its reply (DER TimeStampResp).

    The reply is checked against the request (granted, same imprint, same nonce,
    carries the TSA certificate) but not against trust: the publisher may not hold
    the TSA's root, and readers verify with their own. Everything that goes wrong on
    the TSA's side is a NetworkError naming the URL; the whole exchange is bounded
    by `timeout` seconds.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"TSA URL must be http:// or https://: {url!r}")
    request = build_request(data)
    body = _post(url, request.as_bytes(), timeout=timeout, session=session)
    try:
        reply = decode_timestamp_response(body)
        status = reply.status
    except ValueError as exc:
        raise NetworkError(f"TSA {url} answered something that is not a timestamp reply") from exc
    if status not in (PKIStatus.GRANTED, PKIStatus.GRANTED_WITH_MODS):
        text = "; ".join(_status_strings(reply))[:200]
        raise NetworkError(
            f"TSA {url} refused to stamp (status {status}{': ' + text if text else ''})"
        )
    try:
        info = reply.tst_info
        imprint = info.message_imprint
        same_imprint = (
            imprint.hash_algorithm == request.message_imprint.hash_algorithm
            and imprint.message == request.message_imprint.message
        )
        same_nonce = info.nonce == request.nonce
        has_cert = len(reply.signed_data.certificates) > 0
    except ValueError as exc:
        raise NetworkError(f"TSA {url} answered a malformed timestamp token") from exc
    if not same_imprint:
        raise NetworkError(f"TSA {url} stamped other bytes than the ones sent")
    if not same_nonce:
        raise NetworkError(f"TSA {url} answered with another request's nonce")
    if not has_cert:
        raise NetworkError(f"TSA {url} left its certificate out of the token")
    return body


def _status_strings(reply: TimeStampResponse) -> list[str]:
    try:
        return [str(s) for s in reply.status_string]
    except ValueError:
        return []


def _post(url: str, body: bytes, *, timeout: float, session: requests.Session | None) -> bytes:
    deadline = time.monotonic() + timeout
    http = session or requests.Session()
    try:
        with http.post(
            url,
            data=body,
            headers={"Content-Type": QUERY_TYPE, "Accept": REPLY_TYPE},
            timeout=(min(timeout, 10.0), timeout),
            stream=True,
            allow_redirects=False,
        ) as response:
            if response.status_code != 200:
                raise NetworkError(f"TSA {url} answered HTTP {response.status_code}")
            declared = response.headers.get("Content-Length", "")
            if declared.isdigit() and int(declared) > MAX_REPLY:
                raise NetworkError(f"TSA {url} sent a reply larger than {MAX_REPLY} bytes")
            received = bytearray()
            for chunk in response.iter_content(8192):
                received += chunk
                if len(received) > MAX_REPLY:
                    raise NetworkError(f"TSA {url} sent a reply larger than {MAX_REPLY} bytes")
                if time.monotonic() > deadline:
                    raise NetworkError(f"TSA {url} did not answer within {timeout:g}s")
            return bytes(received)
    except requests.Timeout as exc:
        raise NetworkError(f"TSA {url} did not answer within {timeout:g}s") from exc
    except requests.RequestException as exc:
        raise NetworkError(f"cannot reach TSA {url}: {type(exc).__name__}") from exc
    finally:
        if session is None:
            http.close()


# --- verifying --------------------------------------------------------------------


# What the certificate and CMS parsers raise on hostile DER, often lazily (on first
# access to a name or an extension): a damaged token, never an internal error.
_PARSE_ERRORS = (
    ValueError,
    KeyError,
    TypeError,
    x509.InvalidVersion,
    x509.DuplicateExtension,
    x509.UnsupportedGeneralNameType,
)


def claimed_time(token: bytes) -> datetime | None:
    """The time a token claims, unverified (None when it does not parse): what an
    export's banner shows; the verdict checks the token itself."""
    try:
        return decode_timestamp_response(token).tst_info.gen_time.astimezone(UTC)
    except _PARSE_ERRORS:
        return None


def verify_token(token: bytes, data: bytes, roots: Sequence[TsaRoot]) -> Stamp:
    """Check `token` (a DER TimeStampResp) completely against `data` and `roots`; any
    part a parser cannot read is `bad-timestamp`."""
    try:
        return _verify_token(token, data, roots)
    except _PARSE_ERRORS as exc:
        raise VerificationError(
            f"timestamp token is damaged ({type(exc).__name__})", reason=BAD
        ) from exc


def _verify_token(token: bytes, data: bytes, roots: Sequence[TsaRoot]) -> Stamp:
    """Check `token` (a DER TimeStampResp) completely against `data` and `roots`.

    Checks, in order: it parses and was granted; its imprint is a hash of exactly
    `data`; the signing certificate is in the token, has the id-kp-timeStamping
    extended key usage, critical and alone, and was valid at the stamped time; the
    CMS signature verifies and the certificate chains to one of `roots` at the
    stamped time (OpenSSL, timestamp-signing purpose). Returns the stamped time and
    the name of the root it chains to.
    """
    if len(token) > MAX_REPLY:
        raise VerificationError(f"timestamp is larger than {MAX_REPLY} bytes", reason=BAD)
    try:
        reply = decode_timestamp_response(token)
        status = reply.status
        info = reply.tst_info
        stamped = info.gen_time
        algorithm = info.message_imprint.hash_algorithm.dotted_string
        imprint = info.message_imprint.message
        signer_infos = list(reply.signed_data.signer_infos)
        embedded = [x509.load_der_x509_certificate(c) for c in reply.signed_data.certificates]
    except ValueError as exc:
        raise VerificationError("timestamp token does not parse", reason=BAD) from exc
    if status not in (PKIStatus.GRANTED, PKIStatus.GRANTED_WITH_MODS):
        raise VerificationError("timestamp reply was not granted", reason=BAD)
    digest = _IMPRINT_HASHES.get(algorithm)
    if digest is None:
        raise VerificationError(f"timestamp uses an unsupported hash ({algorithm})", reason=BAD)
    if imprint != digest(data):
        raise VerificationError("timestamp is over other bytes than this signature", reason=BAD)
    if len(signer_infos) != 1:
        raise VerificationError("timestamp token must have exactly one signer", reason=BAD)
    signer = signer_infos[0]
    leaf = next(
        (
            c
            for c in embedded
            if c.issuer == signer.issuer and c.serial_number == signer.serial_number
        ),
        None,
    )
    if leaf is None:
        raise VerificationError("timestamp token does not carry its TSA certificate", reason=BAD)
    _check_timestamping_usage(leaf)
    stamped = stamped.astimezone(UTC)
    if not leaf.not_valid_before_utc <= stamped <= leaf.not_valid_after_utc:
        raise VerificationError(
            f"TSA certificate was not valid at the stamped time {format_time(stamped)}",
            reason=BAD,
        )
    if not roots:
        raise VerificationError(
            "timestamp from a TSA you do not trust (no TSA roots)", reason=UNTRUSTED
        )
    failure: Exception | None = None
    for root in roots:
        verifier = VerifierBuilder().add_root_certificate(root.certificate).build()
        try:
            verifier.verify(reply, imprint)
        except (TspVerificationError, ValueError) as exc:
            failure = exc
            continue
        return Stamp(stamped, root.name, leaf.subject.rfc4514_string())
    subject = leaf.subject.rfc4514_string()
    if _reaches_a_root(leaf, embedded, roots):
        raise VerificationError(
            f"timestamp by {subject} does not verify (signature or chain broken)", reason=BAD
        ) from failure
    raise VerificationError(
        f"timestamp by {subject} is from a TSA you do not trust "
        "(add its root with `mirror trust tsa add`)",
        reason=UNTRUSTED,
    ) from failure


def _check_timestamping_usage(cert: x509.Certificate) -> None:
    """RFC 3161 section 2.3: extended key usage present, critical, id-kp-timeStamping only."""
    try:
        eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    except x509.ExtensionNotFound as exc:
        raise VerificationError(
            "TSA certificate lacks the timestamping extended key usage", reason=BAD
        ) from exc
    except ValueError as exc:
        raise VerificationError("TSA certificate has malformed extensions", reason=BAD) from exc
    if not eku.critical:
        raise VerificationError("TSA certificate's extended key usage is not critical", reason=BAD)
    if list(eku.value) != [ExtendedKeyUsageOID.TIME_STAMPING]:
        raise VerificationError(
            "TSA certificate's extended key usage must be timestamping only", reason=BAD
        )


def _issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def _reaches_a_root(
    leaf: x509.Certificate, embedded: Sequence[x509.Certificate], roots: Sequence[TsaRoot]
) -> bool:
    """Does the token's chain link up to one of `roots` by name and signature?

    Only tells a broken token (bad-timestamp) from one by a stranger (untrusted-tsa)
    once OpenSSL has refused it; it never makes anything verify.
    """
    anchors = [r.certificate for r in roots]
    current, seen = leaf, 0
    while seen <= len(embedded):
        if current in anchors or any(_issued_by(current, a) for a in anchors):
            return True
        parent = next(
            (
                c
                for c in embedded
                if c != current and c.subject == current.issuer and _issued_by(current, c)
            ),
            None,
        )
        if parent is None:
            return False
        current, seen = parent, seen + 1
    return False


# --- envelopes --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Stamper:
    """What a signing command was asked about timestamps: TSA URLs in order, optional.

    `Stamper()` stamps nothing. The CLI builds one from `--tsa URL` (repeatable, or
    MIRROR_TSA) and `--tsa-optional`; signing code calls `stamp` on every envelope
    it is about to write, before writing anything.
    """

    urls: tuple[str, ...] = ()
    optional: bool = False
    timeout: float = DEFAULT_TIMEOUT
    warn: Callable[[str], None] | None = field(default=None, compare=False)
    # When set, each new token must verify against these roots before it is kept: a
    # publisher signs only what its own verification (push, verify --all) accepts.
    roots: tuple[TsaRoot, ...] | None = None

    @property
    def enabled(self) -> bool:
        return bool(self.urls)

    def stamp(
        self,
        envelope: Envelope,
        *,
        warn: Callable[[str], None] | None = None,
        session: requests.Session | None = None,
    ) -> Envelope:
        return stamp_envelope(
            envelope,
            self.urls,
            optional=self.optional,
            timeout=self.timeout,
            session=session,
            warn=warn or self.warn,
            roots=self.roots,
        )


NO_STAMPS = Stamper()  # the default: no timestamps asked for


def stamp_envelope(
    envelope: Envelope,
    urls: Sequence[str],
    *,
    optional: bool = False,
    timeout: float = DEFAULT_TIMEOUT,
    session: requests.Session | None = None,
    warn: Callable[[str], None] | None = None,
    roots: Sequence[TsaRoot] | None = None,
) -> Envelope:
    """Return `envelope` with a `tst` on every signature that has none.

    Each signature's raw bytes are sent to the TSAs in `urls`, in order, until one
    answers; signatures already stamped keep their token (a co-signature added later
    gets its own). When every TSA fails: NetworkError (exit 4), nothing changed, unless
    `optional`, then that signature stays unstamped and `warn` hears why. With
    `roots`, each token is verified first: one from a TSA those roots do not cover is
    a UsageError (exit 2: trust the TSA's root first), whatever `optional` says; one
    that does not verify counts as that TSA failing.
    """
    if not urls:
        return envelope
    signatures: list[Signature] = []
    for signature in envelope.signatures:
        if signature.tst is not None:
            signatures.append(signature)
            continue
        token, errors = None, []
        for url in urls:
            try:
                token = request_token(url, signature.sig, timeout=timeout, session=session)
                if roots is not None:
                    _check_own_token(url, token, signature.sig, roots)
                break
            except NetworkError as exc:
                token = None
                errors.append(exc.message)
        if token is None:
            message = "; ".join(errors)
            if not optional:
                raise NetworkError(f"no timestamp for signature {signature.keyid}: {message}")
            if warn is not None:
                warn(f"signature {signature.keyid} left without a timestamp: {message}")
            signatures.append(signature)
            continue
        signatures.append(replace(signature, tst=token))
    return replace(envelope, signatures=tuple(signatures))


def _check_own_token(url: str, token: bytes, data: bytes, roots: Sequence[TsaRoot]) -> None:
    try:
        verify_token(token, data, roots)
    except VerificationError as exc:
        if exc.reason == UNTRUSTED:
            raise UsageError(
                f"timestamps from TSA {url} are not trusted here: add its root with "
                "`mirror trust tsa add NAME CERT.pem` (and list it for readers with "
                "`mirror identity rotate --tsa-root NAME`)"
            ) from exc
        raise NetworkError(
            f"TSA {url} sent a timestamp that does not verify: {exc.message}"
        ) from exc


def verify_envelope_stamps(envelope: Envelope, roots: Sequence[TsaRoot]) -> Stamp | None:
    """Verify every `tst` of `envelope` over its signature's bytes; the earliest Stamp.

    None when no signature carries a token. A token that fails is never skipped:
    the verdict refuses (bad-timestamp or untrusted-tsa).
    """
    earliest: Stamp | None = None
    for signature in envelope.signatures:
        if signature.tst is None:
            continue
        stamp = verify_token(signature.tst, signature.sig, roots)
        if earliest is None or stamp.time < earliest.time:
            earliest = stamp
    return earliest
