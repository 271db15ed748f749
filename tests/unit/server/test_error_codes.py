"""Every error code, end to end: a server error that answers with it, and the client
exception it becomes.

The server side is the real exception tree and the real handlers, in a small app; the
client side is the real ``error_from_response`` reading the answer the app gave.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import BaseModel
from sqlalchemy.exc import OperationalError

from librarian_client import exceptions as client_errors
from librarian_client.models import ErrorCode, ErrorResponse
from librarian_server import errors
from librarian_server.api.errors import install
from librarian_server.services.catalogue.deletion import DeletionRefused
from librarian_server.services.ingest.resume import UploadInProgress
from librarian_server.services.ingest.transfer_cas import TransferClosed

SERVER: dict[ErrorCode, Callable[[], errors.LibrarianError]] = {
    ErrorCode.INVALID_REQUEST: errors.InvalidRequest,
    ErrorCode.INVALID_NAME: errors.InvalidName,
    ErrorCode.VALIDATION_ERROR: errors.MalformedRequest,
    ErrorCode.AUTHENTICATION_REQUIRED: errors.AuthenticationRequired,
    ErrorCode.PERMISSION_DENIED: errors.PermissionDenied,
    ErrorCode.NOT_FOUND: errors.NotFound,
    ErrorCode.METHOD_NOT_ALLOWED: errors.MethodNotAllowed,
    ErrorCode.CONFLICT: errors.Conflict,
    ErrorCode.FILE_EXISTS: errors.FileAlreadyExists,
    ErrorCode.NAME_CONFLICT: errors.NameConflict,
    ErrorCode.LAST_ADMIN: errors.LastAdmin,
    ErrorCode.ACCOUNT_IN_USE: errors.AccountInUse,
    ErrorCode.TRANSFER_RUNNING: errors.TransferRunning,
    ErrorCode.TRANSFER_CLOSED: lambda: TransferClosed([3, 1], "Not committed"),
    ErrorCode.FILE_OFFLINE: lambda: errors.FileOffline(job="0" * 32),
    ErrorCode.DELETION_REFUSED: DeletionRefused,
    ErrorCode.COPY_FAILED_VERIFICATION: errors.CopyFailedVerification,
    ErrorCode.BODY_TOO_LARGE: lambda: errors.BodyTooLarge(1024, "a JSON API request"),
    ErrorCode.RANGE_NOT_SATISFIABLE: lambda: errors.RangeNotSatisfiable(size=10),
    ErrorCode.VERIFICATION_FAILED: errors.VerificationFailed,
    ErrorCode.TOO_MANY_ATTEMPTS: lambda: errors.TooManyAttempts(30, "user 'alice'"),
    ErrorCode.INTERNAL_ERROR: errors.LibrarianError,
    ErrorCode.CONFIGURATION_ERROR: errors.ConfigurationError,
    ErrorCode.PEER_ERROR: lambda: errors.PeerError("ucsd is unreachable.", peer_status=None),
    ErrorCode.UNAVAILABLE: errors.ServiceUnavailable,
    ErrorCode.INSUFFICIENT_STORAGE: errors.InsufficientStorage,
}
"""One server error that answers with each code."""

CLIENT: dict[ErrorCode, type[client_errors.LibrarianHTTPError]] = {
    ErrorCode.INVALID_REQUEST: client_errors.BadRequest,
    ErrorCode.INVALID_NAME: client_errors.BadRequest,
    ErrorCode.VALIDATION_ERROR: client_errors.BadRequest,
    ErrorCode.AUTHENTICATION_REQUIRED: client_errors.AuthenticationError,
    ErrorCode.PERMISSION_DENIED: client_errors.PermissionDenied,
    ErrorCode.NOT_FOUND: client_errors.NotFound,
    ErrorCode.METHOD_NOT_ALLOWED: client_errors.LibrarianHTTPError,
    ErrorCode.CONFLICT: client_errors.Conflict,
    ErrorCode.FILE_EXISTS: client_errors.AlreadyExists,
    ErrorCode.NAME_CONFLICT: client_errors.Conflict,
    ErrorCode.LAST_ADMIN: client_errors.Conflict,
    ErrorCode.ACCOUNT_IN_USE: client_errors.Conflict,
    ErrorCode.TRANSFER_RUNNING: client_errors.TransferRunning,
    ErrorCode.TRANSFER_CLOSED: client_errors.Conflict,
    ErrorCode.FILE_OFFLINE: client_errors.FileOffline,
    ErrorCode.DELETION_REFUSED: client_errors.Conflict,
    ErrorCode.COPY_FAILED_VERIFICATION: client_errors.CopyFailedVerification,
    ErrorCode.BODY_TOO_LARGE: client_errors.BodyTooLarge,
    ErrorCode.RANGE_NOT_SATISFIABLE: client_errors.RangeNotSatisfiable,
    ErrorCode.VERIFICATION_FAILED: client_errors.VerificationFailed,
    ErrorCode.TOO_MANY_ATTEMPTS: client_errors.TooManyAttempts,
    ErrorCode.INTERNAL_ERROR: client_errors.ServerError,
    ErrorCode.CONFIGURATION_ERROR: client_errors.ServerError,
    ErrorCode.PEER_ERROR: client_errors.PeerError,
    ErrorCode.UNAVAILABLE: client_errors.ServiceUnavailable,
    ErrorCode.INSUFFICIENT_STORAGE: client_errors.InsufficientStorage,
}
"""The client exception each code must become."""


class Body(BaseModel):
    count: int


def _app() -> FastAPI:
    app = FastAPI()
    install(app)

    @app.get("/raise/{code}")
    def raise_code(code: ErrorCode) -> None:
        raise SERVER[code]()

    @app.post("/typed")
    def typed(body: Body) -> int:
        return body.count

    @app.get("/bug")
    def bug() -> None:
        raise RuntimeError("a bug")

    @app.get("/locked")
    def locked() -> None:
        raise OperationalError("UPDATE x", {}, sqlite3.OperationalError("database is locked"))

    @app.get("/disk-full")
    def disk_full() -> None:
        raise OperationalError("INSERT", {}, sqlite3.OperationalError("database or disk is full"))

    return app


@pytest.fixture(scope="module")
def http() -> Iterator[TestClient]:
    with TestClient(_app(), raise_server_exceptions=False) as client:
        yield client


def _subclasses(cls: type[errors.LibrarianError]) -> Iterator[type[errors.LibrarianError]]:
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def test_every_code_has_a_server_error_and_a_client_exception() -> None:
    assert set(SERVER) == set(ErrorCode)
    assert set(CLIENT) == set(ErrorCode)
    assert set(client_errors.BY_CODE) == set(ErrorCode)
    for code, make in SERVER.items():
        assert make().code is code, code


def test_a_code_always_comes_with_the_same_status() -> None:
    """Every server error class, also those defined by the services, keeps its code's status."""
    status = {code: make().status_code for code, make in SERVER.items()}
    seen = {UploadInProgress, TransferClosed, DeletionRefused}
    classes: list[type[errors.LibrarianError]] = [
        errors.LibrarianError,
        *_subclasses(errors.LibrarianError),
    ]
    for cls in classes:
        assert isinstance(cls.code, ErrorCode), cls
        assert cls.status_code == status[cls.code], cls
        seen.discard(cls)
    assert not seen


@pytest.mark.parametrize("code", list(ErrorCode))
def test_each_code_reaches_the_client_as_its_exception(http: TestClient, code: ErrorCode) -> None:
    made = SERVER[code]()
    response = http.get(f"/raise/{code.value}")

    assert response.status_code == made.status_code
    body = ErrorResponse.model_validate(response.json())
    assert body.code is code and "code" in response.json()
    assert body.reason == made.reason and body.suggested_remedy == made.suggested_remedy
    for name, value in made.headers().items():
        assert response.headers[name] == value
    exc = client_errors.error_from_response(response)
    assert type(exc) is CLIENT[code]
    assert exc.code is code and exc.status_code == made.status_code
    assert exc.reason == " ".join(made.reason.split())


@pytest.mark.parametrize(
    ("method", "path", "status", "code", "error"),
    [
        ("POST", "/typed", 400, ErrorCode.VALIDATION_ERROR, "InvalidRequest"),
        ("DELETE", "/typed", 405, ErrorCode.METHOD_NOT_ALLOWED, "HTTPError"),
        ("GET", "/no/such/route", 404, ErrorCode.NOT_FOUND, "HTTPError"),
        ("GET", "/bug", 500, ErrorCode.INTERNAL_ERROR, "InternalError"),
        ("GET", "/locked", 503, ErrorCode.UNAVAILABLE, "ServiceUnavailable"),
        ("GET", "/disk-full", 507, ErrorCode.INSUFFICIENT_STORAGE, "InsufficientStorage"),
    ],
)
def test_errors_from_outside_the_domain_tree_carry_codes_too(
    http: TestClient, method: str, path: str, status: int, code: ErrorCode, error: str
) -> None:
    response = http.request(method, path, json={"count": "many"})

    assert response.status_code == status
    assert response.json()["code"] == code.value
    assert response.json()["error"] == error  # the names these bodies always had
    exc = client_errors.error_from_response(response)
    assert type(exc) is CLIENT[code] and exc.code is code
    if code is ErrorCode.UNAVAILABLE:
        assert response.headers["Retry-After"] == "5"


def test_the_readme_lists_every_code_with_its_status_and_exception() -> None:
    readme = (Path(__file__).parents[3] / "README.md").read_text()
    table = readme[readme.index("| code | status | meaning | client exception |") :]
    rows = {}
    for line in table.splitlines()[2:]:
        if not line.startswith("| `"):
            break
        code, status, _, exception = (cell.strip() for cell in line.strip("|").split(" | "))
        rows[ErrorCode(code.strip("`"))] = (int(status), exception.split("`")[1])
    assert rows == {
        code: (make().status_code, CLIENT[code].__name__) for code, make in SERVER.items()
    }
