"""ScoutClient against the live tape simulator (a subprocess), and the simulator's stage
events on a live nats-server: sessions, staging, batching, loss, cancel, release, the
cache, hostile paths, and a broker that crashes while files are being staged."""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import secrets
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import nats
import pytest

from librarian_server.errors import ConfigurationError
from librarian_server.stores.tape.base import StageEvent, TapeError
from librarian_server.stores.tape.scout import ScoutClient, read_tape_credentials
from tests.tape import NATS_SERVER, NatsServer, TapeSimulatorProcess, free_port

MIB = 1 << 20
PREFIX = "tape.events"
STREAM = "TAPE_EVENTS"

Trees = tuple[Path, Path]
StartSim = Callable[..., TapeSimulatorProcess]


@pytest.fixture
def trees(tmp_path: Path) -> Trees:
    root, tape = tmp_path / "cache", tmp_path / "tape"
    root.mkdir()
    tape.mkdir()
    return root, tape


@pytest.fixture
def start_sim(tmp_path: Path, trees: Trees) -> Iterator[StartSim]:
    started: list[TapeSimulatorProcess] = []

    def start(**options: Any) -> TapeSimulatorProcess:
        sim = TapeSimulatorProcess(tmp_path / f"sim{len(started)}")
        started.append(sim)
        return sim.start(*trees, **options)

    yield start
    for sim in started:
        sim.stop()
        assert sim.proc is not None and sim.proc.returncode == 0, "SIGTERM must exit cleanly"


@pytest.fixture
def nats_server(tmp_path: Path) -> Iterator[NatsServer]:
    if not os.path.exists(NATS_SERVER):
        pytest.skip("nats-server missing")
    server = NatsServer(tmp_path / "nats")
    yield server
    server.kill()


def on_tape(trees: Trees, rel: str, data: bytes) -> str:
    """Put a file on tape only (offline, archived); its API path."""
    root, tape = trees
    (tape / rel).parent.mkdir(parents=True, exist_ok=True)
    (tape / rel).write_bytes(data)
    return str(root / rel)


@contextlib.contextmanager
def session(sim: TapeSimulatorProcess) -> Iterator[httpx.Client]:
    """A raw HTTP client with a fresh token, to see the wire answers themselves."""
    with httpx.Client(base_url=sim.url, timeout=30) as http:
        r = http.post("/v1/security/login", json={"acct": sim.account, "pass": sim.password})
        assert r.status_code == 200, r.text
        http.headers["Authorization"] = f"Bearer {r.json()['response']}"
        yield http


def stats(sim: TapeSimulatorProcess, per_path: bool = True) -> dict[str, Any]:
    with session(sim) as http:
        r = http.get("/v1/sim/stats", params={"per_path": per_path})
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()["response"]
        return body


def configure(sim: TapeSimulatorProcess, **values: float) -> None:
    with session(sim) as http:
        r = http.put("/v1/sim/config", json=values)
        assert r.status_code == 200, r.text


def wait_until(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


# -- sessions


def test_token_renewed_after_expiry(start_sim: StartSim) -> None:
    sim = start_sim(token_ttl=1)
    client = sim.client()
    try:
        client.cache_state()
        client.cache_state()  # the cached token: no second login
        before = stats(sim)["logins"]  # the readiness probe, the client, this call
        assert before == 3
        with session(sim) as http:
            time.sleep(1.3)
            expired = http.get("/v1/fs/cache")
            assert expired.status_code == 403
            assert "expired" in expired.json()["reason"]
            assert expired.json()["suggested_remedy"]
        assert client.cache_state().healthy  # 403, one login, retried
        after = stats(sim)["logins"]
        assert after == before + 3  # the raw session's, the client's renewal, this call
    finally:
        client.close()


def test_refused_credentials_and_unreachable_system(start_sim: StartSim) -> None:
    sim = start_sim()
    wrong = ScoutClient(sim.url, sim.account, "not-the-password-xyz")
    stranger = ScoutClient(sim.url, "someone-else", sim.password)
    try:
        with pytest.raises(TapeError, match="refused the account 'tape-test'") as err:
            wrong.login()
        assert "not-the-password-xyz" not in str(err.value)
        with pytest.raises(TapeError, match="refused the account"):
            wrong.status(["/x"])
        with pytest.raises(TapeError, match="refused the account") as err:
            stranger.cache_state()
        assert sim.password not in str(err.value)
    finally:
        wrong.close()
        stranger.close()
    with session(sim) as http:
        assert http.get("/v1/fs/cache", headers={"Authorization": "Bearer nope"}).status_code == 403
        assert httpx.get(f"{sim.url}/v1/fs/cache").status_code == 403
    nobody = ScoutClient(f"http://127.0.0.1:{free_port()}", "a", "secret-pw", timeout=2)
    with pytest.raises(TapeError, match="unreachable") as err:
        nobody.status(["/x"])
    assert "secret-pw" not in str(err.value)
    nobody.close()


def test_credentials_file(start_sim: StartSim, tmp_path: Path) -> None:
    sim = start_sim()
    assert f"tape simulator listening on {sim.url}" in sim.log.read_text()
    ini = tmp_path / "tape.ini"
    ini.write_text(f"[tape]\naccount = {sim.account}\npassword = {sim.password}\n")
    account, password = read_tape_credentials(ini)
    client = ScoutClient(sim.url, account, password)
    try:
        assert client.cache_state().healthy
    finally:
        client.close()
    secret = "pw%with-percent"
    bad = {
        "absent": None,
        "no section": f"account = a\npassword = {secret}\n",
        "no password": "[tape]\naccount = a\n",
        "garbage": f"[tape]\naccount = a\n{secret}\n",
    }
    for name, text in bad.items():
        path = tmp_path / f"{name}.ini"
        if text is not None:
            path.write_text(text)
        with pytest.raises(ConfigurationError) as err:
            read_tape_credentials(path)
        assert str(path) in err.value.reason and "[tape]" in err.value.suggested_remedy
        assert secret not in err.value.reason + err.value.suggested_remedy, name
    (tmp_path / "pct.ini").write_text(f"[tape]\naccount = a\npassword = {secret}\n")
    assert read_tape_credentials(tmp_path / "pct.ini") == ("a", secret)


# -- staging


def test_stage_brings_offline_files_online_byte_identical(
    start_sim: StartSim, trees: Trees
) -> None:
    sim = start_sim()
    client = sim.client()
    contents = {
        "obs/empty.fits": b"",
        "obs/one.fits": b"x",
        "obs/night1/big.fits": secrets.token_bytes(MIB + 1),
        "obs/night1/small.fits": secrets.token_bytes(1000),
    }
    paths = {on_tape(trees, rel, data): rel for rel, data in contents.items()}
    try:
        before = client.status(list(paths))
        for path, rel in paths.items():
            state = before[path]
            size = len(contents[rel])
            assert (state.exists, state.archived, state.online) == (True, True, False)
            assert state.size == size
            assert state.offline_blocks == max(1, math.ceil(size / MIB))
            assert state.online_blocks == 0
        client.stage(list(paths))
        wait_until(
            lambda: all(s.online for s in client.status(list(paths)).values()), 10, "staging"
        )
        for path, rel in paths.items():
            assert Path(path).read_bytes() == contents[rel]
        with session(sim) as http:
            one = http.get("/v1/file", params={"path": str(trees[0] / "obs/one.fits")})
            assert one.status_code == 200
            assert one.json()["response"]["onlineblocks"] == 1
        after = client.status(list(paths))
        big = after[str(trees[0] / "obs/night1/big.fits")]
        assert (big.online_blocks, big.offline_blocks, big.archived) == (2, 0, True)
        assert not any(s.staging for s in after.values())
        # Staging what is online already copies nothing again.
        client.stage(list(paths))
        time.sleep(0.2)
        counts = stats(sim)
        assert counts["staged"] == len(paths)
        assert counts["per_path"] == dict.fromkeys(paths, 1)
        # Leftover temporaries would be visible to the librarian's scans.
        assert sorted(p.name for p in trees[0].rglob("*") if p.is_file()) == sorted(
            Path(rel).name for rel in contents
        )
    finally:
        client.close()


def test_bandwidth_limits_staging(start_sim: StartSim, trees: Trees) -> None:
    sim = start_sim(bandwidth_mib=8)
    client = sim.client()
    path = on_tape(trees, "slow.dat", secrets.token_bytes(4 * MIB))
    try:
        began = time.monotonic()
        client.stage([path])
        wait_until(lambda: client.status([path])[path].online, 10, "the slow stage")
        assert time.monotonic() - began >= 0.45  # 4 MiB at 8 MiB/s
    finally:
        client.close()


def test_ten_thousand_and_one_paths_are_split_and_staged_fast(
    start_sim: StartSim, trees: Trees
) -> None:
    sim = start_sim()
    client = sim.client()
    paths = [on_tape(trees, f"many/{i // 1000:02d}/f{i:05d}", b"%0100d" % i) for i in range(10_001)]
    try:
        with session(sim) as http:
            too_many = http.post("/v1/file/status", json={"path": paths})
            assert too_many.status_code == 413
            assert "10000" in too_many.json()["suggested_remedy"]
        began = time.monotonic()
        client.stage(paths)
        wait_until(lambda: stats(sim, per_path=False)["staged"] == len(paths), 30, "10,001 stages")
        elapsed = time.monotonic() - began
        assert elapsed < 15, f"staging 10,001 small files took {elapsed:.1f} s"
        states = client.status(paths)
        assert len(states) == len(paths)
        assert all(s.online and s.size == 100 for s in states.values())
        for i in (0, 4242, 10_000):
            assert Path(paths[i]).read_bytes() == b"%0100d" % i
        counts = stats(sim)
        assert counts["stage_requests"] == len(paths)
        assert set(counts["per_path"].values()) == {1}
    finally:
        client.close()


def test_loss_one_drops_every_request(start_sim: StartSim, trees: Trees) -> None:
    sim = start_sim(loss=1.0, seed=7)
    client = sim.client()
    paths = [on_tape(trees, f"lost/{i}", b"data") for i in range(20)]
    try:
        client.stage(paths)  # accepted, as a lost request is on a real system
        time.sleep(0.3)
        counts = stats(sim)
        assert (counts["stage_requests"], counts["dropped"], counts["staged"]) == (20, 20, 0)
        assert not any(s.online or s.staging for s in client.status(paths).values())
        configure(sim, loss=0.0)
        client.stage(paths)  # asking again works
        wait_until(lambda: stats(sim)["staged"] == 20, 10, "the second request")
        assert stats(sim)["dropped"] == 20
    finally:
        client.close()


def test_cancel_withdraws_queued_stages(start_sim: StartSim, trees: Trees) -> None:
    sim = start_sim(workers=2, stage_delay=60)
    client = sim.client()
    paths = [on_tape(trees, f"c/{i:02d}", b"payload") for i in range(10)]
    try:
        client.stage(paths)
        wait_until(lambda: stats(sim)["running"] == 2, 5, "two started stages")
        client.cancel(paths)
        counts = stats(sim)
        assert (counts["queued"], counts["running"]) == (0, 2)
        states = client.status(paths)
        assert [states[p].staging for p in paths] == [True, True] + [False] * 8
        configure(sim, stage_delay=0)  # the two started ones finish now
        wait_until(lambda: stats(sim)["staged"] == 2, 5, "the started stages")
        time.sleep(0.2)
        states = client.status(paths)
        assert [states[p].online for p in paths] == [True, True] + [False] * 8
        assert stats(sim)["per_path"] == dict.fromkeys(paths[:2], 1)
    finally:
        client.close()


# -- release and the cache


def test_release_archives_first_then_frees_the_disk(start_sim: StartSim, trees: Trees) -> None:
    root, tape = trees
    sim = start_sim()
    client = sim.client()
    (root / "new").mkdir()
    fresh = root / "new/unarchived.fits"
    fresh.write_bytes(secrets.token_bytes(3000))
    data = fresh.read_bytes()
    staged = on_tape(trees, "old/archived.fits", b"archived bytes")
    try:
        client.stage([staged])
        wait_until(lambda: client.status([staged])[staged].online, 5, "staging")
        state = client.status([str(fresh)])[str(fresh)]
        assert (state.online, state.archived) == (True, False)
        client.release([str(fresh), staged, str(root / "never/was")])
        after = client.status([str(fresh), staged])
        for s in after.values():
            assert (s.exists, s.online, s.archived, s.offline_blocks) == (True, False, True, 1)
        assert not fresh.exists() and not Path(staged).exists()
        assert (tape / "new/unarchived.fits").read_bytes() == data
        # Staged back, the archived copy is the released one.
        client.stage([str(fresh)])
        wait_until(lambda: fresh.exists(), 5, "staging back")
        assert fresh.read_bytes() == data
        # A file being staged is reported, not released.
        configure(sim, stage_delay=60)
        client.stage([staged])
        with session(sim) as http:
            r = http.post("/v1/file/release", json={"path": [staged, str(root / "nope")]})
            assert r.status_code == 200
            assert [row["result"] for row in r.json()["response"]] == ["staging", "unknown"]
    finally:
        client.close()


def test_cache_state(start_sim: StartSim, trees: Trees) -> None:
    root, _ = trees
    (root / "a/b").mkdir(parents=True)
    for name, size in (("a/one", 1000), ("a/b/two", 2345), ("three", 1)):
        (root / name).write_bytes(b"z" * size)
    sim = start_sim(cache_capacity=1_000_000)
    client = sim.client()
    try:
        cache = client.cache_state()
        assert (cache.capacity_bytes, cache.used_bytes, cache.free_bytes) == (
            1_000_000,
            3346,
            1_000_000 - 3346,
        )
        assert cache.healthy
        (root / "a/more").write_bytes(b"y" * 654)
        assert client.cache_state().used_bytes == 4000
    finally:
        client.close()


def test_hostile_paths_refused(start_sim: StartSim, trees: Trees, tmp_path: Path) -> None:
    root, _ = trees
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_text("no")
    (root / "escape").symlink_to(outside)
    sim = start_sim()
    hostile = [
        "/etc/passwd",
        f"{root}/../outside/secret",
        f"{root}/a/./b",
        f"{root}//a",
        f"{root}/a\x00b",
        f"{root}/a\nb",
        "relative/path",
        "",
        f"{root}",
        f"{root}x/file",
        f"{root}/escape/secret",
        f"{root}/" + "a" * 5000,
    ]
    with session(sim) as http:
        for path in hostile:
            for call in ("/v1/file/status", "/v1/file/stage", "/v1/file/release"):
                r = http.post(call, json={"path": [f"{root}/fine", path]})
                assert r.status_code == 400, (call, path, r.text)
                assert r.json()["reason"] and r.json()["suggested_remedy"]
            assert http.get("/v1/file", params={"path": path}).status_code == 400
        assert http.post("/v1/file/stage", json={"path": "not a list"}).status_code == 400
        assert http.get("/v1/file", params={"path": f"{root}/nothing"}).status_code == 404
    assert (outside / "secret").read_text() == "no"
    client = sim.client()
    try:
        with pytest.raises(TapeError, match="outside the managed filesystem"):
            client.status(["/etc/passwd"])
    finally:
        client.close()


# -- events


async def _read_events(url: str, least: int, settle: float = 0.5) -> list[tuple[str, StageEvent]]:
    """Everything in the stream: at least ``least`` messages, then any stragglers."""
    nc = await nats.connect(url)
    try:
        sub = await nc.jetstream().subscribe(f"{PREFIX}.>", stream=STREAM)
        got: list[tuple[str, StageEvent]] = []
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            wait = settle if len(got) >= least else deadline - time.monotonic()
            try:
                msg = await sub.next_msg(timeout=max(0.01, wait))
            except nats.errors.TimeoutError:
                if len(got) >= least:
                    break
                continue
            got.append((msg.subject, StageEvent.model_validate_json(msg.data)))
            await msg.ack()
        await sub.unsubscribe()
        return got
    finally:
        await nc.close()


def read_events(url: str, least: int) -> list[tuple[str, StageEvent]]:
    return asyncio.run(_read_events(url, least))


def test_one_event_per_staged_file_and_an_error_event(
    start_sim: StartSim, trees: Trees, nats_server: NatsServer
) -> None:
    nats_server.start()
    sim = start_sim(nats_url=nats_server.url, subject_prefix=PREFIX, stream=STREAM)
    client = sim.client()
    files = {on_tape(trees, f"ev/{i}", b"e" * (10 * i + 1)): 10 * i + 1 for i in range(25)}
    missing = str(trees[0] / "ev/not-on-tape")
    try:
        client.stage([*files, missing])
        wait_until(lambda: stats(sim)["published"] == 26, 10, "26 published events")
        client.stage(list(files))  # online already: no new events
        events = read_events(nats_server.url, 26)
        staged = [(s, e) for s, e in events if e.status == "staged"]
        assert Counter(e.path for _, e in staged) == Counter(list(files))
        assert all(s == f"{PREFIX}.staged" and e.size == files[e.path] for s, e in staged)
        errors = [(s, e) for s, e in events if e.status == "error"]
        assert [(s, e.path) for s, e in errors] == [(f"{PREFIX}.error", missing)]
        assert errors[0][1].error
        assert len(events) == 26
        counts = stats(sim)
        assert (counts["errors"], counts["publish_failures"]) == (1, 0)
    finally:
        client.close()


def test_broker_crash_while_staging(
    start_sim: StartSim, trees: Trees, nats_server: NatsServer
) -> None:
    nats_server.start()
    sim = start_sim(nats_url=nats_server.url, workers=1, stage_delay=0.05)
    client = sim.client()
    paths = [on_tape(trees, f"crash/{i:03d}", b"c%d" % i) for i in range(400)]
    try:
        client.stage(paths)
        wait_until(lambda: stats(sim)["published"] >= 5, 10, "the first events")
        nats_server.kill()
        wait_until(lambda: stats(sim)["publish_failures"] >= 5, 10, "dropped events")
        during = stats(sim)
        assert during["staged"] < len(paths), "staging ended before the broker came back"
        nats_server.restart()
        wait_until(
            lambda: stats(sim)["published"] > during["published"] + 5, 15, "events after restart"
        )
        configure(sim, stage_delay=0)
        wait_until(lambda: stats(sim)["staged"] == len(paths), 15, "the remaining stages")
        wait_until(
            lambda: stats(sim)["published"] + stats(sim)["publish_failures"] == len(paths),
            10,
            "every event published or dropped",
        )
        final = stats(sim)
        assert final["publish_failures"] >= 5
        assert all(Path(p).exists() for p in paths)
        events = read_events(nats_server.url, final["published"])
        seen = Counter(e.path for _, e in events)
        assert max(seen.values()) == 1
        assert len(seen) >= final["published"]
        assert paths[-1] in seen  # published after the restart, kept in the stream
        assert paths[0] in seen  # published before the crash, kept in the file store
    finally:
        client.close()


def test_broker_down_at_start(start_sim: StartSim, trees: Trees, nats_server: NatsServer) -> None:
    sim = start_sim(nats_url=nats_server.url)  # nothing listens there yet
    client = sim.client()
    early, late = on_tape(trees, "early", b"1"), on_tape(trees, "late", b"2")
    try:
        client.stage([early])
        wait_until(lambda: stats(sim)["staged"] == 1, 5, "staging without a broker")
        assert stats(sim)["publish_failures"] == 1
        nats_server.start()
        wait_until(lambda: stats(sim)["bus_connected"], 10, "the simulator's connection")
        client.stage([late])
        wait_until(lambda: stats(sim)["published"] == 1, 10, "the event after the broker came")
        events = read_events(nats_server.url, 1)
        assert [(e.path, e.status) for _, e in events] == [(late, "staged")]
    finally:
        client.close()
