"""Every model, imported so that Alembic and the mapper see the whole schema."""

from .base import Base, utcnow
from .error import ErrorCategory, ErrorRecord, ErrorSeverity
from .file import File
from .instance import Instance
from .store import Store, StoreKind
from .transfer import ACTIVE_STATUSES, IncomingTransfer
from .user import ApiToken, User
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
    "ApiToken",
    "Base",
    "ErrorCategory",
    "ErrorRecord",
    "ErrorSeverity",
    "File",
    "IncomingTransfer",
    "Instance",
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
