"""The simulator's HTTP face: the ScoutAM REST calls ``ScoutClient`` makes, plus test controls.

Errors are JSON ``{"reason", "suggested_remedy"}``: 400 for a bad path or body, 401 for a
refused login, 403 for a missing or expired token, 404 for an unknown file, 413 for more
than ``MAX_PATHS`` paths in one request.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from librarian_server.tape_simulator.engine import Simulator
from librarian_server.tape_simulator.files import BadPath

MAX_PATHS = 10_000


class SimError(Exception):
    def __init__(self, status: int, reason: str, remedy: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.remedy = remedy


class Login(BaseModel):
    acct: str
    pass_: str = Field(alias="pass")


class PathList(BaseModel):
    path: list[str]


class SimConfig(BaseModel):
    loss: float | None = Field(default=None, ge=0.0, le=1.0)
    stage_delay: float | None = Field(default=None, ge=0.0)
    bandwidth_mib: float | None = Field(default=None, ge=0.0)


def create_app(sim: Simulator) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await sim.start()
        try:
            yield
        finally:
            await sim.stop()

    app = FastAPI(title="Tape system simulator (ScoutAM REST subset)", lifespan=lifespan)

    @app.exception_handler(SimError)
    async def _sim_error(_: Request, exc: SimError) -> JSONResponse:
        body = {"reason": exc.reason, "suggested_remedy": exc.remedy}
        return JSONResponse(body, status_code=exc.status)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()))
        body = {
            "reason": f"The request is malformed: {where}: {first.get('msg', 'invalid')}.",
            "suggested_remedy": 'Send a JSON body as the API expects, e.g. {"path": [...]}.',
        }
        return JSONResponse(body, status_code=400)

    def authenticated(authorization: Annotated[str | None, Header()] = None) -> None:
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not sim.valid_token(token.strip()):
            raise SimError(
                403,
                "No valid session token: missing, unknown or expired.",
                "Log in at POST /v1/security/login and send 'Authorization: Bearer <token>'.",
            )

    Auth = Depends(authenticated)

    def resolve(paths: list[str]) -> dict[str, str]:
        if len(paths) > MAX_PATHS:
            raise SimError(
                413,
                f"The request names {len(paths)} paths; at most {MAX_PATHS} are allowed.",
                f"Split the list into requests of at most {MAX_PATHS} paths.",
            )
        try:
            return {p: sim.layout.relative(p) for p in paths}
        except BadPath as exc:
            raise SimError(
                400,
                f"Refused: {exc}.",
                f"Name files by clean absolute paths under {sim.layout.root}.",
            ) from None

    @app.post("/v1/security/login")
    async def login(body: Login) -> dict[str, Any]:
        token = sim.login(body.acct, body.pass_)
        if token is None:
            raise SimError(401, "Unknown account or wrong password.", "Check the tape credentials.")
        return {"response": token}

    @app.post("/v1/file/status", dependencies=[Auth])
    async def status(body: PathList) -> dict[str, Any]:
        return {"response": await sim.status(resolve(body.path))}

    @app.get("/v1/file", dependencies=[Auth])
    async def one_file(path: str) -> dict[str, Any]:
        rows = await sim.status(resolve([path]))
        if not rows[0]["exists"]:
            raise SimError(404, f"No file {path!r}.", "Check the path; status lists files.")
        return {"response": rows[0]}

    @app.post("/v1/file/stage", dependencies=[Auth])
    async def stage(body: PathList) -> dict[str, Any]:
        return {"response": await sim.stage(resolve(body.path))}

    @app.post("/v1/file/stage/cancel", dependencies=[Auth])
    async def cancel(body: PathList) -> dict[str, Any]:
        return {"response": sim.cancel(resolve(body.path))}

    @app.post("/v1/file/release", dependencies=[Auth])
    async def release(body: PathList) -> dict[str, Any]:
        return {"response": await sim.release(resolve(body.path))}

    @app.get("/v1/fs/cache", dependencies=[Auth])
    async def cache() -> dict[str, Any]:
        return {"response": await sim.cache()}

    @app.put("/v1/sim/config", dependencies=[Auth])
    async def configure(body: SimConfig) -> dict[str, Any]:
        return {"response": sim.configure(body.loss, body.stage_delay, body.bandwidth_mib)}

    @app.get("/v1/sim/stats", dependencies=[Auth])
    async def stats(per_path: bool = True) -> dict[str, Any]:
        """``per_path=false`` leaves out the per-file counts (large after big stages)."""
        body = sim.stats_body()
        if not per_path:
            del body["per_path"]
        return {"response": body}

    return app
