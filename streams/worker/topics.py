"""Every Faust topic of the pipeline, declared on a given app (prefix + name + version).

Payloads are bytes encoded by the pydantic models' own serializer
(``model_dump_json``), never Faust's codecs, so that non-Faust subscribers read
exactly what ``schemas/json`` documents. Keys are UTF-8 strings.

Declaring a topic only describes it; nothing is subscribed or created until an
agent of the running roles consumes it (``townsquare setup`` creates topics).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import faust

from schemas.models import message_headers
from streams import topic_names as names
from streams.settings import Settings
from streams.steps.outputs import Send


@dataclass(frozen=True)
class Topics:
    """The pipeline's topics on one app; steps name them by logical name (:meth:`named`)."""

    raw: faust.TopicT
    normalized: faust.TopicT
    enriched: faust.TopicT
    alerts: faust.TopicT
    dlq: faust.TopicT
    by_id: faust.TopicT
    conversations: faust.TopicT

    @cached_property
    def _by_name(self) -> dict[str, faust.TopicT]:
        return {
            names.RAW: self.raw,
            names.NORMALIZED: self.normalized,
            names.ENRICHED: self.enriched,
            names.ALERTS: self.alerts,
            names.DLQ: self.dlq,
            names.BY_ID: self.by_id,
            names.CONVERSATIONS: self.conversations,
        }

    def named(self, name: str) -> faust.TopicT:
        """The topic for a logical name from :mod:`streams.topic_names`."""
        try:
            return self._by_name[name]
        except KeyError:
            raise ValueError(f"no worker topic named {name!r}") from None

    async def send(self, outputs: Iterable[Send]) -> None:
        """Publish a step's outputs, in order (Faust flushes them before it commits).

        Every record carries the schema-version and kind headers
        (:func:`schemas.models.message_headers`, docs/consumers.md), so a
        subscriber can route on them without parsing the value.
        """
        for out in outputs:
            await self.publish(out.topic_name, out.key, out.value)

    async def publish(self, name: str, key: str | bytes | None, value: bytes | None) -> Any:
        """Send one record to the topic called ``name``, headers included; its delivery future.

        For the timers (reply deadlines, silence, spikes, the expiry sweep) and the
        tombstones that do not come from a step's :class:`Send` list.
        """
        headers = message_headers(value, _SHAPES.get(name, name))
        return await self.named(name).send(key=key, value=value, headers=headers)


_SHAPES = {
    names.RAW: "raw_envelope",
    names.NORMALIZED: "canonical_post",
    names.ENRICHED: "enriched_post",
    names.ALERTS: "alert",
    names.DLQ: "dead_letter",
    names.BY_ID: "locator",
    names.CONVERSATIONS: "conversation_view",
    names.SPIKE_KEYS: "spike_mention",
}
"""Logical topic name -> the value's shape, for the kind header of values without ``kind``."""


def declare_topics(app: faust.App, settings: Settings) -> Topics:
    """Declare the pipeline's topics on ``app``, named from ``settings``."""

    def topic(name: str) -> faust.TopicT:
        return app.topic(
            settings.topic(name),
            key_type=str,
            value_type=bytes,
            key_serializer="raw",
            value_serializer="raw",
            partitions=settings.topic_partitions,
        )

    return Topics(
        raw=topic(names.RAW),
        normalized=topic(names.NORMALIZED),
        enriched=topic(names.ENRICHED),
        alerts=topic(names.ALERTS),
        dlq=topic(names.DLQ),
        by_id=topic(names.BY_ID),
        conversations=topic(names.CONVERSATIONS),
    )
