"""Generated input through the normalize step: every refusal is a reason, never an exception.

This is where the bulk of the generated bad-input coverage lives (thousands of
messages in seconds); ``tests/streams/worker/test_bad_input_integration.py``
keeps a small sample through a real worker to prove the wiring (one dead
letter per refused message, with its coordinates, and the worker goes on).
"""

from __future__ import annotations

from collections import Counter

from generated_input import MAX_BYTES, bad_message
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from processors.adapters import decode_envelope, normalize
from processors.adapters.errors import REASONS, AdapterError
from schemas.models import CanonicalPost
from streams.steps.outputs import Rejected, Send
from streams.steps.route import locator, normalize_message
from streams.topic_names import BY_ID, NORMALIZED

FUZZ = settings(
    max_examples=200, database=None, deadline=None, suppress_health_check=list(HealthCheck)
)


def _adapters_reason(message: bytes) -> str | None:
    """The reason the adapters themselves give for refusing ``message`` (None: a valid post)."""
    try:
        normalize(decode_envelope(message, MAX_BYTES))
    except AdapterError as exc:
        return exc.reason
    return None


def _check_routed(out: list[Send]) -> None:
    """A message that was accepted is routed as route() promises."""
    post = CanonicalPost.model_validate_json(out[0].value)
    sent = [(o.topic_name, o.key) for o in out]
    if post.kind == "delete" and post.conversation_id == post.id:
        assert sent == [(BY_ID, post.id)]
    elif post.kind == "delete":
        assert sent == [(NORMALIZED, post.conversation_id)]
    else:
        assert sent == [(NORMALIZED, post.conversation_id), (BY_ID, post.id)]
        assert out[1].value == locator(post)


def test_generated_messages_are_refused_with_the_adapters_reason_or_routed() -> None:
    """Thousands of generated messages: nearly all refused, each with the adapters' reason."""
    reasons: Counter[str] = Counter()

    @FUZZ
    @given(st.lists(bad_message, min_size=10, max_size=10))
    def check(batch: list[bytes]) -> None:
        for message in batch:
            out = normalize_message(message, MAX_BYTES)
            expected = _adapters_reason(message)
            if expected is None:
                assert isinstance(out, list)
                _check_routed(out)
                reasons["accepted"] += 1
            else:
                assert isinstance(out, Rejected)
                assert (out.reason, bool(out.error)) == (expected, True)
                assert out.reason in REASONS
                reasons[out.reason] += 1

    check()
    total = sum(reasons.values())
    assert total >= 2000
    assert reasons["accepted"] <= total * 0.01, reasons
    assert {"invalid_utf8", "invalid_json", "too_large", "unknown_format"} <= set(reasons), reasons


@given(st.binary(max_size=300))
def test_arbitrary_bytes_never_raise(raw: bytes) -> None:
    out = normalize_message(raw, MAX_BYTES)
    assert isinstance(out, Rejected | list)
