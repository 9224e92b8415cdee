"""Search: in-memory ADC over PQ codes with exact re-ranking, image and clip queries."""

from .index import Hit, Index, Query, hits_json

__all__ = ["Hit", "Index", "Query", "hits_json"]
