"""Every worker that handles posts reads the whole erasure list and keeps it current.

The list is small (one record per person who asked to be forgotten) and every
normalize and enrich worker needs all of it, whichever partitions it owns; a
consumer-group agent would give each worker only some partitions. So a thread
with its own kafka-python consumer, in no group, is assigned every partition
of ``privacy.erasures``, reads it from the beginning and then follows it,
feeding :class:`processors.erasure.ErasureList`.

The worker does not start its agents before that first read has reached the
end offsets it saw when it began (:meth:`ErasureWatch.on_start` waits), so a
restarted worker never processes a post of someone erased while it was down.
A topic that does not exist yet holds no erasures: the watch starts empty and
looks for the topic again every few seconds (``townsquare forget`` creates it
through ``setup``'s topic list or the broker's auto-creation).

Partitions added to the topic later are picked up on the next metadata check.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from typing import Any

import mode
from kafka import KafkaConsumer, TopicPartition

from processors.erasure import ErasureList
from schemas.models import CanonicalPost
from streams.kafka_config import kafka_python_config
from streams.metrics import ERASURES_IN_FORCE
from streams.settings import Settings
from streams.topic_names import ERASURES

log = logging.getLogger("townsquare.erasures")

METADATA_EVERY = 5.0
"""Seconds between looks for the topic (or new partitions of it)."""

IDLE_WAIT = 1.0
"""Seconds the watch rests after a poll that brought nothing: how late an erasure may apply."""
IDLE_POLL_MS = 50
"""How long a poll may wait once the list is read (a held fetch on a real broker)."""

READY_TIMEOUT = 60.0
"""How long a starting worker waits for the first full read before it refuses to start."""


class ErasureWatch(mode.Service):
    """Reads ``privacy.erasures`` whole into :attr:`erasures`, then follows it."""

    def __init__(self, settings: Settings, erasures: ErasureList, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.settings = settings
        self.erasures = erasures
        self.topic = settings.topic(ERASURES)
        self.ready = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.failure: BaseException | None = None

    def withhold(self, post: CanonicalPost) -> str | None:
        """The normalize stage's hook: ``"erased"`` for a post of an erased author.

        Deletes pass: a platform's delete of an erased person's post must still
        reach every store.
        """
        if post.kind != "delete" and self.erasures.matches(post.author, post.platform):
            return "erased"
        return None

    async def on_start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="townsquare-erasures", daemon=True)
        self._thread.start()
        loop = asyncio.get_running_loop()
        ready = await loop.run_in_executor(None, self.ready.wait, READY_TIMEOUT)
        if not ready:
            raise RuntimeError(
                f"could not read the erasure list ({self.topic}) within {READY_TIMEOUT:.0f} s: "
                f"{self.failure or 'no answer from the brokers'}. A worker that does not know "
                "who asked to be forgotten must not process posts; check the Kafka connection."
            )
        log.info("erasure list read: %d in force", len(self.erasures))

    async def on_stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            await asyncio.get_running_loop().run_in_executor(None, self._thread.join, 10.0)

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                self._follow()
            except Exception as exc:  # policy: the watch restarts; the worker keeps the list
                self.failure = exc
                log.warning("erasure list: %s; reading again in %.0f s", exc, METADATA_EVERY)
                self._stopping.wait(METADATA_EVERY)

    def _follow(self) -> None:
        consumer = KafkaConsumer(
            client_id="townsquare-erasures",
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            **kafka_python_config(self.settings),
        )
        try:
            assigned: list[TopicPartition] = []
            targets: dict[TopicPartition, int] = {}
            next_look = 0.0
            while not self._stopping.is_set():
                if time.monotonic() >= next_look:
                    next_look = time.monotonic() + METADATA_EVERY
                    partitions = consumer.partitions_for_topic(self.topic) or set()
                    wanted = [TopicPartition(self.topic, p) for p in sorted(partitions)]
                    if wanted != assigned:
                        new = [tp for tp in wanted if tp not in assigned]
                        consumer.assign(wanted)
                        consumer.seek_to_beginning(*new)
                        targets.update(consumer.end_offsets(new))
                        assigned = wanted
                    if not assigned:
                        self.ready.set()  # no topic yet: no erasure has ever been recorded
                idle = self.ready.is_set()
                batches = consumer.poll(timeout_ms=IDLE_POLL_MS if idle else 500)
                for records in batches.values():
                    for record in records:
                        self._take(record.key, record.value)
                if idle and not batches:
                    # Erasures are rare. A broker that answers an empty fetch at once
                    # instead of holding it for fetch.max.wait.ms (the local stand-in
                    # does) would otherwise have poll() spinning: 0.65 CPU s per second
                    # measured, a tenth of a loaded worker's CPU.
                    self._stopping.wait(IDLE_WAIT)
                if not self.ready.is_set() and all(
                    consumer.position(tp) >= end for tp, end in targets.items()
                ):
                    self.ready.set()
        finally:
            consumer.close()

    def _take(self, key: bytes | None, value: bytes | None) -> None:
        if key is None:
            log.warning("erasure record without a key ignored")
            return
        try:
            self.erasures.apply(key.decode("utf-8", "replace"), value)
        except ValueError as exc:
            log.error("erasure record %r ignored: %s", key[:200], exc)
        # After every record (a tombstone lifts one), so the gauge follows the list.
        ERASURES_IN_FORCE.set(len(self.erasures))
