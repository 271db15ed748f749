"""A tape system behind Versity ScoutAM's REST API (and the simulator that mimics it).

The session is a bearer token from ``/v1/security/login``; it expires without notice, so a
request answered 403 logs in again once and is retried. Lists of paths are sent in batches
of at most ``max_batch``, the most one request may carry.
"""

from __future__ import annotations

import configparser
import logging
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx

from librarian_server.errors import ConfigurationError
from librarian_server.stores.tape.base import CacheState, TapeError, TapeFileState, TapeSystem

log = logging.getLogger(__name__)


def read_tape_credentials(path: Path) -> tuple[str, str]:
    """The ``account`` and ``password`` of section ``[tape]`` of an INI file.

    Kept in a file of its own so the secret stays out of the settings and the process
    arguments; no message here quotes the file's content, which holds the password."""
    remedy = (
        f"Write {path} as an INI file with a [tape] section holding 'account = ...' and "
        "'password = ...', readable by the server only."
    )
    parser = configparser.ConfigParser(interpolation=None)
    try:
        with path.open(encoding="utf-8") as f:
            parser.read_file(f)
    except OSError as exc:
        raise ConfigurationError(
            f"The tape credentials file {path} cannot be read: {exc.strerror or exc}.", remedy
        ) from None
    except UnicodeDecodeError:
        raise ConfigurationError(
            f"The tape credentials file {path} is not UTF-8 text.", remedy
        ) from None
    except configparser.Error:
        # The parser's message quotes the offending line, which may be the password.
        raise ConfigurationError(
            f"The tape credentials file {path} is not a valid INI file.", remedy
        ) from None
    if not parser.has_section("tape"):
        raise ConfigurationError(f"The tape credentials file {path} has no [tape] section.", remedy)
    section = parser["tape"]
    missing = [key for key in ("account", "password") if not section.get(key, "").strip()]
    if missing:
        raise ConfigurationError(
            f"The [tape] section of {path} lacks {' and '.join(missing)}.", remedy
        )
    return section["account"].strip(), section["password"].strip()


def _batches(paths: Sequence[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(paths), size):
        yield list(paths[start : start + size])


def _reason(response: httpx.Response) -> str:
    """The server's own explanation, if its body carries one."""
    try:
        body = response.json()
    except ValueError:
        return response.reason_phrase or "no explanation"
    if isinstance(body, dict):
        for key in ("reason", "detail", "message", "error"):
            if isinstance(body.get(key), str):
                return str(body[key])
    return response.reason_phrase or "no explanation"


class ScoutClient(TapeSystem):
    """One ScoutAM REST endpoint; safe to share between threads (httpx's client is, and
    the token is guarded by a lock)."""

    def __init__(
        self,
        url: str,
        account: str,
        password: str,
        *,
        verify_tls: bool = True,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.account = account
        self._password = password
        self._lock = threading.Lock()
        self._token: str | None = None
        self._http = httpx.Client(
            base_url=self.url, verify=verify_tls, timeout=timeout, transport=transport
        )

    def __repr__(self) -> str:
        return f"ScoutClient({self.url!r}, account={self.account!r})"

    # -- the session

    def login(self) -> None:
        with self._lock:
            self._token = self._login()

    def _login(self) -> str:
        body = {"acct": self.account, "pass": self._password}
        response = self._send("POST", "/v1/security/login", body)
        if response.status_code in (401, 403):
            raise TapeError(
                f"tape system refused the account {self.account!r} at {self.url}: "
                f"{_reason(response)}"
            )
        self._check(response, "login")
        token = self._payload(response, "login")
        if not isinstance(token, str) or not token:
            raise TapeError(f"tape system at {self.url} answered the login without a token")
        return token

    def _current_token(self, stale: str | None = None) -> str:
        """The session's token, logging in if there is none or the one held is ``stale``
        (another thread may have renewed it meanwhile)."""
        with self._lock:
            if self._token is None or self._token == stale:
                self._token = self._login()
            return self._token

    # -- transport

    def _send(self, method: str, path: str, body: Any, token: str | None = None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        try:
            return self._http.request(method, path, json=body, headers=headers)
        except httpx.TimeoutException:
            raise TapeError(f"tape system at {self.url} did not answer {path} in time") from None
        except httpx.HTTPError as exc:
            raise TapeError(
                f"tape system at {self.url} unreachable ({path}): {type(exc).__name__}: {exc}"
            ) from None

    def _check(self, response: httpx.Response, what: str) -> None:
        if response.is_success:
            return
        raise TapeError(
            f"tape system at {self.url} refused {what}: HTTP {response.status_code}: "
            f"{_reason(response)}"
        )

    def _payload(self, response: httpx.Response, what: str) -> Any:
        try:
            body = response.json()
        except ValueError:
            raise TapeError(f"tape system at {self.url} answered {what} with non-JSON") from None
        if not isinstance(body, dict) or "response" not in body:
            raise TapeError(f"tape system at {self.url} answered {what} without 'response'")
        return body["response"]

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        """One authenticated request: on 403 (an expired token) log in again, once."""
        token = self._current_token()
        response = self._send(method, path, body, token)
        if response.status_code == 403:
            log.info("tape session at %s expired; logging in again", self.url)
            response = self._send(method, path, body, self._current_token(stale=token))
        self._check(response, path)
        return self._payload(response, path)

    # -- the operations

    def stage(self, paths: Sequence[str]) -> None:
        for batch in _batches(paths, self.max_batch):
            self._call("POST", "/v1/file/stage", {"path": batch})

    def status(self, paths: Sequence[str]) -> dict[str, TapeFileState]:
        found: dict[str, TapeFileState] = {}
        for batch in _batches(paths, self.max_batch):
            rows = self._call("POST", "/v1/file/status", {"path": batch})
            if not isinstance(rows, list):
                raise TapeError(f"tape system at {self.url} answered status without a list")
            for row in rows:
                state = self._state(row)
                found[state.path] = state
        # A path the answer leaves out is one the tape system does not know.
        return {p: found.get(p) or TapeFileState(path=p, exists=False) for p in paths}

    def _state(self, row: Any) -> TapeFileState:
        try:
            return TapeFileState(
                path=row["path"],
                exists=bool(row.get("exists", True)),
                size=row.get("size"),
                online_blocks=int(row.get("onlineblocks") or 0),
                offline_blocks=int(row.get("offlineblocks") or 0),
                archived=bool(row.get("archdone", False)),
                staging=bool(row.get("staging", False)),
            )
        except (KeyError, TypeError, ValueError, AttributeError):
            raise TapeError(
                f"tape system at {self.url} answered status with a malformed entry"
            ) from None

    def cancel(self, paths: Sequence[str]) -> None:
        for batch in _batches(paths, self.max_batch):
            self._call("POST", "/v1/file/stage/cancel", {"path": batch})

    def release(self, paths: Sequence[str]) -> None:
        """Files being staged or unknown are left as they are (``status`` tells); a file
        the tape system failed to archive or free is an error."""
        for batch in _batches(paths, self.max_batch):
            rows = self._call("POST", "/v1/file/release", {"path": batch})
            failed = [
                f"{row.get('path')}: {row.get('error') or row.get('result')}"
                for row in (rows if isinstance(rows, list) else [])
                if isinstance(row, dict) and row.get("result") == "error"
            ]
            if failed:
                more = f" (and {len(failed) - 3} more)" if len(failed) > 3 else ""
                raise TapeError(
                    f"tape system at {self.url} could not release {'; '.join(failed[:3])}{more}"
                )

    def cache_state(self) -> CacheState:
        body = self._call("GET", "/v1/fs/cache")
        try:
            health = str(body.get("health", ""))
            return CacheState(
                capacity_bytes=int(body["capacity"]),
                used_bytes=int(body["used"]),
                free_bytes=int(body["free"]),
                healthy=health.lower() == "ok",
                detail="" if health.lower() == "ok" else health,
            )
        except (KeyError, TypeError, ValueError, AttributeError):
            raise TapeError(f"tape system at {self.url} answered fs/cache malformed") from None

    def close(self) -> None:
        self._http.close()
