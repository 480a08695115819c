"""auth's public query for other packages: the facts about a citizen they may mirror, without reading
auth's records themselves.

``CitizenDirectory.facts(account_id)``: home region and push opt-outs, the WeChat openid and Alipay
open_id (decrypted from the bindings), the birth date from the verified ID number (decrypted in memory
only; push keeps the birth *month*), and whether the person has an active enterprise (法人) link.
``account_for(kind, identifier)`` resolves an openid to its account through the blind index, so no
caller ever stores an openid in clear or in a key name. Push receives it from the composition root.
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date

import redis

from auth import account_records, enterprise_records, preference_records
from auth.accounts import AccountStore
from auth.identifiers import birth_date
from auth.preferences import Preferences
from kernel.clock import Clock, SystemClock
from kernel.crypto import Crypto
from kernel.postgres import Database

# The binding channel whose encrypted identifier a fact comes from.
_IDENTIFIER_OF_CHANNEL = {"wechat": "wechat_openid", "alipay": "alipay_open_id", "realname": "id_number"}


@dataclass(frozen=True)
class CitizenFacts:
    account_id: str
    home_region: str | None = None
    opt_outs: dict[str, tuple[str, ...]] = field(default_factory=dict)  # category -> channels
    wechat_openid: str | None = None
    alipay_open_id: str | None = None
    birth: date | None = None
    enterprise: bool = False

    def __repr__(self) -> str:  # identifiers stay out of logs and tracebacks
        return f"CitizenFacts(account_id={self.account_id!r}, home_region={self.home_region!r})"


class CitizenDirectory:

    def __init__(self, redis_client: redis.Redis, crypto: Crypto, clock: Clock | None = None, *,
                 database: Database) -> None:
        self._crypto = crypto
        self._database = database
        self._accounts = AccountStore(redis_client, crypto, clock or SystemClock(), database=database)

    def facts(self, account_id: str) -> CitizenFacts | None:
        # One transaction: the account, its bindings, preferences and links as of one instant.
        with self._database.transaction() as conn:
            live = account_records.follow(conn, [account_id]).get(account_id)
            if live is None:
                return None
            account_id = live["id"]
            preferences = preference_records.load(conn, account_id)
            stored = account_records.bindings(conn, account_id)
            enterprise = enterprise_records.has_active_link(conn, account_id)
        encrypted: dict[str, str] = {}  # the later binding of a channel wins, as bindings come in binding order
        for record in stored.values():
            enc = record.get("enc", {})
            kind = _IDENTIFIER_OF_CHANNEL.get(record.get("channel"))
            if kind is not None and kind in enc:
                encrypted[kind] = enc[kind]
        return self._facts(account_id, preferences, enterprise, encrypted)

    def _facts(self, account_id: str, preferences: Preferences, enterprise: bool,
               encrypted: Mapping[str, str | None]) -> CitizenFacts:
        """``encrypted``: the stored ciphertexts of ``wechat_openid``, ``alipay_open_id`` and ``id_number``
        (absent or empty = none), decrypted here in memory only."""
        values: dict[str, object] = {}
        for kind in ("wechat_openid", "alipay_open_id"):
            if encrypted.get(kind):
                values[kind] = self._crypto.decrypt(encrypted[kind], context=kind)
        if encrypted.get("id_number"):
            values["birth"] = birth_date(self._crypto.decrypt(encrypted["id_number"], context="id_number"))
        return CitizenFacts(
            account_id=account_id,
            home_region=preferences.home_region,
            opt_outs={category: tuple(channels) for category, channels in preferences.push_opt_outs},
            enterprise=enterprise,
            **values,  # type: ignore[arg-type]
        )

    def all_facts(self, *, page: int = 2_000, database: Database | None = None) -> Iterator[CitizenFacts]:
        """Every live citizen's facts, in account-id order, a page per short transaction (a keyset cursor:
        no transaction stays open for the whole population). For push's bulk rebuild; ``database`` may be
        a pool with longer deadlines than the API's."""
        database = database or self._database
        after = ""
        while True:
            with database.transaction() as conn:
                rows = account_records.targeting_page(conn, after, page)
            for row in rows:
                yield self._facts(row["id"], preference_records.from_stored(row["preferences"]), row["enterprise"], row)
            if len(rows) < page:
                return
            after = rows[-1]["id"]

    def account_for(self, kind: str, identifier: str) -> str | None:
        """``kind`` is an auth index kind (``wechat_openid``, ``alipay_open_id``)."""
        return self._accounts.owner_of(kind, identifier)
