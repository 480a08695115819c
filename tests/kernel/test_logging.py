"""Every process logs through one redacting JSON formatter: the API, the push worker and the CLIs."""
from __future__ import annotations

import io
import json
import logging

import pytest

from kernel.logging import configure_logging, redact


@pytest.fixture
def captured_root_logging():
    root = logging.getLogger()
    saved_handlers, saved_level = list(root.handlers), root.level
    stream = io.StringIO()
    yield stream
    root.handlers[:] = saved_handlers
    root.setLevel(saved_level)


def test_redact_masks_id_numbers_phones_and_tokens():
    text = "id 15010219850312001X phone +8613912345678 jwt eyJhbGciOi.eyJzdWIiOi.sig tel 13800138000"
    assert redact(text) == "id [id_number] phone [phone] jwt [token] tel [phone]"


def test_redact_leaves_other_numbers_alone():
    assert redact("request 42 took 12.5 ms; item 11150100MB1536498K") == "request 42 took 12.5 ms; item 11150100MB1536498K"


def test_push_worker_logs_are_redacted(captured_root_logging):
    # The worker used to carry its own formatter without redaction (a drifted copy of the API's).
    from push import worker

    worker.configure_logging("INFO", stream=captured_root_logging)
    logging.getLogger("msb.push.worker").info(
        "send failed for 13912345678", extra={"fields": {"to": "150102198503120010"}}
    )
    line = json.loads(captured_root_logging.getvalue().strip().splitlines()[-1])
    assert line["msg"] == "send failed for [phone]"
    assert line["to"] == "[id_number]"
    assert line["logger"] == "msb.push.worker"


def test_configure_logging_twice_keeps_one_handler(captured_root_logging):
    configure_logging("INFO", stream=captured_root_logging)
    configure_logging("INFO", stream=captured_root_logging)
    logging.getLogger("msb.test").warning("once")
    assert captured_root_logging.getvalue().count('"once"') == 1
