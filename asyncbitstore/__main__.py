"""``python -m asyncbitstore``: the ``bitstore`` command."""

from .cli import main

main()
