"""Shared test fixtures: the servers integration tests talk to.

Integration tests use real servers through the real clients. When
``TOWNSQUARE_KAFKA_BOOTSTRAP`` and ``TOWNSQUARE_ES_URL`` are set they are used
as they are; otherwise the local servers are started once per test session on
their own ports and data folder (so a `make run --keep-running` on the default
ports does not collide), and stopped at the end. Every test gets its own topic
prefix, index prefix and Faust app id, so tests never share state or a
consumer group.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import ROOT, SHARED_DATA, TEST_ES_PORT, TEST_KAFKA_PORT, Servers


@pytest.fixture(scope="session")
def servers() -> Iterator[Servers]:
    import os

    kafka = os.environ.get("TOWNSQUARE_KAFKA_BOOTSTRAP")
    es = os.environ.get("TOWNSQUARE_ES_URL")
    if kafka and es:
        yield Servers(kafka, es, local=False)
        return
    from streams.services import LocalServices, down, up

    data_dir = ROOT / ".townsquare" / "test-services"
    shutil.rmtree(data_dir, ignore_errors=True)
    svc = LocalServices(data_dir=data_dir, kafka_port=TEST_KAFKA_PORT, es_port=TEST_ES_PORT)
    up(svc, timeout=90)
    try:
        yield Servers(svc.kafka_bootstrap, svc.es_url, local=True)
    finally:
        down(svc)


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"the shared test data folder is absent ({SHARED_DATA})")
    return SHARED_DATA
