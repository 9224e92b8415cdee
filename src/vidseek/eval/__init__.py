"""Evaluation: edited queries from real videos, distractors, and copy-detection metrics (bench/accuracy.py).

- :mod:`.queryset`: a seeded hard query set (stills and clips, 1-3 edit families each, positives and negatives);
- :mod:`.metrics`: recall@1, time error, VSC22 micro-average precision, "no match" shares;
- :mod:`.distractors`: distractor key frames added in memory so PQ is in the search path;
- :mod:`.shared_split`: which shared videos are indexed, queried or held out;
- :mod:`.edits`, :mod:`.queries`: the mild edits and query helpers of the older tests.
"""
