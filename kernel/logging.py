"""JSON log lines for every process (API, worker, CLI) with a last-line-of-defence redactor.

Personal data must never reach a log line (PIPL). Code is expected not to log it in the first place;
the redactor additionally masks anything shaped like an ID number, a mobile number or a token,
because a single mistake in a log call would otherwise be permanent.
"""
from __future__ import annotations

import json
import logging
import re
import sys
from typing import Any

_SENSITIVE_PATTERNS = [
    # JWTs and other long base64url tokens.
    (re.compile(r"eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*"), "[token]"),
    # 18-digit resident ID numbers (last character may be X).
    (re.compile(r"(?<!\d)\d{17}[\dXx](?!\d)"), "[id_number]"),
    # Mainland mobile numbers, with or without +86.
    (re.compile(r"(?<!\d)(?:\+?86)?1[3-9]\d{9}(?!\d)"), "[phone]"),
]


def redact(text: str) -> str:
    for pattern, replacement in _SENSITIVE_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": round(record.created, 3),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        entry.update(getattr(record, "fields", None) or {})
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return redact(json.dumps(entry, ensure_ascii=False, default=str))


def configure_logging(level: str, *, stream: Any = None) -> None:
    """Route every logger through one redacting JSON handler (stderr unless told otherwise)."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_msb_json", False):
            root.removeHandler(handler)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter())
    handler._msb_json = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level.upper())
    # werkzeug's own access log duplicates ours and includes query strings; urllib3 logs URLs.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    logging.getLogger("urllib3.connectionpool").setLevel(logging.WARNING)
