"""Spikes: posts.enriched -> posts.by_spike_key -> a windowed table -> alerts.

``posts.enriched`` is keyed by conversation id, but a spike is counted per
entity, hashtag or topic, whose posts are spread over every partition. So
two agents:

* ``townsquare.spike_keys`` re-keys: for each enriched post it publishes one
  :class:`streams.steps.spikes.Mention` per spike key on the internal topic
  ``posts.by_spike_key`` (declared in :mod:`streams.topic_names`, so
  ``townsquare setup`` creates it and bounds its retention like every topic
  that names people's posts), keyed by the spike key and with the record
  timestamp set to the post's event time.
* ``townsquare.spikes`` counts: every key's posts now arrive on one partition,
  in the ``spike_counts`` tumbling windowed table (five-minute buckets,
  ``relative_to_stream``, i.e. to that record timestamp, so a replayed burst
  lands in the buckets of when it happened), and
  :func:`streams.steps.spikes.observe` decides. Alert state (cooldowns) and
  each partition's warm-up start live in ``spike_state``. Both tables are
  co-partitioned with ``posts.by_spike_key``.

Faust reads and writes a windowed table relative to the record timestamp
(``WindowSet.delta`` always uses ``event.message.timestamp``), so the event
time travels there rather than only in the value. A broker that overwrites
record timestamps (``message.timestamp.type=LogAppendTime``) would make
spikes judged by arrival; the agent notices the difference and logs it once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import faust
from faust.types import AgentT
from pydantic import ValidationError

from schemas.models import message_headers
from streams import topic_names as names
from streams.metrics import ALERTS, MESSAGES
from streams.steps.alert import decode
from streams.steps.spikes import (
    BUCKET,
    HISTORY,
    Lookup,
    Mention,
    beyond_history,
    mentions,
    observe,
    to_ms,
)
from streams.worker.dead_letters import publish_dead_letter
from streams.worker.resources import Resources
from streams.worker.tables import Tables
from streams.worker.topics import Topics

STAGE = "spikes"
log = logging.getLogger("townsquare.alert")

Clock = Callable[[], datetime]
SKEW_SECONDS = 1.0
"""A record timestamp further than this from the mention's event time was rewritten."""


def utc_now() -> datetime:
    return datetime.now(UTC)


def spike_topic(app: faust.App, resources: Resources) -> faust.TopicT:
    """``posts.by_spike_key`` on ``app``: keys and values as bytes, like every pipeline topic."""
    settings = resources.settings
    return app.topic(
        settings.topic(names.SPIKE_KEYS),
        key_type=str,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
        partitions=settings.topic_partitions,
    )


class SpikeKeys:
    """The re-keying agent's body: enriched post in, one mention per spike key out."""

    def __init__(self, topics: Topics, out: faust.TopicT, resources: Resources) -> None:
        self.topics = topics
        self.out = out
        self.resources = resources

    async def handle(self, event: faust.EventT) -> None:
        decoded = decode(event.message.value)
        if decoded.rejected is not None:
            await publish_dead_letter(
                self.topics.dlq,
                event,
                stage=STAGE,
                reason=decoded.rejected.reason,
                error=decoded.rejected.error,
            )
            return
        if decoded.post is None:
            return  # a tombstone: a deleted post stays counted in the buckets it was in
        try:
            found = mentions(decoded.post, self.resources.rules.spikes, self.resources.org.topics)
            for mention in found:
                value = mention.model_dump_json().encode("utf-8")
                await self.out.send(
                    key=mention.key,
                    value=value,
                    timestamp=mention.at.timestamp(),  # event time: the windows follow it
                    headers=message_headers(value, "spike_mention"),
                )
        except Exception as exc:  # policy: one bad post never stops the stage
            await publish_dead_letter(
                self.topics.dlq,
                event,
                stage=STAGE,
                reason="unexpected_error",
                error=f"{type(exc).__name__}: {exc}",
            )
            return
        MESSAGES.labels(stage=STAGE, outcome="rekeyed" if found else "no_keys").inc()


class SpikeCounter:
    """The counting agent's body over the windowed ``spike_counts`` and ``spike_state``."""

    def __init__(self, topics: Topics, tables: Tables, resources: Resources, clock: Clock) -> None:
        self.topics = topics
        self.counts = tables.spike_counts
        self.state = tables.spike_state
        self.resources = resources
        self.clock = clock
        self._warned_skew = False
        self._checked_rules = False

    def _lookup(self, key: str, event: faust.EventT) -> Lookup:
        """Bucket start (ms) -> the key's bucket, read through the windowed table."""
        window = self.counts[key]
        stamp = float(event.message.timestamp)
        half = BUCKET.total_seconds() / 2

        def get(start_ms: int) -> Any:
            try:
                # delta(d) is the window holding (record timestamp - d): the bucket's middle.
                return window.delta(stamp - (start_ms / 1000 + half), event)
            except KeyError:
                return None

        return get

    def _since(self, event: faust.EventT, at_ms: int) -> int:
        """When this partition started watching (stored on its first mention)."""
        key = f"~since:{event.message.partition}"
        since = self.state.get(key)
        if since is None:
            self.state[key] = since = at_ms
        return int(since)

    def _check_rules(self) -> None:
        """Say once, loudly, when a spike rule cannot fire (its span outlives the table)."""
        self._checked_rules = True
        for name in beyond_history(self.resources.rules.spikes):
            log.error(
                "spike rule %s can never fire: window plus baseline must be under %s",
                name,
                HISTORY,
                extra={"stage": STAGE, "rule": name},
            )

    async def handle(self, event: faust.EventT) -> None:
        if not self._checked_rules:
            self._check_rules()
        try:
            mention = Mention.model_validate_json(event.message.value or b"")
        except (ValidationError, ValueError) as exc:
            await publish_dead_letter(
                self.topics.dlq, event, stage=STAGE, reason="schema", error=str(exc)
            )
            return
        stamp_ms = int(float(event.message.timestamp) * 1000)
        if abs(stamp_ms - to_ms(mention.at)) > SKEW_SECONDS * 1000:
            if not self._warned_skew:
                self._warned_skew = True
                log.warning(
                    "posts.by_spike_key record timestamps differ from the posts' event time "
                    "(LogAppendTime?): spikes are judged by arrival",
                    extra={"stage": STAGE, "topic": event.message.topic},
                )
            mention = mention.model_copy(
                update={"at": datetime.fromtimestamp(stamp_ms / 1000, UTC)}
            )
        try:
            observed = observe(
                mention,
                self._lookup(mention.key, event),
                self.state.get(mention.key),
                self._since(event, stamp_ms),
                self.resources.rules.spikes,
                self.clock(),
                self.resources.settings.kibana_base_url,
            )
            if observed.bucket is not None:
                self.counts[mention.key] = observed.bucket  # the record timestamp's bucket
            if observed.state is not None:
                self.state[mention.key] = observed.state
            for alert in observed.alerts:
                await self.topics.publish(
                    names.ALERTS, mention.key, alert.model_dump_json().encode("utf-8")
                )
                ALERTS.labels(rule=alert.rule, severity=alert.severity).inc()
                log.info(
                    "spike: %s",
                    alert.summary,
                    extra={"stage": STAGE, "alert_id": alert.id, "spike_key": mention.key},
                )
        except Exception as exc:  # policy: one bad mention never stops the stage
            await publish_dead_letter(
                self.topics.dlq,
                event,
                stage=STAGE,
                reason="unexpected_error",
                error=f"{type(exc).__name__}: {exc}",
            )
            return
        MESSAGES.labels(stage=STAGE, outcome="counted" if observed.bucket else "duplicate").inc()


def register(
    app: faust.App,
    topics: Topics,
    tables: Tables,
    resources: Resources,
    *,
    clock: Clock = utc_now,
) -> AgentT:
    """Declare the re-keying and the counting agents (and their tables) on ``app``."""
    by_key = spike_topic(app, resources)
    rekey = SpikeKeys(topics, by_key, resources)
    counter = SpikeCounter(topics, tables, resources, clock)

    async def spike_keys_agent(stream: faust.StreamT) -> None:
        async for event in stream.events():
            await rekey.handle(event)

    async def spikes_agent(stream: faust.StreamT) -> None:
        async for event in stream.events():
            await counter.handle(event)

    app.agent(topics.enriched, name="townsquare.spike_keys")(spike_keys_agent)
    return app.agent(by_key, name="townsquare.spikes")(spikes_agent)
