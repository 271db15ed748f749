"""Stage events from NATS JetStream.

A tape system publishes one JSON ``StageEvent`` per file on ``<prefix>.staged`` or
``<prefix>.error`` into a file-backed stream; the server reads it through a durable pull
consumer with explicit acks. The durable consumer is what makes a crash harmless: what
was fetched but not acknowledged comes again after ``ack_wait``, to this server or the
next one started with the same durable name.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Awaitable, Coroutine
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import nats
import nats.errors
import nats.js.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, StorageType, StreamConfig
from pydantic import ValidationError

from librarian_server.bus.base import EventHandler, EventSource
from librarian_server.stores.tape.base import StageEvent

log = logging.getLogger(__name__)

T = TypeVar("T")

DEFAULT_STREAM = "TAPE_EVENTS"
DEFAULT_SUBJECT_PREFIX = "tape.events"

_RECONNECT_WAIT = 0.5
"""Seconds between reconnect attempts once connected: a restarted broker is found fast."""
_CONNECT_ATTEMPT = 3.0
"""The longest one first-connect attempt may take before it is abandoned and retried."""
_MAX_BACKOFF = 5.0
_POLL = 0.1
"""How often waits look at ``stop``: bounds how long stopping takes."""
_BROKER_ERRORS = (OSError, nats.errors.Error, TimeoutError)
"""What a broker being down, restarting or refusing looks like (JetStream API errors are
nats.errors.Error too)."""


class _Stopped(Exception):
    """``stop`` was set while waiting."""


def redact_url(url: str) -> str:
    """The URL(s) without user, password or token, fit for a log line."""
    parts = []
    for one in url.split(","):
        split = urlsplit(one.strip())
        if split.hostname is None:
            parts.append(one.strip())
            continue
        netloc = split.hostname if split.port is None else f"{split.hostname}:{split.port}"
        parts.append(urlunsplit(split._replace(netloc=netloc)))
    return ",".join(parts)


def _secrets_of(url: str) -> list[str]:
    found = []
    for one in url.split(","):
        split = urlsplit(one.strip())
        found += [s for s in (split.username, split.password) if s]
    return found


async def _ensure_stream(js: JetStreamContext, stream: str, subject_prefix: str) -> None:
    """Create the stream if it is missing; an existing one is used as it is (its owner may
    have set limits or replicas we should not undo)."""
    try:
        await js.stream_info(stream)
        return
    except nats.js.errors.NotFoundError:
        pass
    config = StreamConfig(name=stream, subjects=[f"{subject_prefix}.>"], storage=StorageType.FILE)
    try:
        await js.add_stream(config)
        log.info("created JetStream stream %s for subjects %s.>", stream, subject_prefix)
    except nats.js.errors.BadRequestError:
        # Another process created it in between: theirs stands.
        await js.stream_info(stream)


class NatsEventSource(EventSource):
    """Consumes stage events from a JetStream durable pull consumer; see ``EventSource.run``.

    ``batch`` bounds the events one ``handle`` call sees (one database transaction);
    ``fetch_timeout`` is how long a fetch waits for the first message, which also bounds
    how long stopping takes between batches; ``ack_wait`` is how long the broker waits for
    an acknowledgement before redelivering, so it must exceed the longest ``handle`` call;
    ``retry_delay`` is how long a batch whose ``handle`` raised waits before it comes
    again."""

    def __init__(
        self,
        url: str,
        *,
        durable: str,
        stream: str = DEFAULT_STREAM,
        subject_prefix: str = DEFAULT_SUBJECT_PREFIX,
        batch: int = 500,
        fetch_timeout: float = 1.0,
        ack_wait: float = 30.0,
        retry_delay: float = 1.0,
    ) -> None:
        if batch < 1:
            raise ValueError("batch must be at least 1")
        if fetch_timeout <= 0 or ack_wait <= 0 or retry_delay < 0:
            raise ValueError(
                "fetch_timeout and ack_wait must be positive, retry_delay not negative"
            )
        self._url = url
        self._durable = durable
        self._stream = stream
        self._prefix = subject_prefix
        self._batch = batch
        self._fetch_timeout = fetch_timeout
        self._ack_wait = ack_wait
        self._retry_delay = retry_delay
        self._connected = False
        self._resubscribe = False
        self._quiet = False
        self.last_event_time = None

    @property
    def connected(self) -> bool:
        return self._connected

    def __repr__(self) -> str:
        return f"NatsEventSource({redact_url(self._url)!r}, durable={self._durable!r})"

    def run(self, handle: EventHandler, stop: threading.Event) -> None:
        """See ``EventSource.run``. Owns an event loop in the calling thread, which must
        not be running one. A ``handle`` call under way when ``stop`` is set is finished
        (and its batch acknowledged) first."""
        asyncio.run(self._run(handle, stop))

    # -- the loop --------------------------------------------------------------------------

    async def _run(self, handle: EventHandler, stop: threading.Event) -> None:
        nc = await self._first_connect(stop)
        if nc is None:
            return
        sub: JetStreamContext.PullSubscription | None = None
        try:
            while not stop.is_set():
                if self._resubscribe or sub is None:
                    sub = await self._resubscribed(nc, sub, stop)
                    if sub is None:
                        continue
                try:
                    msgs = await sub.fetch(self._batch, timeout=self._fetch_timeout)
                except (TimeoutError, nats.js.errors.FetchTimeoutError):
                    continue  # nothing to do, or the broker is away: the client reconnects
                except _BROKER_ERRORS as e:
                    if nc.is_connected:
                        # Connected yet refused: the consumer or stream may be gone (a broker
                        # restarted without its store); make them again.
                        log.warning(
                            "fetch from %s failed (%s); re-subscribing", self, self._safe(e)
                        )
                        self._resubscribe = True
                    await self._pause(stop, 0.5)
                    continue
                await self._process(msgs, handle)
        except _Stopped:
            pass
        finally:
            self._connected = False
            with contextlib.suppress(Exception):
                await asyncio.wait_for(nc.close(), timeout=2.0)
            log.info("event source %s stopped", self)

    async def _resubscribed(
        self,
        nc: Client,
        old: JetStreamContext.PullSubscription | None,
        stop: threading.Event,
    ) -> JetStreamContext.PullSubscription | None:
        """A fresh pull subscription on a stream and consumer known to exist, or None (after
        a pause) while the broker cannot make one."""
        if old is not None:
            with contextlib.suppress(Exception):
                await old.unsubscribe()
        self._resubscribe = False
        try:
            js = nc.jetstream()
            await _ensure_stream(js, self._stream, self._prefix)
            await self._ensure_consumer(js)
            sub = await js.pull_subscribe_bind(durable=self._durable, stream=self._stream)
        except _BROKER_ERRORS as e:
            if nc.is_connected:
                log.warning("cannot subscribe on %s (%s); retrying", self, self._safe(e))
            self._resubscribe = True
            await self._pause(stop, 1.0)
            return None
        log.info("consuming %s.> from stream %s as %s", self._prefix, self._stream, self._durable)
        return sub

    async def _ensure_consumer(self, js: JetStreamContext) -> None:
        config = ConsumerConfig(
            name=self._durable,
            durable_name=self._durable,
            deliver_policy=DeliverPolicy.ALL,
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=self._ack_wait,
            max_deliver=-1,
            filter_subject=f"{self._prefix}.>",
        )
        try:
            info = await js.consumer_info(self._stream, self._durable)
        except nats.js.errors.NotFoundError:
            await js.add_consumer(self._stream, config)
            log.info("created durable consumer %s on %s", self._durable, self._stream)
            return
        if info.config.ack_wait is not None and abs(info.config.ack_wait - self._ack_wait) > 1e-3:
            try:
                await js.add_consumer(self._stream, config)  # an update of the editable fields
                log.info("consumer %s: ack_wait set to %s s", self._durable, self._ack_wait)
            except nats.js.errors.APIError as e:
                log.warning(
                    "consumer %s keeps ack_wait %s s (update refused: %s)",
                    self._durable,
                    info.config.ack_wait,
                    e,
                )

    async def _process(self, msgs: list[Msg], handle: EventHandler) -> None:
        events: list[StageEvent] = []
        good: list[Msg] = []
        for msg in msgs:
            try:
                events.append(StageEvent.model_validate_json(msg.data))
                good.append(msg)
            except ValidationError as e:
                log.warning(
                    "dropping a malformed stage event on %s (%d bytes): %s",
                    msg.subject,
                    len(msg.data),
                    e.errors(include_url=False, include_input=False),
                )
                # Fire-and-forget is enough: a lost term means one more redelivery, termed again.
                with contextlib.suppress(*_BROKER_ERRORS):
                    await msg.term()
        if not good:
            return
        try:
            await asyncio.to_thread(handle, events)
        except Exception:
            log.exception(
                "handling %d stage events failed; they come again in %s s",
                len(events),
                self._retry_delay,
            )
            await self._settle([m.nak(delay=self._retry_delay or None) for m in good], "nak")
            return
        self.last_event_time = time.monotonic()
        await self._settle([m.ack_sync(timeout=max(2.0, self._fetch_timeout)) for m in good], "ack")

    async def _settle(self, calls: list[Coroutine[Any, Any, Any]], what: str) -> None:
        """Send acks (or naks) at once, not one round trip each; one that fails means a
        redelivery after ``ack_wait``, which the idempotent handler absorbs."""
        results = await asyncio.gather(*calls, return_exceptions=True)
        failed = [r for r in results if isinstance(r, BaseException)]
        if failed:
            log.warning(
                "%d of %d %ss not confirmed (%s); those events will be redelivered",
                len(failed),
                len(results),
                what,
                self._safe(failed[0]),
            )

    # -- connecting ------------------------------------------------------------------------

    async def _first_connect(self, stop: threading.Event) -> Client | None:
        """Connected client, retrying with backoff while the broker is down; None if
        ``stop`` was set first. Once connected, the client reconnects by itself forever."""
        delay = 0.2
        attempt = 0
        while not stop.is_set():
            attempt += 1
            nc = Client()
            try:
                await self._until(self._connect(nc), stop, _CONNECT_ATTEMPT)
            except _Stopped:
                await self._close_quietly(nc)
                return None
            except _BROKER_ERRORS as e:
                await self._close_quietly(nc)
                level = logging.WARNING if attempt == 1 or attempt % 20 == 0 else logging.DEBUG
                log.log(
                    level,
                    "cannot connect to %s (attempt %d: %s); retrying",
                    redact_url(self._url),
                    attempt,
                    self._safe(e) or type(e).__name__,
                )
                try:
                    await self._pause(stop, delay)
                except _Stopped:
                    return None
                delay = min(delay * 2, _MAX_BACKOFF)
                continue
            self._connected = True
            self._quiet = False
            log.info("connected to NATS at %s", redact_url(self._url))
            return nc
        return None

    async def _connect(self, nc: Client) -> None:
        await nc.connect(
            self._url,
            name=f"librarian-stage-events-{self._durable}",
            max_reconnect_attempts=-1,
            reconnect_time_wait=_RECONNECT_WAIT,  # type: ignore[arg-type]  # annotated int
            connect_timeout=2,
            ping_interval=5,
            max_outstanding_pings=3,
            error_cb=self._on_error,
            disconnected_cb=self._on_disconnected,
            reconnected_cb=self._on_reconnected,
        )

    async def _on_error(self, e: Exception) -> None:
        # While the broker is away every failed reconnect lands here: say it once.
        if self._quiet:
            log.debug("NATS error: %s", self._safe(e))
            return
        self._quiet = not self._connected
        log.warning(
            "NATS error on %s: %s", redact_url(self._url), self._safe(e) or type(e).__name__
        )

    async def _on_disconnected(self) -> None:
        if self._connected:
            log.warning("disconnected from NATS at %s; reconnecting", redact_url(self._url))
        self._connected = False
        self._quiet = True

    async def _on_reconnected(self) -> None:
        self._connected = True
        self._quiet = False
        # A restarted broker keeps the durable consumer in its store, but a fresh pull
        # subscription costs little and also covers one that lost it.
        self._resubscribe = True
        log.info("reconnected to NATS at %s", redact_url(self._url))

    # -- small helpers ---------------------------------------------------------------------

    def _safe(self, e: BaseException) -> str:
        text = str(e)
        for secret in _secrets_of(self._url):
            text = text.replace(secret, "***")
        return text

    @staticmethod
    async def _until(aw: Awaitable[T], stop: threading.Event, timeout: float) -> T:
        """``aw``'s result; cancelled on ``stop`` (raising _Stopped) or after ``timeout``."""
        task = asyncio.ensure_future(aw)
        deadline = time.monotonic() + timeout
        while not task.done():
            if stop.is_set() or time.monotonic() > deadline:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, *_BROKER_ERRORS):
                    await task
                if stop.is_set():
                    raise _Stopped
                raise TimeoutError(f"no connection within {timeout} s")
            await asyncio.wait({task}, timeout=_POLL)
        return task.result()

    @staticmethod
    async def _pause(stop: threading.Event, seconds: float) -> None:
        """Sleep, but raise _Stopped as soon as ``stop`` is set."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if stop.is_set():
                raise _Stopped
            await asyncio.sleep(min(_POLL, max(0.0, deadline - time.monotonic())))
        if stop.is_set():
            raise _Stopped

    @staticmethod
    async def _close_quietly(nc: Client) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(nc.close(), timeout=2.0)


def publish_events(
    url: str,
    events: list[StageEvent],
    *,
    stream: str = DEFAULT_STREAM,
    subject_prefix: str = DEFAULT_SUBJECT_PREFIX,
) -> None:
    """Publish events as a tape system would, each confirmed by JetStream (so it is in the
    stream when this returns). Creates the stream if missing. For tests and benchmarks."""
    asyncio.run(_publish(url, events, stream, subject_prefix))


async def _publish(url: str, events: list[StageEvent], stream: str, subject_prefix: str) -> None:
    nc = await nats.connect(url, connect_timeout=5, max_reconnect_attempts=2)
    try:
        js = nc.jetstream()
        await _ensure_stream(js, stream, subject_prefix)
        window = 500  # outstanding publishes: one round trip per window, not per event
        for start in range(0, len(events), window):
            await asyncio.gather(
                *(
                    js.publish(
                        f"{subject_prefix}.{event.status}",
                        event.model_dump_json().encode(),
                        stream=stream,
                    )
                    for event in events[start : start + window]
                )
            )
    finally:
        await nc.close()
