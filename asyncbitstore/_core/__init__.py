"""The private toolbox: small helpers that know no store.

Bulk engine, single flight, deadlines, loop-local clients, the private event-loop thread,
redaction, input checks, put data, put options and ranges, progress bars, read-only
attributes forwarded to another object. Nothing here imports a store, a backend or the chain,
so every other layer may use it.
"""
