"""adapters.errors: storage outages become transient failures; other errors pass unchanged."""

from __future__ import annotations

import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError, ServiceRequestError

from adapters.errors import storage_errors
from domain.failures import FailureKind, TransientFailure, failure_kind


def http_error(status: int) -> HttpResponseError:
    error = HttpResponseError(message=f"status {status}")
    error.status_code = status
    return error


@pytest.mark.parametrize(
    "error", [ServiceRequestError("refused"), http_error(503), http_error(429), http_error(500)]
)
def test_outages_are_transient(error: Exception) -> None:
    with pytest.raises(TransientFailure) as caught, storage_errors("reserve_stock"):
        raise error

    assert failure_kind(caught.value) is FailureKind.TRANSIENT
    assert caught.value.reason.startswith("reserve_stock: storage")


@pytest.mark.parametrize("error", [http_error(403), ResourceNotFoundError("gone"), KeyError("x")])
def test_other_errors_pass_through(error: Exception) -> None:
    with pytest.raises(type(error)), storage_errors("reserve_stock"):
        raise error
