"""Search: in-memory ADC over PQ codes with exact re-ranking, image and clip queries."""

from .engine import Hit, Index

__all__ = ["Hit", "Index"]
