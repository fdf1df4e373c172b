"""Command-line interface. Commands live in one module per user role."""

from __future__ import annotations

# Importing a module registers its commands.
from . import capture, content, identity, keys, network, reader, tsa, verifier  # noqa: F401
from .app import main

__all__ = ["main"]
