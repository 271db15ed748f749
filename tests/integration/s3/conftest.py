"""Sites whose uploads go to a bucket on the tests' own OpenStack Swift."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from librarian_server.orm import Store
from librarian_server.services.catalogue.stores import add_s3_store
from librarian_server.stores import S3Store, backend_for
from librarian_server.stores.s3 import S3Options
from tests.integration.conftest import Site
from tests.swift import SwiftNode

MIB = 1024 * 1024


def s3_options(node: SwiftNode, bucket: str, directory: Path, **extra: Any) -> S3Options:
    credentials = directory / "s3.credentials"
    if not credentials.exists():
        directory.mkdir(parents=True, exist_ok=True)
        node.write_credentials_file(credentials)
    values: dict[str, Any] = {
        "endpoint": node.endpoint,
        "bucket": bucket,
        "region": node.region,
        "credentials_file": str(credentials),
        "part_size": 5 * MIB,
        "concurrency": 3,
        "spool": str(directory / "spool"),
    }
    values.update(extra)
    return S3Options.model_validate(values)


def put_on_s3(site: Site, node: SwiftNode, bucket: str, name: str = "swift") -> int:
    """Add a bucket store and make it the only one taking uploads; its id."""
    with site.factory.begin() as session:
        session.execute(update(Store).values(accepts_ingest=False))
        options = s3_options(node, bucket, site.settings.data_dir / name)
        return add_s3_store(session, name, options).id


def s3_backend_of(site: Site, store_id: int) -> S3Store:
    with site.session() as session:
        backend = backend_for(session.get_one(Store, store_id))
    assert isinstance(backend, S3Store)
    return backend


def store_ids(site: Site) -> dict[str, int]:
    with site.session() as session:
        return {s.name: s.id for s in session.scalars(select(Store))}


@pytest.fixture
def s3_site(
    make_site: Callable[..., Site], swift_node: SwiftNode, swift_bucket: str
) -> tuple[Site, int]:
    """A site whose every new upload is stored in a fresh Swift bucket."""
    site = make_site()
    return site, put_on_s3(site, swift_node, swift_bucket)
