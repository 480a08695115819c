from __future__ import annotations

import pytest
from argon2 import PasswordHasher

from auth.identifiers import id_check_char, uscc_check_char
from auth.service import AuthService
from kernel.clock import FixedClock
from kernel.crypto import Crypto
from tests.auth.fakes import FakeAlipay, FakeIdentityPlatform, FakeSms, FakeWeChat


def valid_id(first17: str) -> str:
    return first17 + id_check_char(first17)


def valid_uscc(first17: str) -> str:
    return first17 + uscc_check_char(first17)


# Test people (Hohhot, 150102) and enterprises with computed check characters.
ID_ZHANG = valid_id("15010219850312123")
ID_WULAN = valid_id("15010219580101002")
USCC_GRASSLAND = valid_uscc("91150100MA0N00000")


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture
def secret_dir(tmp_path):
    return tmp_path / "secrets"


@pytest.fixture
def crypto(secret_dir) -> Crypto:
    return Crypto(secret_dir)


@pytest.fixture
def wechat() -> FakeWeChat:
    return FakeWeChat()


@pytest.fixture
def alipay() -> FakeAlipay:
    return FakeAlipay()


@pytest.fixture
def identity() -> FakeIdentityPlatform:
    platform = FakeIdentityPlatform()
    platform.add_person("张三", ID_ZHANG)
    platform.add_person("乌兰其其格", ID_WULAN)
    platform.add_enterprise(USCC_GRASSLAND, "内蒙古草原科技有限公司", "张三")
    return platform


@pytest.fixture
def sms() -> FakeSms:
    return FakeSms()


# Cheap argon2 parameters: the production defaults cost ~100 ms a hash on this machine.
FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


@pytest.fixture
def service(redis_client, database, wechat, alipay, identity, sms, secret_dir, clock) -> AuthService:
    return AuthService(
        redis_client,
        wechat=wechat,
        alipay=alipay,
        identity=identity,
        sms=sms,
        secret_dir=secret_dir,
        clock=clock,
        password_hasher=FAST_HASHER,
        database=database,
    )


AUDIENCE = {"wechat": "msb-wechat", "alipay": "msb-alipay", "app": "msb-app"}


def claim_by_face(service, identity, pair, name: str, id_number: str):
    """The new rule end to end: verifying an ID number another account holds is refused (409); a
    四级 face check of that person proves the claim and merges into the holder's account."""
    from auth.errors import RealnameBoundElsewhere, TokenError

    with pytest.raises(RealnameBoundElsewhere):
        service.verify_realname(pair.account.id, name, id_number)
    principal = None
    for audience in AUDIENCE.values():
        try:
            principal = service.authenticate_access_token(pair.access_token, audiences=[audience])
            break
        except TokenError:  # another channel's audience
            continue
    assert principal is not None
    claim = service.start_claim(pair.account.id, "face")
    return service.confirm_claim(principal, claim["claim_id"], face_token=identity.face_token(id_number))
