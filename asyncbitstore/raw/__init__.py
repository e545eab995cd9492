"""Raw stores: one module per protocol, each addressed by full URIs.

Cloud backends live in their own modules and are imported only when used, so that
``import asyncbitstore`` loads no cloud SDK.
"""
