"""VOSpace faults: the standard's fault names with their HTTP status codes.

A fault body is plain text, the fault name then details (``NodeNotFound vos://...``);
UWS jobs keep the name in ``errorSummary`` and serve it at ``/error``. Librarian's own
domain errors raised by shared code (auth, the upload pipeline) are translated here, so
VOSpace clients see standard names whatever layer failed.
"""

from __future__ import annotations

from librarian_server import errors


class VOSpaceFault(Exception):
    fault: str = "InternalFault"
    status_code: int = 500

    def __init__(self, detail: str = "") -> None:
        self.detail = detail
        self.headers: dict[str, str] = {}
        super().__init__(self.text)

    @property
    def text(self) -> str:
        return f"{self.fault} {self.detail}".rstrip()


def _fault(name: str, status: int) -> type[VOSpaceFault]:
    return type(name, (VOSpaceFault,), {"fault": name, "status_code": status})


InternalFault = _fault("InternalFault", 500)
NodeNotFound = _fault("NodeNotFound", 404)
ContainerNotFound = _fault("ContainerNotFound", 404)
DuplicateNode = _fault("DuplicateNode", 409)
PermissionDenied = _fault("PermissionDenied", 403)
InvalidURI = _fault("InvalidURI", 400)
InvalidArgument = _fault("InvalidArgument", 400)
TypeNotSupported = _fault("TypeNotSupported", 400)
LinkFound = _fault("LinkFound", 400)
ProtocolNotSupported = _fault("ProtocolNotSupported", 400)
ViewNotSupported = _fault("ViewNotSupported", 400)
OperationNotSupported = _fault("OperationNotSupported", 400)
NodeBusy = _fault("NodeBusy", 409)
InvalidData = _fault("InvalidData", 412)


class AuthenticationRequired(VOSpaceFault):
    """No or bad credentials: HTTP 401, still named PermissionDenied as the standard has it."""

    fault = "PermissionDenied"
    status_code = 401


def from_librarian_error(exc: errors.LibrarianError) -> VOSpaceFault:
    """The fault a VOSpace client should see for an error raised by shared code."""
    detail = exc.reason
    if exc.suggested_remedy and exc.status_code < 500:
        detail = f"{exc.reason} {exc.suggested_remedy}"
    fault: type[VOSpaceFault]
    if isinstance(exc, errors.AuthenticationRequired):
        fault = AuthenticationRequired
    elif isinstance(exc, errors.PermissionDenied):
        fault = PermissionDenied
    elif isinstance(exc, errors.InvalidName):
        fault = InvalidURI
    elif isinstance(exc, errors.NotFound):
        fault = NodeNotFound
    elif isinstance(exc, errors.FileOffline):
        fault = NodeBusy
    elif isinstance(exc, errors.FileAlreadyExists | errors.Conflict):
        fault = DuplicateNode
    elif isinstance(exc, errors.VerificationFailed):
        fault = InvalidData
    elif isinstance(exc, errors.CopyFailedVerification):
        fault = InternalFault  # the site's own copy is bad: not the client's doing
    elif exc.status_code < 500:
        fault = InvalidArgument
    else:
        fault = InternalFault
    result = fault(detail)
    result.headers = exc.headers()
    if exc.status_code in (413, 416, 507) or isinstance(exc, errors.CopyFailedVerification):
        result.status_code = exc.status_code  # keep the precise HTTP meaning
    if isinstance(exc, errors.FileOffline):
        result.status_code = 503  # with Retry-After: VO clients (cadcutils) wait and retry
    return result
