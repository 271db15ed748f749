"""``librarian damage``, ``librarian repair`` and the damage counts of ``librarian stores``."""

from __future__ import annotations

import json
from pathlib import Path

from tests.integration.cli.conftest import Run
from tests.integration.conftest import Site
from tests.integration.helpers import upload
from tests.integration.integrity.helpers import (
    WALK_ONLY,
    add_second_store,
    audit,
    copies,
    flip_byte,
    second_copy,
    stray_file,
)


def test_damage_lists_findings_and_repair_fixes_one_on_request(
    site: Site, cli: Run, tmp_path: Path
) -> None:
    upload(site.http, site.auth(), "d/a", b"a" * 5000)
    slow = add_second_store(site, tmp_path)
    second_copy(site, "d/a", slow)
    flip_byte(copies(site, "d/a")[0][2], 10)
    stray_file(site, "0ab/stray", b"stray")
    # A user's verify records what it finds, as the audit does.
    assert cli("verify", "d/a", user="admin").code == 1
    audit(site, WALK_ONLY)

    listed = cli("damage", "--json", user="admin")
    assert listed.code == 0, listed
    records = json.loads(listed.out)
    assert [(r["kind"], r["state"], r["name"]) for r in records] == [
        ("corrupt", "open", "d/a"),
        ("dark", "open", None),
    ]
    assert records[0]["found_by"] == "verify (admin)"
    text = cli("damage", "--active", "--kind", "dark", user="admin")
    assert "(dark) 0ab/stray" in text.out and "d/a" not in text.out

    stores = json.loads(cli("stores", "--json", user="admin").out)
    local = next(s for s in stores if s["name"] != "slow")
    assert (local["damaged"], local["lost"], local["dark"]) == (1, 0, 1)
    table = cli("stores", user="admin").out
    assert "DMG/LOST/DARK" in table and "1/0/1" in table

    repaired = cli("repair", str(records[0]["id"]), "--json", user="admin")
    assert repaired.code == 0, repaired
    assert json.loads(repaired.out)["state"] == "repaired"
    assert "store slow" in json.loads(repaired.out)["resolution"]
    # Repairing it again, or repairing a dark file, is a clear refusal.
    again = cli("repair", str(records[0]["id"]), user="admin")
    assert again.code != 0 and "already repaired" in again.err
    dark = cli("repair", str(records[1]["id"]), user="admin")
    assert dark.code != 0 and "librarian-server dark" in dark.err
    left = json.loads(cli("damage", "--active", "--json", user="admin").out)
    assert [r["kind"] for r in left] == ["dark"]


def test_damage_is_for_admins_and_unknown_ids_are_404(site: Site, cli: Run) -> None:
    result = cli("damage", user="writer")
    assert result.code != 0 and "[permission_denied]" in result.err
    r = site.http.post("/api/v2/damage/1/repair", auth=site.auth("writer"))
    assert r.status_code == 403
    r = site.http.get("/api/v2/damage/99", auth=site.auth("admin"))
    assert r.status_code == 404 and r.json()["suggested_remedy"]
    r = site.http.get("/api/v2/damage", params={"limit": 0}, auth=site.auth("admin"))
    assert r.status_code == 400
    assert cli("damage", user="admin").err.strip() == "no damage recorded"


def test_damage_pages_through_many_records(site: Site, cli: Run) -> None:
    for n in range(7):
        stray_file(site, f"0ab/stray-{n}", b"x")
    audit(site, WALK_ONLY)
    r = site.http.get("/api/v2/damage", params={"limit": 3}, auth=site.auth("admin"))
    body = r.json()
    assert len(body["damage"]) == 3 and body["next"] == body["damage"][-1]["id"]
    with site.client("admin") as client:
        assert len(list(client.damage(page_size=2))) == 7
        assert len(list(client.damage(page_size=2, limit=5))) == 5
