"""The name rule at the HTTP entry points: upload, look-ups and search, clone from a peer."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import func, select

from librarian_client.models import CheckinItem, CheckinRequest, PermissionLevel, TransferStatus
from librarian_server.orm import File, IncomingTransfer, OutgoingTransfer, RemoteInstance
from librarian_server.services.accounts.auth import AuthenticatedUser, create_user
from librarian_server.services.core.credentials import CredentialBox
from librarian_server.services.replication import peers, send_plan
from librarian_server.services.replication.checkins import record_checkins
from tests.integration.conftest import PASSWORD, Site
from tests.integration.helpers import md5, stage, upload

NFC = "obs/caf\u00e9/r\u00e9sum\u00e9.g3"
NFD = unicodedata.normalize("NFD", NFC)
CONFUSABLE = [
    " ",
    "a/ /b",
    "a/\u3000",
    " lead",
    "trail /x",
    "a\u2215..\u2215etc",  # DIVISION SLASH
    "a\u2044b",  # FRACTION SLASH
    "a\uff0fb",  # FULLWIDTH SOLIDUS
    "a\u29f8b",  # BIG SOLIDUS
    "x/\u2024\u2024/y",  # ONE DOT LEADER twice: a fake '..'
    "x/\u2025/y",  # TWO DOT LEADER
    "x/\uff0e\uff0e/y",  # FULLWIDTH FULL STOP twice
    "a\u202eb",  # RIGHT-TO-LEFT OVERRIDE
    "a\u200db",  # ZERO WIDTH JOINER
]


def _files(site: Site) -> list[str]:
    with site.session() as s:
        return list(s.scalars(select(File.name).order_by(File.name)))


def test_an_nfd_upload_is_stored_nfc_and_found_by_either_spelling(site: Site) -> None:
    committed = upload(site.http, site.auth(), NFD, b"first")
    assert committed["name"] == NFC
    assert _files(site) == [NFC]
    for spelling in (NFC, NFD):
        r = site.http.get(f"/api/v2/files/{spelling}", auth=site.auth())
        assert r.status_code == 200 and r.json()["name"] == NFC, r.text
        r = site.http.get(f"/api/v2/download/{spelling}", auth=site.auth())
        assert r.status_code == 200 and r.content == b"first"
        for key in ("prefix", "name"):
            r = site.http.get("/api/v2/search", params={key: spelling}, auth=site.auth())
            assert [f["name"] for f in r.json()["files"]] == [NFC], (key, r.text)
    # The other spelling is the same file: same bytes succeed, other bytes conflict.
    r = stage(site.http, site.auth(), [{"name": NFC, "size": 5, "checksum": md5(b"first")}])
    assert r.json()["transfers"][0]["outcome"] == "already_present"
    r = stage(site.http, site.auth(), [{"name": NFC, "size": 6, "checksum": md5(b"second")}])
    assert r.status_code == 409, r.text
    assert _files(site) == [NFC]


def test_an_nfc_upload_is_found_by_its_nfd_spelling(site: Site) -> None:
    upload(site.http, site.auth(), NFC, b"nfc")
    r = site.http.get(f"/api/v2/download/{NFD}", auth=site.auth())
    assert r.status_code == 200 and r.content == b"nfc"


def test_both_spellings_in_one_batch_are_one_name_twice(site: Site) -> None:
    r = stage(site.http, site.auth(), [{"name": NFC, "size": 1}, {"name": NFD, "size": 1}])
    assert r.status_code == 400 and "twice" in r.json()["reason"]


@pytest.mark.parametrize("name", CONFUSABLE)
def test_confusable_upload_names_are_400_naming_the_rule(site: Site, name: str) -> None:
    r = stage(site.http, site.auth(), [{"name": "fine", "size": 1}, {"name": name, "size": 1}])
    assert r.status_code == 400, r.text
    body = r.json()
    assert body["reason"] and "NFC" in body["suggested_remedy"]
    assert "look-alike" in body["suggested_remedy"]
    with site.session() as s:
        assert s.scalar(select(func.count()).select_from(IncomingTransfer)) == 0


@pytest.fixture
def receiver(make_site: Callable[..., Site]) -> Site:
    site = make_site(site_name="ucsd")
    with site.factory.begin() as session:
        create_user(session, "mountain", PASSWORD, PermissionLevel.PEER)
    return site


def _item(key: int, name: str, data: bytes) -> dict[str, Any]:
    return {
        "source_transfer_id": key,
        "name": name,
        "size": len(data),
        "checksum": md5(data),
        "origin": "mountain",
        "uploader": "alice",
    }


def test_clone_refuses_confusable_names_one_by_one_and_stores_nfc(receiver: Site) -> None:
    peer = ("mountain", PASSWORD)
    files = [_item(1, NFD, b"one"), _item(2, "a\u2215b", b"two"), _item(3, " ", b"three")]
    files.append(_item(4, NFC, b"one"))  # the first file's name in its other spelling
    r = receiver.http.post(
        "/api/v2/clone/stage", json={"source": "mountain", "files": files}, auth=peer
    )
    assert r.status_code == 200, r.text
    answers = {a["source_transfer_id"]: a for a in r.json()["files"]}
    assert [answers[k]["outcome"] for k in (1, 2, 3, 4)] == [
        "staged",
        "refused",
        "refused",
        "refused",
    ]
    assert "U+2215" in answers[2]["reason"] and "whitespace" in answers[3]["reason"]
    assert "twice" in answers[4]["reason"]
    with receiver.session() as s:
        (transfer,) = s.scalars(select(IncomingTransfer)).all()
        assert transfer.name == NFC
    staged = answers[1]
    r = receiver.http.put(staged["put_path"], content=b"one", auth=peer)
    assert r.status_code == 200, r.text
    r = receiver.http.post(
        "/api/v2/clone/complete",
        json={
            "source": "mountain",
            "transfer_manager": "http",
            "files": [{"transfer_id": staged["transfer_id"], "source_transfer_id": 1}],
        },
        auth=peer,
    )
    assert r.status_code == 200 and r.json()["files"][0]["outcome"] == "committed", r.text
    assert _files(receiver) == [NFC]


def test_a_checkin_naming_the_file_in_another_spelling_completes_it(site: Site) -> None:
    """A peer that stored (and so reports) a name in another spelling confirms the same file."""
    upload(site.http, site.auth(), NFC, b"sent")
    with site.factory.begin() as session:
        peers.add_peer(
            session,
            name="ucsd",
            url="http://127.0.0.1:9",
            username="librarian",
            password="secret",
            box=CredentialBox.for_settings(site.settings),
            settings=site.settings,
        )
    send_plan.plan(site.factory, "ucsd", site.settings, batch_size=10, limit=10)
    with site.session() as session:
        transfer = session.scalars(select(OutgoingTransfer)).one()
    request = CheckinRequest(
        site="ucsd",
        files=[
            CheckinItem(
                source_transfer_id=transfer.id,
                name=NFD,
                committed=True,
                checksum=transfer.checksum,
            )
        ],
    )
    with site.factory.begin() as session:
        answer = record_checkins(
            session,
            request,
            user=AuthenticatedUser(9, "ucsd", PermissionLevel.PEER),
            settings=site.settings,
        )
    assert answer.recorded == [transfer.id]
    with site.session() as session:
        assert session.get(OutgoingTransfer, transfer.id).status is TransferStatus.COMPLETED  # type: ignore[union-attr]
        assert list(session.scalars(select(RemoteInstance.file_name))) == [NFC]


def test_a_name_catalogued_before_the_rule_is_found_by_its_own_spelling(site: Site) -> None:
    with site.factory.begin() as session:
        session.add(File(name=NFD, size=1, checksum=md5(b"x"), uploader="old", source="old"))
    r = site.http.get(f"/api/v2/files/{NFD}", auth=site.auth())
    assert r.status_code == 200 and r.json()["name"] == NFD, r.text
    upload(site.http, site.auth(), NFC, b"new")  # the rule's spelling is a name of its own
    assert site.http.get(f"/api/v2/files/{NFD}", auth=site.auth()).json()["name"] == NFC
    assert site.http.get(f"/api/v2/files/{NFC}", auth=site.auth()).json()["name"] == NFC
