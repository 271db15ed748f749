"""The globus-sdk's own recorded answers and requests, narrowed to the shapes the tests use.

The SDK types them broadly (a case may be a list of answers, a request body a stream);
these helpers assert the narrow shape once, so the tests index them with their types
checked.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

from globus_sdk import TransferClient
from globus_sdk.testing import RegisteredResponse, get_response_set
from requests import PreparedRequest


def sdk_answer(method: Any) -> RegisteredResponse:
    """The SDK's ``default`` recorded answer for one of its client methods."""
    found = get_response_set(method).lookup("default")
    assert isinstance(found, RegisteredResponse), found
    return found


def sdk_task() -> dict[str, Any]:
    """A task document shaped like the first one of the SDK's ``task_list`` fixture."""
    listing = sdk_answer(TransferClient.task_list).json
    assert isinstance(listing, dict), listing
    task: dict[str, Any] = listing["DATA"][0]
    return task


def body(request: PreparedRequest | None) -> str:
    """What a request sent: the SDK sends whole bodies (form or JSON), never streams."""
    assert request is not None
    sent = request.body
    assert isinstance(sent, str | bytes), sent
    return sent.decode() if isinstance(sent, bytes) else sent


def query(request: PreparedRequest) -> dict[str, list[str]]:
    """A request's query string, parsed."""
    assert request.url is not None
    return parse_qs(urlsplit(request.url).query)
