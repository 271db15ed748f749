"""Wire schemas shared by the client and the server (the server imports these)."""

from .admin import PingResponse, StoreInfo, TokenCreateRequest, TokenCreateResponse
from .common import ErrorResponse, PermissionLevel, TransferStatus, WireModel
from .files import FileInfo, FileSummary, InstanceInfo, SearchResponse
from .upload import (
    CommitItem,
    CommittedFile,
    StagedTransfer,
    StageItem,
    StageOutcome,
    TransferInfo,
    UploadBundleHeader,
    UploadBundleResponse,
    UploadCancelRequest,
    UploadCancelResponse,
    UploadCommitRequest,
    UploadCommitResponse,
    UploadPutResponse,
    UploadStageRequest,
    UploadStageResponse,
)

__all__ = [
    "CommitItem",
    "CommittedFile",
    "ErrorResponse",
    "FileInfo",
    "FileSummary",
    "InstanceInfo",
    "PermissionLevel",
    "PingResponse",
    "SearchResponse",
    "StageItem",
    "StageOutcome",
    "StagedTransfer",
    "StoreInfo",
    "TokenCreateRequest",
    "TokenCreateResponse",
    "TransferInfo",
    "TransferStatus",
    "UploadBundleHeader",
    "UploadBundleResponse",
    "UploadCancelRequest",
    "UploadCancelResponse",
    "UploadCommitRequest",
    "UploadCommitResponse",
    "UploadPutResponse",
    "UploadStageRequest",
    "UploadStageResponse",
    "WireModel",
]
