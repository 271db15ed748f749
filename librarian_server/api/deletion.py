"""Deleting files (``librarian rm``): the rule lives in ``services/deletion.py``."""

from __future__ import annotations

from fastapi import APIRouter

from librarian_client.models import DeleteRequest, DeleteResponse
from librarian_server.api.deps import SessionDep, SettingsDep, Writer
from librarian_server.services.catalogue import deletion

router = APIRouter(tags=["files"])


@router.post("/delete", response_model=DeleteResponse)
def delete_files(
    body: DeleteRequest, session: SessionDep, settings: SettingsDep, user: Writer
) -> DeleteResponse:
    """Delete files by name or prefix: all of them, or none if any is refused.

    An uploader may delete their own file within the grace period while no other site
    has it; anything else needs an admin and ``force``, and a file no other site has
    confirmed holding also needs ``last_copy``. Bytes go once the deletion has committed.
    """
    return deletion.delete_files(session, body, user=user, settings=settings)
