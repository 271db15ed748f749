"""VOSpace deletes obey the files API's deletion rule, and are recorded as events.

deleteNode (``vrm``, ``vrmdir``) and a move to ``.null`` delete Files; an uploader's
fresh, unreplicated files go as before, anything else needs an admin with the
Librarian's ``?force=true`` (and ``?last_copy=true`` for a last copy).
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import insert, select, update

from librarian_server.orm import Event, File, RemoteInstance, utcnow
from tests.integration.helpers import upload
from tests.integration.vospace.conftest import VO
from tests.integration.vospace.test_jobs import _job


def events(vo: VO) -> list[Event]:
    with vo.site.session() as s:
        deleted = select(Event).where(Event.kind == "file.deleted")  # commits are events too
        return list(s.scalars(deleted.order_by(Event.id)))


def replicate(vo: VO, name: str) -> None:
    with vo.site.factory.begin() as s:
        s.execute(insert(RemoteInstance).values(file_name=name, site="ucsd", copy_time=utcnow()))


def test_vrm_of_a_fresh_own_tree_is_recorded(vo: VO) -> None:
    upload(vo.http, vo.site.auth(), "t/a", b"a")
    upload(vo.http, vo.site.auth(), "t/sub/b", b"b")
    assert vo.http.delete("/vospace/nodes/t", auth=vo.site.auth()).status_code == 204
    assert [(e.subject, e.actor, e.detail["via"]) for e in events(vo)] == [
        ("t/a", "writer", "vospace"),
        ("t/sub/b", "writer", "vospace"),
    ]


def test_a_replicated_file_needs_an_admin_with_force(vo: VO) -> None:
    upload(vo.http, vo.site.auth(), "r/f", b"r")
    replicate(vo, "r/f")
    r = vo.http.delete("/vospace/nodes/r/f", auth=vo.site.auth())
    assert r.status_code == 403 and r.text.startswith("PermissionDenied"), r.text
    assert "replicated: ucsd" in r.text
    r = vo.http.delete("/vospace/nodes/r", auth=vo.site.auth("admin"))
    assert r.status_code == 403 and "?force=true" in r.text, r.text
    with vo.site.session() as s:
        assert s.get(File, "r/f") is not None
    r = vo.http.delete("/vospace/nodes/r", params={"force": "true"}, auth=vo.site.auth("admin"))
    assert r.status_code == 204, r.text
    (event,) = events(vo)
    assert event.actor == "admin" and event.detail["force"] is True


def test_an_old_last_copy_needs_last_copy_too(vo: VO) -> None:
    upload(vo.http, vo.site.auth(), "o/f", b"o")
    with vo.site.factory.begin() as s:
        s.execute(
            update(File).values(created_time=utcnow() - timedelta(days=2)).where(File.name == "o/f")
        )
    admin = vo.site.auth("admin")
    r = vo.http.delete("/vospace/nodes/o/f", params={"force": "true"}, auth=admin)
    assert r.status_code == 403 and "?last_copy=true" in r.text, r.text
    both = {"force": "true", "last_copy": "true"}
    assert vo.http.delete("/vospace/nodes/o/f", params=both, auth=admin).status_code == 204


def test_a_move_to_null_is_a_delete_under_the_same_rule(vo: VO) -> None:
    upload(vo.http, vo.site.auth(), "n/f", b"n")
    replicate(vo, "n/f")
    job = _job(vo, "n/f", "n/.null", keep=False, run=True)
    assert vo.phase(job) == "ERROR"
    assert vo.http.get(f"{job}/error", auth=vo.site.auth()).text == "PermissionDenied"
    upload(vo.http, vo.site.auth(), "n/g", b"g")
    assert vo.phase(_job(vo, "n/g", "n/.null", keep=False, run=True)) == "COMPLETED"
    (event,) = events(vo)
    assert event.subject == "n/g" and event.detail["via"] == "vospace move to .null"
