"""Faust agents, one module per stage: decode, pure step (``streams.steps``), send, ack.

Each module exposes ``register(app, topics, tables, resources)``, which
declares its agent on the given app; importing a module declares nothing.
:mod:`streams.worker.roles` maps role names to these modules.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from typing import cast

import faust
from faust.types import AgentT


def batch_agent(
    app: faust.App,
    topic: faust.TopicT,
    name: str,
    handle: Callable[[Sequence[faust.EventT]], Awaitable[None]],
    *,
    size: int,
    within: float | timedelta,
) -> AgentT:
    """Declare agent ``name`` on ``app``: batches of up to ``size`` events from ``topic``.

    Each batch is acked when ``take_events`` resumes, i.e. after ``handle`` returned.
    """

    async def agent(stream: faust.StreamT) -> None:
        async for events in cast(faust.Stream, stream).take_events(size, within=within):
            await handle(events)

    return app.agent(topic, name=name)(agent)
