"""File replay: read a dump, put raw envelopes on ``posts.raw`` at a controlled rate.

Resumable: with ``resume`` the file position stored in the cursors topic is
where reading starts, and the position is stored again (after a flush, so only
acknowledged records count) every ``checkpoint_every`` records and at the end.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from streams.settings import Settings
from streams.sources.cursors import CursorStore
from streams.sources.producer import RawProducer
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


class _Pacer:
    """Sleeps just enough to hold ``rate`` records per second (None: as fast as possible)."""

    def __init__(self, rate: float | None) -> None:
        self.interval = 1.0 / rate if rate else 0.0
        self.next_at = time.monotonic()

    def wait(self) -> None:
        if not self.interval:
            return
        now = time.monotonic()
        if self.next_at > now:
            time.sleep(self.next_at - now)
        self.next_at = max(self.next_at, now) + self.interval


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
    started = time.monotonic()
    cursors = CursorStore(settings)
    key = cursor_key(path, fmt)
    start = 0
    if resume:
        stored = cursors.get(key)
        start = int(stored["position"]) if stored else 0
    producer = RawProducer(settings, source="replay")
    pacer = _Pacer(rate)
    adapter_format = envelope_format(fmt)
    sent = 0
    position = start
    try:
        for record in iter_records(path, fmt, start=start):
            if limit is not None and sent >= limit:
                break
            pacer.wait()
            producer.send(
                adapter_format,
                record.payload,
                key=partition_key(record, path),
                context={**record.context, "file": path.name, "position": record.position},
            )
            sent += 1
            position = record.position + 1
            if on_progress is not None:
                on_progress(1)
            if sent % checkpoint_every == 0:
                producer.flush()
                cursors.put(key, {"position": position})
        producer.flush()
        cursors.put(key, {"position": position})
    finally:
        producer.close()
        cursors.close()
    return ReplayReport(sent=sent, start=start, end=position, seconds=time.monotonic() - started)
