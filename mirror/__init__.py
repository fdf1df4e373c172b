"""mirror: signed, content-addressed article bundles that readers can verify anywhere."""

__version__ = "0.1.0"
