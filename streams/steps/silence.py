"""silence: an ingest source that has delivered nothing for longer than its usual gap.

Silent streams are the most common failure of collection tools: an expired
token, a changed API, a stuck poller, and nothing says so. The alert stage
watches every *ingest source* (the raw envelope's ``source``: ``mastodon``,
``bluesky``, ``rss``, ``webhook``, ... the same name the
``townsquare_ingested_total`` counter carries, so this alert and the
Prometheus one speak of the same thing) rather than the post's platform: a
platform can be fed by two sources, and a silence is a source's failure. The
time of an arrival is the envelope's ``received_at`` (when the source handed
it to us), so a worker catching up on a backlog sees the gaps as they were.

Per source the ``silence`` table keeps a :class:`SourceState`: the last
arrival and an exponentially weighted mean of the gaps between arrivals
(:data:`ALPHA` per gap). Arrivals come in small summaries (:class:`Arrivals`:
count, first and last arrival of one source in one batch of the raw topic),
so the table is written once per batch, not once per post; the ``count``
gaps of a summary are taken as equal, the mean gap over its span.

A timer asks :func:`check` of every source: once nothing has arrived for
longer than ``max(min_gap, factor x usual gap)`` (:class:`SilenceConfig`), it
raises one alert for this silence, id ``alert_id("silence", "source-silent",
source, last arrival)``, and remembers it (``alerted_for``): the same
silence never alerts twice, the next one (after arrivals resumed) gets a new
id. A source with fewer than :data:`MIN_GAPS` gaps has no usual gap yet and
is not judged. File replays (:data:`FINITE_SOURCES`) end by design and are
never silent.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from pydantic import BaseModel, ConfigDict, ValidationError

from processors.adapters.common import loads_json
from processors.adapters.errors import AdapterError
from processors.alerts import alert_id
from processors.rules_file import SilenceConfig
from schemas.models import Alert, Condition

KIND = "silence"
RULE = "source-silent"
ALPHA = 0.1
"""Weight of each new gap in the usual gap: about the last twenty gaps count."""
MIN_GAPS = 3
"""Gaps seen before a source has a usual gap to be silent against."""
FINITE_SOURCES = frozenset({"replay"})
"""Sources that stop when their input ends (``townsquare ingest replay``): not silences."""


class Arrivals(BaseModel):
    """What one batch of the raw topic held from one source (the arrivals topic's value)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    source: str
    count: int
    first: datetime
    last: datetime


def arrival(value: bytes | None) -> tuple[str, datetime] | None:
    """The source and ``received_at`` of a raw envelope; None if it has no usable pair.

    Only two fields are read; a value normalize would dead-letter still says
    that its source is alive, if it names itself and a time.
    """
    try:
        # The shared untrusted-JSON path: posts.raw carries whatever reached the edge,
        # a 100,000-deep array included (json.loads alone raises RecursionError).
        data = loads_json(value or b"", "envelope")
    except AdapterError:
        return None
    if not isinstance(data, dict):
        return None
    source, received = data.get("source"), data.get("received_at")
    if not isinstance(source, str) or not source or not isinstance(received, str):
        return None
    try:
        at = datetime.fromisoformat(received)
    except ValueError:
        return None
    return (source, at) if at.tzinfo is not None else None


def summarise(arrived: Iterable[tuple[str, datetime]]) -> list[Arrivals]:
    """One :class:`Arrivals` per source, in order of first appearance."""
    seen: dict[str, list[Any]] = {}
    for source, at in arrived:
        entry = seen.setdefault(source, [0, at, at])
        entry[0] += 1
        entry[1] = min(entry[1], at)
        entry[2] = max(entry[2], at)
    return [Arrivals(source=s, count=n, first=f, last=la) for s, (n, f, la) in seen.items()]


class SourceState(BaseModel):
    """One source's ``silence`` table value."""

    model_config = ConfigDict(extra="ignore")

    source: str
    last: datetime
    gap_seconds: float | None = None
    """The usual gap between arrivals (EWMA), once there is one."""
    gaps: int = 0
    alerted_for: datetime | None = None
    """The last arrival before the silence already alerted."""


def arrive(stored: Mapping[str, Any] | None, arrivals: Arrivals) -> dict[str, Any]:
    """The source's state after ``arrivals``.

    Arrivals older than the last one known (another worker's batch, a
    redelivery) move nothing: their gaps cannot be placed.
    """
    if stored is None:
        gaps = arrivals.count - 1
        span = (arrivals.last - arrivals.first).total_seconds()
        state = SourceState(
            source=arrivals.source,
            last=arrivals.last,
            gap_seconds=span / gaps if gaps > 0 else None,
            gaps=max(gaps, 0),
        )
        return state.model_dump(mode="json")
    state = SourceState.model_validate(stored)
    if arrivals.last <= state.last:
        return state.model_dump(mode="json")
    gap = (arrivals.last - state.last).total_seconds() / arrivals.count
    if state.gap_seconds is None:
        usual = gap
    else:
        keep = (1 - ALPHA) ** arrivals.count  # ``count`` equal gaps, one EWMA step each
        usual = keep * state.gap_seconds + (1 - keep) * gap
    new = state.model_copy(
        update={"last": arrivals.last, "gap_seconds": usual, "gaps": state.gaps + arrivals.count}
    )
    return new.model_dump(mode="json")


def allowed_gap(state: SourceState, config: SilenceConfig) -> timedelta | None:
    """How long the source may stay quiet, or None while it has no usual gap yet."""
    if state.gap_seconds is None or state.gaps < MIN_GAPS:
        return None
    return max(config.min_gap, timedelta(seconds=config.factor * state.gap_seconds))


class Checked(NamedTuple):
    """Send ``alert`` and store ``stored`` (None: nothing to do)."""

    alert: Alert | None
    stored: dict[str, Any] | None


def check(stored: Mapping[str, Any], now: datetime, config: SilenceConfig) -> Checked:
    """The silence alert a source is due at ``now``, once per silence."""
    try:
        state = SourceState.model_validate(stored)
    except ValidationError:
        return Checked(None, None)
    allowed = allowed_gap(state, config)
    if (
        not config.enabled
        or state.source in FINITE_SOURCES
        or allowed is None
        or state.alerted_for == state.last
        or now - state.last <= allowed
    ):
        return Checked(None, None)
    quiet = now - state.last
    usual = timedelta(seconds=state.gap_seconds or 0)
    alert = Alert(
        id=alert_id(KIND, RULE, state.source, state.last.isoformat()),
        kind=KIND,
        rule=RULE,
        severity=config.severity,
        created_at=now,
        source=state.source,
        summary=(
            f"Source {state.source} has delivered nothing for {_span(quiet)} "
            f"(usually one every {_span(usual)}; silent after {_span(allowed)})"
        ),
        why=[
            Condition(field="last_arrival", value=state.last.isoformat()),
            Condition(field="silent_seconds", value=str(int(quiet.total_seconds()))),
            Condition(field="usual_gap_seconds", value=f"{usual.total_seconds():.1f}"),
            Condition(field="allowed_gap_seconds", value=str(int(allowed.total_seconds()))),
        ],
        outputs=list(config.outputs),
    )
    return Checked(
        alert, state.model_copy(update={"alerted_for": state.last}).model_dump(mode="json")
    )


def sweep(
    table: Mapping[str, Mapping[str, Any]],
    now: datetime,
    config: SilenceConfig,
    keys: Iterable[str] | None = None,
) -> tuple[list[Alert], dict[str, dict[str, Any]]]:
    """:func:`check` over ``keys`` (default: every source): the alerts and the states to store."""
    alerts: list[Alert] = []
    updates: dict[str, dict[str, Any]] = {}
    for key in list(table) if keys is None else keys:
        stored = table.get(key)
        if stored is None:
            continue
        checked = check(stored, now, config)
        if checked.alert is not None and checked.stored is not None:
            alerts.append(checked.alert)
            updates[key] = checked.stored
    return alerts, updates


def _span(delta: timedelta) -> str:
    seconds = max(0, int(delta.total_seconds()))
    if seconds < 120:
        return f"{seconds}s"
    minutes = seconds // 60
    if minutes < 120:
        return f"{minutes}m"
    hours, mins = divmod(minutes, 60)
    return f"{hours}h {mins}m" if mins else f"{hours}h"
