"""The served OpenAPI document says what the server really does."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.integration.conftest import Site

METHODS = ("get", "put", "post", "delete")


def _ops(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        f"{method.upper()} {path}": op
        for path, item in doc["paths"].items()
        for method, op in item.items()
        if method in METHODS
    }


def test_security_schemes_and_per_operation_security(site: Site) -> None:
    doc = site.http.get("/openapi.json").json()
    schemes = doc["components"]["securitySchemes"]
    assert schemes["basic"] == {**schemes["basic"], "type": "http", "scheme": "basic"}
    assert schemes["bearer"] == {**schemes["bearer"], "type": "http", "scheme": "bearer"}
    ops = _ops(doc)
    required: list[dict[str, list[str]]] = [{"basic": []}, {"bearer": []}]
    for key in ("POST /api/v2/upload/stage", "GET /api/v2/stores", "PUT /vospace/nodes/{path}"):
        assert ops[key]["security"] == required, key
    # Reads need an account on this site (anonymous reads are off by default).
    assert ops["GET /api/v2/search"]["security"] == required
    assert ops["GET /vospace/nodes/{path}"]["security"] == required
    # Ping answers anyone; the VOSI metadata asks for nothing.
    assert {} in ops["GET /api/v2/ping"]["security"]
    assert ops["GET /vospace/availability"]["security"] == []
    for key, op in ops.items():
        assert "security" in op, key


def test_anonymous_reads_show_in_the_document(make_site: Callable[..., Site]) -> None:
    doc = make_site(allow_anonymous_read=True).http.get("/openapi.json").json()
    ops = _ops(doc)
    assert ops["GET /api/v2/search"]["security"] == [{}, {"basic": []}, {"bearer": []}]
    assert ops["GET /vospace/nodes/{path}"]["security"][0] == {}
    assert ops["POST /api/v2/upload/stage"]["security"] == [{"basic": []}, {"bearer": []}]


def test_errors_are_the_servers_own_body(site: Site) -> None:
    doc = site.http.get("/openapi.json").json()
    schemas = doc["components"]["schemas"]
    assert "HTTPValidationError" not in schemas
    assert set(schemas["ErrorResponse"]["required"]) == {"reason", "suggested_remedy"}
    ops = _ops(doc)
    for key, op in ops.items():
        responses = op["responses"]
        if key.split()[1].startswith("/api/v2"):
            for status, answer in responses.items():
                if status.startswith(("4", "5")) and "content" in answer:
                    ref = answer["content"]["application/json"]["schema"]["$ref"]
                    assert ref == "#/components/schemas/ErrorResponse", (key, status)
        assert "422" not in responses or key.endswith(("{transfer_id}", "bundle", "commit")), key
    stage = ops["POST /api/v2/upload/stage"]["responses"]
    assert {"400", "401", "403", "409", "507"} <= set(stage)
    assert {"404"} <= set(ops["PUT /api/v2/upload/{transfer_id}"]["responses"])
    download = ops["GET /api/v2/download/{name}"]["responses"]
    assert {"200", "206", "416"} <= set(download)
    assert download["416"]["headers"]["Content-Range"]["required"] is True
    # The document's 400 is what a bad request really gets.
    r = site.http.post("/api/v2/upload/stage", json={"files": "x"}, auth=site.auth())
    assert r.status_code == 400
    assert set(r.json()) == {"reason", "suggested_remedy", "error", "code"}
    assert r.json()["code"] in schemas["ErrorCode"]["enum"]


def test_vospace_operations_are_xml_and_text(site: Site) -> None:
    ops = _ops(site.http.get("/openapi.json").json())
    for key in (
        "PUT /vospace/nodes/{path}",
        "POST /vospace/nodes/{path}",
        "POST /vospace/transfers",
    ):
        body = ops[key]["requestBody"]["content"]
        assert set(body) == {"text/xml", "application/xml"}, key
    assert (
        "application/x-www-form-urlencoded"
        in ops["POST /vospace/synctrans"]["requestBody"]["content"]
    )
    assert "text/xml" in ops["GET /vospace/nodes/{path}"]["responses"]["200"]["content"]
    assert "text/xml" in ops["GET /vospace/transfers"]["responses"]["200"]["content"]
    assert (
        "text/plain" in ops["GET /vospace/transfers/{job_id}/phase"]["responses"]["200"]["content"]
    )
    assert "303" in ops["POST /vospace/transfers"]["responses"]
    for key, op in ops.items():
        if key.split()[1].startswith("/vospace"):
            for status, answer in op["responses"].items():
                content = answer.get("content", {})
                assert "application/json" not in content, (key, status)
    assert "application/octet-stream" in ops["PUT /vospace/files/{path}"]["requestBody"]["content"]
