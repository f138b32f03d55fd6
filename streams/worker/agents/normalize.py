"""normalize: posts.raw -> posts.normalized (keyed by conversation id), bad input -> DLQ.

Every post also leaves a locator on ``posts.by_id`` so that a later delete,
which most platforms send without its thread, can be routed to it by the
``locate`` role. What goes where is :func:`streams.steps.route.route`.

With ``TOWNSQUARE_PSEUDONYMISE`` the posts are pseudonymised here, before
anything is published (the pseudonymiser is built once, at registration). A
post the ``resources.withhold`` hook names (an erased author) is counted as
``withheld_<reason>`` and dropped: never published, never dead-lettered.
"""

from __future__ import annotations

import time

import faust
from faust.types import AgentT

from streams.metrics import MESSAGES, STAGE_LATENCY
from streams.steps.outputs import Rejected, Withheld
from streams.steps.route import normalize_message
from streams.worker.dead_letters import publish_dead_letter
from streams.worker.resources import Resources
from streams.worker.tables import Tables
from streams.worker.topics import Topics

STAGE = "normalize"


def register(app: faust.App, topics: Topics, tables: Tables, resources: Resources) -> AgentT:
    """Declare the normalize agent on ``app``."""
    max_bytes = resources.settings.max_message_bytes
    pseudonymiser = resources.pseudonymiser

    async def normalize_agent(stream: faust.StreamT) -> None:
        async for event in stream.events():
            started = time.perf_counter()
            # Read per message: the hook is wired beside the agents, in any order.
            result = normalize_message(
                event.message.value or b"", max_bytes, pseudonymiser, resources.withhold
            )
            if isinstance(result, Rejected):
                await publish_dead_letter(
                    topics.dlq, event, stage=STAGE, reason=result.reason, error=result.error
                )
                continue
            if isinstance(result, Withheld):
                MESSAGES.labels(stage=STAGE, outcome=f"withheld_{result.reason}").inc()
                STAGE_LATENCY.labels(stage=STAGE).observe(time.perf_counter() - started)
                continue
            await topics.send(result)
            MESSAGES.labels(stage=STAGE, outcome="ok").inc()
            STAGE_LATENCY.labels(stage=STAGE).observe(time.perf_counter() - started)

    return app.agent(topics.raw, name="townsquare.normalize")(normalize_agent)
