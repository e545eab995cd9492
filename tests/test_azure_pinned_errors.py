"""How AzureRaw's error module reads the failures of a read pinned to an ETag.

Azurite answers a conditional read of a deleted blob 412; Azure may answer it 404. Both mean
the pinned version is gone; a missing container stays `BucketNotFound`, and an unpinned read
keeps its old meanings.
"""

from __future__ import annotations

from azure.core import exceptions as az

from asyncbitstore import BucketNotFound, NotFoundInStore, ObjectChanged
from asyncbitstore.raw.azure import _errors
from asyncbitstore.retry import TransientError

URI = "az://box/blob"


def _failure(cls: type[az.HttpResponseError], status: int, code: str) -> az.HttpResponseError:
    error = cls(message=f"{code} sig=SECRETSIG")
    error.status_code = status
    error.error_code = code  # type: ignore[attr-defined]
    return error


def test_a_gone_version_is_object_changed_only_when_pinned() -> None:
    for failure in (
        _failure(az.ResourceModifiedError, 412, "ConditionNotMet"),
        _failure(az.ResourceNotFoundError, 404, "BlobNotFound"),
    ):
        error = _errors.translate("store", failure, URI, "box", ("SECRETSIG",), '"0x1"')
        assert isinstance(error, ObjectChanged) and error.version == '"0x1"'
        assert "SECRETSIG" not in str(error)
    plain = _errors.translate(
        "store", _failure(az.ResourceNotFoundError, 404, "BlobNotFound"), URI, "box"
    )
    assert type(plain) is NotFoundInStore
    changed = _errors.translate("store", _failure(az.ResourceModifiedError, 412, "x"), URI, "box")
    assert isinstance(changed, TransientError)


def test_a_missing_container_stays_bucket_not_found_when_pinned() -> None:
    failure = _failure(az.ResourceNotFoundError, 404, "ContainerNotFound")
    error = _errors.translate("store", failure, URI, "box", (), '"0x1"')
    assert isinstance(error, BucketNotFound)
