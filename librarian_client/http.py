"""The HTTP plumbing every client of a librarian shares: the user's ``LibrarianClient``
and a server's client to its peers.

One ``httpx.Client`` per session (keep-alive across a batch), built the same way for
both: base URL, authentication, a timeout on every call, a user agent naming the
caller, and ``transport=`` so that tests route the requests to an ``httpx.MockTransport``
or into apps in the same process instead of over the network. Transport failures
become the client's typed one-line errors and error statuses its typed HTTP errors;
a caller with a vocabulary of its own (a server reporting on a peer) translates those.
"""

from __future__ import annotations

import ssl
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self, TypeVar

import httpx

from librarian_client.exceptions import (
    LibrarianConnectionError,
    LibrarianTimeoutError,
    ProtocolError,
    error_from_response,
)

if TYPE_CHECKING:
    from pydantic import BaseModel

__all__ = ["HttpSession", "parse_model"]

M = TypeVar("M", bound="BaseModel")


def parse_model(model: type[M], response: httpx.Response, what: str) -> M:
    """Validate a 2xx body; a mismatch means client and server disagree on the contract."""
    from pydantic import ValidationError  # loaded with the models anyway; not by ``ping``

    try:
        return model.model_validate_json(response.content)
    except ValidationError as exc:
        raise ProtocolError(
            f"The server's answer to {what} is not a {model.__name__}: {exc.errors()[0]['msg']}."
        ) from exc


def _tls(url: str) -> ssl.SSLContext | bool:
    """No CA bundle for a plain-http server: loading one costs each CLI run tens of ms.

    Every request goes to ``url`` (paths are relative to it), so with no proxy set
    nothing here ever speaks TLS; the context given (which trusts nothing) is never used.
    """
    if url.startswith("http://") and not urllib.request.getproxies():
        return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    return True


class Closing:
    """``with`` for a client that holds a connection pool: leaving the block closes it."""

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class HttpSession:
    """Requests to one librarian server; ``token`` (a bearer token) wins over ``auth``."""

    def __init__(
        self,
        url: str,
        *,
        user_agent: str,
        timeout: float,
        auth: httpx.Auth | None = None,
        token: str | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        headers = {"User-Agent": user_agent}
        if token:
            headers["Authorization"] = f"Bearer {token}"
            auth = None
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.client = httpx.Client(
            base_url=self.url,
            auth=auth,
            headers=headers,
            timeout=httpx.Timeout(timeout),
            transport=transport,
            verify=_tls(self.url),
        )

    def close(self) -> None:
        self.client.close()

    @contextmanager
    def mapped_errors(self, what: str) -> Iterator[None]:
        """Turn httpx's transport errors into the client's typed, one-line errors.

        The httpx error stays the ``__cause__``, for callers that word their own message.
        """
        try:
            yield
        except httpx.TimeoutException as exc:
            raise LibrarianTimeoutError(
                f"{self.url} did not answer {what} within {self.timeout:g} s."
            ) from exc
        except httpx.RequestError as exc:
            detail = str(exc) or type(exc).__name__
            raise LibrarianConnectionError(f"Cannot reach {self.url} ({what}): {detail}.") from exc

    def send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """A whole answer; an error status raises its typed ``LibrarianHTTPError``."""
        with self.mapped_errors(f"{method} {path}"):
            response = self.client.request(method, path, **kwargs)
        if response.is_error:
            raise error_from_response(response)
        return response

    def call(self, model: type[M], method: str, path: str, **kwargs: Any) -> M:
        return parse_model(model, self.send(method, path, **kwargs), f"{method} {path}")

    @contextmanager
    def stream(self, method: str, path: str, **kwargs: Any) -> Iterator[httpx.Response]:
        """An answer read as it arrives (file bytes, progress events), in constant memory.

        An error status is read whole and raised as its typed error before anything is
        yielded; a transport failure part-way is mapped as for ``send``.
        """
        with (
            self.mapped_errors(f"{method} {path}"),
            self.client.stream(method, path, **kwargs) as response,
        ):
            if response.is_error:
                response.read()
                raise error_from_response(response)
            yield response
