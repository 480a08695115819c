"""Home tests: the login helpers of tests/bff/auth, a fake push source and payload walkers."""
from __future__ import annotations

import gzip
import re
from typing import Any, Iterator

import pytest

from tests.bff.auth.conftest import Citizen, Drive, bearer  # noqa: F401  (helpers for the tests)

ARABIC_DIGIT = re.compile(r"[0-9]")


@pytest.fixture
def drive(sandbox: str) -> Drive:
    return Drive(sandbox)


@pytest.fixture
def citizen(client, drive) -> Citizen:
    return Citizen(client, drive)


def gzip_size(body: bytes) -> int:
    return len(gzip.compress(body, compresslevel=6))


def walk(payload: Any, key: str) -> Iterator[Any]:
    """Every value stored under ``key`` anywhere in a JSON payload."""
    if isinstance(payload, dict):
        for name, value in payload.items():
            if name == key:
                yield value
            yield from walk(value, key)
    elif isinstance(payload, list):
        for value in payload:
            yield from walk(value, key)


class FakePush:
    """Stands in for push.service.PushService: what the home view may ask of it."""

    def __init__(self) -> None:
        self.notices = [
            {"id": "n1", "title": "2026年城乡居民医保缴费开始", "summary": "12月31日前缴费", "category": "policy",
             "published_at": 1_800_000_000},
            {"id": "n2", "title": "双十一办事送好礼", "category": "marketing"},
            {"id": "n3", "title": "政策解读", "category": "policy", "promoted": True},
            {"id": "n4", "title": "您的证件已办结", "category": "service"},
        ]
        self.unread = {"default": 3}
        self.personal = [{"basic_code": "B0083", "name": "高龄津贴发放", "reason": "您已年满80周岁，可申领高龄津贴",
                          "reason_code": "life_stage", "theme": None, "score": 80}]
        self.calls: list[str] = []

    def recommendations(self, account_id, *, region=None, limit=10):
        self.calls.append(f"recommendations:{account_id}")
        if account_id is None:
            return [{"basic_code": "B0174", "name": "老年人优待证办理", "reason": "新城区居民近期常办",
                     "reason_code": "popular_region", "theme": None, "score": 30}]
        return list(self.personal)

    def policy_notices(self, *, region=None, limit=10):
        self.calls.append("policy_notices")
        return list(self.notices)

    def inbox_unread(self, account_id):
        self.calls.append(f"inbox_unread:{account_id}")
        return {"unread": self.unread["default"]}


@pytest.fixture
def fake_push(app) -> FakePush:
    from bff.home.sources import PushSources

    fake = FakePush()
    app.extensions["services"].home_sources = PushSources(fake)
    return fake
