"""route and normalize_message: what normalize publishes where, list in, list out."""

from __future__ import annotations

import json

import pytest
from stepdata import envelope, post, post_data

from processors.privacy import Pseudonymiser
from schemas.models import CanonicalPost
from streams.steps.outputs import Rejected, Send, Withheld
from streams.steps.route import UNEXPECTED, locator, normalize_message, route
from streams.topic_names import BY_ID, NORMALIZED


def test_a_post_goes_to_its_thread_then_leaves_a_locator() -> None:
    reply = post(2, 1, reply_to=1)
    out = route(reply)
    assert [(o.topic_name, o.key) for o in out] == [(NORMALIZED, "x:1"), (BY_ID, "x:2")]
    assert CanonicalPost.model_validate_json(out[0].value) == reply
    assert json.loads(out[1].value) == {"kind": "locate", "id": "x:2", "conversation_id": "x:1"}


def test_an_edit_is_routed_like_a_post() -> None:
    out = route(post(2, 1, kind="edit", text="edited"))
    assert [(o.topic_name, o.key) for o in out] == [(NORMALIZED, "x:1"), (BY_ID, "x:2")]


def test_a_delete_that_names_no_thread_goes_to_locate_only() -> None:
    delete = post(2, 2, kind="delete")
    assert route(delete) == [Send(BY_ID, "x:2", delete.model_dump_json().encode())]


def test_a_delete_naming_its_thread_goes_straight_to_it_and_leaves_no_locator() -> None:
    # Straight to the thread's partition: it keeps its place after the posts before it.
    delete = post(2, 1, kind="delete")
    assert route(delete) == [Send(NORMALIZED, "x:1", delete.model_dump_json().encode())]


def test_a_raw_envelope_is_normalized_and_stamped_with_the_ingest_id() -> None:
    out = normalize_message(envelope(post_data(2, 1)), 1024 * 1024)
    assert isinstance(out, list)
    routed = CanonicalPost.model_validate_json(out[0].value)
    assert routed.ingest_id == "test"
    assert out[1].value == locator(routed)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"\xff\xfe", "invalid_utf8"),
        (b"{not json", "invalid_json"),
        (envelope(post_data(2, 1), fmt="nope"), "unknown_format"),
        (envelope({"id": "x:2"}), "missing_field"),
        (envelope(post_data(2, 1, text="x" * 5000)), "too_large"),
    ],
)
def test_rejected_input_keeps_the_adapters_reason(raw: bytes, reason: str) -> None:
    out = normalize_message(raw, 4096)
    assert isinstance(out, Rejected)
    assert out.reason == reason
    assert out.error


def test_an_error_no_adapter_foresaw_is_rejected_not_raised(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(data: bytes, max_bytes: int) -> None:
        raise KeyError("surprise")

    monkeypatch.setattr("streams.steps.route.decode_envelope", broken)
    out = normalize_message(envelope(post_data(2, 1)), 4096)
    assert out == Rejected(UNEXPECTED, "KeyError: 'surprise'")


def test_send_refuses_a_topic_name_the_worker_does_not_have() -> None:
    with pytest.raises(ValueError, match="unknown topic name"):
        Send("posts.typo", "k", b"")


def test_normalize_publishes_the_json_it_checked_once_and_route_alone_agrees() -> None:
    """The stage serialises a post once (normalize_encoded) and publishes exactly that JSON."""
    from generated_input import raw_envelope
    from support import canonical_post

    from processors.adapters import decode_envelope, normalize_encoded
    from schemas.models import CanonicalPost
    from streams.steps.route import normalize_message, route

    data = raw_envelope("canonical", canonical_post(7, 3, text="caf\u00e9 \U0001f600 bins"))
    post, encoded = normalize_encoded(decode_envelope(data, 1 << 20))
    sent = normalize_message(data, 1 << 20)
    assert isinstance(sent, list)
    assert sent == route(post) == route(post, encoded)
    assert CanonicalPost.model_validate_json(sent[0].value) == post


# --- pseudonymised, and withheld -------------------------------------------------------


def _pseudonymiser() -> Pseudonymiser:
    return Pseudonymiser(b"route test key, thirty-two bytes")


def test_normalize_publishes_the_pseudonymised_post_and_its_locator() -> None:
    p = _pseudonymiser()
    data = post_data(2, 1, text="@author1 the bins again", reply_to=1)
    data["in_reply_to"]["author_id"] = "x:author1"
    out = normalize_message(envelope(data), 1 << 20, p)
    assert isinstance(out, list)
    assert [(o.topic_name, o.key) for o in out] == [(NORMALIZED, "x:1"), (BY_ID, "x:2")]
    sent = CanonicalPost.model_validate_json(out[0].value)
    assert sent.author.id == p.author_id("x:author2") and sent.author.handle == p.handle("author2")
    assert sent.in_reply_to is not None and sent.in_reply_to.author_id == p.author_id("x:author1")
    assert sent.text == f"@{p.handle('author1')} the bins again"
    assert b"author1" not in out[0].value and b"author2" not in out[0].value
    # The published JSON is the pseudonymised post's own, and route() alone agrees.
    plain = normalize_message(envelope(data), 1 << 20)
    assert isinstance(plain, list)
    expected = p.pseudonymise_post(CanonicalPost.model_validate_json(plain[0].value))
    assert out == route(expected)
    assert out[1] == plain[1], "the locator names posts and threads, nobody"


def test_a_pseudonymised_delete_keeps_its_route() -> None:
    p = _pseudonymiser()
    out = normalize_message(envelope(post_data(2, 2, kind="delete")), 1 << 20, p)
    assert isinstance(out, list) and [(o.topic_name, o.key) for o in out] == [(BY_ID, "x:2")]
    assert CanonicalPost.model_validate_json(out[0].value).author.id == p.author_id("x:author2")


def test_rejections_are_unchanged_by_pseudonymisation() -> None:
    out = normalize_message(envelope({"id": "x:2"}), 4096, _pseudonymiser())
    assert isinstance(out, Rejected) and out.reason == "missing_field"


def test_withhold_drops_a_post_after_pseudonymisation() -> None:
    p = _pseudonymiser()
    seen: list[CanonicalPost] = []

    def erased(post: CanonicalPost) -> str | None:
        seen.append(post)
        return "erased" if post.author.handle == p.handle("author2") else None

    out = normalize_message(envelope(post_data(2, 1)), 1 << 20, p, erased)
    assert out == Withheld("erased")
    assert seen[0].author.handle == p.handle("author2"), "the hook sees the published form"
    kept = normalize_message(envelope(post_data(3, 1)), 1 << 20, p, erased)
    assert isinstance(kept, list) and len(kept) == 2


def test_withhold_without_pseudonyms_and_never_for_rejected_input() -> None:
    def everyone(post: CanonicalPost) -> str | None:
        return "erased"

    assert normalize_message(envelope(post_data(2, 1)), 1 << 20, None, everyone) == Withheld(
        "erased"
    )
    bad = normalize_message(b"{not json", 1 << 20, None, everyone)
    assert isinstance(bad, Rejected), "what cannot be read is a dead letter, as before"
