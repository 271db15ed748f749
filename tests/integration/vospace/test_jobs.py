"""UWS 1.1 transfer jobs: moves and copies, phases, ERROR and ABORT, the job list."""

from __future__ import annotations

from sqlalchemy import select

from librarian_server.orm import File, Instance
from tests.integration.helpers import md5, upload
from tests.integration.vospace.conftest import NS, VO, children, local, props, transfer_xml, uri


def _job(
    vo: VO, source: str, destination: str, keep: bool, run: bool = False, user: str = "writer"
) -> str:
    r = vo.http.post(
        "/vospace/transfers" + ("?PHASE=RUN" if run else ""),
        content=transfer_xml(uri(source), uri(destination), keep_bytes=keep),
        headers={"Content-Type": "text/xml"},
        auth=vo.site.auth(user),
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    return local(r.headers["location"])


def _run(vo: VO, job: str, user: str = "writer") -> str:
    r = vo.http.post(
        f"{job}/phase", data={"PHASE": "RUN"}, auth=vo.site.auth(user), follow_redirects=False
    )
    assert r.status_code == 303 and local(r.headers["location"]) == job
    return vo.phase(job, user)


def test_move_renames_without_copying_bytes(vo: VO) -> None:
    vo.mkdir("m")
    vo.mkdir("m/dest")
    upload(vo.http, vo.site.auth(), "m/src/a/one.txt", b"one")
    upload(vo.http, vo.site.auth(), "m/src/two.txt", b"two")
    vo.mkdir("m/src/empty")
    vo.create("m/src/link", "LinkNode", target=uri("m/src/two.txt"))
    with vo.site.session() as session:
        paths = {i.file_name: i.path for i in session.scalars(select(Instance))}
    job = _job(vo, "m/src", "m/dest", keep=False)
    assert vo.phase(job) == "PENDING"
    assert _run(vo, job) == "COMPLETED"
    assert children(vo.node("m")) == ["dest"]
    assert children(vo.node("m/dest/src")) == ["a", "empty", "link", "two.txt"]
    with vo.site.session() as session:
        moved = {i.file_name: i.path for i in session.scalars(select(Instance))}
        assert session.get(File, "m/src/two.txt") is None
    assert moved == {n.replace("m/src/", "m/dest/src/"): p for n, p in paths.items()}
    # The old name can be uploaded again: its bytes get a path of their own.
    upload(vo.http, vo.site.auth(), "m/src/two.txt", b"new two")
    r = vo.http.get("/vospace/files/m/dest/src/two.txt", auth=vo.site.auth())
    assert r.content == b"two"
    assert vo.http.get("/vospace/files/m/src/two.txt", auth=vo.site.auth()).content == b"new two"


def test_move_renames_a_data_node_and_keeps_its_properties(vo: VO) -> None:
    vo.mkdir("r")
    assert vo.push("r/big.fits", b"data").status_code == 201
    vo.http.post(
        "/vospace/nodes/r/big.fits",
        content=f'<vos:node xmlns:vos="http://www.ivoa.net/xml/VOSpace/v2.0" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" uri="{uri("r/big.fits")}" xsi:type="vos:DataNode"><vos:properties><vos:property uri="ivo://ivoa.net/vospace/core#description">first light</vos:property></vos:properties></vos:node>',
        auth=vo.site.auth(),
    )
    job = _job(vo, "r/big.fits", "r/renamed.fits", keep=False, run=True)
    assert vo.phase(job) == "COMPLETED"
    assert props(vo.node("r/renamed.fits"))["description"] == "first light"
    assert children(vo.node("r")) == ["renamed.fits"]


def test_copy_makes_new_verified_files(vo: VO) -> None:
    upload(vo.http, vo.site.auth(), "c/src/a.txt", b"aaa")
    upload(vo.http, vo.site.auth(), "c/src/deep/b.txt", b"bbb")
    vo.mkdir("c/src/hollow")
    job = _job(vo, "c/src", "c/copy", keep=True, run=True)
    assert vo.phase(job) == "COMPLETED"
    assert children(vo.node("c")) == ["copy", "src"]
    assert children(vo.node("c/copy")) == ["a.txt", "deep", "hollow"]
    with vo.site.session() as session:
        original, copy = (
            session.get(File, "c/src/deep/b.txt"),
            session.get(File, "c/copy/deep/b.txt"),
        )
        assert original is not None and copy is not None
        assert copy.checksum == md5(b"bbb") and copy.uploader == "writer"
        (a,) = session.scalars(
            select(Instance.path).where(Instance.file_name == "c/src/deep/b.txt")
        )
        (b,) = session.scalars(
            select(Instance.path).where(Instance.file_name == "c/copy/deep/b.txt")
        )
        assert a != b  # the bytes were copied
    assert vo.http.get("/vospace/files/c/copy/a.txt", auth=vo.site.auth()).content == b"aaa"


def test_move_into_a_container_to_null_and_to_auto(vo: VO) -> None:
    vo.mkdir("n")
    vo.mkdir("n/box")
    upload(vo.http, vo.site.auth(), "n/f.txt", b"f")
    upload(vo.http, vo.site.auth(), "n/g.txt", b"g")
    assert vo.phase(_job(vo, "n/f.txt", "n/box", keep=False, run=True)) == "COMPLETED"
    assert children(vo.node("n/box")) == ["f.txt"]
    assert vo.phase(_job(vo, "n/box/f.txt", "n/.null", keep=False, run=True)) == "COMPLETED"
    assert children(vo.node("n/box")) == []
    job = _job(vo, "n/g.txt", "n/box/.auto", keep=True, run=True)
    assert vo.phase(job) == "COMPLETED"
    doc = vo.validate(vo.http.get(job, auth=vo.site.auth()).content)
    (result,) = doc.findall("uws:results/uws:result", NS)
    assert result.get("id") == "destination"
    assert result.get("{http://www.w3.org/1999/xlink}href", "").startswith(uri("n/box/"))


def test_job_errors_carry_the_fault_name(vo: VO) -> None:
    vo.mkdir("e")
    upload(vo.http, vo.site.auth(), "e/a", b"a")
    upload(vo.http, vo.site.auth(), "e/b", b"b")
    cases = [
        (("e/missing", "e/x"), "NodeNotFound"),
        (("e/a", "e/b"), "DuplicateNode"),
        (("e", "e/inside"), "InvalidArgument"),
        (("e/a", "nowhere/x"), "ContainerNotFound"),
    ]
    for (source, destination), name in cases:
        job = _job(vo, source, destination, keep=False, run=True)
        assert vo.phase(job) == "ERROR"
        assert vo.http.get(f"{job}/error", auth=vo.site.auth()).text == name
        doc = vo.validate(vo.http.get(job, auth=vo.site.auth()).content)
        summary = doc.find("uws:errorSummary", NS)
        assert summary is not None and summary.get("type") == "fatal"
        assert (summary.findtext("uws:message", namespaces=NS) or "").startswith(name)
    upload(vo.http, vo.site.auth("admin"), "e/admins.txt", b"x")
    job = _job(vo, "e/admins.txt", "e/mine.txt", keep=False, run=True)
    assert vo.http.get(f"{job}/error", auth=vo.site.auth()).text == "PermissionDenied"


def test_abort_and_job_resources(vo: VO) -> None:
    upload(vo.http, vo.site.auth(), "j/a", b"a")
    job = _job(vo, "j/a", "j/b", keep=False)
    for name, expected in (("owner", "writer"), ("quote", ""), ("executionduration", "86400")):
        assert vo.http.get(f"{job}/{name}", auth=vo.site.auth()).text == expected
    r = vo.http.post(
        f"{job}/executionduration",
        data={"EXECUTIONDURATION": "60"},
        auth=vo.site.auth(),
        follow_redirects=False,
    )
    assert (
        r.status_code == 303
        and vo.http.get(f"{job}/executionduration", auth=vo.site.auth()).text == "60"
    )
    r = vo.http.post(
        f"{job}/destruction",
        data={"DESTRUCTION": "2030-01-01T00:00:00Z"},
        auth=vo.site.auth(),
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert vo.http.get(f"{job}/destruction", auth=vo.site.auth()).text.startswith("20")
    params = vo.validate(vo.http.get(f"{job}/parameters", auth=vo.site.auth()).content)
    assert {p.get("id"): p.text for p in params.findall("uws:parameter", NS)}["target"] == uri(
        "j/a"
    )
    r = vo.http.post(
        f"{job}/phase", data={"PHASE": "ABORT"}, auth=vo.site.auth(), follow_redirects=False
    )
    assert r.status_code == 303 and vo.phase(job) == "ABORTED"
    assert _run(vo, job) == "ABORTED"  # an aborted job does not run
    assert children(vo.node("j")) == ["a"]
    bad = vo.http.post(f"{job}/phase", data={"PHASE": "SPIN"}, auth=vo.site.auth())
    assert bad.status_code == 400 and bad.text.startswith("InvalidArgument")
    assert vo.http.get(job, auth=vo.site.auth("reader")).status_code == 403  # not theirs
    r = vo.http.delete(job, auth=vo.site.auth(), follow_redirects=False)
    assert r.status_code == 303 and local(r.headers["location"]) == "/vospace/transfers"
    assert vo.http.get(job, auth=vo.site.auth()).status_code == 404


def test_job_list_filters_and_wait(vo: VO) -> None:
    upload(vo.http, vo.site.auth(), "l/a", b"a")
    done = _job(vo, "l/a", "l/b", keep=False, run=True)
    pending = _job(vo, "l/b", "l/c", keep=False)
    _job(vo, "l/b", "l/d", keep=False, user="admin")

    def listed(user: str = "writer", **params: str | int) -> list[str]:
        r = vo.http.get("/vospace/transfers", params=params, auth=vo.site.auth(user))
        return [j.get("id", "") for j in vo.validate(r.content).findall("uws:jobref", NS)]

    mine = [done.rsplit("/", 1)[-1], pending.rsplit("/", 1)[-1]]
    assert listed() == mine
    assert listed(PHASE="PENDING") == mine[1:]
    assert listed(LAST=1) == mine[1:]
    assert len(listed("admin")) == 3
    assert listed(AFTER="2999-01-01T00:00:00Z") == []
    r = vo.http.get(done, params={"WAIT": 5}, auth=vo.site.auth())  # a finished job answers at once
    assert r.elapsed.total_seconds() < 2
