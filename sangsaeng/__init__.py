"""Sangsaeng: supply-chain data sharing for the win-win smart-factory programme."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("sangsaeng")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"
