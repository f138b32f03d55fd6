"""Logging for machines and for people: JSON lines, or text when someone is watching.

Log aggregation in Kubernetes parses JSON, one object per line, with
stage/topic/partition/offset when known; a person at a terminal reads text.
``TOWNSQUARE_LOG_FORMAT=auto`` (the default) picks text when stderr is a
terminal and JSON otherwise (a pod, a pipe, a log file), so neither has to
ask; ``json`` and ``text`` force one. Fields passed through ``extra=``
become top-level keys in JSON and ``key=value`` pairs after the text line.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import IO, Any, Literal

_STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}

LogFormat = Literal["auto", "json", "text"]


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    return {
        key: value
        for key, value in record.__dict__.items()
        if key not in _STANDARD and not key.startswith("_")
    }


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
            **_extras(record),
        }
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str)


class TextFormatter(logging.Formatter):
    """``12:00:01 WARNING townsquare.offline: skipped record position=3 reason=not_json``.

    The ``extra=`` fields are what make a line useful (which record, which
    partition), so they follow the message rather than vanish as in the
    standard formatter.
    """

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s", "%Y-%m-%d %H:%M:%S")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        fields = " ".join(f"{key}={value}" for key, value in _extras(record).items())
        if not fields:
            return line
        head, sep, rest = line.partition("\n")  # keep a traceback below the fields
        return f"{head} {fields}{sep}{rest}"


def resolve_format(fmt: str, stream: IO[str] | None = None) -> Literal["json", "text"]:
    """``json`` or ``text`` for a setting of ``auto``, ``json`` or ``text``.

    ``auto`` looks at ``stream`` (stderr, where the handler writes): a
    terminal gets text. Read when logging is configured, not at import, so a
    test or a host that swaps stderr is seen.
    """
    if fmt == "json":
        return "json"
    if fmt == "text":
        return "text"
    target = stream if stream is not None else sys.stderr
    isatty = getattr(target, "isatty", None)
    return "text" if callable(isatty) and isatty() else "json"


def logging_config(level: str, fmt: str) -> dict[str, Any]:
    """A ``dictConfig`` usable both directly and as Faust/mode's ``logging_config``.

    kafka-python's connection loggers (``kafka.net``) report every refused
    connect and slow poll; their outcome reaches us as an exception (a
    command's one error line, a source's delivery error), so they are heard
    only at ``DEBUG``.
    """
    formatter = (
        {"()": f"{__name__}.JsonFormatter"}
        if resolve_format(fmt) == "json"
        else {"()": f"{__name__}.TextFormatter"}
    )
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"default": formatter},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "default"}},
        "root": {"level": level, "handlers": ["stderr"]},
        "loggers": {
            "aiokafka": {"level": "WARNING"},
            "kafka": {"level": "WARNING"},
            "kafka.net": {"level": "WARNING" if level == "DEBUG" else "CRITICAL"},
            "elastic_transport": {"level": "ERROR"},
            "httpx": {"level": "WARNING"},
        },
    }
