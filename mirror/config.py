"""The data directory: where keys, trust, published bundles and follow state live.

Layout (all under HOME, which is --home, else MIRROR_HOME, else the user's data dir):
    keys/NAME.key       encrypted private key (0600)    keys/NAME.pub   public key line
    trust.json          trusted publisher keys by name
    trust-tsa.json      trusted timestamp authorities (TSA root certificates) by name
    settings.json       default signing key and other settings
    published.json      bundles this home has published (feed entries)
    feed/               the publisher's signed feed, its head and history
    state/              readers' and followers' remembered versions
    follow/             follower state, one file per followed publisher
    cache/car/          CAR files fetched by readers, named by root CID
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

HOME_ENV = "MIRROR_HOME"
API_ENV = "MIRROR_IPFS_API"
PASSPHRASE_ENV = "MIRROR_PASSPHRASE"
DEFAULT_API = "/ip4/127.0.0.1/tcp/5001"


def default_home() -> Path:
    xdg = os.environ.get("XDG_DATA_HOME")
    base = Path(xdg) if xdg else Path.home() / ".local" / "share"
    return base / "mirror"


@dataclass(frozen=True, slots=True)
class Home:
    """Paths inside one data directory. Creating folders is left to the writers."""

    root: Path

    @classmethod
    def resolve(cls, explicit: str | os.PathLike[str] | None = None) -> Home:
        chosen = explicit or os.environ.get(HOME_ENV) or default_home()
        return cls(Path(chosen).expanduser())

    @property
    def keys_dir(self) -> Path:
        return self.root / "keys"

    @property
    def trust_file(self) -> Path:
        return self.root / "trust.json"

    @property
    def tsa_trust_file(self) -> Path:
        return self.root / "trust-tsa.json"

    @property
    def settings_file(self) -> Path:
        return self.root / "settings.json"

    @property
    def published_file(self) -> Path:
        return self.root / "published.json"

    @property
    def feed_dir(self) -> Path:
        return self.root / "feed"

    @property
    def state_dir(self) -> Path:
        return self.root / "state"

    @property
    def follow_dir(self) -> Path:
        return self.root / "follow"

    @property
    def car_cache_dir(self) -> Path:
        return self.root / "cache" / "car"

    @property
    def captures_file(self) -> Path:
        return self.root / "captures.json"
