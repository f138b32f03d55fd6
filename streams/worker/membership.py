"""Static consumer-group membership: a worker that crashed gets its partitions back at once.

With dynamic membership a worker killed by SIGKILL (an OOM kill, a node
failure) leaves a member behind that the group coordinator keeps until its
session times out; the rebalance its successor starts waits on that ghost for
up to the rebalance timeout, and on some brokers (the local stand-in among
them) never completes. With static membership (KIP-345, Kafka 2.3+) the
successor joins with the same ``group.instance.id`` and simply takes the
ghost's place: no rebalance, no wait.

The id must be stable across restarts of one worker and unique among the
workers running at once (a second member with the same id fences the first).
So:

* ``TOWNSQUARE_KAFKA_GROUP_INSTANCE_ID`` wins when set;
* otherwise the worker claims the first free *slot* on this host: an
  exclusive ``flock`` on ``<data dir>/members/<app id>-<slot>.lock``, and
  uses ``<host>-<app id>-<slot>``. The operating system releases the lock when
  the process dies however it dies, so a restarted worker finds its slot free
  and takes the same id, and two workers side by side get different ones.
  In Kubernetes the host name is the pod name, which a container restart
  keeps, so the chart needs no setting of its own.

A trade-off to know: a static member does not leave the group on a clean
shutdown either, so when a worker is stopped for good (scaled down) its
partitions wait ``TOWNSQUARE_KAFKA_SESSION_TIMEOUT`` seconds before another
worker gets them.
"""

from __future__ import annotations

import fcntl
import os
import re
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from streams.settings import Settings

MAX_SLOTS = 64
"""Workers of one app on one host before the claim gives up (a guard, not a plan)."""

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass
class Membership:
    """The id in use and, for a claimed slot, the open lock file that holds it."""

    instance_id: str
    lock: IO[str] | None = None

    def release(self) -> None:
        if self.lock is not None:
            self.lock.close()
            self.lock = None


class NoFreeSlot(RuntimeError):
    """Every slot is held by a running worker."""


def _safe(text: str) -> str:
    return _UNSAFE.sub("-", text).strip("-") or "worker"


def claim(settings: Settings, host: str | None = None) -> Membership:
    """The static member id for this worker (see the module docstring); holds a slot if derived."""
    if settings.kafka_group_instance_id:
        return Membership(settings.kafka_group_instance_id)
    members = settings.data_dir / "members"
    members.mkdir(parents=True, exist_ok=True)
    host = _safe(host or socket.gethostname())
    app = _safe(settings.app_id)
    for slot in range(MAX_SLOTS):
        lock = _try_lock(members / f"{app}-{slot}.lock")
        if lock is not None:
            return Membership(f"{host}-{app}-{slot}", lock)
    raise NoFreeSlot(
        f"{MAX_SLOTS} workers of {settings.app_id} already run from {settings.data_dir}; "
        "stop one, or give each worker its own TOWNSQUARE_KAFKA_GROUP_INSTANCE_ID"
    )


def _try_lock(path: Path) -> IO[str] | None:
    handle = path.open("a+", encoding="utf-8")
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        return None
    handle.seek(0)
    handle.truncate()
    handle.write(f"{os.getpid()}\n")
    handle.flush()
    return handle
