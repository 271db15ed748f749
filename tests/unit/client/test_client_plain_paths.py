"""The pydantic-free readers ``ping`` uses agree with the models they stand in for.

The config file and ping's answer are checked by hand (``_connections``, ``_ping``);
whatever the check doubts goes to the models. So for every input the plain reading
is the models' reading, or it defers to them and the error is theirs, word for word.
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from pydantic import ValidationError

from librarian_client import ConfigError, LibrarianClient, ProtocolError, _connections, _ping
from librarian_client.limits import PermissionLevel
from librarian_client.models import PingResponse
from tests.unit.fake_librarian import FakeLibrarian

URL = "http://librarian.test"


def test_the_ping_check_names_the_models_fields() -> None:
    fields = PingResponse.model_fields

    assert tuple(fields) == _ping.FIELDS
    assert {name for name, field in fields.items() if field.is_required()} == _ping.REQUIRED
    assert {level.value for level in PermissionLevel} == _ping.PERMISSIONS


PLAIN_ANSWERS = [
    {"name": "librarian", "version": "0.1.0", "checksum_algorithm": "md5"},
    {"name": "a", "version": "1", "checksum_algorithm": "xxh3", "user": "alice"},
    {"name": "a", "version": "1", "checksum_algorithm": "md5", "user": "bo", "permission": "peer"},
    {"name": "a", "version": "1", "checksum_algorithm": "md5", "user": None, "permission": None},
]
DOUBTFUL_ANSWERS = [
    {"name": "a", "version": "1"},
    {"name": "a", "version": "1", "checksum_algorithm": "md5", "extra": 1},
    {"name": "a", "version": 1, "checksum_algorithm": "md5"},
    {"name": "a\x00", "version": "1", "checksum_algorithm": "md5"},
    {"name": "a", "version": "1", "checksum_algorithm": "md5", "permission": "root"},
    {"name": "a", "version": "1", "checksum_algorithm": "md5", "user": 7},
    ["name", "version"],
    None,
]


def _model_reading(content: bytes) -> dict[str, str | None] | None:
    try:
        return PingResponse.model_validate_json(content).model_dump(mode="json")
    except ValidationError:
        return None


@pytest.mark.parametrize("answer", PLAIN_ANSWERS)
def test_a_plain_ping_answer_reads_as_the_model_reads_it(answer: object) -> None:
    content = json.dumps(answer).encode()

    assert _ping.checked(content) is not None
    assert _ping.checked(content) == _model_reading(content)


@pytest.mark.parametrize(
    "content",
    [
        *(json.dumps(answer).encode() for answer in DOUBTFUL_ANSWERS),
        b"",
        b"<html>",
        b'{"name": "\\ud800", "version": "1", "checksum_algorithm": "md5"}',
        json.dumps(PLAIN_ANSWERS[0]).encode("utf-16"),
        pytest.param(b"[" * 100_000 + b"]" * 100_000, id="nested-too-deep"),
    ],
)
def test_a_doubtful_ping_answer_is_left_to_the_model(content: bytes) -> None:
    assert _ping.checked(content) is None


def answering(body: bytes) -> httpx.MockTransport:
    return httpx.MockTransport(lambda request: httpx.Response(200, content=body))


def test_ping_fields_is_the_dump_of_ping() -> None:
    fake = FakeLibrarian()
    with LibrarianClient(URL, "alice", "secret", transport=fake.transport) as client:
        assert client.ping_fields() == client.ping().model_dump(mode="json")


@pytest.mark.parametrize(
    "body",
    [json.dumps(answer).encode() for answer in DOUBTFUL_ANSWERS[:3]] + [b"<html>"],
)
def test_a_malformed_ping_answer_fails_as_ping_does(body: bytes) -> None:
    with LibrarianClient(URL, transport=answering(body)) as client:
        with pytest.raises(ProtocolError) as by_model:
            client.ping()
        with pytest.raises(ProtocolError) as by_fields:
            client.ping_fields()

    assert str(by_fields.value) == str(by_model.value)


def test_an_answer_the_check_leaves_to_the_model_is_the_models_reading(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake = FakeLibrarian()
    monkeypatch.setattr(_ping, "checked", lambda content: None)  # doubt every answer
    with LibrarianClient(URL, "alice", "secret", transport=fake.transport) as client:
        assert client.ping_fields() == client.ping().model_dump(mode="json")


def _connection(url: str = "http://a/", **more: object) -> dict[str, object]:
    return {"url": url, "username": "u", "password": None, "token": "t", **more}


PLAIN_FILES = [
    {},
    {"default": None, "connections": {}},
    {"default": "a", "connections": {"a": _connection()}},
    {"default": "gone", "connections": {"a": _connection("https://x"), "b": {"url": "http://b"}}},
    {"connections": {"a": _connection(password="", token=None)}},
]
DOUBTFUL_FILES = [
    {"default": "a", "connections": {"a": _connection("ftp://a")}},
    {"connections": {"a": _connection(extra=1)}},
    {"connections": {"a": _connection(token=5)}},
    {"connections": {"a": {"username": "u"}}},
    {"connections": ["a"]},
    {"default": 3},
    {"other": {}},
    [],
]


def _outcome(read: object, path: Path) -> object:
    try:
        return read(path)  # type: ignore[operator]
    except ConfigError as exc:
        return ("ConfigError", str(exc))


@pytest.mark.parametrize(
    "text",
    [
        *(json.dumps(config) for config in [*PLAIN_FILES, *DOUBTFUL_FILES]),
        "",
        "{",
        pytest.param("[" * 100_000 + "]" * 100_000, id="nested-too-deep"),
        '{"connections": {"\\ud800": {"url": "http://a"}}}',
    ],
)
def test_the_config_file_reads_as_the_models_read_it(tmp_path: Path, text: str) -> None:
    path = tmp_path / "client.json"
    path.write_text(text, encoding="utf-8")

    plain = _outcome(_connections.read_connections, path)

    assert plain == _outcome(_connections._validated, path)


@pytest.mark.parametrize("config", PLAIN_FILES)
def test_a_plain_config_file_needs_no_models(config: object) -> None:
    assert _connections._checked(json.dumps(config)) is not None


@pytest.mark.parametrize("config", DOUBTFUL_FILES)
def test_a_doubtful_config_file_is_left_to_the_models(tmp_path: Path, config: object) -> None:
    assert _connections._checked(json.dumps(config)) is None


def test_a_missing_or_unreadable_file_reads_as_the_models_read_it(tmp_path: Path) -> None:
    missing = tmp_path / "nothing.json"
    assert _connections.read_connections(missing) == _connections._validated(missing) == (None, {})

    directory = tmp_path / "a-directory"
    directory.mkdir()
    plain = _outcome(_connections.read_connections, directory)
    assert plain == _outcome(_connections._validated, directory)
    assert isinstance(plain, tuple) and plain[0] == "ConfigError"
