"""The one exception the normalize stage expects from an adapter.

Every way a payload can be wrong ends here, so the normalize agent needs a
single ``except AdapterError`` to dead-letter it, and ``reason`` is small and
stable enough to be a metric label.
"""

from __future__ import annotations

from typing import Final

INVALID_JSON: Final = "invalid_json"
INVALID_UTF8: Final = "invalid_utf8"
TOO_DEEP: Final = "too_deep"
TOO_LARGE: Final = "too_large"
MISSING_FIELD: Final = "missing_field"
WRONG_TYPE: Final = "wrong_type"
INVALID_TIMESTAMP: Final = "invalid_timestamp"
INVALID_VALUE: Final = "invalid_value"
UNKNOWN_FORMAT: Final = "unknown_format"
UNSUPPORTED_EVENT: Final = "unsupported_event"
"""A well-formed message that is not a post (a like, an identity event): skip, don't alarm."""

REASONS: Final = frozenset(
    {
        INVALID_JSON,
        INVALID_UTF8,
        TOO_DEEP,
        TOO_LARGE,
        MISSING_FIELD,
        WRONG_TYPE,
        INVALID_TIMESTAMP,
        INVALID_VALUE,
        UNKNOWN_FORMAT,
        UNSUPPORTED_EVENT,
    }
)


class AdapterError(ValueError):
    """A raw payload that cannot become a canonical post.

    ``reason`` is a short machine label (one of :data:`REASONS`), ``detail`` says
    where and why for a human reading the dead letter.
    """

    def __init__(self, reason: str, detail: str = "") -> None:
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason}: {detail}" if detail else reason)

    def __reduce__(self) -> tuple[type[AdapterError], tuple[str, str]]:
        # Keeps the exception picklable (multiprocessing, Faust workers).
        return (type(self), (self.reason, self.detail))
