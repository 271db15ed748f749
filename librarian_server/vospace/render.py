"""Writing VOSpace, UWS and VOSI XML as text, incrementally where a document is long.

Documents are assembled from escaped strings rather than a tree, so that a container
with a million children streams in constant memory; the tests validate every
document type against the IVOA schemas.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator
from xml.sax.saxutils import escape

from librarian_server.services.vospace.model import (
    CORE,
    UWS_NS,
    VOS_NS,
    XLINK_NS,
    XSI_NS,
    JobView,
    NodeView,
    ProtocolDoc,
    TransferDoc,
)
from librarian_server.services.vospace.uris import NodeURIs

DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n'
DETAILS = ("min", "max", "properties")
ANY_VIEW = CORE + "anyview"
DEFAULT_VIEW = CORE + "defaultview"
_ATTR = {'"': "&quot;", "\n": "&#10;", "\r": "&#13;", "\t": "&#9;"}


_SPECIAL = re.compile(r'[&<>"\n\r\t]')


def text(value: str) -> str:
    return escape(value) if _SPECIAL.search(value) else value


def attr(value: str) -> str:
    return '"' + (escape(value, _ATTR) if _SPECIAL.search(value) else value) + '"'


@functools.lru_cache(maxsize=1024)
def _property_open(uri: str, read_only: bool) -> str:
    return f'<vos:property uri={attr(uri)} readOnly="{"true" if read_only else "false"}">'


def _properties(view: NodeView) -> str:
    inner = "".join(
        f"{_property_open(p.uri, p.read_only)}{text(p.value)}</vos:property>"
        for p in view.properties
    )
    return f"<vos:properties>{inner}</vos:properties>"


def _views(tag: str, uris: Iterable[str]) -> str:
    inner = "".join(f"<vos:view uri={attr(u)}/>" for u in uris)
    return f"<vos:{tag}>{inner}</vos:{tag}>"


def _open(uris: NodeURIs, view: NodeView, *, namespaces: bool) -> str:
    head = (
        '<vos:node xmlns:vos="' + VOS_NS + '" xmlns:xsi="' + XSI_NS + '" '
        if namespaces
        else ("<vos:node ")
    )
    head += f"uri={attr(uris.uri(view.path))} xsi:type={attr('vos:' + view.type)}"
    if namespaces:
        head += ' version="2.1"'
    if view.busy and view.type != "LinkNode":
        head += ' busy="true"'
    return head + ">"


def child(uris: NodeURIs, view: NodeView, detail: str) -> str:
    """One entry of a container's ``nodes`` list: properties and required parts only."""
    parts = [_open(uris, view, namespaces=False)]
    if detail != "min":
        parts.append(_properties(view))
    if view.type == "ContainerNode":
        parts.append("<vos:nodes/>")
    elif view.type == "LinkNode":
        parts.append(f"<vos:target>{text(view.target or '')}</vos:target>")
    parts.append("</vos:node>")
    return "".join(parts)


def node(
    uris: NodeURIs, view: NodeView, detail: str, children: Iterable[NodeView] = ()
) -> Iterator[str]:
    """A node document; a container's children are pulled from ``children`` lazily."""
    parts = [DECLARATION, _open(uris, view, namespaces=True)]
    if detail != "min":
        parts.append(_properties(view))
    if detail == "max" and view.type == "DataNode":
        parts.append(_views("accepts", [ANY_VIEW]) + _views("provides", [DEFAULT_VIEW]))
    elif detail == "max" and view.type == "ContainerNode":
        parts.append(_views("accepts", []) + _views("provides", []))
    if view.type == "LinkNode":
        parts.append(f"<vos:target>{text(view.target or '')}</vos:target>")
    if view.type != "ContainerNode":
        parts.append("</vos:node>\n")
        yield "".join(parts)
        return
    parts.append("<vos:nodes>")
    yield "".join(parts)
    batch: list[str] = []
    for entry in children:
        batch.append(child(uris, entry, detail))
        if len(batch) >= 200:
            yield "".join(batch)
            batch.clear()
    batch.append("</vos:nodes></vos:node>\n")
    yield "".join(batch)


def _protocol(p: ProtocolDoc) -> str:
    parts = [f"<vos:protocol uri={attr(p.uri)}>"]
    if p.endpoint:
        parts.append(f"<vos:endpoint>{text(p.endpoint)}</vos:endpoint>")
    parts += [f"<vos:param uri={attr(u)}>{text(v)}</vos:param>" for u, v in p.params]
    parts += [f"<vos:securityMethod uri={attr(s)}/>" for s in p.security_methods]
    parts.append("</vos:protocol>")
    return "".join(parts)


def transfer_element(t: TransferDoc) -> str:
    parts = [
        f'<vos:transfer xmlns:vos="{VOS_NS}" version="2.1">',
        f"<vos:target>{text(t.target)}</vos:target>",
        f"<vos:direction>{text(t.direction)}</vos:direction>",
    ]
    if t.view:
        parts.append(f"<vos:view uri={attr(t.view)}/>")
    parts += [_protocol(p) for p in t.protocols]
    if t.keep_bytes is not None:
        parts.append(f"<vos:keepBytes>{'true' if t.keep_bytes else 'false'}</vos:keepBytes>")
    parts += [f"<vos:param uri={attr(u)}>{text(v)}</vos:param>" for u, v in t.params]
    parts.append("</vos:transfer>")
    return "".join(parts)


def transfer(t: TransferDoc) -> str:
    return DECLARATION + transfer_element(t) + "\n"


def _nillable(tag: str, value: str | None) -> str:
    if value is None:
        return f'<uws:{tag} xsi:nil="true"/>'
    return f"<uws:{tag}>{text(value)}</uws:{tag}>"


_UWS_NAMESPACES = f'xmlns:uws="{UWS_NS}" xmlns:xlink="{XLINK_NS}" xmlns:xsi="{XSI_NS}"'


def results_element(job: JobView, *, namespaces: bool = False) -> str:
    ns = " " + _UWS_NAMESPACES if namespaces else ""
    inner = "".join(f"<uws:result id={attr(r.id)} xlink:href={attr(r.href)}/>" for r in job.results)
    return f"<uws:results{ns}>{inner}</uws:results>"


def parameters_element(job: JobView, *, namespaces: bool = False) -> str:
    ns = " " + _UWS_NAMESPACES if namespaces else ""
    inner = "".join(
        f"<uws:parameter id={attr(k)}>{text(v)}</uws:parameter>" for k, v in job.parameters
    )
    return f"<uws:parameters{ns}>{inner}</uws:parameters>"


def job(j: JobView) -> str:
    parts = [
        DECLARATION,
        f'<uws:job {_UWS_NAMESPACES} version="1.1">',
        f"<uws:jobId>{text(j.id)}</uws:jobId>",
    ]
    if j.run_id:
        parts.append(f"<uws:runId>{text(j.run_id)}</uws:runId>")
    parts += [
        _nillable("ownerId", j.owner),
        f"<uws:phase>{j.phase}</uws:phase>",
        '<uws:quote xsi:nil="true"/>',
        f"<uws:creationTime>{j.created}</uws:creationTime>",
        _nillable("startTime", j.started),
        _nillable("endTime", j.ended),
        f"<uws:executionDuration>{j.execution_duration}</uws:executionDuration>",
        f"<uws:destruction>{j.destruction}</uws:destruction>",
        parameters_element(j),
        results_element(j),
    ]
    if j.error_fault:
        message = f"{j.error_fault} {j.error_message or ''}".rstrip()
        parts.append(
            '<uws:errorSummary type="fatal" hasDetail="true">'
            f"<uws:message>{text(message)}</uws:message></uws:errorSummary>"
        )
    parts.append(f"<uws:jobInfo>{transfer_element(j.transfer)}</uws:jobInfo></uws:job>\n")
    return "".join(parts)


def jobs(refs: Iterable[JobView]) -> str:
    parts = [DECLARATION, f'<uws:jobs {_UWS_NAMESPACES} version="1.1">']
    for j in refs:
        parts.append(
            f"<uws:jobref id={attr(j.id)} xlink:href={attr(j.href)}>"
            f"<uws:phase>{j.phase}</uws:phase>"
            + (f"<uws:runId>{text(j.run_id)}</uws:runId>" if j.run_id else "")
            + _nillable("ownerId", j.owner)
            + f"<uws:creationTime>{j.created}</uws:creationTime></uws:jobref>"
        )
    parts.append("</uws:jobs>\n")
    return "".join(parts)


def _uri_list(tag: str, item: str, uris: Iterable[str]) -> str:
    inner = "".join(f"<vos:{item} uri={attr(u)}/>" for u in uris)
    return f"<vos:{tag}>{inner}</vos:{tag}>"


def protocols(accepts: Iterable[str], provides: Iterable[str]) -> str:
    return (
        f'{DECLARATION}<vos:protocols xmlns:vos="{VOS_NS}">'
        + _uri_list("accepts", "protocol", accepts)
        + _uri_list("provides", "protocol", provides)
        + "</vos:protocols>\n"
    )


def views(accepts: Iterable[str], provides: Iterable[str]) -> str:
    return (
        f'{DECLARATION}<vos:views xmlns:vos="{VOS_NS}">'
        + _uri_list("accepts", "view", accepts)
        + _uri_list("provides", "view", provides)
        + "</vos:views>\n"
    )


def properties(accepts: Iterable[str], provides: Iterable[str], contains: Iterable[str]) -> str:
    return (
        f'{DECLARATION}<vos:properties xmlns:vos="{VOS_NS}">'
        + _uri_list("accepts", "property", accepts)
        + _uri_list("provides", "property", provides)
        + _uri_list("contains", "property", contains)
        + "</vos:properties>\n"
    )
