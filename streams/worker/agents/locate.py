"""locate: posts.by_id -> posts.normalized, every delete to the thread its post lives in.

The rules (including a delete that overtakes its post) are
:func:`streams.steps.locate.locate`; this agent keeps its entries in the
``post_locations`` table (:mod:`streams.worker.tables`), which is
co-partitioned with ``posts.by_id`` (both keyed by post id).
"""

from __future__ import annotations

import faust
from faust.types import AgentT

from streams.metrics import MESSAGES
from streams.steps.locate import decode, locate
from streams.worker.dead_letters import publish_dead_letter
from streams.worker.resources import Resources
from streams.worker.tables import Tables
from streams.worker.topics import Topics

STAGE = "locate"


def register(app: faust.App, topics: Topics, tables: Tables, resources: Resources) -> AgentT:
    """Declare the locate agent (and its table) on ``app``."""
    locations = tables.locations

    async def locate_agent(stream: faust.StreamT) -> None:
        async for event in stream.events():
            try:
                message = decode(event.message.value or b"")
                known = locations.get(message.id)
                located = locate(known, message)
                if not located.entry:
                    if known is not None:
                        del locations[message.id]  # a changelog tombstone: the key is gone
                elif located.entry != (known or {}):
                    locations[message.id] = located.entry
                await topics.send(located.outputs)
            except Exception as exc:  # policy: a bad locator never stops the stage
                await publish_dead_letter(
                    topics.dlq,
                    event,
                    stage=STAGE,
                    reason="locate_failed",
                    error=f"{type(exc).__name__}: {exc}",
                )
                continue
            if located.outcome is not None:
                MESSAGES.labels(stage=STAGE, outcome=located.outcome).inc()

    return app.agent(topics.by_id, name="townsquare.locate")(locate_agent)
