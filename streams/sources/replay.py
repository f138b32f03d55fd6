"""File replay: read a dump, put raw envelopes on ``posts.raw`` at a controlled rate.

Resumable: with ``resume`` the file position stored in the cursors topic is
where reading starts. Records leave through the same :class:`Outbox` as every
live source, so the position is stored the same way: after every record sent
before it was confirmed by Kafka, every ``checkpoint_every`` records (or
few seconds) and at the end. A stop (Ctrl-C, SIGTERM: the caller's
:class:`Stopper`) ends the loop between two records, so the last checkpoint
covers exactly the records sent and ``--resume`` goes on with the next one;
a ``KeyboardInterrupt`` that escapes a hook still stores that position on
its way out.

Replay cannot see what the normalize stage decides, so each record is also
put through the same pure path normalize runs (:func:`normalize_message`:
the adapters' decode and normalize functions, no Kafka). A record the
adapters refuse is still sent, because normalize dead-letters it with its
reason and its original bytes, but the report counts it apart, with that
reason, instead of as a post.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from schemas.models import RawEnvelope
from streams.backoff import Pacer
from streams.settings import Settings
from streams.sources.base import Checkpoints, Outbox, RunLimits, Stopper
from streams.sources.readers import Record, envelope_format, iter_records
from streams.steps.outputs import Rejected
from streams.steps.route import normalize_message


@dataclass(frozen=True)
class Refusal:
    """The first record refused for one reason: enough to find it and read why."""

    position: int
    error: str


@dataclass(frozen=True)
class ReplayReport:
    sent: int
    """Records Kafka took, valid or not (what ``--limit`` counts)."""
    start: int
    end: int
    """The stored position: the next record a ``--resume`` reads."""
    seconds: float
    dead_lettered: Counter[str] = field(default_factory=Counter)
    """Records sent that normalize will dead-letter, by reason."""
    first_refusals: dict[str, Refusal] = field(default_factory=dict)
    skipped: int = 0
    """Records refused at the edge (too large for the producer): not sent at all."""
    stopped: bool = False
    """The run was told to stop (a signal) before the file or the limit ended."""

    @property
    def valid(self) -> int:
        """Records sent that normalize will turn into posts."""
        return self.sent - self.will_dead_letter

    @property
    def will_dead_letter(self) -> int:
        return sum(self.dead_lettered.values())


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


def refusal(
    adapter_format: str, payload: Any, context: dict[str, Any], max_bytes: int
) -> Rejected | None:
    """Why normalize would dead-letter this record, or None if it would publish a post.

    The envelope is built as the raw producer builds it and run through the
    normalize stage's own pure function, so the verdict is normalize's.
    """
    envelope = RawEnvelope(
        ingest_id=uuid.uuid4().hex,
        source="replay",
        format=adapter_format,
        received_at=datetime.now(UTC),
        payload=payload,
        context=context,
    )
    result = normalize_message(envelope.model_dump_json().encode("utf-8"), max_bytes)
    return result if isinstance(result, Rejected) else None


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
    stopper: Stopper | None = None,
) -> ReplayReport:
    """Send the records of ``path`` from the start (or the stored position) on.

    ``stopper`` lets the caller stop the run between records (its signal
    handlers call ``stopper.stop()``); the position stored at the end is then
    the record after the last one sent.
    """
    started = time.monotonic()
    adapter_format = envelope_format(fmt)
    limits = RunLimits(max_posts=limit)
    stopper = stopper or Stopper()
    outbox = Outbox.open(settings, "replay", limits, stopper, Checkpoints(checkpoint_every))
    key = cursor_key(path, fmt)
    start = int(outbox.load_cursors().get(key, {}).get("position", 0)) if resume else 0
    pacer = Pacer.per_second(rate)
    position = start
    dead_lettered: Counter[str] = Counter()
    first: dict[str, Refusal] = {}
    finished = False
    try:
        for record in iter_records(path, fmt, start=start):
            if outbox.full or not stopper.pace(pacer):
                break
            if outbox.due:
                outbox.checkpoint({key: {"position": position}})
            context = {**record.context, "file": path.name, "position": record.position}
            refused = refusal(adapter_format, record.payload, context, settings.max_message_bytes)
            skipped_before = outbox.skipped
            outbox.emit(adapter_format, record.payload, partition_key(record, path), context)
            position = record.position + 1
            if refused is not None and outbox.skipped == skipped_before:
                dead_lettered[refused.reason] += 1
                first.setdefault(refused.reason, Refusal(record.position, refused.error))
            if on_progress is not None:
                on_progress(1)
        else:
            finished = True
    finally:
        # Also on KeyboardInterrupt: the final checkpoint confirms every record
        # sent and stores the position right after the last of them.
        outbox.finish({key: {"position": position}})
    return ReplayReport(
        sent=outbox.sent,
        start=start,
        end=position,
        seconds=time.monotonic() - started,
        dead_lettered=dead_lettered,
        first_refusals=first,
        skipped=outbox.skipped,
        stopped=not finished and not outbox.full and stopper.stopped(),
    )
