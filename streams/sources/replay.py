"""File replay: read a dump, put raw envelopes on ``posts.raw`` at a controlled rate.

Resumable: with ``resume`` the file position stored in the cursors topic is
where reading starts. Records leave through the same :class:`Outbox` as every
live source, so the position is stored the same way: after every record sent
before it was confirmed by Kafka, every ``checkpoint_every`` records (or
few seconds) and at the end.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from streams.backoff import Pacer
from streams.settings import Settings
from streams.sources.base import Checkpoints, Outbox, RunLimits, Stopper
from streams.sources.readers import Record, envelope_format, iter_records


@dataclass(frozen=True)
class ReplayReport:
    sent: int
    start: int
    end: int
    seconds: float


def cursor_key(path: Path, fmt: str) -> str:
    return f"replay:{fmt}:{path.resolve()}"


def partition_key(record: Record, path: Path) -> str:
    """Conversation hint if the record has one, so a thread stays on one partition."""
    for name in ("conversation_root", "conversation_id"):
        value = record.context.get(name)
        if value:
            return str(value)
    if isinstance(record.payload, dict):
        value = record.payload.get("conversation_id")
        if isinstance(value, str) and value:
            return value
    return f"replay:{path.name}"


def replay_file(
    settings: Settings,
    path: Path,
    fmt: str,
    *,
    rate: float | None = None,
    limit: int | None = None,
    resume: bool = False,
    checkpoint_every: int = 1000,
    on_progress: Callable[[int], Any] | None = None,
) -> ReplayReport:
    """Send the records of ``path`` from the start (or the stored position) on."""
    started = time.monotonic()
    adapter_format = envelope_format(fmt)
    limits = RunLimits(max_posts=limit)
    outbox = Outbox.open(settings, "replay", limits, Stopper(), Checkpoints(checkpoint_every))
    key = cursor_key(path, fmt)
    start = int(outbox.load_cursors().get(key, {}).get("position", 0)) if resume else 0
    pacer = Pacer.per_second(rate)
    position = start
    try:
        for record in iter_records(path, fmt, start=start):
            if outbox.full or not outbox.stopper.pace(pacer):
                break
            if outbox.due:
                outbox.checkpoint({key: {"position": position}})
            outbox.emit(
                adapter_format,
                record.payload,
                partition_key(record, path),
                {**record.context, "file": path.name, "position": record.position},
            )
            position = record.position + 1
            if on_progress is not None:
                on_progress(1)
    finally:
        outbox.finish({key: {"position": position}})
    return ReplayReport(
        sent=outbox.sent, start=start, end=position, seconds=time.monotonic() - started
    )
