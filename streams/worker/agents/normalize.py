"""normalize: posts.raw -> posts.normalized (keyed by conversation id), bad input -> DLQ.

Every post also leaves a locator on ``posts.by_id`` so that a later delete,
which most platforms send without its thread, can be routed to it (see
``streams.worker.agents.locate``, which runs with this role).
"""

from __future__ import annotations

import time

import faust

from processors.adapters import decode_envelope, normalize
from processors.adapters.errors import AdapterError
from streams.metrics import MESSAGES, STAGE_LATENCY
from streams.worker.agents.locate import locator
from streams.worker.app import app, settings
from streams.worker.dead_letters import publish_dead_letter
from streams.worker.topics import by_id_topic, normalized_topic, raw_topic

STAGE = "normalize"


@app.agent(raw_topic, name="townsquare.normalize")
async def normalize_agent(stream: faust.StreamT) -> None:
    async for event in stream.events():
        started = time.perf_counter()
        message = event.message
        data: bytes = message.value or b""
        try:
            # Adapters stamp the envelope's ingest id and receive time on the post.
            post = normalize(decode_envelope(data, settings.max_message_bytes))
        except Exception as exc:
            reason = exc.reason if isinstance(exc, AdapterError) else "unexpected_error"
            await publish_dead_letter(
                event, stage=STAGE, reason=reason, error=f"{type(exc).__name__}: {exc}"
            )
            continue
        if post.kind == "delete" and post.conversation_id == post.id:
            # Adapters give a delete its own id as conversation when the platform
            # did not name the thread: locate finds it by post id. A delete that
            # names its thread goes straight to it, keeping its place in the
            # thread's order (a detour through locate could overtake later posts).
            await by_id_topic.send(key=post.id, value=post.model_dump_json().encode())
        else:
            await normalized_topic.send(
                key=post.conversation_id, value=post.model_dump_json().encode()
            )
            if post.kind != "delete":
                await by_id_topic.send(key=post.id, value=locator(post))
        MESSAGES.labels(stage=STAGE, outcome="ok").inc()
        STAGE_LATENCY.labels(stage=STAGE).observe(time.perf_counter() - started)
