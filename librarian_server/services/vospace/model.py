"""The documents VOSpace exchanges, as plain data: parsed requests and rendered views."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

VOS_NS = "http://www.ivoa.net/xml/VOSpace/v2.0"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
UWS_NS = "http://www.ivoa.net/xml/UWS/v1.0"
XLINK_NS = "http://www.w3.org/1999/xlink"
CORE = "ivo://ivoa.net/vospace/core#"

# Every type of the closed set parses; the service stores these three.
NODE_TYPES = frozenset(
    {"Node", "DataNode", "UnstructuredDataNode", "StructuredDataNode", "ContainerNode", "LinkNode"}
)
# The work one client document can cause is bounded (a 12,000-property document once
# cost a worker 37 s): these hold at parse time, before anything touches the database.
MAX_DOCUMENT = 1 << 20  # the parser's own ceiling; requests are capped lower by settings
MAX_ELEMENTS = 2048
MAX_DEPTH = 16
MAX_PROPERTIES = 256  # per document, and user properties kept per node
MAX_PROPERTY_URI = 512
MAX_PROPERTY_VALUE = 65_536
PUSH_TO = "pushToVoSpace"
PULL_FROM = "pullFromVoSpace"
PULL_TO = "pullToVoSpace"
PUSH_FROM = "pushFromVoSpace"
DIRECTIONS = frozenset({PUSH_TO, PULL_FROM, PULL_TO, PUSH_FROM})


@dataclass
class PropertyValue:
    uri: str
    value: str | None  # None: xsi:nil, i.e. delete the property
    read_only: bool = False


@dataclass
class NodeDoc:
    """A node document as a client sent it (createNode, setNode)."""

    uri: str
    type: str
    properties: list[PropertyValue] = field(default_factory=list)
    target: str | None = None


@dataclass
class ProtocolDoc:
    uri: str
    endpoint: str | None = None
    security_methods: list[str] = field(default_factory=list)
    params: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class TransferDoc:
    target: str
    direction: str
    view: str | None = None
    protocols: list[ProtocolDoc] = field(default_factory=list)
    keep_bytes: bool | None = None
    params: list[tuple[str, str]] = field(default_factory=list)

    @property
    def is_internal(self) -> bool:
        """A move or copy: the direction is a node URI, not one of the four directions."""
        return self.direction not in DIRECTIONS

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TransferDoc:
        return cls(
            target=data["target"],
            direction=data["direction"],
            view=data.get("view"),
            protocols=[
                ProtocolDoc(
                    uri=p["uri"],
                    endpoint=p.get("endpoint"),
                    security_methods=list(p.get("security_methods", [])),
                    params=[(x[0], x[1]) for x in p.get("params", [])],
                )
                for p in data.get("protocols", [])
            ],
            keep_bytes=data.get("keep_bytes"),
            params=[(x[0], x[1]) for x in data.get("params", [])],
        )


@dataclass
class Prop:
    """One property of a node as the service shows it."""

    uri: str
    value: str
    read_only: bool


@dataclass
class NodeView:
    """A node as rendered: its type, properties and type-specific parts."""

    path: str
    type: str  # DataNode, ContainerNode or LinkNode
    properties: list[Prop] = field(default_factory=list)
    target: str | None = None
    busy: bool = False


@dataclass
class ResultRef:
    id: str
    href: str


@dataclass
class JobView:
    """A UWS job as rendered."""

    id: str
    href: str
    phase: str
    owner: str | None
    run_id: str | None
    created: str
    started: str | None
    ended: str | None
    execution_duration: int
    destruction: str
    parameters: list[tuple[str, str]]
    results: list[ResultRef]
    error_fault: str | None
    error_message: str | None
    transfer: TransferDoc
