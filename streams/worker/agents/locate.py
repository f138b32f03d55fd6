"""locate: sends every delete to the conversation its post lives in.

Most platforms' delete events name only the post (Mastodon, Bluesky, X
compliance), but the conversation state is keyed by conversation. normalize
therefore publishes, for every post, a small locator (post id -> conversation
id) on ``posts.by_id``, keyed by post id, and sends deletes whose thread it
does not know there too. This agent keeps the locators in a changelog-backed
table (co-partitioned with ``posts.by_id``) and:

* forwards a delete to ``posts.normalized`` under the post's real
  conversation id, where enrich removes it from the state and the sink from
  the index;
* when a delete overtakes its post, forwards it at once under the post's own
  id (so every stored copy keyed by post id goes) and keeps it pending; when
  the post's locator arrives later, the delete is forwarded again under the
  real conversation, after the post itself (normalize sent the post first).

The table holds one small entry per post id seen (about 100 bytes); its
changelog is compacted, so a restart rebuilds it.
"""

from __future__ import annotations

import json

import faust

from schemas.models import CanonicalPost
from streams.metrics import MESSAGES
from streams.worker.app import app, settings
from streams.worker.dead_letters import publish_dead_letter
from streams.worker.topics import by_id_topic, normalized_topic

STAGE = "locate"

locations = app.Table(
    "post_locations",
    default=None,
    key_type=str,
    partitions=settings.topic_partitions,
    help="Post id -> {conversation_id} or {pending_delete} for deletes that came first.",
)


def locator(post: CanonicalPost) -> bytes:
    return json.dumps(
        {"kind": "locate", "id": post.id, "conversation_id": post.conversation_id}
    ).encode()


async def _forward(delete: CanonicalPost, conversation_id: str) -> None:
    routed = delete.model_copy(update={"conversation_id": conversation_id})
    await normalized_topic.send(key=conversation_id, value=routed.model_dump_json().encode())


@app.agent(by_id_topic, name="townsquare.locate")
async def locate_agent(stream: faust.StreamT) -> None:
    async for event in stream.events():
        try:
            data = json.loads(event.message.value or b"")
            post_id = str(data["id"])
            known = locations.get(post_id) or {}
            if data.get("kind") == "locate":
                conversation = str(data["conversation_id"])
                pending = known.get("pending_delete")
                locations[post_id] = {"conversation_id": conversation}
                if pending:
                    await _forward(CanonicalPost.model_validate(pending), conversation)
                    MESSAGES.labels(stage=STAGE, outcome="delete_resolved_late").inc()
                continue
            delete = CanonicalPost.model_validate(data)
            if "conversation_id" in known:
                await _forward(delete, str(known["conversation_id"]))
                MESSAGES.labels(stage=STAGE, outcome="delete_resolved").inc()
            else:
                locations[post_id] = {"pending_delete": delete.model_dump(mode="json")}
                await _forward(delete, delete.id)
                MESSAGES.labels(stage=STAGE, outcome="delete_pending").inc()
        except Exception as exc:  # policy: a bad locator never stops the stage
            await publish_dead_letter(
                event, stage=STAGE, reason="locate_failed", error=f"{type(exc).__name__}: {exc}"
            )
