"""Labels Azure SDK errors as transient where a retry can help, so the orchestrator retries them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from azure.core.exceptions import HttpResponseError, ServiceRequestError, ServiceResponseError

from domain.failures import TransientFailure

# Timeouts, throttling and server errors; anything else (403, 400) is a bug or a missing role
# and stays unlabelled, which the orchestrator also retries, but it is logged as unexpected.
TRANSIENT_STATUS = frozenset({408, 429, 500, 502, 503, 504})


@contextmanager
def storage_errors(what: str) -> Iterator[None]:
    """Re-raise storage outages inside the block as TransientFailure naming `what`."""
    try:
        yield
    except (ServiceRequestError, ServiceResponseError) as error:
        raise TransientFailure(f"{what}: storage unreachable ({type(error).__name__})") from error
    except HttpResponseError as error:
        if error.status_code in TRANSIENT_STATUS:
            raise TransientFailure(f"{what}: storage answered {error.status_code}") from error
        raise
