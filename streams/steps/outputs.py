"""What a step asks its agent to do: send a record, or dead-letter the input.

Steps return these small records instead of calling a producer, so a test can
compare them and an agent can publish them without knowing the stage's rules.
"""

from __future__ import annotations

from dataclasses import dataclass

from streams.topic_names import TOPIC_NAMES


@dataclass(frozen=True)
class Send:
    """Publish ``value`` under ``key`` on the topic with logical name ``topic_name``."""

    topic_name: str
    key: str
    value: bytes

    def __post_init__(self) -> None:
        # A typo in a topic name would otherwise surface only in a running worker.
        if self.topic_name not in TOPIC_NAMES:
            raise ValueError(f"unknown topic name {self.topic_name!r}")


@dataclass(frozen=True)
class Rejected:
    """The input cannot be processed: the agent dead-letters it with this reason."""

    reason: str
    error: str


@dataclass(frozen=True)
class Withheld:
    """The input is dropped on purpose (e.g. its author was erased): counted, never stored.

    Unlike :class:`Rejected` it is not dead-lettered: the dead-letter topic keeps
    the original payload, which is exactly what must not be kept.
    """

    reason: str
