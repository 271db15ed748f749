"""Every model, imported so that Alembic and the mapper see the whole schema."""

from .base import Base, utcnow
from .checkin import Checkin
from .error import ErrorCategory, ErrorRecord, ErrorSeverity
from .event import Event
from .file import File
from .instance import Instance
from .librarian import Librarian
from .outgoing import OUTGOING_LIVE, OutgoingTransfer, QueueStatus, SendQueue
from .remote_instance import RemoteInstance
from .server_process import ServerProcess
from .store import Store, StoreKind
from .transfer import ACTIVE_STATUSES, HOLDING_STATUSES, IncomingTransfer
from .user import ApiToken, AuthState, LoginFailure, User
from .vospace import (
    UWSPhase,
    VOSpaceContainer,
    VOSpaceEndpoint,
    VOSpaceJob,
    VOSpaceLink,
    VOSpaceProperty,
)

__all__ = [
    "ACTIVE_STATUSES",
    "HOLDING_STATUSES",
    "OUTGOING_LIVE",
    "ApiToken",
    "AuthState",
    "Base",
    "Checkin",
    "ErrorCategory",
    "ErrorRecord",
    "ErrorSeverity",
    "Event",
    "File",
    "IncomingTransfer",
    "Instance",
    "Librarian",
    "LoginFailure",
    "OutgoingTransfer",
    "QueueStatus",
    "RemoteInstance",
    "SendQueue",
    "ServerProcess",
    "Store",
    "StoreKind",
    "UWSPhase",
    "User",
    "VOSpaceContainer",
    "VOSpaceEndpoint",
    "VOSpaceJob",
    "VOSpaceLink",
    "VOSpaceProperty",
    "utcnow",
]
