"""Raw Kafka bytes to a :class:`RawEnvelope`, refusing what could hurt the worker.

The checks run cheapest first: size before decoding, UTF-8 before JSON, and
nesting depth before pydantic walks the value, so a hostile message costs at
most one bounded parse.
"""

from __future__ import annotations

from pydantic import ValidationError

from processors.adapters.common import as_dict, from_validation_error, parse_untrusted_json
from schemas.models import RawEnvelope


def decode_envelope(data: bytes, max_bytes: int) -> RawEnvelope:
    """The envelope in ``data``, or :class:`AdapterError` with the reason to dead-letter it."""
    value = as_dict(parse_untrusted_json(data, max_bytes, "envelope"), "envelope")
    try:
        return RawEnvelope.model_validate(value)
    except ValidationError as exc:
        raise from_validation_error(exc, "envelope") from exc
