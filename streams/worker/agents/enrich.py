"""enrich: posts.normalized -> posts.enriched, in batches, with conversation state.

The agent body stays thin: decode, NER for the whole batch off the loop and
the text classifiers for the batch (a few milliseconds, so in line), then
for each post in partition order the pure :func:`streams.steps.enrich.enrich`
step against the conversation table, and send. A post of someone under an
erasure is dropped (counted): it got past normalize before the erasure
reached it. A delete of theirs (``townsquare forget`` sends one per stored
post) also erases them from the thread's state (:mod:`streams.steps.forget`),
within the step, before it builds the thread's view for ``conversations.state``.
A batch is acked (and its offsets become committable) only after every send
has been handed to the producer, which Faust flushes before it commits.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime

import faust
from faust.types import AgentT
from pydantic import ValidationError

from schemas.models import CanonicalPost
from streams.metrics import BATCH_SIZE, MESSAGES, RECOMMENDED_ACTIONS, STAGE_LATENCY
from streams.steps.enrich import Enriched, enrich
from streams.topic_names import ENRICHED
from streams.worker.agents import batch_agent
from streams.worker.dead_letters import publish_dead_letter
from streams.worker.expiry import register_expiry
from streams.worker.resources import Resources
from streams.worker.tables import Tables, source_partition
from streams.worker.topics import Topics

STAGE = "enrich"
log = logging.getLogger("townsquare.enrich")


def recommended_action(result: Enriched) -> str | None:
    """The recommended action of the post ``result`` publishes (None: a delete, nothing sent).

    Read back from the record sent, so the business metric counts exactly what
    subscribers and the index see, once per post published (an edit counts again).
    """
    for out in result.outputs:
        if out.topic_name == ENRICHED:
            action = json.loads(out.value).get("joinability", {}).get("action")
            return str(action) if action else None
    return None


class EnrichBatches:
    """One enrich batch at a time: the agent's whole body, apart from taking the batch."""

    def __init__(self, topics: Topics, tables: Tables, resources: Resources) -> None:
        self.topics = topics
        self.conversations = tables.conversations
        self.resources = resources

    async def _dead_letter(self, event: faust.EventT, reason: str, error: str) -> None:
        await publish_dead_letter(self.topics.dlq, event, stage=STAGE, reason=reason, error=error)

    async def handle(self, events: Sequence[faust.EventT]) -> None:
        """Enrich one batch of normalized-topic events, in order."""
        started = time.perf_counter()
        BATCH_SIZE.labels(stage=STAGE).observe(len(events))
        posts: list[tuple[faust.EventT, CanonicalPost]] = []
        for event in events:
            try:
                post = CanonicalPost.model_validate_json(event.message.value or b"")
            except (ValidationError, ValueError, TypeError) as exc:
                await self._dead_letter(event, "schema", str(exc))
                continue
            posts.append((event, post))
        org = self.resources.org
        erasures = self.resources.erasures

        def withheld(post: CanonicalPost) -> bool:
            """Posts of erased or opted-out people: dropped, so not even read by NER."""
            return org.opted_out(post.author) or (
                erasures is not None and erasures.matches(post.author, post.platform)
            )

        records = [(p.id, p.text) for _, p in posts if p.kind != "delete" and not withheld(p)]
        ner_started = time.perf_counter()
        try:
            found = await self.resources.ner.extract(records)
        except Exception as exc:  # policy: a failed NER batch is dead-lettered whole
            for event, _ in posts:
                await self._dead_letter(event, "ner_failed", f"{type(exc).__name__}: {exc}")
            return
        ner_seconds = time.perf_counter() - ner_started
        predicted = self.resources.classifiers.predict([text for _, text in records])
        scores = dict(zip((pid for pid, _ in records), predicted, strict=True))
        now = datetime.now(UTC)
        outcomes: Counter[str] = Counter()
        actions: Counter[str | None] = Counter()
        for event, post in posts:
            key = post.conversation_id
            erased = erasures is not None and erasures.matches(post.author, post.platform)
            if erased and post.kind != "delete":
                # Past normalize before the erasure reached it: dropped here, counted.
                outcomes["withheld_erased"] += 1
                continue
            try:
                with source_partition(event.message.partition):
                    # An erased author's delete also erases them from the state,
                    # inside the step, so the view it publishes never names them.
                    result = enrich(
                        self.conversations.get(key),
                        post,
                        found.get(post.id, []),
                        org,
                        now,
                        scores.get(post.id),
                        erase_author=erased,
                    )
                    if result.state is not None:
                        self.conversations[key] = result.state
                await self.topics.send(result.outputs)
                for gone in result.tombstones:
                    await self.topics.publish(gone.topic_name, gone.key, None)
            except Exception as exc:  # policy: one bad post never stops the batch
                await self._dead_letter(event, "unexpected_error", f"{type(exc).__name__}: {exc}")
                continue
            outcomes[result.outcome] += 1
            actions[recommended_action(result)] += 1
        for outcome, count in outcomes.items():
            MESSAGES.labels(stage=STAGE, outcome=outcome).inc(count)
        for action, count in actions.items():
            if action is not None:
                RECOMMENDED_ACTIONS.labels(action=action).inc(count)
        seconds = time.perf_counter() - started
        STAGE_LATENCY.labels(stage=STAGE).observe(seconds)
        log.info(
            "enrich batch: %d posts, NER %.2fs, total %.2fs",
            len(posts),
            ner_seconds,
            seconds,
            extra={"stage": STAGE, "posts": len(posts), "ner_seconds": round(ner_seconds, 3)},
        )


def register(app: faust.App, topics: Topics, tables: Tables, resources: Resources) -> AgentT:
    """Declare the enrich agent, the conversation table and its retention sweep on ``app``."""
    settings = resources.settings
    register_expiry(
        app, topics.normalized, tables.conversations, settings.retention_days, topics.conversations
    )
    return batch_agent(
        app,
        topics.normalized,
        "townsquare.enrich",
        EnrichBatches(topics, tables, resources).handle,
        size=settings.batch_size,
        within=settings.batch_wait,
    )
