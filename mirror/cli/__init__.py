"""Command-line interface. Commands live in one module per user role."""

from __future__ import annotations

from . import capture, content, identity, keys, network, reader, verifier  # noqa: F401  (importing registers the commands)
from .app import main

__all__ = ["main"]
