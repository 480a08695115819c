"""The signing-key set as a record in PostgreSQL, shared by every AuthService (every gunicorn worker)."""
from __future__ import annotations

from contextlib import contextmanager

import jwt
import pytest

from auth.service import AuthService
from auth.session_types import AuthConfig
from tests.auth.conftest import FAST_HASHER

CACHE_SECONDS = 30.0
APP = ["msb-app"]


class CountingDatabase:
    """The shared pool, counting the transactions one AuthService's key set opens."""

    def __init__(self, database) -> None:
        self._database = database
        self.transactions = 0

    @contextmanager
    def transaction(self):
        self.transactions += 1
        with self._database.transaction() as conn:
            yield conn


@pytest.fixture
def make_service(redis_client, database, wechat, alipay, identity, sms, secret_dir, clock):
    def build() -> AuthService:
        return AuthService(redis_client, wechat=wechat, alipay=alipay, identity=identity, sms=sms,
                           secret_dir=secret_dir, clock=clock, password_hasher=FAST_HASHER, database=database,
                           config=AuthConfig(signing_key_cache_seconds=CACHE_SECONDS))
    return build


def test_a_rotation_reaches_a_second_service_after_its_cache_period(make_service, wechat, clock):
    first, second = make_service(), make_service()
    old_kid = second.signing_keys.active().kid
    assert [key["kid"] for key in first.jwks()["keys"]] == [old_kid]

    new_kid = first.signing_keys.rotate()
    assert new_kid != old_kid
    # Inside its cache period the second service still signs with the key it loaded…
    pair = second.login_wechat(wechat.login_code("o-rotation"), client_ip="198.51.100.7")
    assert jwt.get_unverified_header(pair.access_token)["kid"] == old_kid
    assert [key["kid"] for key in second.jwks()["keys"]] == [old_kid]
    # … and the token it signed still verifies everywhere (the old key stays trusted while retained).
    assert first.authenticate_access_token(pair.access_token, audiences=[wechat_audience()]).account_id

    clock.advance(CACHE_SECONDS)
    assert second.signing_keys.active().kid == new_kid
    assert [key["kid"] for key in second.jwks()["keys"]] == [new_kid, old_kid]
    pair = second.login_wechat(wechat.login_code("o-rotation"), client_ip="198.51.100.7")
    assert jwt.get_unverified_header(pair.access_token)["kid"] == new_kid


def test_verifying_tokens_does_not_query_the_database_inside_the_cache_period(make_service, database, wechat, clock):
    service = make_service()
    counting = CountingDatabase(database)
    service.signing_keys._database = counting  # noqa: SLF001 — observe the key set's own reads only
    token = service.login_wechat(wechat.login_code("o-cache"), client_ip="198.51.100.8").access_token
    reads = counting.transactions
    assert reads >= 1  # the first use loaded (and created) the key set
    for _ in range(50):
        service.tokens.verify(token, audiences=[wechat_audience()])
    assert counting.transactions == reads
    clock.advance(CACHE_SECONDS)
    service.tokens.verify(token, audiences=[wechat_audience()])
    assert counting.transactions == reads + 1


def wechat_audience() -> str:
    return "msb-wechat"
