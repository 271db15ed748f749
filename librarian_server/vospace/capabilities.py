"""VOSI capabilities and availability: how VO clients find the service's resources.

Each capability lists an anonymous interface first when anonymous reads are allowed
(the CADC client drops an anonymous interface listed after an authenticated one),
then one for bearer tokens and one for HTTP Basic. All share one access URL: the
credentials travel in headers.
"""

from __future__ import annotations

from librarian_server.vospace.render import DECLARATION, attr, text

VOSI_CAPABILITIES = "http://www.ivoa.net/xml/VOSICapabilities/v1.0"
VOSI_AVAILABILITY = "http://www.ivoa.net/xml/VOSIAvailability/v1.0"
VODATASERVICE = "http://www.ivoa.net/xml/VODataService/v1.1"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
TOKEN = "ivo://ivoa.net/sso#token"  # noqa: S105 - a standard identifier, not a secret
BASIC = "ivo://ivoa.net/sso#BasicAA"

# standardID -> path under the VOSpace base, and whether anyone may use it.
CAPABILITIES: list[tuple[str, str, bool]] = [
    ("ivo://ivoa.net/std/VOSI#capabilities", "/capabilities", True),
    ("ivo://ivoa.net/std/VOSI#availability", "/availability", True),
    ("ivo://ivoa.net/std/VOSpace/v2.0#nodes", "/nodes", False),
    ("ivo://ivoa.net/std/VOSpace/v2.0#transfers", "/transfers", False),
    ("ivo://ivoa.net/std/VOSpace#sync-2.1", "/synctrans", False),
    ("ivo://ivoa.net/std/VOSpace/v2.0#sync", "/synctrans", False),
    ("ivo://ivoa.net/std/VOSpace#files-proto", "/files", False),
    ("ivo://ivoa.net/std/VOSpace/v2.0#properties", "/properties", True),
    ("ivo://ivoa.net/std/VOSpace/v2.0#views", "/views", True),
    ("ivo://ivoa.net/std/VOSpace/v2.0#protocols", "/protocols", True),
]


def _interface(url: str, security: str | None) -> str:
    method = f"<securityMethod standardID={attr(security)}/>" if security else ""
    return (
        '<interface xsi:type="vs:ParamHTTP" role="std">'
        f'<accessURL use="base">{text(url)}</accessURL>{method}</interface>'
    )


def capabilities(base_url: str, *, anonymous_read: bool) -> str:
    parts = [
        DECLARATION,
        f'<vosi:capabilities xmlns:vosi="{VOSI_CAPABILITIES}" xmlns:vs="{VODATASERVICE}" '
        f'xmlns:xsi="{XSI}">',
    ]
    for standard_id, path, public in CAPABILITIES:
        url = base_url + path
        parts.append(f"<capability standardID={attr(standard_id)}>")
        if public or anonymous_read:
            parts.append(_interface(url, None))
        if not public:
            parts.append(_interface(url, TOKEN) + _interface(url, BASIC))
        parts.append("</capability>")
    parts.append("</vosi:capabilities>\n")
    return "".join(parts)


def availability(available: bool, note: str) -> str:
    return (
        f'{DECLARATION}<vosi:availability xmlns:vosi="{VOSI_AVAILABILITY}">'
        f"<vosi:available>{'true' if available else 'false'}</vosi:available>"
        f"<vosi:note>{text(note)}</vosi:note></vosi:availability>\n"
    )
