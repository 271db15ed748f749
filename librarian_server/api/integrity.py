"""Proving copies and the damage found: re-hash on demand, damage records, repair.

Admins only: re-reading bytes costs a store's bandwidth, and damage records name
store paths.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from librarian_client.models import (
    MAX_DAMAGE_PAGE,
    MAX_ID,
    DamageInfo,
    DamageListResponse,
    DamageQuery,
    DamageState,
    Finding,
    RepairResponse,
    VerifyRequest,
    VerifyResponse,
)
from librarian_server.api.deps import (
    Admin,
    RunnerDep,
    SessionDep,
    SessionFactoryDep,
    SettingsDep,
)
from librarian_server.services.integrity import damage
from librarian_server.services.integrity.on_demand import verify_files
from librarian_server.services.integrity.repair import repair_damage
from librarian_server.services.site.upkeep import repair_retry, repair_sources

router = APIRouter(tags=["integrity"])

DamageIdPath = Annotated[int, Path(ge=1, le=MAX_ID, description=f"A damage id, 1 to {MAX_ID}.")]


@router.post("/verify", response_model=VerifyResponse)
def verify(body: VerifyRequest, factory: SessionFactoryDep, user: Admin) -> VerifyResponse:
    """Re-hash every copy at this site of the named files (or a page of a prefix) now."""
    return verify_files(factory, body, by=f"verify ({user.name})")


@router.get("/damage", response_model=DamageListResponse)
def list_damage(
    session: SessionDep,
    _: Admin,
    state: DamageState | None = None,
    active: bool | None = None,
    store: Annotated[str | None, Query(max_length=128)] = None,
    kind: Finding | None = None,
    after: Annotated[int | None, Query(ge=0, le=MAX_ID)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_DAMAGE_PAGE)] = 100,
) -> DamageListResponse:
    """Damage records in the order found; ``next`` pages on."""
    query = DamageQuery(
        state=state, active=active, store=store, kind=kind, after=after, limit=limit
    )
    return damage.list_damage(session, query)


@router.get("/damage/{damage_id}", response_model=DamageInfo)
def get_damage(damage_id: DamageIdPath, session: SessionDep, _: Admin) -> DamageInfo:
    return damage.damage_info(damage.get_damage(session, damage_id))


@router.post("/damage/{damage_id}/repair", response_model=RepairResponse)
def repair(
    damage_id: DamageIdPath,
    factory: SessionFactoryDep,
    settings: SettingsDep,
    runner: RunnerDep,
    user: Admin,
) -> RepairResponse:
    """Try to repair one damaged copy now, whatever its retry time; the record as it ends."""
    info = repair_damage(
        factory,
        damage_id,
        repair_sources(factory, runner.dialer, settings),
        retry_after=repair_retry(settings),
        by=f"repair ({user.name})",
    )
    return RepairResponse(damage=info)
