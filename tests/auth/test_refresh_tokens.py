import hashlib
from concurrent.futures import ThreadPoolExecutor

import pytest

from auth import keys
from auth.errors import RefreshTokenExpired, RefreshTokenInvalid, RefreshTokenReused
from auth.refresh_tokens import CITIZEN_POLICY, FamilyPolicy, RefreshTokens

ACCOUNT = "acc_" + "a" * 26


@pytest.fixture
def store(redis_client, crypto, clock):
    return RefreshTokens(redis_client, crypto, clock, grace_seconds=30)


def start(store, policy=CITIZEN_POLICY, account=ACCOUNT):
    return store.start_family(account_id=account, channel="app", amr=("sms",), policy=policy)


def test_tokens_are_opaque_random_and_stored_hashed(store, redis_client):
    family, token = start(store)
    assert token.startswith("rt1.") and len(token) == 47 and token.count(".") == 1
    stored = list(redis_client.scan_iter("auth:*"))
    assert all(token[4:] not in key for key in stored)
    assert redis_client.exists(keys.refresh_token(hashlib.sha256(token.encode()).hexdigest()))
    assert all(token not in str(redis_client.hgetall(key)) for key in stored if redis_client.type(key) == "hash")


def test_rotation_issues_a_new_token_and_retires_the_old(store, clock):
    family, first = start(store)
    clock.advance(60)
    rotation = store.rotate(first)
    assert rotation.refresh_token != first and not rotation.replayed
    assert rotation.family.family_id == family.family_id and rotation.family.account_id == ACCOUNT
    clock.advance(31)
    with pytest.raises(RefreshTokenReused):
        store.rotate(first)


def test_reuse_revokes_the_whole_family(store, clock):
    family, first = start(store)
    second = store.rotate(first).refresh_token
    clock.advance(31)
    with pytest.raises(RefreshTokenReused) as caught:
        store.rotate(first)  # the thief (or the owner) replays an old token
    assert caught.value.account_id == ACCOUNT and caught.value.family_id == family.family_id
    with pytest.raises(RefreshTokenInvalid):
        store.rotate(second)  # the other holder is out too
    assert store.family(family.family_id) is None
    assert family.family_id not in store.family_ids(ACCOUNT)


def test_grace_window_returns_the_same_successor(store, clock):
    _, first = start(store)
    second = store.rotate(first).refresh_token
    clock.advance(10)
    retry = store.rotate(first)  # the response carrying `second` was lost
    assert retry.refresh_token == second and retry.replayed
    third = store.rotate(second).refresh_token
    assert third not in (first, second)


def test_grace_does_not_apply_once_the_successor_was_used(store, clock):
    family, first = start(store)
    second = store.rotate(first).refresh_token
    store.rotate(second)
    clock.advance(5)
    with pytest.raises(RefreshTokenReused):
        store.rotate(first)
    assert store.family(family.family_id) is None


def test_concurrent_use_has_exactly_one_winner_or_identical_results(store):
    _, first = start(store)
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda _: store.rotate(first), range(4)))
    assert len({rotation.refresh_token for rotation in results}) == 1
    assert sum(not rotation.replayed for rotation in results) == 1


def test_idle_limit(store, clock):
    policy = FamilyPolicy(idle_seconds=100, absolute_seconds=1000)
    _, token = start(store, policy)
    clock.advance(99)
    token = store.rotate(token).refresh_token
    clock.advance(100)
    with pytest.raises(RefreshTokenExpired):
        store.rotate(token)


def test_absolute_limit_even_when_active(store, clock):
    policy = FamilyPolicy(idle_seconds=100, absolute_seconds=250)
    family, token = start(store, policy)
    for _ in range(2):
        clock.advance(90)
        token = store.rotate(token).refresh_token
    clock.advance(90)
    with pytest.raises(RefreshTokenExpired):
        store.rotate(token)
    assert family.family_id not in store.family_ids(ACCOUNT)


def test_redis_ttls_follow_the_policy(store, redis_client):
    family, token = start(store)
    assert 0 < redis_client.ttl(keys.refresh_family(family.family_id)) <= CITIZEN_POLICY.absolute_seconds
    assert (
        0
        < redis_client.ttl(keys.refresh_token(hashlib.sha256(token.encode()).hexdigest()))
        <= CITIZEN_POLICY.idle_seconds
    )


@pytest.mark.parametrize(
    "presented",
    ["", "rt1.short", "rt2." + "A" * 43, "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln", "rt1." + "A" * 43, None],
)
def test_malformed_unknown_or_access_tokens_are_invalid(store, presented):
    with pytest.raises(RefreshTokenInvalid):
        store.rotate(presented)


def test_logout_all_revokes_every_family(store):
    families = [start(store) for _ in range(3)]
    other_family, other_token = start(store, account="acc_" + "b" * 26)
    assert len(store.revoke_account(ACCOUNT)) == 3
    for family, token in families:
        with pytest.raises(RefreshTokenInvalid):
            store.rotate(token)
    assert store.rotate(other_token)


def test_acting_for_never_resurrects_a_revoked_family(store, redis_client):
    family, _ = start(store)
    assert store.set_acting_for(family.family_id, "ent_" + "c" * 26)
    assert store.family(family.family_id).acting_for == "ent_" + "c" * 26
    store.revoke_family(family.family_id)
    assert not store.set_acting_for(family.family_id, "ent_" + "c" * 26)
    assert not redis_client.exists(keys.refresh_family(family.family_id))
