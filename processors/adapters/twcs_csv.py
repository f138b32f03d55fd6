"""Rows of the customer-support-on-Twitter CSV export.

The export has no conversation ids: the reader walks ``in_response_to_tweet_id``
to each thread's root and passes it as ``context["conversation_root"]`` (and
the parent's author as ``context["in_reply_to_author"]`` when the parent is in
the file). Without that context a reply's conversation falls back to its
parent, a root's to itself. Company accounts appear by screen name
(``AppleSupport``), customers by an anonymised number; both become the handle.
``inbound`` is not turned into ``is_org_account``: whether an account is ours
is the organisation profile's decision, made at enrichment.
Exports written through pandas carry ids as floats (``848.0``); those are read
as the integer id.
"""

from __future__ import annotations

import re

from processors.adapters.common import (
    as_dict,
    author,
    build_post,
    context_str,
    id_value,
    parse_time,
    post_id,
    reply_target,
    req_str,
    snowflake_time,
    text_hashtags,
    text_links,
    text_mentions,
)
from schemas.models import CanonicalPost, RawEnvelope

PLATFORM = "x"
_FLOAT_ID = re.compile(r"^(\d+)\.0+$")


def csv_id(value: object, where: str) -> str | None:
    """An id cell: empty means none; ``848.0`` means ``848``."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    text = id_value(value, where)
    match = _FLOAT_ID.match(text)
    return match.group(1) if match else text


def _req_csv_id(row: dict[str, object], key: str) -> str:
    value = csv_id(row.get(key), f"payload.{key}")
    return value if value is not None else id_value(None, f"payload.{key}")


def normalize_twcs(envelope: RawEnvelope) -> CanonicalPost:
    row = as_dict(envelope.payload, "payload")
    where = "payload"
    tweet_id = _req_csv_id(row, "tweet_id")
    author_id = _req_csv_id(row, "author_id")
    text = req_str(row, "text", where)
    created_raw = row.get("created_at")
    created = (
        parse_time(created_raw, f"{where}.created_at")
        if created_raw not in (None, "")
        else snowflake_time(tweet_id) or parse_time(None, f"{where}.created_at")
    )
    parent = csv_id(row.get("in_response_to_tweet_id"), f"{where}.in_response_to_tweet_id")
    root = context_str(envelope, "conversation_root") or parent or tweet_id
    parent_author = context_str(envelope, "in_reply_to_author")
    reply_to = reply_target(PLATFORM, parent, parent_author)
    return build_post(
        envelope,
        id=post_id(PLATFORM, tweet_id),
        platform=PLATFORM,
        url=f"https://twitter.com/i/web/status/{tweet_id}",
        created_at=created,
        text=text,
        author=author(id=post_id(PLATFORM, author_id), handle=author_id),
        conversation_id=post_id(PLATFORM, root),
        in_reply_to=reply_to,
        mentions=text_mentions(text),
        hashtags=text_hashtags(text),
        links=text_links(text),
    )
