"""The parts of `asyncbitstore.fastapi` (the public module), one job each.

``statuses`` maps the library's errors to HTTP answers; ``validators`` makes the caching
headers and decides conditional requests; ``lengths`` finds the length of a blob's data;
``ranges`` answers byte ranges; ``blob`` puts these together into a blob answer; ``upload``
stores a request body as it arrives.
"""
