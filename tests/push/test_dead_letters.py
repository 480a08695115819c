"""Dead letters an operator retries: a message whose retries ran out goes back for one more round,
reaches the phone exactly once, and never twice; a retry is once only, audited, and refused on a
campaign that is over."""
from __future__ import annotations

import pytest

from push import keys
from push.errors import CampaignStateConflict, DeadLetterAlreadyRetried, DeadLetterNotFound, DeadLetterNotRetryable
from tests.push.conftest import APPROVER, EDITOR, REMINDER, launch, wechat_campaign


@pytest.fixture
def outage(service, citizens, make_runtime, push_settings, drive, clock):
    """One citizen, WeChat down for every attempt: the message is dead-lettered and the error rate
    auto-pauses the campaign (so it is not finished: nothing else is outstanding)."""
    runtime = make_runtime(push_settings.with_changes(max_attempts=3, pause_min_attempts=3, pause_error_rate=0.5))
    citizen = citizens.make(subscribe={REMINDER: 1})
    drive.fault("wechat.subscribe_send", times=None, error={"errcode": -1})
    campaign_id = launch(service, wechat_campaign())
    for _ in range(3):
        runtime.drain()
        clock.advance(60)
    [dead] = service.dead_letters(EDITOR, campaign_id=campaign_id)
    return {"runtime": runtime, "citizen": citizen, "campaign_id": campaign_id, "dead": dead,
            "idx": service.index.find(citizen["account_id"])}


def test_a_retried_dead_letter_is_sent_once_more_and_exactly_once(service, outage, drive) -> None:
    campaign_id, dead, runtime, openid = outage["campaign_id"], outage["dead"], outage["runtime"], outage["citizen"]["openid"]
    assert (dead["channel"], dead["code"], dead["attempts"], dead["messages"], dead["retried"]) == ("wechat", "-1", 3, 1, None)
    assert service.get_campaign(EDITOR, campaign_id)["status"] == "paused"
    assert service.consent.remaining(outage["idx"], "wechat", REMINDER) == 1  # refunded by the dead letter
    sends_before = drive.counters()["wechat.subscribe_send"]

    drive.clear_faults()  # WeChat is back
    result = service.retry_dead_letter(EDITOR, dead["id"])
    assert (result["requeued"], result["skipped"], result["status"]) == (1, {}, "paused")
    assert service.consent.remaining(outage["idx"], "wechat", REMINDER) == 0  # consumed again for the resend
    stats = service.campaign_stats(EDITOR, campaign_id)
    assert (stats["dead"], stats["failed"], stats["dead_retried"], stats["outstanding"]) == (0, 0, 1, 1)
    runtime.drain()  # paused: the revived message is parked, not sent
    assert drive.screen(openid) == []

    service.resume_campaign(APPROVER, campaign_id)
    runtime.drain()
    assert len(drive.screen(openid)) == 1
    assert drive.counters()["wechat.subscribe_send"] == sends_before + 1
    stats = service.campaign_stats(EDITOR, campaign_id)
    assert (stats["sent"], stats["failed"], stats["outstanding"], stats["status"]) == (1, 0, 0, "finished")

    audit = service.campaign_audit(EDITOR, campaign_id)
    [retry] = [entry for entry in audit if entry["action"] == "retry_dead_letter"]
    assert retry["actor"] == EDITOR.account_id and retry["changes"]["entry_id"] == dead["id"]
    assert retry["changes"]["requeued"] == 1 and (retry["from"], retry["to"]) == ("paused", "paused")
    [listed] = service.dead_letters(APPROVER, campaign_id=campaign_id)
    assert listed["retried"]["actor"] == EDITOR.account_id and listed["retried"]["requeued"] == 1


def test_a_second_retry_is_refused_and_sends_nothing(service, outage, drive) -> None:
    drive.clear_faults()
    service.retry_dead_letter(EDITOR, outage["dead"]["id"])
    with pytest.raises(DeadLetterAlreadyRetried) as refused:
        service.retry_dead_letter(APPROVER, outage["dead"]["id"])
    assert refused.value.http_status == 409 and refused.value.code == "already_retried"
    service.resume_campaign(APPROVER, outage["campaign_id"])
    outage["runtime"].drain()
    assert len(drive.screen(outage["citizen"]["openid"])) == 1
    stats = service.campaign_stats(EDITOR, outage["campaign_id"])
    assert (stats["dead_retried"], stats["sent"]) == (1, 1)


def test_a_cancelled_campaign_refuses_the_retry(service, outage, drive) -> None:
    service.cancel_campaign(APPROVER, outage["campaign_id"], "活动取消")
    drive.clear_faults()
    with pytest.raises(CampaignStateConflict) as refused:
        service.retry_dead_letter(EDITOR, outage["dead"]["id"])
    assert refused.value.details["status"] == "cancelled" and refused.value.http_status == 409
    assert service.dead_letters(EDITOR, campaign_id=outage["campaign_id"])[0]["retried"] is None
    outage["runtime"].drain()
    assert drive.screen(outage["citizen"]["openid"]) == []


def test_a_message_whose_outcome_is_unknown_or_sent_is_never_revived(service, outage, drive) -> None:
    """Defence in depth: whatever put the bits there, a message that may have reached the phone stays put."""
    campaign_id, idx = outage["campaign_id"], outage["idx"]
    service.redis.setbit(keys.unknown(keys.shard_of(idx), campaign_id, "wechat"), keys.bit_of(idx), 1)
    with pytest.raises(DeadLetterNotRetryable) as refused:
        service.retry_dead_letter(EDITOR, outage["dead"]["id"])
    assert refused.value.details["reasons"] == {"unknown": 1}
    service.redis.setbit(keys.unknown(keys.shard_of(idx), campaign_id, "wechat"), keys.bit_of(idx), 0)
    service.redis.setbit(keys.sent(keys.shard_of(idx), campaign_id, "wechat"), keys.bit_of(idx), 1)
    with pytest.raises(DeadLetterNotRetryable) as refused:
        service.retry_dead_letter(EDITOR, outage["dead"]["id"])
    assert refused.value.details["reasons"] == {"sent": 1}
    assert service.consent.remaining(idx, "wechat", REMINDER) == 1  # nothing consumed by a refused retry
    assert service.campaign_stats(EDITOR, campaign_id)["outstanding"] == 0


def test_unknown_entries_and_citizens_without_roles(service, outage) -> None:
    for bad in ("0-1", "not-an-id", "1-2-3"):
        with pytest.raises(DeadLetterNotFound):
            service.retry_dead_letter(EDITOR, bad)
    from push.campaigns import Actor
    from push.errors import OperatorRoleRequired

    with pytest.raises(OperatorRoleRequired):
        service.retry_dead_letter(Actor("op_reader", ("viewer",)), outage["dead"]["id"])
    assert service.dead_letters(EDITOR, campaign_id=outage["campaign_id"], channel="alipay") == []
