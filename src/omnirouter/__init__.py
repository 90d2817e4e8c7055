"""omnirouter: a self-hosted AI model gateway."""

__version__ = "0.1.0"
