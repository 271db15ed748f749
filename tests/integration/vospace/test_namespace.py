"""VOSpace and the one namespace: no DataNode where a container is, nothing under a file.

Whatever way a name arrives (createNode, a push, a move, or a plain upload beside
VOSpace's own containers and links), the catalogue never holds a file and a directory
under one name, so that every node stays reachable.
"""

from __future__ import annotations

import threading
import time

import httpx
from sqlalchemy import insert

from librarian_server.orm import File, utcnow
from librarian_server.services.catalogue import namespace
from tests.integration.helpers import md5, stage, upload
from tests.integration.vospace.conftest import CORE, NS, VO, uri
from tests.integration.vospace.test_jobs import _job, _run


def fault(r: httpx.Response, name: str) -> None:
    assert r.status_code == 409, r.text
    assert r.text.startswith(name), r.text


def test_create_node_refuses_both_ways(vo: VO) -> None:
    upload(vo.http, vo.site.auth(), "v/odd/a.dat", b"a")
    upload(vo.http, vo.site.auth(), "v/f", b"f")
    fault(vo.create("v/odd", "DataNode"), "DuplicateNode")
    for kind in ("ContainerNode", "DataNode", "LinkNode"):
        r = vo.create("v/f/sub", kind, target=uri("v/odd") if kind == "LinkNode" else None)
        assert r.status_code in (404, 409), r.text  # ContainerNotFound: a file holds nothing
        assert vo.get("v/f/sub").status_code == 404
    details = vo.negotiate("v/f/pushed", "pushToVoSpace", CORE + "httpput")
    assert vo.validate(details.content).findall("vos:protocol/vos:endpoint", NS) == []


def test_uploads_respect_vospace_containers_and_links(vo: VO) -> None:
    vo.mkdir("w")
    vo.mkdir("w/box")
    vo.mkdir("w/c")
    vo.mkdir("w/c/sub")
    assert vo.create("w/lnk", "LinkNode", target=uri("w/box")).status_code == 201
    cases = {
        "w/box": "'w/box' is a container",
        "w/c": "'w/c' is a directory: the container 'w/c/sub' lives under it",
        "w/lnk": "'w/lnk' is a link",
        "w/lnk/x": "'w/lnk/x' would be under 'w/lnk', which is a link",
    }
    for name, why in cases.items():
        r = stage(vo.http, vo.site.auth(), [{"name": name, "size": 1}])
        assert r.status_code == 409 and why in r.json()["reason"], (name, r.text)
    # Inside a container is where files belong.
    upload(vo.http, vo.site.auth(), "w/box/inside", b"ok")


def test_a_move_never_lands_on_a_name_that_became_a_directory(vo: VO) -> None:
    """A move planned while its destination was free, racing a commit of files under it.

    The racing transaction holds its lock (PostgreSQL) or the write lock (SQLite)
    while the job runs. Either the move waits and then refuses (PostgreSQL: it
    planned before the files were visible), or it plans after them and moves into
    the directory they made (SQLite: it could not start until they committed); never
    a file and a directory under one name.
    """
    vo.mkdir("mv")
    upload(vo.http, vo.site.auth(), "mv/src", b"s")
    job = _job(vo, "mv/src", "mv/dest", keep=False)
    with vo.site.factory.begin() as holder:
        namespace.lock_names(holder, ["mv"])
        holder.execute(
            insert(File).values(
                name="mv/dest/inner",
                size=0,
                checksum=md5(b""),
                uploader="writer",
                source="here",
                created_time=utcnow(),
            )
        )
        holder.flush()
        runner = threading.Thread(target=_run, args=(vo, job))
        runner.start()
        time.sleep(1.5)
    runner.join(30)
    deadline = time.monotonic() + 30
    while vo.phase(job) not in ("COMPLETED", "ERROR") and time.monotonic() < deadline:
        time.sleep(0.1)
    postgres = vo.site.settings.sqlalchemy_url.startswith("postgresql")
    with vo.site.session() as s:
        moved_onto = s.get(File, "mv/dest")
        assert moved_onto is None, "a file and a directory share the name 'mv/dest'"
        if postgres:
            assert vo.phase(job) == "ERROR"
            assert vo.http.get(f"{job}/error", auth=vo.site.auth()).text == "DuplicateNode"
            assert s.get(File, "mv/src") is not None
        else:
            assert vo.phase(job) == "COMPLETED"
            assert s.get(File, "mv/dest/src") is not None
