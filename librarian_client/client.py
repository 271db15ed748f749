"""``LibrarianClient``: the Python API to one librarian server.

One ``HttpSession`` (one ``httpx.Client``) per instance, so a thousand small uploads
reuse one keep-alive connection; ``transport=`` lets tests route requests to an
``httpx.MockTransport`` or an ASGI app instead of the network.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import httpx

# ``models.X``, not ``from ... import X``: the package imports a model's module when it
# is first used, so ``ping`` builds the validators of its own models and no others.
from librarian_client import _ping, models
from librarian_client._accounts import AccountsMixin
from librarian_client._download import DownloadMixin, name_path, safe_relative
from librarian_client._events import EventsMixin
from librarian_client._integrity import IntegrityMixin
from librarian_client._replication import ReplicationMixin
from librarian_client._resume import ResumeState
from librarian_client._sneakernet import SneakernetMixin
from librarian_client._staging import StagingMixin
from librarian_client._webhooks import WebhooksMixin
from librarian_client.exceptions import ConfigError, ProtocolError
from librarian_client.http import Closing, HttpSession, parse_model
from librarian_client.limits import API_PREFIX as API
from librarian_client.streaming import ProgressCallback, progress_or_noop

if TYPE_CHECKING:
    from pydantic import BaseModel, TypeAdapter

    from librarian_client._upload import UploadResult
    from librarian_client.config import Connection

__all__ = ["LibrarianClient"]

USER_AGENT = "librarian-client/0.1"
M = TypeVar("M", bound="BaseModel")


# pydantic is imported where a model is first needed: ``librarian ping`` never loads it.
@cache
def _stores() -> TypeAdapter[list[models.StoreInfo]]:
    from pydantic import TypeAdapter

    return TypeAdapter(list[models.StoreInfo])


@cache
def _tokens() -> TypeAdapter[list[models.TokenInfo]]:
    from pydantic import TypeAdapter

    return TypeAdapter(list[models.TokenInfo])


class LibrarianClient(
    Closing,
    AccountsMixin,
    DownloadMixin,
    EventsMixin,
    IntegrityMixin,
    ReplicationMixin,
    SneakernetMixin,
    StagingMixin,
    WebhooksMixin,
):
    """Talks to one librarian server; use as a context manager or call ``close()``.

    Authentication is a bearer ``token`` if given, else HTTP Basic with
    ``username``/``password``, else none (enough for ``ping``).
    """

    def __init__(
        self,
        url: str,
        username: str | None = None,
        password: str | None = None,
        *,
        token: str | None = None,
        timeout: float = 60.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if not url.startswith(("http://", "https://")):
            raise ConfigError(
                f"The server URL {url!r} is not an http(s) URL.",
                "Give the full URL, e.g. http://localhost:21108.",
            )
        basic = None
        if username is not None and password is not None:
            basic = httpx.BasicAuth(username, password)
        self._session = HttpSession(
            url,
            user_agent=USER_AGENT,
            timeout=timeout,
            auth=basic,
            token=token,
            transport=transport,
        )
        self.url = self._session.url
        self.username = username
        self.timeout = timeout

    @classmethod
    def for_connection(
        cls,
        conn: Connection,
        *,
        timeout: float = 60.0,
        transport: httpx.BaseTransport | None = None,
    ) -> LibrarianClient:
        return cls(
            conn.url,
            conn.username,
            conn.password.get_secret_value() if conn.password else None,
            token=conn.token.get_secret_value() if conn.token else None,
            timeout=timeout,
            transport=transport,
        )

    @classmethod
    def from_connection(
        cls,
        name: str | None = None,
        *,
        timeout: float = 60.0,
        transport: httpx.BaseTransport | None = None,
    ) -> LibrarianClient:
        """A client for the named (else the default) connection, env vars taking precedence."""
        from librarian_client.config import resolve_connection

        return cls.for_connection(resolve_connection(name), timeout=timeout, transport=transport)

    @classmethod
    def from_env(
        cls, *, timeout: float = 60.0, transport: httpx.BaseTransport | None = None
    ) -> LibrarianClient:
        """``LIBRARIAN_URL``/``_USERNAME``/``_PASSWORD``/``_TOKEN``, else the default connection."""
        return cls.from_connection(None, timeout=timeout, transport=transport)

    def close(self) -> None:
        self._session.close()

    def __repr__(self) -> str:
        return f"LibrarianClient({self.url!r}, username={self.username!r})"

    # -- plumbing (the mixins reach the server through these) --------------------------

    def _stream(
        self, method: str, path: str, **kwargs: Any
    ) -> AbstractContextManager[httpx.Response]:
        return self._session.stream(method, path, **kwargs)

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return self._session.send(method, path, **kwargs)

    def _call(self, model: type[M], method: str, path: str, **kwargs: Any) -> M:
        return self._session.call(model, method, path, **kwargs)

    # -- small calls ----------------------------------------------------------------

    def ping(self) -> models.PingResponse:
        return self._call(models.PingResponse, "GET", f"{API}/ping")

    def ping_fields(self) -> dict[str, str | None]:
        """``ping().model_dump(mode="json")``, without loading pydantic when the answer
        is plainly well formed (what ``librarian ping`` prints; see ``_ping``)."""
        path = f"{API}/ping"
        response = self._send("GET", path)
        fields = _ping.checked(response.content)
        if fields is None:
            pong = parse_model(models.PingResponse, response, f"GET {path}")
            fields = pong.model_dump(mode="json")
        return fields

    def info(self, name: str) -> models.FileInfo:
        return self._call(models.FileInfo, "GET", f"{API}/files/{name_path(name)}")

    def stores(self) -> list[models.StoreInfo]:
        from pydantic import ValidationError

        response = self._send("GET", f"{API}/stores")
        try:
            return _stores().validate_json(response.content)
        except ValidationError as exc:
            raise ProtocolError(f"The server's store list is malformed: {exc}.") from exc

    def create_token(
        self, expires_in_seconds: int | None = None, description: str = ""
    ) -> models.TokenCreateResponse:
        """A bearer token for the authenticated user (e.g. for a pipeline's config)."""
        body = models.TokenCreateRequest(
            expires_in_seconds=expires_in_seconds, description=description
        )
        return self._call(
            models.TokenCreateResponse, "POST", f"{API}/tokens", json=body.model_dump(mode="json")
        )

    def list_tokens(self, all_users: bool = False) -> list[models.TokenInfo]:
        """Your live tokens (never their secrets); ``all_users`` (admins) lists everyone's."""
        params = {"all": "true"} if all_users else None
        from pydantic import ValidationError

        response = self._send("GET", f"{API}/tokens", params=params)
        try:
            return _tokens().validate_json(response.content)
        except ValidationError as exc:
            raise ProtocolError(f"The server's token list is malformed: {exc}.") from exc

    def revoke_token(self, token_id: int) -> models.TokenRevokeResponse:
        """Revoke a token and every token minted from it; effective at once on the server."""
        return self._call(models.TokenRevokeResponse, "DELETE", f"{API}/tokens/{int(token_id)}")

    # -- search -----------------------------------------------------------------------

    def search_page(
        self,
        *,
        name: str | None = None,
        prefix: str | None = None,
        created_after: datetime | str | None = None,
        created_before: datetime | str | None = None,
        min_size: int | None = None,
        max_size: int | None = None,
        uploader: str | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> models.SearchResponse:
        """One page of results; ``name`` is a glob (``*`` crosses '/')."""
        filters = models.SearchQuery.model_validate(
            {
                "name": name,
                "prefix": prefix,
                "created_after": created_after,
                "created_before": created_before,
                "min_size": min_size,
                "max_size": max_size,
                "uploader": uploader,
                "cursor": cursor,
            }
            | ({} if limit is None else {"limit": limit})
        )
        return self._page(filters)

    def _page(self, filters: models.SearchQuery) -> models.SearchResponse:
        params = filters.model_dump(mode="json", exclude_none=True)
        return self._call(models.SearchResponse, "GET", f"{API}/search", params=params)

    def search(
        self,
        *,
        name: str | None = None,
        prefix: str | None = None,
        created_after: datetime | str | None = None,
        created_before: datetime | str | None = None,
        min_size: int | None = None,
        max_size: int | None = None,
        uploader: str | None = None,
        limit: int | None = None,
        page_size: int = 1000,
    ) -> Iterator[models.FileSummary]:
        """Every match, following cursors lazily; ``limit`` caps the total yielded."""
        filters = models.SearchQuery(
            name=name,
            prefix=prefix,
            created_after=created_after,
            created_before=created_before,
            min_size=min_size,
            max_size=max_size,
            uploader=uploader,
        )
        cursor: str | None = None
        remaining = limit
        while remaining is None or remaining > 0:
            want = page_size if remaining is None else min(page_size, remaining)
            page = self._page(
                filters.model_copy(
                    update={"limit": min(want, models.MAX_SEARCH_PAGE), "cursor": cursor}
                )
            )
            for summary in page.files:
                if remaining is not None:
                    if remaining <= 0:
                        return
                    remaining -= 1
                yield summary
            if page.next_cursor is None or not page.files:
                return
            cursor = page.next_cursor

    def list_page(
        self, prefix: str = "", *, limit: int | None = None, cursor: str | None = None
    ) -> models.ListResponse:
        """One page of one level under ``prefix`` (directories end with '/')."""
        query = models.ListQuery.model_validate(
            {"prefix": prefix, "cursor": cursor} | ({} if limit is None else {"limit": limit})
        )
        params = query.model_dump(mode="json", exclude_none=True)
        return self._call(models.ListResponse, "GET", f"{API}/list", params=params)

    def listdir(
        self, prefix: str = "", *, page_size: int = 1000
    ) -> Iterator[str | models.FileSummary]:
        """Every entry of one level in name order: a ``str`` ending in '/' is a directory.

        ``listdir("obs/")`` is ``obs/``'s contents; a prefix without the '/' also
        matches siblings (``obs/run1`` gives ``obs/run1/`` and ``obs/run1.dat``).
        """
        cursor: str | None = None
        while True:
            page = self.list_page(prefix, limit=page_size, cursor=cursor)
            entries: list[str | models.FileSummary] = [*page.directories, *page.files]
            entries.sort(key=lambda e: e if isinstance(e, str) else e.name)
            yield from entries
            if page.next_cursor is None or not entries:
                return
            cursor = page.next_cursor

    def delete(
        self,
        names: Iterable[str] = (),
        *,
        prefix: str | None = None,
        force: bool = False,
        last_copy: bool = False,
        dry_run: bool = False,
    ) -> models.DeleteResponse:
        """Delete files by name, or every file under ``prefix``: all of them or none.

        Your own file within the site's grace period, while no other site has it, needs
        nothing more; anything else needs an admin and ``force``, and a file that no
        other site has confirmed holding also ``last_copy``. ``dry_run`` only checks.
        """
        body = models.DeleteRequest(
            names=list(names), prefix=prefix, force=force, last_copy=last_copy, dry_run=dry_run
        )
        return self._call(
            models.DeleteResponse, "POST", f"{API}/delete", json=body.model_dump(mode="json")
        )

    # -- transfers ----------------------------------------------------------------------

    def upload(
        self,
        local: str | os.PathLike[str],
        dest: str,
        *,
        progress: ProgressCallback | None = None,
    ) -> UploadResult:
        """Upload one file; idempotent (an identical file already there is a success)."""
        return self.upload_many([(local, dest)], progress=progress)[0]

    def upload_many(
        self,
        pairs: Iterable[tuple[str | os.PathLike[str], str]],
        *,
        progress: ProgressCallback | None = None,
        batch_size: int = 1000,
        transfers: int = 1,
        resume: bool = True,
    ) -> list[UploadResult]:
        """Upload ``(local, dest)`` pairs: per batch one stage call, the bytes, commits.

        Results come back in input order. ``transfers`` files (or bundles of small
        files) are sent at once. Sent files are committed about once a second, and
        files already committed stay committed if a later one fails; running the
        same upload again skips them, and with ``resume`` a large file cut off mid-way
        is sent on from where the server's copy stops (the transfer is remembered under
        the user's cache directory).
        """
        # The uploader and its models load here: a command that sends no file pays nothing.
        from librarian_client._upload import Uploader

        state = ResumeState(self.url) if resume else None
        uploader = Uploader(self._send, progress_or_noop(progress), transfers, state)
        return uploader.run(pairs, batch_size)

    def download(
        self,
        name: str,
        local: str | os.PathLike[str],
        *,
        progress: ProgressCallback | None = None,
    ) -> models.FileInfo:
        """Download to ``local`` (or into it, if it is a directory), verified before it appears.

        Bytes go to a temp file beside the target and are hashed as they arrive;
        only a file matching the catalogue's size and checksum is renamed into place.
        """
        info = self.info(name)
        target = Path(local)
        if target.is_dir():
            target = target / safe_relative(name, name.rsplit("/", 1)[-1])[0]
        if not target.parent.is_dir():  # say so now, not later about a temp file's name
            raise FileNotFoundError(errno.ENOENT, "No such directory", str(target.parent))
        self.fetch(name, target, info.size, info.checksum, progress_or_noop(progress))
        return info
