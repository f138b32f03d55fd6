"""Hypothesis strategies for raw-topic messages that the normalize stage must refuse.

Shared by the pure route-step properties (thousands of messages, no broker)
and the small integration test that proves the wiring through a real worker.
They cover invalid UTF-8, JSON that is not an envelope, unknown formats,
platform payloads with wrong types or missing fields, deep nesting and
oversized bodies.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import strategies as st

from processors.adapters import FORMATS

MAX_BYTES = 16 * 1024
"""The message size limit the tests configure (``TOWNSQUARE_MAX_MESSAGE_BYTES``)."""

json_leaf = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=40)
)
json_value = st.recursive(
    json_leaf,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=5)
    ),
    max_leaves=20,
)
# Keys the adapters look for, so generated payloads get past the first checks.
likely_keys = st.sampled_from(
    [
        "id",
        "text",
        "created_at",
        "author",
        "account",
        "content",
        "data",
        "commit",
        "did",
        "kind",
        "tweet_id",
        "author_id",
        "dialogContent",
        "in_reply_to_id",
        "event",
        "payload",
    ]
)
platform_payload = st.dictionaries(likely_keys, json_value, max_size=8)


def raw_envelope(fmt: str, payload: Any) -> bytes:
    return json.dumps(
        {
            "ingest_id": "fuzz",
            "source": "fuzz",
            "format": fmt,
            "received_at": "2026-03-10T09:00:00Z",
            "payload": payload,
        }
    ).encode()


bad_message = st.one_of(
    st.binary(max_size=200),
    json_value.map(lambda v: json.dumps(v).encode()),
    st.builds(raw_envelope, st.text(max_size=20), platform_payload),
    st.builds(raw_envelope, st.sampled_from(sorted(FORMATS)), platform_payload),
    st.builds(raw_envelope, st.sampled_from(sorted(FORMATS)), json_value),
    st.integers(min_value=100, max_value=2000).map(lambda n: b"[" * n + b"]" * n),
    st.integers(min_value=MAX_BYTES + 1, max_value=2 * MAX_BYTES).map(
        lambda n: raw_envelope("canonical", "x" * n)
    ),
)
"""One raw message; almost all are refused (a rare draw is a valid post)."""


def rejected_reason(message: bytes) -> str | None:
    """The reason the adapters give for refusing ``message`` (None if it is a valid post)."""
    from processors.adapters import decode_envelope, normalize
    from processors.adapters.errors import AdapterError

    try:
        normalize(decode_envelope(message, MAX_BYTES))
    except AdapterError as exc:
        return exc.reason
    return None
