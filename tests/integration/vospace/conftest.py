"""VOSpace over the in-process app: XML builders, a schema validator, and a push helper."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit
from xml.sax.saxutils import escape, quoteattr

import httpx
import pytest
from fastapi.testclient import TestClient
from lxml import etree

from librarian_server.app import create_app
from tests.integration.conftest import Site
from tests.integration.vospace.schemas import Validator

VOS = "http://www.ivoa.net/xml/VOSpace/v2.0"
UWS = "http://www.ivoa.net/xml/UWS/v1.0"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
AUTH = "example.org!vospace"
CORE = "ivo://ivoa.net/vospace/core#"
NS = {"vos": VOS, "uws": UWS, "xlink": "http://www.w3.org/1999/xlink"}


def uri(path: str, authority: str = AUTH) -> str:
    return f"vos://{authority}/{path}"


def node_xml(
    path: str,
    kind: str = "ContainerNode",
    props: dict[str, str | None] | None = None,
    target: str | None = None,
    authority: str = AUTH,
) -> str:
    items = []
    for key, value in (props or {}).items():
        if value is None:
            items.append(f'<vos:property uri={quoteattr(key)} xsi:nil="true"/>')
        else:
            items.append(f"<vos:property uri={quoteattr(key)}>{escape(value)}</vos:property>")
    extra = f"<vos:target>{escape(target)}</vos:target>" if target is not None else ""
    nodes = "<vos:nodes/>" if kind == "ContainerNode" else ""
    return (
        f'<vos:node xmlns:vos="{VOS}" xmlns:xsi="{XSI}" uri={quoteattr(uri(path, authority))} '
        f'xsi:type="vos:{kind}"><vos:properties>{"".join(items)}</vos:properties>{extra}{nodes}'
        "</vos:node>"
    )


def transfer_xml(
    target: str,
    direction: str,
    protocols: list[str] | tuple[str, ...] = (),
    keep_bytes: bool | None = None,
    security: list[str] | None = None,
) -> str:
    parts = [f'<vos:transfer xmlns:vos="{VOS}" version="2.1">']
    parts.append(f"<vos:target>{escape(target)}</vos:target>")
    parts.append(f"<vos:direction>{escape(direction)}</vos:direction>")
    for p in protocols:
        methods = "".join(f"<vos:securityMethod uri={quoteattr(s)}/>" for s in security or [])
        parts.append(f"<vos:protocol uri={quoteattr(p)}>{methods}</vos:protocol>")
    if keep_bytes is not None:
        parts.append(f"<vos:keepBytes>{'true' if keep_bytes else 'false'}</vos:keepBytes>")
    parts.append("</vos:transfer>")
    return "".join(parts)


def md5_digest(data: bytes) -> str:
    return "md5=" + base64.b64encode(hashlib.md5(data).digest()).decode()  # noqa: S324


def local(url: str) -> str:
    """A URL the service handed out, as a path for the in-process client."""
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


class VO:
    """Raw VOSpace calls against one in-process site."""

    def __init__(self, site: Site, validate: Validator) -> None:
        self.site = site
        self.http = site.http
        self.validate = validate

    def auth(self, user: str | None) -> tuple[str, str] | httpx.Auth:
        """None is anonymous: the base ``httpx.Auth`` sends the request as it is."""
        return httpx.Auth() if user is None else self.site.auth(user)

    def get(self, path: str, user: str | None = "writer", **params: Any) -> httpx.Response:
        return self.http.get(f"/vospace/nodes/{path}", params=params, auth=self.auth(user))

    def node(self, path: str, user: str | None = "writer", **params: Any) -> etree._Element:
        r = self.get(path, user, **params)
        assert r.status_code == 200, r.text
        return self.validate(r.content)

    def create(
        self, path: str, kind: str = "ContainerNode", user: str = "writer", **kw: Any
    ) -> httpx.Response:
        return self.http.put(
            f"/vospace/nodes/{path}",
            content=node_xml(path, kind, **kw),
            headers={"Content-Type": "text/xml"},
            auth=self.auth(user),
        )

    def mkdir(self, path: str, user: str = "writer") -> None:
        r = self.create(path, user=user)
        assert r.status_code == 201, r.text

    def negotiate(
        self, path: str, direction: str, protocol: str, user: str | None = "writer"
    ) -> httpx.Response:
        """POST /synctrans (XML), follow the 303 to the transfer details."""
        r = self.http.post(
            "/vospace/synctrans",
            content=transfer_xml(uri(path), direction, [protocol]),
            headers={"Content-Type": "text/xml"},
            auth=self.auth(user),
            follow_redirects=False,
        )
        assert r.status_code == 303, r.text
        details = self.http.get(local(r.headers["location"]), auth=self.auth(user))
        assert details.status_code == 200, details.text
        return details

    def endpoint(self, details: httpx.Response) -> str:
        root = self.validate(details.content)
        endpoints = root.findall("vos:protocol/vos:endpoint", NS)
        assert endpoints, details.text
        return local(endpoints[0].text or "")

    def job_url(self, details: httpx.Response) -> str:
        return local(str(details.url)).removesuffix("/results/transferDetails")

    def push(
        self, path: str, data: bytes, user: str = "writer", digest: bool = True
    ) -> httpx.Response:
        details = self.negotiate(path, "pushToVoSpace", CORE + "httpput", user)
        headers = {"digest": md5_digest(data)} if digest else {}
        return self.http.put(self.endpoint(details), content=data, headers=headers)

    def phase(self, job: str, user: str | None = "writer") -> str:
        return self.http.get(f"{job}/phase", auth=self.auth(user)).text


@pytest.fixture(scope="session")
def validate(tmp_path_factory: pytest.TempPathFactory) -> Validator:
    return Validator(tmp_path_factory.mktemp("schemas"))


@pytest.fixture
def vo(site: Site, validate: Validator) -> VO:
    return VO(site, validate)


@contextmanager
def reconfigured(vo: VO, **settings: Any) -> Iterator[TestClient]:
    """A second app over the same catalogue, with other settings."""
    changed = vo.site.settings.model_copy(update=settings)
    with TestClient(create_app(changed)) as http:
        yield http


def children(root: etree._Element) -> list[str]:
    return [n.get("uri", "").rsplit("/", 1)[-1] for n in root.findall("vos:nodes/vos:node", NS)]


def props(element: etree._Element) -> dict[str, str]:
    return {
        p.get("uri", "").removeprefix(CORE): p.text or ""
        for p in element.findall("vos:properties/vos:property", NS)
    }


def xsi_type(element: etree._Element) -> str:
    return element.get(f"{{{XSI}}}type", "")
