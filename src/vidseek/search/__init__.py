"""Search: in-memory ADC over PQ codes with exact re-ranking, image and clip queries.

The names load on first use (PEP 562): the command line imports the search settings without the network
library behind :class:`Index`.
"""

__all__ = ["Hit", "Index", "Query", "hits_json"]


def __getattr__(name: str):
    if name in __all__:
        from . import index

        return getattr(index, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
