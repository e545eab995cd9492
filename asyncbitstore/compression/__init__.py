"""Transparent compression: the self-describing frame, the codecs, and how stores apply them.

Knows no store: backends call the functions of `store_io` with bytes and chunk streams.
"""
