"""Natural-person accounts, their bindings and merges (Redis hashes + index keys); preferences in PostgreSQL.

Bindings are how an account is reached: ``wechat`` (openid + unionid), ``alipay`` (open_id +
user_id), ``phone`` (SMS or WeChat phone button) and ``realname`` (the verified ID number). Each
identifier is stored encrypted inside its binding and reachable only through a blind-index key
``auth:idx:{kind}:{hmac}`` pointing at the account.

Resolution: an identifier already indexed leads to its account; identifiers of one binding that
lead to two accounts (a unionid seen first on one account and an openid on another, a phone
already bound elsewhere, an ID number verified on two accounts) mean one person, so the accounts
are merged. Every write is a WATCH/MULTI transaction: two first logins with the same openid cannot
create two accounts, and a merge is applied entirely or not at all.

Merge semantics: the survivor is the account with the higher real-name level, then the older one.
It receives every binding (all index keys re-pointed), every enterprise link (the stronger of two)
and the absorbed account's refresh families (added to its family index, so logout-all covers
them). The absorbed account keeps only ``merged_into``: its id still resolves, so access tokens and
refresh families minted for it keep working for the survivor instead of logging the user out.
Survivor preferences win. Two accounts verified as *different* people never merge
(``binding_conflict``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

import redis

from auth import keys
from auth.enterprises import EnterpriseLink, link_strength
from auth.errors import BindingConflict, BindingNotFound, InvalidInput, LastBinding
from auth.account_values import (REALNAME_CHANNEL, AccountSummary, AccountView, Attachment, Binding, Identity,
                                 binding_from)
from auth import preference_records
from auth.preferences import Preferences
from auth.realname import RealnameLevel
from kernel.clock import Clock
from kernel.crypto import Crypto
from kernel.ids import new_id
from kernel.postgres import Database

# Prefix of a person's account id (``kernel.ids``: opaque, no personal data, not sequential).
PERSON_PREFIX = "acc_"

LOGIN_CHANNELS = ("wechat", "alipay", "phone")
_MAX_MERGE_HOPS = 8
_MAX_ATTEMPTS = 8


class _Retry(Exception):
    """State changed under a transaction in a way WATCH alone cannot express; start over."""


class IdentityOwned(Exception):
    """``attach(..., merge=False)``: the identity already leads to another live account."""

    def __init__(self, owner: str) -> None:
        super().__init__("identity bound to another account")
        self.owner = owner


class AccountStore:
    def __init__(self, redis_client: redis.Redis, crypto: Crypto, clock: Clock, *, database: Database) -> None:
        self._redis = redis_client
        self._database = database
        self._crypto = crypto
        self._clock = clock

    # --- lookups ------------------------------------------------------------------------------

    def resolve(self, account_id: str) -> str:
        """Follow merge pointers to the live account."""
        current = account_id
        for _ in range(_MAX_MERGE_HOPS):
            successor = self._redis.hget(keys.account(current), "merged_into")
            if not successor:
                return current
            current = successor
        raise RuntimeError("merge chain too long")

    def current(self, account_id: str) -> tuple[str, int, int]:
        """The live account id, its real-name level and its ``tokens_after`` epoch second (0 when
        never set), one round trip per merge hop."""
        current = account_id
        for _ in range(_MAX_MERGE_HOPS):
            successor, level, after = self._redis.hmget(
                keys.account(current), "merged_into", "realname_level", "tokens_after"
            )
            if not successor:
                return current, int(level or RealnameLevel.BASIC), int(after or 0)
            current = successor
        raise RuntimeError("merge chain too long")

    def level(self, account_id: str) -> int:
        return int(self._redis.hget(keys.account(account_id), "realname_level") or RealnameLevel.BASIC)

    def blind_id_number(self, id_number: str) -> str:
        return self._crypto.blind_index("id_number", id_number)

    def _bindings(self, account_id: str) -> dict[str, dict[str, Any]]:
        raw = self._redis.hgetall(keys.account_bindings(account_id))
        return {binding_id: json.loads(value) for binding_id, value in raw.items()}

    def _realname_record(self, account_id: str) -> dict[str, Any] | None:
        return next((rec for rec in self._bindings(account_id).values() if rec["channel"] == REALNAME_CHANNEL), None)

    def realname_index(self, account_id: str) -> str | None:
        record = self._realname_record(account_id)
        return record["indexes"]["id_number"] if record else None

    def realname_name(self, account_id: str) -> str | None:
        """The verified name, decrypted (for the legal-representative check only)."""
        record = self._realname_record(account_id)
        return self._crypto.decrypt(record["enc"]["name"], context="name") if record else None

    def realname_identity(self, account_id: str) -> tuple[str, str] | None:
        """(name, ID number) decrypted in memory: for the register's match APIs (legal
        representative, face check) only, never stored or logged."""
        record = self._realname_record(account_id)
        if record is None:
            return None
        enc = record["enc"]
        return (
            self._crypto.decrypt(enc["name"], context="name"),
            self._crypto.decrypt(enc["id_number"], context="id_number"),
        )

    def phones(self, account_id: str) -> list[str]:
        """The account's bound phone numbers, decrypted (security notices by SMS)."""
        return [
            self._crypto.decrypt(rec["enc"]["phone"], context="phone")
            for rec in self._bindings(account_id).values()
            if rec["channel"] == "phone" and "phone" in rec.get("enc", {})
        ]

    def raise_level(self, account_id: str, level: int, source: str) -> None:
        """Raise (never lower) the real-name level, e.g. to 四级 after a face check."""

        def update(pipe: redis.client.Pipeline) -> None:
            current = int(pipe.hget(keys.account(account_id), "realname_level") or RealnameLevel.BASIC)
            pipe.multi()
            if level > current:
                pipe.hset(
                    keys.account(account_id),
                    mapping={"realname_level": level, "realname_source": source, "realname_at": repr(self._clock.now())},
                )

        self._redis.transaction(update, keys.account(account_id))

    def set_tokens_after(self, account_id: str, epoch_second: int) -> None:
        self._redis.hset(keys.account(account_id), "tokens_after", int(epoch_second))

    def bindings(self, account_id: str) -> list[Binding]:
        return sorted(
            (binding_from(bid, rec) for bid, rec in self._bindings(account_id).items()),
            key=lambda b: (b.bound_at, b.binding_id),
        )

    def summary(self, account_id: str) -> AccountSummary:
        channels = sorted({binding.channel for binding in self.bindings(account_id)})
        return AccountSummary(account_id, "person", self.level(account_id), tuple(channels))

    def view(self, account_id: str, *, enterprises: Iterable[EnterpriseLink] = ()) -> AccountView:
        data = self._redis.hgetall(keys.account(account_id))
        records = self._bindings(account_id)
        bindings = sorted(
            (binding_from(bid, rec) for bid, rec in records.items()), key=lambda b: (b.bound_at, b.binding_id)
        )
        realname = next((rec for rec in records.values() if rec["channel"] == REALNAME_CHANNEL), None)
        return AccountView(
            id=account_id,
            type=data.get("type", "person"),
            realname_level=int(data.get("realname_level") or RealnameLevel.BASIC),
            name_masked=realname.get("masked_name") if realname else None,
            id_number_masked=realname.get("masked") if realname else None,
            phones_masked=tuple(b.masked for b in bindings if b.channel == "phone" and b.masked),
            bindings=tuple(bindings),
            enterprises=tuple(enterprises),
            preferences=self.preferences(account_id),
        )

    # --- attaching identities -----------------------------------------------------------------

    def attach(
        self,
        channel: str,
        identities: list[Identity],
        *,
        account_id: str | None = None,
        masked: str | None = None,
        via: str | None = None,
        extra: Mapping[str, Any] | None = None,
        level: tuple[int, str] | None = None,
        merge: bool = True,
    ) -> Attachment:
        """Bind ``identities`` (first one = the binding's identity) to ``account_id``, or find or
        create the account they lead to when ``account_id`` is None. Merges accounts the
        identities show to be one person; with ``merge=False`` (a real-name ID number, which is
        knowable by strangers) raises ``IdentityOwned`` instead. ``extra`` holds more encrypted
        fields (``enc_*``) or display fields; ``level`` raises the real-name level (level, source)
        in the same MULTI."""
        blinds = {identity.kind: self._crypto.blind_index(identity.kind, identity.value) for identity in identities}
        binding_id = f"{channel}:{blinds[identities[0].kind][:12]}"
        merged: list[str] = []
        for _ in range(_MAX_ATTEMPTS):
            owners: list[str] = []
            for kind, blind in blinds.items():
                owner = self._redis.get(keys.identity_index(kind, blind))
                owner = self.resolve(owner) if owner else None
                if owner and owner not in owners:
                    owners.append(owner)
            target = self.resolve(account_id) if account_id else (owners[0] if owners else None)
            others = [owner for owner in owners if owner != target]
            if others and not merge:
                raise IdentityOwned(others[0])
            if target is not None and others:
                survivor, absorbed = self.merge(target, others[0], reason=f"{channel}_identity")
                merged.append(absorbed)
                account_id = survivor
                continue
            try:
                final_id, created, new_binding = self._write_binding(
                    target, binding_id, channel, identities, blinds, masked, via, extra, level
                )
            except _Retry:
                continue
            return Attachment(final_id, created, tuple(merged), new_binding, binding_id)
        raise RuntimeError("could not attach identity: too much contention")

    def _write_binding(
        self,
        target: str | None,
        binding_id: str,
        channel: str,
        identities: list[Identity],
        blinds: dict[str, str],
        masked: str | None,
        via: str | None,
        extra: Mapping[str, Any] | None,
        level: tuple[int, str] | None,
    ) -> tuple[str, bool, bool]:
        account_id = target or new_id(PERSON_PREFIX)
        was_new = [False]
        index_keys = [keys.identity_index(kind, blind) for kind, blind in blinds.items()]
        now = self._clock.now()

        def write(pipe: redis.client.Pipeline) -> None:
            for index_key in index_keys:
                owner = pipe.get(index_key)
                if owner and owner != account_id and self.resolve(owner) != account_id:
                    raise _Retry()
            account = pipe.hgetall(keys.account(account_id))
            if target is not None and (account.get("type") != "person" or account.get("merged_into")):
                raise _Retry()
            existing = pipe.hget(keys.account_bindings(account_id), binding_id)
            was_new[0] = existing is None
            record = (
                json.loads(existing)
                if existing
                else {"channel": channel, "indexes": {}, "enc": {}, "bound_at": now, "via": via}
            )
            record["indexes"].update(blinds)
            for identity in identities:
                record["enc"][identity.kind] = self._crypto.encrypt(identity.value, context=identity.kind)
            if masked:
                record["masked"] = masked
            for name, value in (extra or {}).items():
                if name.startswith("enc_"):
                    record["enc"][name[4:]] = self._crypto.encrypt(value, context=name[4:])
                else:
                    record[name] = value
            pipe.multi()
            if target is None:
                pipe.hset(
                    keys.account(account_id),
                    mapping={"type": "person", "created_at": repr(now), "realname_level": int(RealnameLevel.BASIC)},
                )
            if level is not None and level[0] > int(account.get("realname_level") or RealnameLevel.BASIC):
                pipe.hset(
                    keys.account(account_id),
                    mapping={"realname_level": int(level[0]), "realname_source": level[1], "realname_at": repr(now)},
                )
            pipe.hset(keys.account_bindings(account_id), binding_id, json.dumps(record))
            for index_key in index_keys:
                pipe.set(index_key, account_id)

        self._redis.transaction(write, *index_keys, keys.account(account_id), keys.account_bindings(account_id))
        return account_id, target is None, was_new[0]

    def set_realname(
        self, account_id: str, *, name: str, id_number: str, level: int, source: str, masked: str, masked_name: str
    ) -> Attachment:
        return self.attach(
            REALNAME_CHANNEL,
            [Identity("id_number", id_number)],
            account_id=account_id,
            masked=masked,
            via=source,
            extra={"enc_name": name, "masked_name": masked_name},
            level=(level, source),
            merge=False,  # name + ID number leak in bulk: they never lead into another account
        )

    # --- merging ------------------------------------------------------------------------------

    def _survivor_first(self, first: tuple[str, dict], second: tuple[str, dict]) -> tuple[str, str]:
        def rank(item: tuple[str, dict]) -> tuple[int, float, str]:
            account_id, data = item
            return (
                -int(data.get("realname_level") or RealnameLevel.BASIC),
                float(data.get("created_at") or 0),
                account_id,
            )

        survivor, absorbed = sorted((first, second), key=rank)
        return survivor[0], absorbed[0]

    def merge(self, a: str, b: str, *, reason: str, survivor: str | None = None) -> tuple[str, str]:
        """Merge two live person accounts; returns (survivor, absorbed). ``survivor`` forces which
        one lives on (a proven real-name claim: the existing account keeps its data)."""
        for _ in range(_MAX_ATTEMPTS):
            a, b = self.resolve(a), self.resolve(b)
            if a == b:
                return a, b
            forced = self.resolve(survivor) if survivor else None
            try:
                return self._merge_once(a, b, reason, forced)
            except _Retry:
                continue
        raise RuntimeError("could not merge accounts: too much contention")

    def _merge_once(self, a: str, b: str, reason: str, forced: str | None = None) -> tuple[str, str]:
        watched = [
            key
            for account_id in (a, b)
            for key in (
                keys.account(account_id),
                keys.account_bindings(account_id),
                keys.account_enterprises(account_id),
                keys.account_families(account_id),
            )
        ]
        now = self._clock.now()

        def merge(pipe: redis.client.Pipeline) -> tuple[str, str]:
            data = {account_id: pipe.hgetall(keys.account(account_id)) for account_id in (a, b)}
            if any(d.get("type") != "person" or d.get("merged_into") for d in data.values()):
                raise _Retry()
            survivor, absorbed = self._survivor_first((a, data[a]), (b, data[b]))
            if forced in (a, b):
                survivor, absorbed = forced, (b if forced == a else a)
            kept = {bid: json.loads(raw) for bid, raw in pipe.hgetall(keys.account_bindings(survivor)).items()}
            moving = {bid: json.loads(raw) for bid, raw in pipe.hgetall(keys.account_bindings(absorbed)).items()}
            kept_realname = {bid for bid, rec in kept.items() if rec["channel"] == REALNAME_CHANNEL}
            moving_realname = {bid for bid, rec in moving.items() if rec["channel"] == REALNAME_CHANNEL}
            if kept_realname and moving_realname and kept_realname != moving_realname:
                raise BindingConflict()
            kept_links = pipe.hgetall(keys.account_enterprises(survivor))
            moving_links = pipe.hgetall(keys.account_enterprises(absorbed))
            families = pipe.smembers(keys.account_families(absorbed))

            pipe.multi()
            for binding_id, record in moving.items():
                if binding_id in kept:  # same identity on both: keep the union of its indexes
                    record = {
                        **record,
                        "indexes": {**record["indexes"], **kept[binding_id]["indexes"]},
                        "enc": {**record["enc"], **kept[binding_id]["enc"]},
                    }
                pipe.hset(keys.account_bindings(survivor), binding_id, json.dumps(record))
                for kind, blind in record["indexes"].items():
                    pipe.set(keys.identity_index(kind, blind), survivor)
            absorbed_level = int(data[absorbed].get("realname_level") or RealnameLevel.BASIC)
            if absorbed_level > int(data[survivor].get("realname_level") or RealnameLevel.BASIC):
                pipe.hset(
                    keys.account(survivor),
                    mapping={
                        "realname_level": absorbed_level,
                        "realname_source": data[absorbed].get("realname_source", ""),
                        "realname_at": data[absorbed].get("realname_at", repr(now)),
                    },
                )
            for enterprise_id, raw in moving_links.items():
                best = (
                    raw
                    if link_strength(raw) > link_strength(kept_links.get(enterprise_id))
                    else kept_links[enterprise_id]
                )
                pipe.hset(keys.account_enterprises(survivor), enterprise_id, best)
                pipe.hset(keys.enterprise_members(enterprise_id), survivor, best)
                pipe.hdel(keys.enterprise_members(enterprise_id), absorbed)
            if families:
                pipe.sadd(keys.account_families(survivor), *families)
                pipe.expire(keys.account_families(survivor), keys.ACCOUNT_FAMILIES_TTL)
            pipe.delete(
                keys.account_bindings(absorbed), keys.account_enterprises(absorbed), keys.account_families(absorbed)
            )
            pipe.hdel(keys.account(absorbed), "realname_level", "realname_source", "realname_at")
            pipe.hset(
                keys.account(absorbed),
                mapping={"merged_into": survivor, "merged_at": repr(now), "merge_reason": reason},
            )
            return survivor, absorbed

        survivor, absorbed = self._redis.transaction(merge, *watched, value_from_callable=True)
        with self._database.transaction() as conn:
            preference_records.forget(conn, absorbed)
        return survivor, absorbed

    # --- removing bindings --------------------------------------------------------------------

    def unbind(self, account_id: str, channel: str, binding_id: str | None = None) -> list[Binding]:
        """Remove the account's bindings of ``channel`` (or just ``binding_id``). Refuses to remove
        the last way to log in; real-name verification cannot be unbound."""
        if channel not in LOGIN_CHANNELS:
            raise InvalidInput("channel")

        def remove(pipe: redis.client.Pipeline) -> list[Binding]:
            records = {bid: json.loads(raw) for bid, raw in pipe.hgetall(keys.account_bindings(account_id)).items()}
            targets = {
                bid: rec for bid, rec in records.items() if rec["channel"] == channel and binding_id in (None, bid)
            }
            if not targets:
                raise BindingNotFound()
            remaining = {bid: rec for bid, rec in records.items() if bid not in targets}
            if not any(rec["channel"] in LOGIN_CHANNELS for rec in remaining.values()):
                raise LastBinding()
            still_used = {(kind, blind) for rec in remaining.values() for kind, blind in rec["indexes"].items()}
            pipe.multi()
            pipe.hdel(keys.account_bindings(account_id), *targets)
            for record in targets.values():
                for kind, blind in record["indexes"].items():
                    if (kind, blind) not in still_used:
                        pipe.delete(keys.identity_index(kind, blind))
            return [binding_from(bid, rec) for bid, rec in targets.items()]

        return self._redis.transaction(remove, keys.account_bindings(account_id), value_from_callable=True)

    # --- preferences --------------------------------------------------------------------------

    def preferences(self, account_id: str) -> Preferences:
        with self._database.transaction() as conn:
            return preference_records.load(conn, account_id)

    def update_preferences(self, account_id: str, changes: Mapping[str, Any]) -> Preferences:
        """The record alone (tools, tests); ``AuthService.update_preferences`` also tells other packages."""
        with self._database.transaction() as conn:
            return preference_records.update(conn, account_id, changes)
