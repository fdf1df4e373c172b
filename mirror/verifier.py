"""The reader's verifier page: one static HTML file that checks bundles in a browser.

The page's JavaScript is written here (mirror/verifier/js/*.js, ES modules so Node's
test runner can load them one by one); `build` joins them into one inline module
script, with the CSS and the configuration (trusted keys with their identity chains,
gateways) inline too, under a CSP that allows exactly that script. Nothing is
fetched when the page opens; the reader's keys travel inside the file, never in
browser storage (every page opened from disk shares one storage origin).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from . import canonjson, identity, identity_state, keys, store
from .config import Home
from .errors import LimitExceeded, UsageError
from .keys import PublicKey
from .timestamp import TsaRoot

FORMAT = "mirror-verifier/1"
MAX_PAGE = 200 * 1024  # the budget: small enough to pass around in a messenger
# dependency order: each module only uses those before it
MODULES = ("util", "json", "ipld", "ed25519", "tsp", "trust", "verify", "page")
_IMPORT = re.compile(r"^import \{([^}]*)\} from '\./([a-z0-9]+)\.js';$", re.M)
_EXPORT = re.compile(
    r"^export (?:async function|function|class|const|let) ([A-Za-z_$][\w$]*)", re.M
)
_REEXPORT = re.compile(r"^export \{([^}]*)\};$", re.M)


@dataclass(frozen=True, slots=True)
class EmbeddedKey:
    """A trusted publisher: its name, key and the identity chain known for it (or None)."""

    name: str
    key: PublicKey
    chain: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "key": self.key.to_text(), "chain": self.chain}


def _asset(name: str) -> str:
    return (resources.files("mirror") / "verifier" / name).read_text(encoding="utf-8")


def script_source() -> str:
    """The page's modules as one script. Each module becomes a function scope that
    returns its exports, and `import {a, b} from './m.js'` reads them back, so module
    names never collide and the page needs no loader."""
    parts = ["const modules = {};"]
    for module in MODULES:
        text = _asset(f"js/{module}.js")
        names = _EXPORT.findall(text)
        for group in _REEXPORT.findall(text):
            names += [n.strip() for n in group.split(",") if n.strip()]
        text = _REEXPORT.sub("", text)
        text = _IMPORT.sub(
            lambda m: f"const {{{m.group(1).replace(' as ', ': ')}}} = modules.{m.group(2)};", text
        )
        text = re.sub(r"^export (?=async function|function|class|const|let)", "", text, flags=re.M)
        if re.search(r"^\s*(import|export)\b", text, re.M):
            raise UsageError(f"verifier module {module}.js uses an import/export form not joined")
        exports = ", ".join(dict.fromkeys(names))
        parts.append(
            f"// -- {module}.js\nmodules.{module} = (() => {{\n{text}\n"
            f"return {{ {exports} }};\n}})();"
        )
    joined = "\n".join(parts)
    # inside <script>, "</script" ends the element and "<!--" changes how it is parsed
    if re.search(r"</script|<!--", joined, re.I):
        raise UsageError("verifier sources contain '</script' or '<!--'; escape it as '<\\/'")
    return joined


def _csp(script: str) -> str:
    digest = base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode("ascii")
    # connect-src: only for fetching by CID when the reader asks (https gateways, or one
    # on this device); frames only from srcdoc; images only from verified bytes.
    return (
        f"default-src 'none'; script-src 'sha256-{digest}'; style-src 'unsafe-inline'; "
        "img-src data:; frame-src 'none'; connect-src https: http://127.0.0.1:* "
        "http://localhost:*; base-uri 'none'; form-action 'none'"
    )


def check_gateway(url: str) -> str:
    if not re.match(r"^https?://[^\s/]+", url):
        raise UsageError(f"a gateway is an http(s) URL, e.g. https://gateway.example: {url!r}")
    return url.rstrip("/")


def build(
    keys: Sequence[EmbeddedKey], gateways: Sequence[str] = (), tsa: Sequence[TsaRoot] = ()
) -> bytes:
    """The verifier page with `keys`, `gateways` and the reader's TSA roots embedded
    (`tsa`, as `[{name, pem}]`, only when there are any); at most MAX_PAGE bytes."""
    config: dict[str, Any] = {
        "format": FORMAT,
        "trust": [k.to_dict() for k in keys],
        "gateways": [check_gateway(g) for g in gateways],
    }
    if tsa:
        config["tsa"] = [{"name": r.name, "pem": r.to_pem().decode("ascii")} for r in tsa]
    # '<' escaped: the JSON can never close its <script> element early
    config_text = json.dumps(config, ensure_ascii=False, sort_keys=True).replace("<", "\\u003c")
    script = script_source()
    page = _asset("page.html")
    for marker, value in (
        ("@CSP@", _csp(script)),
        ("@CSS@", _asset("page.css")),
        ("@CONFIG@", config_text),
        ("@SCRIPT@", script),
    ):
        head, sep, tail = page.partition(marker)
        if not sep:
            raise UsageError(f"verifier template lacks {marker}")
        page = head + value + tail
    data = page.encode("utf-8")
    if len(data) > MAX_PAGE:
        raise LimitExceeded(f"the verifier page would be {len(data)} bytes, over {MAX_PAGE}")
    return data


def chain_object(chain_bytes: bytes | None) -> dict[str, Any] | None:
    """An identity chain (identity.json bytes) as the object the page embeds."""
    if chain_bytes is None:
        return None
    return canonjson.loads(chain_bytes.rstrip(b"\n"), max_size=8 << 20, what="identity chain")


def write(
    out: Path,
    keys: Sequence[EmbeddedKey],
    gateways: Sequence[str] = (),
    tsa: Sequence[TsaRoot] = (),
) -> int:
    """Build the page and write it to `out` atomically; returns its size."""
    if not keys:
        raise UsageError("a verifier needs at least one trusted key (--trust NAME)")
    data = build(keys, gateways, tsa)
    store.atomic_write(Path(out), data, label="verifier")
    return len(data)


def embedded_keys(home: Home, names: Sequence[str] = ()) -> list[EmbeddedKey]:
    """The named trusted keys (default: the keys held in this data directory, for a
    publisher shipping its own verifier), each with the identity chain known for it:
    the one this reader remembers, or this data directory's own identity."""
    own_chain = identity_state.home_chain(home)
    if names:
        trusted = keys.load_trust(home)
        missing = [n for n in names if n not in trusted]
        if missing:
            raise UsageError(f"no trusted key named {missing[0]!r} (see `mirror trust add`)")
        pairs = [(n, trusted[n].key) for n in names]
    else:
        pairs = [(n, keys.load_public(home, n)) for n in keys.list_keys(home)]
    out = []
    for name, key in pairs:
        chain = identity_state.remembered(home, key)
        if chain is None and own_chain is not None and identity.anchored_by(own_chain, key):
            chain = own_chain
        data = chain.to_bytes() if chain is not None else None
        out.append(EmbeddedKey(name, key, chain_object(data)))
    return out
