"""Natural-person accounts, their bindings and merges: PostgreSQL records (``auth.account_records``).

Bindings are how an account is reached: ``wechat`` (openid + unionid), ``alipay`` (open_id +
user_id), ``phone`` (SMS or WeChat phone button) and ``realname`` (the verified ID number). Each
identifier is stored encrypted inside its binding and reachable only through a blind-index row
``identity_index (kind, blind)`` pointing at the account.

Resolution: an identifier already indexed leads to its account; identifiers of one binding that
lead to two accounts (a unionid seen first on one account and an openid on another, a phone
already bound elsewhere, an ID number verified on two accounts) mean one person, so the accounts
are merged. The lookup's primary key is the guard against duplicates: two first logins with the same
openid both try to insert its row, the database lets one win and the other starts over and finds it.
Accounts are row-locked in id order (then their lookup rows), so concurrent merges cannot deadlock, and
a merge is one transaction: applied entirely or not at all.

Merge semantics: the survivor is the account with the higher real-name level, then the older one.
It receives every binding (all lookups re-pointed), every enterprise link (the stronger of two)
and — after the commit, in Redis — the absorbed account's refresh families (added to its family
index, so logout-all covers them). The absorbed account keeps only ``merged_into``: its id still
resolves, so access tokens and refresh families minted for it keep working for the survivor instead
of logging the user out. Survivor preferences win. Two accounts verified as *different* people never
merge (``binding_conflict``).

Writing methods take an optional ``work`` (``AccountStore.work()``): the flow's one transaction, in
which the service also writes the events the change announces (``AccountWork.add_event``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import psycopg
import redis
from psycopg import errors as pg_errors

from auth import account_records as records
from auth import enterprise_records, keys
from auth.enterprises import EnterpriseLink
from auth.errors import BindingConflict, BindingNotFound, InvalidInput, LastBinding
from auth.account_values import (REALNAME_CHANNEL, AccountSummary, AccountView, Attachment, Binding, Identity,
                                 binding_from)
from auth import preference_records
from auth.account_work import AccountWork, AttachRequest
from auth.preferences import Preferences
from auth.realname import RealnameLevel
from kernel.clock import Clock
from kernel.crypto import Crypto
from kernel.ids import new_id
from kernel.postgres import Database

# Prefix of a person's account id (``kernel.ids``: opaque, no personal data, not sequential).
PERSON_PREFIX = "acc_"

LOGIN_CHANNELS = ("wechat", "alipay", "phone")
_MAX_ATTEMPTS = 8
# A lost race for a lookup row, or PostgreSQL breaking a lock cycle: undo the attempt and start over.
_RACES = (pg_errors.UniqueViolation, pg_errors.DeadlockDetected, pg_errors.SerializationFailure)

class _Retry(Exception):
    """State changed between reading and locking; undo this attempt and start over."""


class IdentityOwned(Exception):
    """``attach(..., merge=False)``: the identity already leads to another live account."""

    def __init__(self, owner: str) -> None:
        super().__init__("identity bound to another account")
        self.owner = owner


class AccountStore:
    def __init__(self, redis_client: redis.Redis, crypto: Crypto, clock: Clock, *, database: Database) -> None:
        self._redis = redis_client  # refresh-family indexes only (see _adopt_families)
        self._database = database
        self._crypto = crypto
        self._clock = clock

    # --- units of work ------------------------------------------------------------------------

    @contextmanager
    def work(self) -> Iterator[AccountWork]:
        # ``Database.transaction()`` opens an explicit block, so the attempts' ``conn.transaction()`` are savepoints.
        with self._database.transaction() as conn:
            work = AccountWork(conn)
            yield work
        self._adopt_families(work.merges)
        for callback in work.after_commit:
            callback()

    @contextmanager
    def _within(self, work: AccountWork | None) -> Iterator[AccountWork]:
        if work is not None:
            yield work
        else:
            with self.work() as own:
                yield own

    @contextmanager
    def _reading(self) -> Iterator[psycopg.Connection]:
        with self._database.transaction() as conn:
            yield conn

    def _adopt_families(self, merges: list[tuple[str, str]]) -> None:
        """The absorbed accounts' refresh families join the survivor's index (logout-all covers them).
        Idempotent; runs after the commit, so a failed merge never touches Redis."""
        for survivor, absorbed in merges:
            families = self._redis.smembers(keys.account_families(absorbed))
            if not families:
                continue
            # Two accounts, two slots: the survivor's index first, the absorbed one's removed only
            # once that succeeded, so a failure in between leaves a family indexed twice, never lost.
            with self._redis.pipeline(transaction=True) as pipe:
                pipe.sadd(keys.account_families(survivor), *families)
                pipe.expire(keys.account_families(survivor), keys.ACCOUNT_FAMILIES_TTL)
                pipe.execute()
            self._redis.delete(keys.account_families(absorbed))

    # --- lookups ------------------------------------------------------------------------------

    def resolve(self, account_id: str) -> str:
        """Follow merge pointers to the live account (an unknown id resolves to itself)."""
        return self.current(account_id)[0]

    def current(self, account_id: str) -> tuple[str, int, int]:
        """The live account id, its real-name level and its ``tokens_after`` epoch second (0 when
        never set): one indexed statement whatever the number of merge hops."""
        with self._reading() as conn:
            row = records.follow(conn, [account_id]).get(account_id)
        if row is None:
            return account_id, int(RealnameLevel.BASIC), 0
        return row["id"], int(row["realname_level"]), int(row["tokens_after"])

    def level(self, account_id: str) -> int:
        with self._reading() as conn:
            account = records.get(conn, account_id)
        return int(account["realname_level"]) if account else int(RealnameLevel.BASIC)

    def blind_id_number(self, id_number: str) -> str:
        return self._crypto.blind_index("id_number", id_number)

    def owner_of(self, kind: str, identifier: str) -> str | None:
        """The live account an identifier leads to (push resolves an openid this way)."""
        with self._reading() as conn:
            owner = records.owner(conn, kind, self._crypto.blind_index(kind, identifier))
            if owner is None:
                return None
            row = records.follow(conn, [owner]).get(owner)
        return row["id"] if row else owner

    def _bindings(self, account_id: str) -> dict[str, dict[str, Any]]:
        with self._reading() as conn:
            return records.bindings(conn, account_id)

    def _realname_record(self, account_id: str) -> dict[str, Any] | None:
        return next((rec for rec in self._bindings(account_id).values() if rec["channel"] == REALNAME_CHANNEL), None)

    def realname_index(self, account_id: str) -> str | None:
        record = self._realname_record(account_id)
        return record["indexes"]["id_number"] if record else None

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

    def raise_level(self, account_id: str, level: int, source: str, *, work: AccountWork | None = None) -> None:
        """Raise (never lower) the real-name level, e.g. to 四级 after a face check."""
        with self._within(work) as tx:
            records.raise_level(tx.conn, account_id, int(level), source, self._clock.now())

    def set_tokens_after(self, account_id: str, epoch_second: int, *, work: AccountWork | None = None) -> None:
        with self._within(work) as tx:
            records.set_tokens_after(tx.conn, account_id, epoch_second)

    def bindings(self, account_id: str) -> list[Binding]:
        """In binding order (``account_records.bindings`` reads them ORDER BY bound_at, binding_id)."""
        return [binding_from(bid, rec) for bid, rec in self._bindings(account_id).items()]

    def summary(self, account_id: str) -> AccountSummary:
        with self._reading() as conn:
            account = records.get(conn, account_id)
            channels = sorted({rec["channel"] for rec in records.bindings(conn, account_id).values()})
        level = int(account["realname_level"]) if account else int(RealnameLevel.BASIC)
        return AccountSummary(account_id, "person", level, tuple(channels))

    def view(self, account_id: str, *, enterprises: Iterable[EnterpriseLink] = ()) -> AccountView:
        with self._reading() as conn:
            account = records.get(conn, account_id) or {}
            stored = records.bindings(conn, account_id)
            preferences = preference_records.load(conn, account_id)
        bindings = [binding_from(bid, rec) for bid, rec in stored.items()]  # already in binding order
        realname = next((rec for rec in stored.values() if rec["channel"] == REALNAME_CHANNEL), None)
        return AccountView(
            id=account_id,
            type=account.get("type", "person"),
            realname_level=int(account.get("realname_level") or RealnameLevel.BASIC),
            name_masked=realname.get("masked_name") if realname else None,
            id_number_masked=realname.get("masked") if realname else None,
            phones_masked=tuple(b.masked for b in bindings if b.channel == "phone" and b.masked),
            bindings=tuple(bindings),
            enterprises=tuple(enterprises),
            preferences=preferences,
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
        work: AccountWork | None = None,
    ) -> Attachment:
        """Bind ``identities`` (first one = the binding's identity) to ``account_id``, or find or
        create the account they lead to when ``account_id`` is None. Merges accounts the
        identities show to be one person; with ``merge=False`` (a real-name ID number, which is
        knowable by strangers) raises ``IdentityOwned`` instead. ``extra`` holds more encrypted
        fields (``enc_*``) or display fields; ``level`` raises the real-name level (level, source)
        in the same transaction."""
        blinds = {identity.kind: self._crypto.blind_index(identity.kind, identity.value) for identity in identities}
        request = AttachRequest(channel, identities, blinds, f"{channel}:{blinds[identities[0].kind][:12]}",
                                 account_id, masked, via, extra or {}, level, merge)
        with self._within(work) as tx:
            for _ in range(_MAX_ATTEMPTS):
                merges_before = len(tx.merges)
                try:
                    with tx.conn.transaction():  # a savepoint: a lost race undoes this attempt only
                        return self._attach_once(tx, request)
                except (_Retry, *_RACES):
                    del tx.merges[merges_before:]
                    continue
        raise RuntimeError("could not attach identity: too much contention")

    def _attach_once(self, work: AccountWork, request: AttachRequest) -> Attachment:
        conn = work.conn
        seen = records.index_owners(conn, request.blinds)  # unlocked first look: whose accounts to lock
        starts = [*seen.values(), *([request.account_id] if request.account_id else [])]
        live = {start: row["id"] for start, row in records.follow(conn, starts).items()}
        owners = list(dict.fromkeys(live.get(seen[kind], seen[kind]) for kind in request.blinds if kind in seen))
        target = live.get(request.account_id, request.account_id) if request.account_id else (
            owners[0] if owners else None)
        others = [owner for owner in owners if owner != target]
        if others and not request.merge:
            raise IdentityOwned(others[0])
        if len(seen) == len(request.blinds) and len(owners) == 1 and self._already_bound(conn, owners[0], request):
            return Attachment(target, False, (), False, request.binding_id)  # a returning login writes nothing
        involved = [account for account in (target, *others) if account is not None]
        locked = records.lock(conn, involved) if involved else {}
        if len(locked) != len(set(involved)) or any(row["merged_into"] for row in locked.values()):
            raise _Retry()  # merged or gone between the look and the lock
        if records.index_owners(conn, request.blinds, for_update=True) != seen:
            raise _Retry()  # a lookup row changed owner: look again
        merged = []
        for other in others:
            target, absorbed = self._merge_locked(work, target, other, f"{request.channel}_identity", None)
            merged.append(absorbed)
        created = target is None
        now = self._clock.now()
        if created:
            target = new_id(PERSON_PREFIX)
            records.create_person(conn, target, now)
        missing = {kind: blind for kind, blind in request.blinds.items() if kind not in seen}
        if records.claim_index(conn, missing, target) != len(missing):
            raise _Retry()  # another transaction claimed a lookup first: it wins, we look again
        existing = records.binding(conn, target, request.binding_id)
        record = existing or {"channel": request.channel, "indexes": {}, "enc": {}, "bound_at": now,
                              "via": request.via}
        record["indexes"].update(request.blinds)
        for identity in request.identities:
            record["enc"][identity.kind] = self._crypto.encrypt(identity.value, context=identity.kind)
        if request.masked:
            record["masked"] = request.masked
        for name, value in request.extra.items():
            if name.startswith("enc_"):
                record["enc"][name[4:]] = self._crypto.encrypt(value, context=name[4:])
            else:
                record[name] = value
        records.save_binding(conn, target, request.binding_id, record)
        if request.level is not None:
            records.raise_level(conn, target, int(request.level[0]), request.level[1], now)
        return Attachment(target, created, tuple(merged), existing is None, request.binding_id)

    @staticmethod
    def _already_bound(conn: psycopg.Connection, account_id: str, request: AttachRequest) -> bool:
        """Every identifier already leads to ``account_id`` through this binding and nothing is to be added."""
        if request.extra or request.level is not None or request.account_id:
            return False
        existing = records.binding(conn, account_id, request.binding_id)
        return (existing is not None and request.blinds.items() <= existing["indexes"].items()
                and request.masked in (None, existing.get("masked")))

    def set_realname(
        self, account_id: str, *, name: str, id_number: str, level: int, source: str, masked: str, masked_name: str,
        work: AccountWork | None = None,
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
            work=work,
        )

    # --- merging ------------------------------------------------------------------------------

    @staticmethod
    def _survivor_first(first: dict[str, Any], second: dict[str, Any]) -> tuple[str, str]:
        def rank(account: dict[str, Any]) -> tuple[int, float, str]:
            return (-int(account["realname_level"]), float(account["created_at"] or 0), account["id"])

        survivor, absorbed = sorted((first, second), key=rank)
        return survivor["id"], absorbed["id"]

    def merge(self, a: str, b: str, *, reason: str, survivor: str | None = None,
              work: AccountWork | None = None) -> tuple[str, str]:
        """Merge two live person accounts; returns (survivor, absorbed). ``survivor`` forces which
        one lives on (a proven real-name claim: the existing account keeps its data)."""
        with self._within(work) as tx:
            for _ in range(_MAX_ATTEMPTS):
                merges_before = len(tx.merges)
                try:
                    with tx.conn.transaction():
                        live = records.follow(tx.conn, [a, b, *([survivor] if survivor else [])])
                        a_live, b_live = (live[a]["id"] if a in live else a), (live[b]["id"] if b in live else b)
                        if a_live == b_live:
                            return a_live, b_live
                        forced = live[survivor]["id"] if survivor in live else survivor
                        locked = records.lock(tx.conn, [a_live, b_live])
                        if len(locked) != 2 or any(row["merged_into"] for row in locked.values()):
                            raise _Retry()
                        return self._merge_locked(tx, a_live, b_live, reason, forced)
                except (_Retry, *_RACES):
                    del tx.merges[merges_before:]
                    continue
        raise RuntimeError("could not merge accounts: too much contention")

    def _merge_locked(self, work: AccountWork, a: str, b: str, reason: str, forced: str | None) -> tuple[str, str]:
        """Both accounts are live and row-locked by this transaction."""
        conn = work.conn
        data = {account_id: records.get(conn, account_id) for account_id in (a, b)}
        if any(account is None or account["type"] != "person" for account in data.values()):
            raise _Retry()
        survivor, absorbed = self._survivor_first(data[a], data[b])
        if forced in (a, b):
            survivor, absorbed = forced, (b if forced == a else a)
        kept = records.bindings(conn, survivor)
        moving = records.bindings(conn, absorbed)
        kept_realname = {bid for bid, rec in kept.items() if rec["channel"] == REALNAME_CHANNEL}
        moving_realname = {bid for bid, rec in moving.items() if rec["channel"] == REALNAME_CHANNEL}
        if kept_realname and moving_realname and kept_realname != moving_realname:
            raise BindingConflict()
        records.delete_bindings(conn, absorbed, moving)
        for binding_id, record in moving.items():
            if binding_id in kept:  # same identity on both: keep the union of its indexes
                record = {**kept[binding_id], "indexes": {**record["indexes"], **kept[binding_id]["indexes"]},
                          "enc": {**record["enc"], **kept[binding_id]["enc"]}}
            records.save_binding(conn, survivor, binding_id, record)
        records.repoint_index(conn, absorbed, survivor)
        loser = data[absorbed]
        if int(loser["realname_level"]) > int(data[survivor]["realname_level"]):
            records.raise_level(conn, survivor, int(loser["realname_level"]), loser["realname_source"] or "",
                                loser["realname_at"] or self._clock.now())
        enterprise_records.move_links(conn, absorbed, survivor)
        records.mark_merged(conn, absorbed, survivor, reason=reason, now=self._clock.now(),
                            basic_level=int(RealnameLevel.BASIC))
        preference_records.forget(conn, absorbed)
        work.merges.append((survivor, absorbed))
        return survivor, absorbed

    # --- removing bindings --------------------------------------------------------------------

    def unbind(self, account_id: str, channel: str, binding_id: str | None = None, *,
               work: AccountWork | None = None) -> list[Binding]:
        """Remove the account's bindings of ``channel`` (or just ``binding_id``). Refuses to remove
        the last way to log in; real-name verification cannot be unbound."""
        if channel not in LOGIN_CHANNELS:
            raise InvalidInput("channel")
        with self._within(work) as tx:
            records.lock(tx.conn, [account_id])
            stored = records.bindings(tx.conn, account_id)
            targets = {
                bid: rec for bid, rec in stored.items() if rec["channel"] == channel and binding_id in (None, bid)
            }
            if not targets:
                raise BindingNotFound()
            remaining = {bid: rec for bid, rec in stored.items() if bid not in targets}
            if not any(rec["channel"] in LOGIN_CHANNELS for rec in remaining.values()):
                raise LastBinding()
            still_used = {(kind, blind) for rec in remaining.values() for kind, blind in rec["indexes"].items()}
            records.delete_bindings(tx.conn, account_id, targets)
            records.release_index(tx.conn, account_id, (
                (kind, blind) for rec in targets.values() for kind, blind in rec["indexes"].items()
                if (kind, blind) not in still_used))
            return [binding_from(bid, rec) for bid, rec in targets.items()]

    # --- preferences --------------------------------------------------------------------------

    def update_preferences(self, account_id: str, changes: Mapping[str, Any], *,
                           work: AccountWork | None = None) -> Preferences:
        """The record alone (tools, tests); ``AuthService.update_preferences`` also tells other packages."""
        with self._within(work) as tx:
            return preference_records.update(tx.conn, account_id, changes)
