"""Bluesky posts from Jetstream (the JSON firehose), one event per message.

Only ``kind: "commit"`` events on ``app.bsky.feed.post`` are posts; others
(identity, account, likes, follows) raise ``unsupported_event`` so the
normalize stage can count and skip them. ``create`` is a post, ``update`` an
edit, ``delete`` a delete.

Ids are the record's AT URI (``bluesky:at://<did>/app.bsky.feed.post/<rkey>``),
stable across the network; authors are DIDs (``bluesky:<did>``). Jetstream does
not carry handles or follower counts, so the author is the DID alone. The
conversation is ``reply.root.uri``; the parent's author is the DID in its URI.
Mentions, links and tags come from the record's facets (byte ranges into the
UTF-8 text): a mention facet names a DID, so its handle is the text it covers.
Without facets they are found in the text.
"""

from __future__ import annotations

from typing import Any

from processors.adapters.common import (
    as_dict,
    author,
    build_post,
    delete_post,
    from_epoch,
    id_value,
    maybe_json,
    opt_dict,
    opt_list,
    opt_str,
    parse_time,
    post_id,
    req,
    req_dict,
    req_str,
    strings,
    text_hashtags,
    text_links,
    text_mentions,
)
from processors.adapters.errors import INVALID_VALUE, UNSUPPORTED_EVENT, WRONG_TYPE, AdapterError
from processors.text import unique
from schemas.models import CanonicalPost, MessageKind, RawEnvelope, ReplyTarget

PLATFORM = "bluesky"
POST_COLLECTION = "app.bsky.feed.post"
_KINDS: dict[str, MessageKind] = {"create": "post", "update": "edit", "delete": "delete"}


def _did(value: str, where: str) -> str:
    did = id_value(value, where)
    if not did.startswith("did:"):
        raise AdapterError(INVALID_VALUE, f"{where}: {did[:60]!r} is not a DID")
    return did


def _at_uri(value: Any, where: str) -> str:
    """An ``at://<did>/<collection>/<rkey>`` URI, checked enough to take its DID."""
    uri = id_value(value, where)
    if not uri.startswith("at://did:") or uri.count("/") < 4:
        raise AdapterError(INVALID_VALUE, f"{where}: {uri[:80]!r} is not a post AT URI")
    return uri


def _uri_did(uri: str) -> str:
    return uri.removeprefix("at://").split("/", 1)[0]


def _time_us(event: dict[str, Any]) -> Any:
    value = req(event, "time_us", "payload")
    if isinstance(value, bool) or not isinstance(value, int):
        raise AdapterError(WRONG_TYPE, "payload.time_us: expected an integer")
    return from_epoch(value / 1_000_000, "payload.time_us")


def _facets(record: dict[str, Any], text: str) -> tuple[list[str], list[str], list[str]]:
    """Mentions, links and tags named by facets; facets with bad ranges are ignored."""
    encoded = text.encode("utf-8", "surrogatepass")
    mentions: list[Any] = []
    links: list[Any] = []
    tags: list[Any] = []
    for facet in opt_list(record, "facets", "payload.commit.record"):
        if not isinstance(facet, dict):
            continue
        index = facet.get("index")
        features = facet.get("features")
        if not isinstance(features, list):
            continue
        for feature in features:
            if not isinstance(feature, dict):
                continue
            ftype = feature.get("$type")
            if ftype == "app.bsky.richtext.facet#link":
                links.append(feature.get("uri"))
            elif ftype == "app.bsky.richtext.facet#tag":
                tags.append(feature.get("tag"))
            elif ftype == "app.bsky.richtext.facet#mention" and isinstance(index, dict):
                start, end = index.get("byteStart"), index.get("byteEnd")
                if isinstance(start, int) and isinstance(end, int) and 0 <= start < end:
                    covered = encoded[start:end].decode("utf-8", "replace").strip()
                    mentions.append(covered)
    return strings(mentions), strings(links), strings(tags)


def normalize_bluesky(envelope: RawEnvelope) -> CanonicalPost:
    event = as_dict(maybe_json(envelope.payload, "payload"), "payload")
    kind = opt_str(event, "kind", "payload")
    if kind != "commit":
        raise AdapterError(UNSUPPORTED_EVENT, f"payload.kind: {str(kind)[:30]!r} is not a commit")
    did = _did(req_str(event, "did", "payload"), "payload.did")
    commit = req_dict(event, "commit", "payload")
    collection = req_str(commit, "collection", "payload.commit")
    if collection != POST_COLLECTION:
        raise AdapterError(UNSUPPORTED_EVENT, f"payload.commit.collection: {collection[:60]!r}")
    operation = req_str(commit, "operation", "payload.commit")
    message_kind = _KINDS.get(operation)
    if message_kind is None:
        raise AdapterError(INVALID_VALUE, f"payload.commit.operation: {operation[:30]!r}")
    rkey = id_value(commit.get("rkey"), "payload.commit.rkey")
    uri = f"at://{did}/{POST_COLLECTION}/{rkey}"
    seen_at = _time_us(event)
    if message_kind == "delete":
        return delete_post(envelope, PLATFORM, uri, at=seen_at, author_native=did)

    record = req_dict(commit, "record", "payload.commit")
    where = "payload.commit.record"
    text = req_str(record, "text", where) if record.get("text") is not None else ""
    reply = opt_dict(record, "reply", where)
    root_uri = parent_uri = None
    if reply is not None:
        root_uri = _at_uri(
            req_dict(reply, "root", f"{where}.reply").get("uri"), f"{where}.reply.root.uri"
        )
        parent_uri = _at_uri(
            req_dict(reply, "parent", f"{where}.reply").get("uri"), f"{where}.reply.parent.uri"
        )
    langs = strings(opt_list(record, "langs", where))
    mentions, links, tags = _facets(record, text)
    created_raw = record.get("createdAt")
    return build_post(
        envelope,
        kind=message_kind,
        id=post_id(PLATFORM, uri),
        platform=PLATFORM,
        url=f"https://bsky.app/profile/{did}/post/{rkey}",
        created_at=parse_time(created_raw, f"{where}.createdAt") if created_raw else seen_at,
        lang=langs[0] if langs else None,
        text=text,
        author=author(id=post_id(PLATFORM, did)),
        conversation_id=post_id(PLATFORM, root_uri or uri),
        in_reply_to=ReplyTarget(
            post_id=post_id(PLATFORM, parent_uri),
            author_id=post_id(PLATFORM, _uri_did(parent_uri)),
        )
        if parent_uri
        else None,
        mentions=mentions or text_mentions(text),
        hashtags=unique(tags + text_hashtags(text)),
        links=unique(links + text_links(text)),
    )
