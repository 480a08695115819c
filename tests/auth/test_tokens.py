"""Access-token issuance and the attack suite: every forged or misused token must be refused."""

import base64
import hashlib
import hmac
import json
import threading
import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jwcrypto import jwk as jose_jwk
from jwcrypto import jwt as jose_jwt

from auth.errors import TokenExpired, TokenInvalid
from auth.signing_keys import SigningKeys, public_jwk
from auth.tokens import TokenService
from kernel.clock import FixedClock

ISSUER = "https://msb.test"
APP = ["msb-app"]


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def segment(obj: dict) -> str:
    return b64(json.dumps(obj, separators=(",", ":")).encode())


@pytest.fixture
def signing_keys(database, crypto, clock):
    return SigningKeys(database, crypto, clock, retain_seconds=1000, cache_seconds=30)


@pytest.fixture
def tokens(signing_keys, clock):
    return TokenService(signing_keys, clock, issuer=ISSUER, ttl=600)


def issue(tokens, channel="app", **overrides):
    params = dict(
        subject="acc_" + "a" * 26, channel=channel, session_id="fam-1", account_type="person", amr=["sms"], level=3
    )
    params.update(overrides)
    return tokens.issue(**params).token


def valid_claims(clock, **overrides):
    now = int(clock.now())
    claims = {
        "iss": ISSUER,
        "aud": "msb-app",
        "sub": "acc_" + "a" * 26,
        "iat": now,
        "nbf": now,
        "exp": now + 600,
        "jti": "j1",
        "sid": "fam-1",
        "acct": "person",
        "amr": ["sms"],
        "lvl": 3,
    }
    claims.update(overrides)
    return claims


def sign_with_real_key(signing_keys, claims, **header):
    key = signing_keys.active()
    headers = {"kid": key.kid, "typ": "at+jwt", **header}
    return jwt.encode(claims, key.private_key, algorithm="ES256", headers=headers)


class TestValidTokens:
    def test_round_trip(self, tokens):
        claims = tokens.verify(issue(tokens), audiences=APP)
        assert claims.subject == "acc_" + "a" * 26
        assert (claims.channel, claims.session_id, claims.level, claims.account_type) == ("app", "fam-1", 3, "person")
        assert claims.amr == ("sms",) and claims.acting_for is None

    def test_header_and_claims_shape(self, tokens, clock):
        token = issue(tokens, channel="wechat", acting_for="ent_" + "b" * 26)
        header = jwt.get_unverified_header(token)
        assert header == {"alg": "ES256", "kid": header["kid"], "typ": "at+jwt"}
        payload = jwt.decode(token, options={"verify_signature": False})
        assert payload["aud"] == "msb-wechat"
        assert payload["exp"] - payload["iat"] == 600
        assert set(payload) == {
            "iss",
            "aud",
            "sub",
            "iat",
            "nbf",
            "exp",
            "jti",
            "sid",
            "acct",
            "amr",
            "lvl",
            "acting_for",
        }

    def test_small_clock_skew_is_tolerated(self, tokens, clock):
        token = issue(tokens)
        clock.advance(600 + 3)
        assert tokens.verify(token, audiences=APP)

    def test_ttl_above_15_minutes_is_refused_at_configuration(self, signing_keys, clock):
        with pytest.raises(ValueError):
            TokenService(signing_keys, clock, issuer=ISSUER, ttl=901)

    def test_verified_by_an_independent_jose_library_against_jwks(self, database, crypto):
        clock = FixedClock(time.time())  # jwcrypto checks exp/nbf against the wall clock
        keyset = SigningKeys(database, crypto, clock, retain_seconds=1000)
        token = (
            TokenService(keyset, clock, issuer=ISSUER)
            .issue(
                subject="acc_" + "a" * 26,
                channel="alipay",
                session_id="fam-1",
                account_type="person",
                amr=["alipay"],
                level=2,
            )
            .token
        )
        jwks = jose_jwk.JWKSet.from_json(json.dumps(keyset.jwks()))
        verified = jose_jwt.JWT(
            jwt=token,
            key=jwks,
            algs=["ES256"],
            expected_type="JWS",
            check_claims={"iss": ISSUER, "aud": "msb-alipay", "exp": None, "nbf": None},
        )
        assert json.loads(verified.claims)["sub"] == "acc_" + "a" * 26
        assert json.loads(verified.header)["typ"] == "at+jwt"


class TestAttacks:
    def test_alg_none(self, tokens, signing_keys, clock):
        header = {"alg": "none", "typ": "at+jwt", "kid": signing_keys.active().kid}
        forged = f"{segment(header)}.{segment(valid_claims(clock))}."
        with pytest.raises(TokenInvalid):
            tokens.verify(forged, audiences=APP)

    @pytest.mark.parametrize("alg", ["NONE", "nOnE"])
    def test_alg_none_case_variants(self, tokens, signing_keys, clock, alg):
        header = {"alg": alg, "typ": "at+jwt", "kid": signing_keys.active().kid}
        with pytest.raises(TokenInvalid):
            tokens.verify(f"{segment(header)}.{segment(valid_claims(clock))}.", audiences=APP)

    def test_hs256_signed_with_the_public_key_pem(self, tokens, signing_keys, clock):
        key = signing_keys.active()
        pem = key.private_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        signing_input = f"{segment({'alg': 'HS256', 'typ': 'at+jwt', 'kid': key.kid})}.{segment(valid_claims(clock))}"
        signature = hmac.new(pem, signing_input.encode(), hashlib.sha256).digest()
        with pytest.raises(TokenInvalid):
            tokens.verify(f"{signing_input}.{b64(signature)}", audiences=APP)

    def test_wrong_audience(self, tokens):
        with pytest.raises(TokenInvalid):
            tokens.verify(issue(tokens, channel="wechat"), audiences=APP)
        with pytest.raises(TokenInvalid):
            tokens.verify(issue(tokens, channel="app"), audiences=["msb-console"])

    def test_audience_list_is_refused(self, tokens, signing_keys, clock):
        with pytest.raises(TokenInvalid):
            tokens.verify(
                sign_with_real_key(signing_keys, valid_claims(clock, aud=["msb-app", "msb-console"])), audiences=APP
            )

    @pytest.mark.parametrize("typ", ["JWT", "at+JWT ", "rt+jwt", None])
    def test_wrong_typ(self, tokens, signing_keys, clock, typ):
        with pytest.raises(TokenInvalid):
            tokens.verify(sign_with_real_key(signing_keys, valid_claims(clock), typ=typ), audiences=APP)

    def test_expired(self, tokens, clock):
        token = issue(tokens)
        clock.advance(600 + 6)
        with pytest.raises(TokenExpired) as caught:
            tokens.verify(token, audiences=APP)
        assert caught.value.code == "token_expired" and caught.value.http_status == 401

    def test_not_yet_valid(self, tokens, signing_keys, clock):
        future = int(clock.now()) + 120
        claims = valid_claims(clock, iat=future, nbf=future, exp=future + 600)
        with pytest.raises(TokenInvalid):
            tokens.verify(sign_with_real_key(signing_keys, claims), audiences=APP)

    def test_lifetime_longer_than_policy(self, tokens, signing_keys, clock):
        claims = valid_claims(clock, exp=int(clock.now()) + 86400)
        with pytest.raises(TokenInvalid):
            tokens.verify(sign_with_real_key(signing_keys, claims), audiences=APP)

    def test_tampered_payload(self, tokens, clock):
        header, _, signature = issue(tokens, level=2).split(".")
        forged_payload = segment(valid_claims(clock, lvl=5))
        with pytest.raises(TokenInvalid):
            tokens.verify(f"{header}.{forged_payload}.{signature}", audiences=APP)

    def test_unknown_kid_signed_by_a_foreign_key(self, tokens, clock):
        foreign = ec.generate_private_key(ec.SECP256R1())
        kid = public_jwk(foreign.public_key())["kid"]
        token = jwt.encode(valid_claims(clock), foreign, algorithm="ES256", headers={"kid": kid, "typ": "at+jwt"})
        with pytest.raises(TokenInvalid):
            tokens.verify(token, audiences=APP)

    @pytest.mark.parametrize("kid", ["../../etc/passwd", "x' OR '1'='1", "", 42, "a" * 200])
    def test_malformed_kid_is_never_looked_up(self, tokens, signing_keys, clock, kid, monkeypatch):
        looked_up = []
        monkeypatch.setattr(signing_keys, "public_key", lambda k: looked_up.append(k))
        header = {"alg": "ES256", "typ": "at+jwt", "kid": kid}
        with pytest.raises(TokenInvalid):
            tokens.verify(f"{segment(header)}.{segment(valid_claims(clock))}.{b64(b'x' * 64)}", audiences=APP)
        assert looked_up == []

    @pytest.mark.parametrize(
        "extra",
        [
            {"jku": "https://evil.example/jwks"},
            {"x5u": "https://evil.example/c"},
            {"crit": ["exp"]},
            {"b64": False, "crit": ["b64"]},
        ],
    )
    def test_unexpected_header_parameters(self, tokens, signing_keys, clock, extra):
        header = {"alg": "ES256", "typ": "at+jwt", "kid": signing_keys.active().kid, **extra}
        signing_input = f"{segment(header)}.{segment(valid_claims(clock))}"
        with pytest.raises(TokenInvalid):
            tokens.verify(f"{signing_input}.{b64(b'x' * 64)}", audiences=APP)

    @pytest.mark.parametrize("missing", ["exp", "iat", "nbf", "iss", "aud", "sub", "jti", "sid", "acct", "amr"])
    def test_missing_claim(self, tokens, signing_keys, clock, missing):
        claims = valid_claims(clock)
        del claims[missing]
        with pytest.raises(TokenInvalid):
            tokens.verify(sign_with_real_key(signing_keys, claims), audiences=APP)

    @pytest.mark.parametrize(
        "override",
        [
            {"iss": "https://evil.test"},
            {"sub": "13812345678"},
            {"acct": "admin"},
            {"lvl": "5"},
            {"exp": "9999999999"},
            {"amr": "sms"},
        ],
    )
    def test_wrong_claim_values(self, tokens, signing_keys, clock, override):
        with pytest.raises(TokenInvalid):
            tokens.verify(sign_with_real_key(signing_keys, valid_claims(clock, **override)), audiences=APP)

    def test_psychic_signature_zero_r_s(self, tokens, signing_keys, clock):
        # CVE-2022-21449 shape: r = s = 0.
        header = {"alg": "ES256", "typ": "at+jwt", "kid": signing_keys.active().kid}
        with pytest.raises(TokenInvalid):
            tokens.verify(f"{segment(header)}.{segment(valid_claims(clock))}.{b64(bytes(64))}", audiences=APP)

    @pytest.mark.parametrize("garbage", ["", "a.b", "a.b.c.d", "x" * 5000, "rt1." + "A" * 43, None, b"bytes.are.not"])
    def test_garbage_and_refresh_tokens(self, tokens, garbage):
        with pytest.raises(TokenInvalid):
            tokens.verify(garbage, audiences=APP)


class TestKeyRotation:
    def test_private_keys_are_encrypted_at_rest(self, signing_keys, database, crypto):
        kid = signing_keys.active().kid
        with database.transaction() as conn:
            rows = conn.execute("SELECT kid, private_enc, public_jwk::text AS public_jwk FROM signing_keys").fetchall()
        assert [row["kid"] for row in rows] == [kid]
        (row,) = rows
        assert "PRIVATE KEY" not in row["private_enc"] and '"d"' not in row["public_jwk"]
        assert "PRIVATE KEY" in crypto.decrypt(row["private_enc"], context=f"signing-key:{kid}")

    def test_old_tokens_verify_until_the_old_key_is_pruned(self, signing_keys, tokens, clock):
        old_token = issue(tokens)
        old_kid = signing_keys.active().kid
        new_kid = signing_keys.rotate()
        assert new_kid != old_kid
        new_token = issue(tokens)
        assert jwt.get_unverified_header(new_token)["kid"] == new_kid
        assert tokens.verify(old_token, audiences=APP)
        assert [key["kid"] for key in signing_keys.jwks()["keys"]] == [new_kid, old_kid]
        clock.advance(1000)
        assert [key["kid"] for key in signing_keys.jwks()["keys"]] == [new_kid]
        assert signing_keys.public_key(old_kid) is None
        signing_keys.rotate()
        assert len(signing_keys.jwks()["keys"]) == 2  # the first key is gone from the table too

    def test_drop_previous_distrusts_old_tokens_at_once(self, signing_keys, tokens):
        old_token = issue(tokens)
        signing_keys.rotate(drop_previous=True)
        with pytest.raises(TokenInvalid):
            tokens.verify(old_token, audiences=APP)
        assert len(signing_keys.jwks()["keys"]) == 1

    def test_workers_share_keys_and_learn_new_kids(self, database, crypto, clock, signing_keys, tokens):
        other_worker = SigningKeys(database, crypto, clock, retain_seconds=1000, cache_seconds=30)
        other_tokens = TokenService(other_worker, clock, issuer=ISSUER)
        assert other_tokens.verify(issue(tokens), audiences=APP)
        signing_keys.rotate()
        clock.advance(2)  # unknown-kid reloads are rate-limited to one a second
        assert other_tokens.verify(issue(tokens), audiences=APP)

    def test_concurrent_bootstrap_creates_one_active_key(self, database, crypto, clock):
        workers = [SigningKeys(database, crypto, clock, retain_seconds=1000) for _ in range(3)]
        start = threading.Barrier(len(workers))
        kids = []

        def first_use(worker):
            start.wait()
            kids.append(worker.active().kid)

        threads = [threading.Thread(target=first_use, args=(worker,)) for worker in workers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(kids) == 3 and len(set(kids)) == 1
        with database.transaction() as conn:
            assert conn.execute("SELECT count(*) AS n FROM signing_keys").fetchone()["n"] == 1

    def test_two_rotations_at_once_leave_one_active_key(self, database, crypto, clock, signing_keys):
        first = signing_keys.active().kid
        hosts = [SigningKeys(database, crypto, clock, retain_seconds=1000) for _ in range(2)]
        start = threading.Barrier(len(hosts))
        new_kids = []

        def rotate(host):
            start.wait()
            new_kids.append(host.rotate())

        threads = [threading.Thread(target=rotate, args=(host,)) for host in hosts]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        with database.transaction() as conn:
            rows = conn.execute("SELECT kid, retired_at FROM signing_keys").fetchall()
        active = [row["kid"] for row in rows if row["retired_at"] is None]
        assert len(new_kids) == 2 and len(active) == 1 and active[0] in new_kids
        assert {row["kid"] for row in rows} == {first, *new_kids}

    def test_jwks_is_rfc7517(self, signing_keys):
        (key,) = signing_keys.jwks()["keys"]
        assert set(key) == {"kty", "crv", "x", "y", "kid", "use", "alg"}
        assert (key["kty"], key["crv"], key["alg"], key["use"]) == ("EC", "P-256", "ES256", "sig")
