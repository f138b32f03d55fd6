"""Turns of the customer-care conversations data set (Twitter, 2020).

Each record is one turn ``{client|client1|agent: name, datetime, message,
tweet_ID}``; the reader adds what the turn lacks (see ``streams.sources.readers``):
``conversation_id`` (the first turn's tweet id, which is the thread's root),
``company``, ``turn_index`` and the previous turn as ``in_reply_to`` (tweet id),
``in_reply_to_role`` and ``in_reply_to_name``.

Authors:
- an ``agent`` turn is the company's support account: handle = the company name
  as written in the file, reduced to handle characters (``[A-Za-z0-9_]``, other
  runs become ``_``), id ``x:<handle>`` (the same id the twcs export gives the
  account);
- a ``client``/``client1`` turn gets a per-conversation pseudonym
  ``x:anon-<conversation root>-<role>`` and no handle: customers are private
  people and the data set does not need their names to keep threads apart.
  Two copies of one conversation in the file get the same pseudonyms.

The agent's closing turn (the file's ``agentURL``) has no ``datetime``; its time
is read from the tweet id (a snowflake id encodes its creation time).
"""

from __future__ import annotations

import re
from typing import Any

from processors.adapters.common import (
    as_dict,
    author,
    build_post,
    context_str,
    parse_time,
    post_id,
    req_id,
    req_str,
    snowflake_time,
    text_hashtags,
    text_links,
    text_mentions,
)
from processors.adapters.errors import INVALID_VALUE, MISSING_FIELD, WRONG_TYPE, AdapterError
from schemas.models import Author, CanonicalPost, RawEnvelope, ReplyTarget

PLATFORM = "x"
_ROLE = re.compile(r"^(agent|client\d*)$")
_NOT_HANDLE = re.compile(r"[^A-Za-z0-9_]+")


def handle_like(name: str) -> str:
    """``Ask Wells Fargo`` -> ``Ask_Wells_Fargo``; ``@Delta`` -> ``Delta``."""
    handle = _NOT_HANDLE.sub("_", name.strip().lstrip("@")).strip("_")
    if not handle:
        raise AdapterError(INVALID_VALUE, f"{name[:50]!r} has no handle characters")
    return handle


def speaker_author_id(role: str, name: str | None, company: str | None, root: str) -> str:
    """The author id of a turn's speaker; shared with the previous-turn link."""
    if role == "agent":
        return post_id(PLATFORM, handle_like(name or company or ""))
    return post_id(PLATFORM, f"anon-{root}-{role}")


def _speaker(turn: dict[str, Any]) -> tuple[str, str | None]:
    roles = [key for key in turn if _ROLE.match(key)]
    if not roles:
        raise AdapterError(MISSING_FIELD, "payload: no client/agent speaker key")
    if len(roles) > 1:
        raise AdapterError(INVALID_VALUE, f"payload: several speakers {roles[:4]}")
    role = roles[0]
    name = turn[role]
    if name is not None and not isinstance(name, str):
        raise AdapterError(WRONG_TYPE, f"payload.{role}: expected a string")
    return role, name


def _context_role(envelope: RawEnvelope) -> str:
    role = envelope.context.get("in_reply_to_role") or "client"
    if not isinstance(role, str) or not _ROLE.match(role):
        raise AdapterError(INVALID_VALUE, "context.in_reply_to_role: not a speaker role")
    return role


def normalize_customer_care(envelope: RawEnvelope) -> CanonicalPost:
    turn = as_dict(envelope.payload, "payload")
    tweet_id = req_id(turn, "tweet_ID", "payload")
    text = req_str(turn, "message", "payload")
    role, name = _speaker(turn)
    company = envelope.context.get("company")
    if company is not None and not isinstance(company, str):
        raise AdapterError(WRONG_TYPE, "context.company: expected a string")
    if turn.get("datetime") is None and snowflake_time(tweet_id) is not None:
        created = snowflake_time(tweet_id)
    else:
        created = parse_time(turn.get("datetime"), "payload.datetime")
    root = context_str(envelope, "conversation_id") or tweet_id
    author_id = speaker_author_id(role, name, company, root)
    speaker = (
        author(id=author_id, handle=author_id.removeprefix(f"{PLATFORM}:"))
        if role == "agent"
        else Author(id=author_id)
    )
    parent = context_str(envelope, "in_reply_to")
    reply_to = None
    if parent:
        parent_name = envelope.context.get("in_reply_to_name")
        reply_to = ReplyTarget(
            post_id=post_id(PLATFORM, parent),
            author_id=speaker_author_id(
                _context_role(envelope),
                parent_name if isinstance(parent_name, str) else None,
                company,
                root,
            ),
        )
    return build_post(
        envelope,
        id=post_id(PLATFORM, tweet_id),
        platform=PLATFORM,
        url=f"https://twitter.com/i/web/status/{tweet_id}",
        created_at=created,
        text=text,
        author=speaker,
        conversation_id=post_id(PLATFORM, root),
        in_reply_to=reply_to,
        mentions=text_mentions(text),
        hashtags=text_hashtags(text),
        links=text_links(text),
    )
