"""The arguments of ``sign`` (presigned URLs), checked once for every backend that signs."""

from __future__ import annotations

__all__ = ["MAX_EXPIRES", "METHODS", "check_sign"]

#: The methods a presigned URL may be made for.
METHODS = ("GET", "PUT", "HEAD", "DELETE")
#: The longest life of a presigned URL, in seconds: seven days, the limit of SigV4 and GCS V4.
MAX_EXPIRES = 7 * 24 * 3600


def check_sign(method: object, expires_in: object) -> str:
    """``method`` upper-cased, once both arguments are valid.

    Raises:
        TypeError: ``method`` is not a str or ``expires_in`` not an int.
        ValueError: an unsupported method, or ``expires_in`` outside 1..604800 seconds.
    """
    if not isinstance(method, str):
        raise TypeError(f"method must be a str, not {type(method).__name__}")
    verb = method.upper()
    if verb not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, not {method!r}")
    if isinstance(expires_in, bool) or not isinstance(expires_in, int):
        raise TypeError(f"expires_in must be an int of seconds, not {type(expires_in).__name__}")
    if not 1 <= expires_in <= MAX_EXPIRES:
        raise ValueError(
            f"expires_in must be from 1 to {MAX_EXPIRES} seconds (7 days), not {expires_in}"
        )
    return verb
