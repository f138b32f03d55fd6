"""Shared test fixtures: the servers integration tests talk to.

Integration tests use real servers through the real clients. When
``TOWNSQUARE_KAFKA_BOOTSTRAP`` and ``TOWNSQUARE_ES_URL`` are set they are used
as they are; otherwise the local servers are started once per test session on
free ports with a data folder of the session's own (so a `make run
--keep-running` or another test session never collides), and stopped at the
end. Every test gets its own topic prefix, index prefix and Faust app id, so
tests never share state or a consumer group.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from support import SHARED_DATA, Servers, free_port


@pytest.fixture(scope="session")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    import os

    kafka = os.environ.get("TOWNSQUARE_KAFKA_BOOTSTRAP")
    es = os.environ.get("TOWNSQUARE_ES_URL")
    if kafka and es:
        yield Servers(kafka, es, local=False)
        return
    from streams.cli.services import LocalServices, down, up

    data_dir = tmp_path_factory.mktemp("services")
    svc = LocalServices(data_dir=data_dir, kafka_port=free_port(), es_port=free_port())
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


@pytest.fixture(scope="module")
def shared_data_dir() -> Path:
    """Module-scoped twin of ``shared_data`` for expensive module fixtures."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"the shared test data folder is absent ({SHARED_DATA})")
    return SHARED_DATA


@pytest.fixture
def own_local_servers(tmp_path: Path) -> Iterator[object]:
    """Local servers of this test alone, for tests that stop or restart one side.

    Skipped when external servers are configured: such a test must not stop them.
    """
    import os

    if os.environ.get("TOWNSQUARE_ES_URL") or os.environ.get("TOWNSQUARE_KAFKA_BOOTSTRAP"):
        pytest.skip("stops or restarts a server: runs only against local servers it starts itself")
    from streams.cli.services import LocalServices, down, up

    svc = LocalServices(data_dir=tmp_path / "services", kafka_port=free_port(), es_port=free_port())
    up(svc, timeout=90)
    try:
        yield svc
    finally:
        down(svc)
