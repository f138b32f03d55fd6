"""Adapters: one pure function per payload format, raw envelope in, canonical post out.

The normalize stage calls :func:`normalize` and dead-letters on
:class:`~processors.adapters.errors.AdapterError`, the only exception an
adapter lets out (its ``reason`` becomes the DLQ metric label). Each format's
accepted shapes and mapping choices are documented in its module.
"""

from __future__ import annotations

from collections.abc import Callable

from pydantic import ValidationError
from pydantic_core import PydanticSerializationError

from processors.adapters.bluesky import normalize_bluesky
from processors.adapters.canonical import normalize_canonical
from processors.adapters.common import from_validation_error
from processors.adapters.customer_care import normalize_customer_care
from processors.adapters.envelope import decode_envelope
from processors.adapters.errors import INVALID_UTF8, TOO_DEEP, UNKNOWN_FORMAT, AdapterError
from processors.adapters.mastodon import normalize_mastodon
from processors.adapters.reddit import normalize_reddit
from processors.adapters.rss import normalize_rss
from processors.adapters.twcs_csv import normalize_twcs
from processors.adapters.webhook import normalize_webhook
from processors.adapters.x_v2 import normalize_x_v2
from schemas.models import CanonicalPost, RawEnvelope

Adapter = Callable[[RawEnvelope], CanonicalPost]

FORMATS: dict[str, Adapter] = {
    "canonical": normalize_canonical,
    "twcs-csv": normalize_twcs,
    "customer-care-json": normalize_customer_care,
    "x-v2": normalize_x_v2,
    "mastodon": normalize_mastodon,
    "bluesky-jetstream": normalize_bluesky,
    "reddit": normalize_reddit,
    "rss": normalize_rss,
    "webhook": normalize_webhook,
}


def normalize(envelope: RawEnvelope) -> CanonicalPost:
    """The canonical post for ``envelope``, by its ``format`` (see :func:`normalize_encoded`)."""
    return normalize_encoded(envelope)[0]


def normalize_encoded(envelope: RawEnvelope) -> tuple[CanonicalPost, str]:
    """The canonical post for ``envelope`` and its JSON, by the envelope's ``format``.

    Adapters raise :class:`AdapterError` themselves; the handlers below are a
    net for the few library errors they cannot foresee (pydantic building a
    nested model, a recursion limit), turned into the same error so the
    normalize stage keeps one failure path. Programming errors (``NameError``,
    ``AttributeError``) are not caught: they should fail tests, not hide in
    the dead-letter topic.

    The post is serialised here, once: a post that no UTF-8 encoder accepts
    (the parse path refuses escaped lone surrogates, but an adapter could
    still build one) must fail now, as a dead letter, not later in the
    producer; and the normalize stage publishes this very JSON.
    """
    adapter = FORMATS.get(envelope.format)
    if adapter is None:
        raise AdapterError(UNKNOWN_FORMAT, f"format {envelope.format[:60]!r}")
    try:
        post = adapter(envelope)
        encoded = post.model_dump_json()
    except AdapterError:
        raise
    except ValidationError as exc:
        raise from_validation_error(exc, "post") from exc
    except PydanticSerializationError as exc:
        raise AdapterError(INVALID_UTF8, f"{envelope.format}: {str(exc)[:200]}") from exc
    except RecursionError as exc:
        raise AdapterError(TOO_DEEP, f"{envelope.format}: {exc}") from exc
    return post, encoded


__all__ = ["FORMATS", "AdapterError", "decode_envelope", "normalize"]
