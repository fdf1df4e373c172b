"""Real RFC 3161 timestamp authorities on 127.0.0.1, for tests: OpenSSL's own `openssl ts`.

    authority = make_authority(tmp_path / "tsa", "Test TSA")   # CA + TSA cert, openssl
    with serve_tsa(authority) as server:
        token = request_token(server.url, b"bytes")            # mirror.timestamp
        assert verify_token(token, b"bytes", [authority.root("test")]).tsa == "test"

Each authority is a self-signed root CA made with `openssl req -x509` and a TSA
certificate it issued with `extendedKeyUsage=critical,timeStamping` (plus, for the
refusal tests, ones without that usage, with it non-critical or not alone, and one
never valid). The server answers each
`application/timestamp-query` POST by running `openssl ts -reply` on it. Other
modes: `garbage` (HTTP 200 with bytes that are no reply), `huge` (1 MiB), `hang`
(reads the query, never answers until the server stops), `error` (HTTP 500),
`replay` (answers every query after the first with the first reply).

The pytest fixtures (registered in tests/conftest.py) build two authorities once
per session: `tsa` (the reader trusts its root) and `stranger_tsa` (nobody does).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from mirror.timestamp import TsaRoot

OPENSSL = shutil.which("openssl")
MAX_QUERY = 16 << 10

_CONFIG = """\
[req]
distinguished_name = dn
prompt = no
[dn]
CN = unused
[root_ext]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[inter_ext]
basicConstraints = critical,CA:TRUE,pathlen:0
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
nsComment = {pad_inter}
[tsa_big_ext]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = critical,timeStamping
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
nsComment = {pad_big}
[tsa_ext]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = critical,timeStamping
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[noeku_ext]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[noncritical_ext]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = timeStamping
[extra_ext]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = critical,timeStamping,codeSigning
[tsa]
default_tsa = tsa_config
[tsa_config]
serial = {serial}
crypto_device = builtin
signer_digest = sha256
default_policy = 1.3.6.1.4.1.99999.1
other_policies = 1.3.6.1.4.1.99999.2
digests = sha256, sha384, sha512
accuracy = secs:1
ordering = no
tsa_name = yes
ess_cert_id_chain = no
ess_cert_id_alg = sha256
"""


def openssl(*args: str | Path, cwd: Path | None = None) -> bytes:
    if OPENSSL is None:
        raise RuntimeError("openssl is not installed (.ci/run installs it)")
    done = subprocess.run(
        [OPENSSL, *map(str, args)], cwd=cwd, capture_output=True, check=False, timeout=60
    )
    if done.returncode != 0:
        raise RuntimeError(f"openssl {args[0]} failed: {done.stderr.decode(errors='replace')}")
    return done.stdout


@dataclass
class Authority:
    """A test CA and the TSA certificates it issued, all files under `directory`."""

    directory: Path
    name: str

    @property
    def config(self) -> Path:
        return self.directory / "openssl.cnf"

    @property
    def root_pem(self) -> Path:
        return self.directory / "root.pem"

    @property
    def key(self) -> Path:
        return self.directory / "tsa.key"

    @property
    def intermediate(self) -> Path:
        return self.directory / "intermediate.pem"

    def signer(self, kind: str = "tsa") -> Path:
        """`tsa` (the good one); `noeku`, `noncritical` (usage not critical), `extra`
        (timestamping and code signing), `expired` (never valid): each refused;
        `chained`: a good one issued by an intermediate CA under the root (smaller
        than the intermediate, so signer-then-chain is DER order); `chained-unsorted`:
        the same, larger (signer-then-chain is then out of DER order)."""
        return self.directory / f"{kind}.pem"

    def root(self, name: str | None = None) -> TsaRoot:
        return TsaRoot.from_pem(name or self.name, self.root_pem.read_bytes())

    def reply(self, query: bytes, *, signer: str = "tsa", chain: bool = False) -> bytes:
        """Run `openssl ts -reply` on a DER query; the DER TimeStampResp.

        `chain`: include the intermediate CA certificate in the token."""
        with tempfile.TemporaryDirectory(dir=self.directory) as work:
            q, r = Path(work) / "q.tsq", Path(work) / "r.tsr"
            q.write_bytes(query)
            openssl(
                "ts", "-reply", "-config", self.config, "-queryfile", q,
                "-signer", self.signer(signer), "-inkey", self.key, "-out", r,
                *(["-chain", self.intermediate] if chain else []),
            )  # fmt: skip
            return r.read_bytes()

    def resign(self, reply: bytes, signer: str) -> bytes:
        """The same TSTInfo as `reply`, signed as a token by certificate `signer`.

        `openssl ts -reply` refuses a signer without the timestamping usage (it
        checks, like a verifier must), so a token by such a certificate is built
        with `openssl cms -sign` over the TSTInfo and wrapped by `openssl ts`.
        """
        with tempfile.TemporaryDirectory(dir=self.directory) as work:
            w = Path(work)
            (w / "in.tsr").write_bytes(reply)
            openssl("ts", "-reply", "-in", w / "in.tsr", "-token_out", "-out", w / "tok.der")
            openssl(
                "cms", "-verify", "-inform", "DER", "-in", w / "tok.der", "-noverify",
                "-out", w / "tstinfo.der",
            )  # fmt: skip
            openssl(
                "cms", "-sign", "-binary", "-nodetach", "-outform", "DER",
                "-econtent_type", "id-smime-ct-TSTInfo", "-in", w / "tstinfo.der",
                "-signer", self.signer(signer), "-inkey", self.key, "-md", "sha256",
                "-nosmimecap", "-out", w / "tok2.der",
            )  # fmt: skip
            openssl("ts", "-reply", "-in", w / "tok2.der", "-token_in", "-out", w / "out.tsr")
            return (w / "out.tsr").read_bytes()


def make_authority(directory: Path, name: str, *, key: str = "ec") -> Authority:
    """A root CA, a TSA key, and the TSA certificates of `Authority.signer` (openssl);
    keys are ECDSA P-256, or RSA 2048 with `key="rsa"`."""
    directory.mkdir(parents=True, exist_ok=True)
    authority = Authority(directory, name)
    (directory / "serial").write_text("01\n")
    # DER orders a SET OF by encoding, in effect by size here: the padding makes the
    # intermediate larger than `chained` and smaller than `chained-unsorted`
    authority.config.write_text(
        _CONFIG.format(serial=directory / "serial", pad_inter="i" * 300, pad_big="b" * 800)
    )
    cfg = authority.config
    ec = (
        ("-newkey", "rsa:2048", "-nodes")
        if key == "rsa"
        else ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes")
    )
    openssl(
        "req", "-config", cfg, "-x509", "-new", *ec, "-keyout", directory / "root.key",
        "-out", authority.root_pem, "-subj", f"/CN={name} Root", "-days", "3650",
        "-extensions", "root_ext",
    )  # fmt: skip
    openssl(
        "req", "-config", cfg, "-new", *ec, "-keyout", authority.key,
        "-out", directory / "tsa.csr", "-subj", f"/CN={name}",
    )  # fmt: skip
    openssl(
        "req", "-config", cfg, "-new", *ec, "-keyout", directory / "inter.key",
        "-out", directory / "inter.csr", "-subj", f"/CN={name} Intermediate",
    )  # fmt: skip
    openssl(
        "x509", "-req", "-in", directory / "inter.csr", "-CA", authority.root_pem,
        "-CAkey", directory / "root.key", "-set_serial", "100", "-out", authority.intermediate,
        "-days", "1825", "-extfile", cfg, "-extensions", "inter_ext",
    )  # fmt: skip
    openssl(
        "x509", "-req", "-in", directory / "tsa.csr", "-CA", authority.intermediate,
        "-CAkey", directory / "inter.key", "-set_serial", "101",
        "-out", authority.signer("chained"), "-days", "365",
        "-extfile", cfg, "-extensions", "tsa_ext",
    )  # fmt: skip
    # the same, made larger than the intermediate, so that OpenSSL's certificate set
    # (signer first) is not in DER order, which rfc3161-client's strict parser refuses
    openssl(
        "x509", "-req", "-in", directory / "tsa.csr", "-CA", authority.intermediate,
        "-CAkey", directory / "inter.key", "-set_serial", "102",
        "-out", authority.signer("chained-unsorted"), "-days", "365",
        "-extfile", cfg, "-extensions", "tsa_big_ext",
    )  # fmt: skip
    for serial, (kind, ext, days) in enumerate(
        [
            ("tsa", "tsa_ext", "365"),
            ("noeku", "noeku_ext", "365"),
            ("noncritical", "noncritical_ext", "365"),
            ("extra", "extra_ext", "365"),
            ("expired", "tsa_ext", "-1"),
        ],
        start=2,
    ):
        openssl(
            "x509", "-req", "-in", directory / "tsa.csr", "-CA", authority.root_pem,
            "-CAkey", directory / "root.key", "-set_serial", str(serial),
            "-out", authority.signer(kind), "-days", days,
            "-extfile", cfg, "-extensions", ext,
        )  # fmt: skip
    return authority


@dataclass
class TsaServer:
    url: str
    authority: Authority | None
    queries: list[bytes] = field(default_factory=list)


class _Httpd(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client giving up on a hanging TSA is the point of a test


@contextmanager
def serve_tsa(
    authority: Authority | None, mode: str = "ok", *, signer: str = "tsa", chain: bool = False
) -> Iterator[TsaServer]:
    """An HTTP TSA on 127.0.0.1 (modes: ok, garbage, huge, hang, error, replay)."""
    stop = threading.Event()
    lock = threading.Lock()  # `openssl ts` keeps its serial in one file
    state: dict[str, TsaServer] = {}
    replies: dict[str, bytes] = {}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            query = self.rfile.read(min(length, MAX_QUERY))
            state["server"].queries.append(query)
            if mode == "hang":
                stop.wait(60)
                return
            if mode == "error":
                self._send(500, b"internal error")
                return
            if mode == "garbage":
                self._send(200, b"\x30\x82\x01\x00 this is not a timestamp reply")
                return
            if mode == "huge":
                self._send(200, b"\x30" * (1 << 20))
                return
            assert authority is not None
            with lock:
                if mode == "replay" and "first" in replies:
                    body = replies["first"]  # an old reply: another request's nonce
                else:
                    body = authority.reply(query, signer=signer, chain=chain)
                    replies.setdefault("first", body)
            self._send(200, body)

        def _send(self, status: int, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/timestamp-reply")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    httpd = _Httpd(("127.0.0.1", 0), Handler)
    server = TsaServer(f"http://127.0.0.1:{httpd.server_address[1]}/tsr", authority)
    state["server"] = server
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        stop.set()
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=10)


needs_openssl = pytest.mark.skipif(OPENSSL is None, reason="openssl not installed")


@pytest.fixture(scope="session")
def tsa_authority(tmp_path_factory: pytest.TempPathFactory) -> Authority:
    """The TSA the reader trusts (its root is what `trust tsa add` gets)."""
    return make_authority(tmp_path_factory.mktemp("tsa-trusted"), "Test TSA")


@pytest.fixture(scope="session")
def stranger_authority(tmp_path_factory: pytest.TempPathFactory) -> Authority:
    """A second, working TSA whose root nobody trusts."""
    return make_authority(tmp_path_factory.mktemp("tsa-stranger"), "Stranger TSA")


@pytest.fixture(scope="session")
def tsa(tsa_authority: Authority) -> Iterator[TsaServer]:
    with serve_tsa(tsa_authority) as server:
        yield server


@pytest.fixture(scope="session")
def stranger_tsa(stranger_authority: Authority) -> Iterator[TsaServer]:
    with serve_tsa(stranger_authority) as server:
        yield server
