"""The inbox as a PostgreSQL record: idempotent delivery, keyset pages, read state, retention."""
from __future__ import annotations

import threading

import pytest

from kernel.clock import FixedClock
from push.errors import InvalidInput, MessageNotFound
from push.senders.base import message_id
from push.senders.inbox import INBOX_KEEP, INBOX_RETENTION_SECONDS, Inbox
from push.stats import Stats

ACCOUNT = "acc_" + "b" * 26
OTHER = "acc_" + "c" * 26


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture
def stats(redis_client) -> Stats:
    return Stats(redis_client)


@pytest.fixture
def inbox(database, stats, clock) -> Inbox:
    return Inbox(database, stats, clock)


def body(mid: str, at: float, title: str = "提醒") -> dict:
    return {"id": mid, "title": title, "text": "请查看。", "page": None, "category": "service", "campaign": mid.split(".")[0],
            "at": at}


def rows(database, account_id: str) -> list[dict]:
    with database.transaction() as conn:
        return conn.execute("SELECT message_id, read_at FROM inbox_messages WHERE account_id = %s ORDER BY message_id",
                            (account_id,)).fetchall()


def test_delivering_twice_stores_one_message(inbox, database, clock):
    mid = message_id("cmp_twice", "inbox", 7)
    assert inbox.deliver(ACCOUNT, body(mid, clock.now())) is True
    clock.advance(5)  # the dispatcher's redelivery after a lost acknowledgement renders a new time
    assert inbox.deliver(ACCOUNT, body(mid, clock.now(), title="改过的标题")) is False
    page = inbox.list(ACCOUNT)
    assert [item["id"] for item in page.items] == [mid] and page.items[0]["title"] == "提醒" and page.unread == 1
    assert [row["message_id"] for row in rows(database, ACCOUNT)] == [mid]


def test_concurrent_deliveries_of_one_message_store_it_once(inbox, database, clock):
    mid = message_id("cmp_race", "inbox", 3)
    start = threading.Barrier(4)
    results = []

    def deliver() -> None:
        start.wait()
        results.append(inbox.deliver(ACCOUNT, body(mid, clock.now())))

    threads = [threading.Thread(target=deliver) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False, False, False, True]
    assert len(rows(database, ACCOUNT)) == 1 and inbox.unread_count(ACCOUNT) == 1


def test_pages_through_ties_newest_first(inbox, clock):
    ids = [message_id(f"cmp_{n:02d}", "inbox", 1) for n in range(5)]
    for mid in ids[:3]:
        inbox.deliver(ACCOUNT, body(mid, clock.now()))  # three in the same instant
    clock.advance(1.25)
    for mid in ids[3:]:
        inbox.deliver(ACCOUNT, body(mid, clock.now()))
    seen, cursor = [], None
    while True:
        page = inbox.list(ACCOUNT, limit=2, cursor=cursor)
        seen += [item["id"] for item in page.items]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == [ids[4], ids[3], ids[2], ids[1], ids[0]]
    assert inbox.list(OTHER).to_dict() == {"items": [], "unread": 0, "next_cursor": None}


@pytest.mark.parametrize("cursor", ["nonsense", "1.5", "|x", "nan|x", "inf|x", "1e300|x", "1.5|", "1.5|a\x00b"])
def test_a_cursor_we_did_not_issue_is_invalid_input(inbox, cursor):
    with pytest.raises(InvalidInput):
        inbox.list(ACCOUNT, cursor=cursor)


def test_mark_read_counts_opened_once_per_message(inbox, stats, clock):
    first, second = message_id("cmp_read", "inbox", 1), message_id("cmp_read", "inbox", 2)
    inbox.deliver(ACCOUNT, body(first, clock.now()))
    inbox.deliver(OTHER, body(second, clock.now()))
    with pytest.raises(MessageNotFound) as missing:
        inbox.mark_read(ACCOUNT, [first, second, "nul\x00id"])  # another citizen's message is unknown here
    assert missing.value.details == {"message_ids": [second, "nul\x00id"]}
    assert inbox.mark_read(ACCOUNT, [first]) == 1
    assert inbox.mark_read(ACCOUNT, [first]) == 0
    assert inbox.mark_read(OTHER) == 1 and inbox.mark_read(OTHER) == 0
    assert stats.raw("cmp_read").get("opened") == 2
    assert [item["read"] for item in inbox.list(ACCOUNT).items] == [True] and inbox.unread_count(OTHER) == 0


def test_keeps_the_newest_messages_and_purges_old_ones(inbox, database, clock):
    started = clock.now()
    for n in range(INBOX_KEEP + 3):  # message n delivered at started + n
        inbox.deliver(ACCOUNT, body(message_id("cmp_keep", "inbox", n), clock.now()))
        clock.advance(1)
    stored = {row["message_id"] for row in rows(database, ACCOUNT)}
    assert len(stored) == INBOX_KEEP and message_id("cmp_keep", "inbox", 0) not in stored
    assert message_id("cmp_keep", "inbox", INBOX_KEEP + 2) in stored
    inbox.deliver(OTHER, body(message_id("cmp_new", "inbox", 1), clock.now()))
    clock.advance(started + 6 + INBOX_RETENTION_SECONDS - clock.now())
    assert inbox.purge_expired() == 3  # messages 3, 4 and 5 (0–2 were trimmed) are past the retention
    assert len(rows(database, ACCOUNT)) == INBOX_KEEP - 3 and len(rows(database, OTHER)) == 1
