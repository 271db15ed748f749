"""Every model, imported so that Alembic and the mapper see the whole schema."""

from librarian_server.orm.base import Base, utcnow
from librarian_server.orm.checkin import Checkin
from librarian_server.orm.damage import Damage
from librarian_server.orm.error import ErrorCategory, ErrorRecord
from librarian_server.orm.event import Event, EventSequence
from librarian_server.orm.file import File
from librarian_server.orm.instance import Instance
from librarian_server.orm.outbox import OutboxMessage
from librarian_server.orm.outgoing import OutgoingTransfer, QueueStatus, SendQueue
from librarian_server.orm.peer import Peer
from librarian_server.orm.proof_job import ProofJob
from librarian_server.orm.release_policy import ReleasePolicy
from librarian_server.orm.remote_instance import RemoteInstance
from librarian_server.orm.server_process import ServerProcess
from librarian_server.orm.staging import StagedCopy, StagingJob, StagingJobFile
from librarian_server.orm.statuses import (
    ACTIVE_STATUSES,
    AWAITING_PEER,
    FINISHED_STATUSES,
    HOLDING_STATUSES,
    OPEN_STATUSES,
    OUTGOING_LIVE,
)
from librarian_server.orm.store import Store, StoreKind
from librarian_server.orm.tally import DailyTally, StoreSnapshot, TallyWatermark
from librarian_server.orm.task_run import TaskRun
from librarian_server.orm.transfer import IncomingTransfer
from librarian_server.orm.user import ApiToken, AuthState, LoginFailure, User
from librarian_server.orm.vospace import (
    UWSPhase,
    VOSpaceContainer,
    VOSpaceEndpoint,
    VOSpaceJob,
    VOSpaceLink,
    VOSpaceProperty,
)
from librarian_server.orm.webhook import WebhookSubscription

__all__ = [
    "ACTIVE_STATUSES",
    "AWAITING_PEER",
    "FINISHED_STATUSES",
    "HOLDING_STATUSES",
    "OPEN_STATUSES",
    "OUTGOING_LIVE",
    "ApiToken",
    "AuthState",
    "Base",
    "Checkin",
    "Damage",
    "ErrorCategory",
    "ErrorRecord",
    "DailyTally",
    "Event",
    "EventSequence",
    "File",
    "TallyWatermark",
    "TaskRun",
    "IncomingTransfer",
    "Instance",
    "Peer",
    "ProofJob",
    "LoginFailure",
    "OutboxMessage",
    "OutgoingTransfer",
    "QueueStatus",
    "ReleasePolicy",
    "RemoteInstance",
    "SendQueue",
    "ServerProcess",
    "StagedCopy",
    "StagingJob",
    "StagingJobFile",
    "Store",
    "StoreKind",
    "StoreSnapshot",
    "UWSPhase",
    "User",
    "VOSpaceContainer",
    "VOSpaceEndpoint",
    "VOSpaceJob",
    "VOSpaceLink",
    "VOSpaceProperty",
    "WebhookSubscription",
    "utcnow",
]
