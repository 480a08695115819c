"""``PushService``: the facade the HTTP layer calls. One method per endpoint, plain data in and out.

Operator methods take a principal with ``account_id`` and ``roles`` (``auth.service.Principal`` of an
operator session fits); citizen methods take the citizen's account id. Every failure is a
``push.errors.PushError`` with ``code``, ``message``, ``details`` and the class attribute
``http_status``. Results are JSON-ready dicts/lists.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import redis

from catalog.model import ReferenceData
from config import Settings
from kernel.clock import Clock, SystemClock, china_today
from kernel.crypto import Crypto
from kernel.events import EventBus
from kernel.outbox import Outbox
from kernel.postgres import Database
from push import keys
from push.redisutil import shards_in_use
from push.audience import AudienceResolver, validate_rules
from push.campaign_spec import check_window
from push.campaigns import FINISHED, READ_ROLES, RUNNING, Actor, CampaignStore, Operator, require_any_role
from push.consent import ConsentLedger
from push import consent_records
from push.consent_rebuild import rebuild_consent
from push.consent_usage import ConsentUsage
from push.dead_letters import DeadLetters
from push.directory import Directory
from push.dispatcher import Dispatcher
from push.errors import CitizenNotFound, InvalidInput
from push.events import Events
from push.limits import RateLimiter
from push.reconcile import DoubtReconciler
from push.notices import live_policy_notices
from push.planner import Planner
from push.profiles import ADDRESS_CHANNELS, AddressBook, Profiles
from push.recommendations import Recommender
from push.senders.alipay import AlipaySender
from push.senders.app_push import AppPushSender
from push.senders.inbox import Inbox, InboxSender
from push.senders.wechat import WeChatSender
from push.rebuild import RebuildReport, from_citizen_facts, rebuild
from push.settings import CHANNELS, PushSettings
from push.stats import Stats
from push.templates import TemplateRegistry
from push.wechat_events import WeChatEvents

SAMPLE_ADDRESS = {"wechat": "<openid>", "alipay": "<open_id>", "app": {"token": "<device_token>"}, "inbox": None}


class PushService:
    def __init__(self, redis_client: redis.Redis, *, crypto: Crypto, settings: PushSettings | None = None,
                 reference: ReferenceData | None = None, templates: TemplateRegistry | None = None,
                 directory: Directory | None = None, catalogue: Any = None, wechat_appid: str = "wx_sandbox_app",
                 clock: Clock | None = None, events: EventBus | None = None, database: Database | None = None) -> None:
        if not redis_client.get_connection_kwargs().get("decode_responses"):
            raise ValueError("PushService needs a Redis client created with decode_responses=True")
        self.redis = redis_client
        self.clock = clock or SystemClock()
        self.settings = settings or PushSettings()
        self.reference = reference or ReferenceData.load()
        self.templates = templates or TemplateRegistry.from_file(self.settings.templates_file)
        self.crypto = crypto
        self.directory = directory or _auth_directory(redis_client, crypto, self.clock, database)
        self.stats = Stats(redis_client)
        self.profiles = Profiles(redis_client, crypto, self.clock)
        self.index = self.profiles.index
        self.events_bus = events or EventBus()
        if database is None:
            raise ValueError("PushService needs the database: campaigns are records in PostgreSQL")
        self.database = database
        # Campaign state changes reach other packages (home notices) through the outbox, committed with the change.
        self.outbox = Outbox(database, self.events_bus)
        self.campaigns = CampaignStore(database, self.reference, self.templates, self.clock, outbox=self.outbox)
        self.audience = AudienceResolver(redis_client, self.reference)
        self.consent = ConsentLedger(redis_client, self.templates, self.index, database, self.clock)
        self.consent_usage = ConsentUsage(self.index, database, self.templates, self.clock)
        self.planner = Planner(redis_client, self.campaigns, self.audience, self.settings, self.clock,
                               usage=self.consent_usage)
        self.inbox_store = Inbox(database, self.stats, self.clock)
        self.events = Events(redis_client, self.reference, self.profiles, self.stats, self.clock)
        self.recommender = Recommender(redis_client, self.reference, self.profiles, self.events,
                                       catalogue=catalogue, clock=self.clock)
        self.addresses = AddressBook(redis_client, crypto)
        self.wechat_events = WeChatEvents(
            redis_client, token=self.settings.wechat_push_token, appid=wechat_appid, aes_key=self.settings.wechat_aes_key,
            window_seconds=self.settings.event_window_seconds, directory=self.directory, consent=self.consent,
            index=self.index, templates=self.templates, stats=self.stats, clock=self.clock,
            doubts=DoubtReconciler(redis_client, crypto, self.stats, self.clock))
        # Renderers for preview samples (rendering needs no network).
        self._renderers: dict[str, Any] = {
            "wechat": WeChatSender(None),
            "alipay": AlipaySender(None),
            "app": AppPushSender(None),
            "inbox": InboxSender(self.inbox_store, self.clock),
        }
        self.limiter = RateLimiter(redis_client, self.settings.rates)
        self.queue = self.dispatcher(senders={}, name="console")
        self.dead = DeadLetters(redis_client, self.campaigns, self.templates, self.clock, usage=self.consent_usage)

    @classmethod
    def from_settings(cls, settings: Settings, redis_client: redis.Redis, *, push_settings: PushSettings | None = None,
                      catalogue: Any = None, clock: Clock | None = None, events: EventBus | None = None,
                      directory: Directory | None = None, database: Database | None = None) -> "PushService":
        return cls(redis_client, crypto=Crypto(settings.secret_dir), settings=push_settings or PushSettings.from_env(settings),
                   catalogue=catalogue, wechat_appid=settings.wechat_appid, clock=clock, events=events,
                   directory=directory, database=database)

    def dispatcher(self, *, senders: Mapping[str, Any], name: str | None = None, stop: Any = None) -> Dispatcher:
        return Dispatcher(self.redis, campaigns=self.campaigns, senders=senders, addresses=self.addresses,
                          index=self.index, settings=self.settings, limiter=self.limiter, templates=self.templates,
                          clock=self.clock, name=name, stop=stop, crypto=self.crypto, usage=self.consent_usage)

    # === operators: campaigns ================================================================================

    def create_campaign(self, actor: Operator, spec: Mapping[str, Any]) -> dict[str, Any]:
        """editor → the draft ``{id, status: "draft", version, …}``. 422 invalid_input /
        invalid_template_data / unknown_template / unknown_region / unknown_item, 403 operator_role_required."""
        return self.campaigns.create(actor, spec).to_dict()

    def update_campaign(self, actor: Operator, campaign_id: str, changes: Mapping[str, Any], *,
                        expected_version: int | None = None) -> dict[str, Any]:
        """editor; draft, submitted, approved or scheduled (the last three go back to draft, approval cleared;
        the editor becomes an author and may not approve). 409 campaign_not_editable once running or over;
        409 version_conflict when ``expected_version`` is stale."""
        return self.campaigns.update(actor, campaign_id, changes, expected_version=expected_version).to_dict()

    def get_campaign(self, actor: Operator, campaign_id: str) -> dict[str, Any]:
        require_any_role(actor, READ_ROLES)
        return self.campaigns.get(campaign_id).to_dict()

    def list_campaigns(self, actor: Operator, *, status: str | None = None, limit: int = 50, offset: int = 0) -> list[dict[str, Any]]:
        require_any_role(actor, READ_ROLES)
        return [c.to_dict() for c in self.campaigns.list(status=status, limit=limit, offset=offset)]

    def estimate_audience(self, actor: Operator, raw_rules: Any, category: str | None) -> dict[str, Any]:
        """Live audience size of the rules being built, and per channel how many can be reached."""
        require_any_role(actor, READ_ROLES)
        rules = validate_rules(raw_rules, self.reference)
        return self.audience.reach(rules, china_today(self.clock), category, (*ADDRESS_CHANNELS, "inbox"))

    def submit_campaign(self, actor: Operator, campaign_id: str) -> dict[str, Any]:
        return self.campaigns.transition(actor, campaign_id, "submit").to_dict()

    def approve_campaign(self, actor: Operator, campaign_id: str, version: int | None = None) -> dict[str, Any]:
        """An approver who wrote no part of it (403 approver_is_author). ``version`` is the version the
        approver read (HTTP requires it): 409 version_conflict if the campaign changed since."""
        return self.campaigns.transition(actor, campaign_id, "approve", version=version).to_dict()

    def reject_campaign(self, actor: Operator, campaign_id: str, reason: str) -> dict[str, Any]:
        if not isinstance(reason, str) or not 1 <= len(reason.strip()) <= 200:
            raise InvalidInput("reason", "请填写 1–200 字的退回理由")
        return self.campaigns.transition(actor, campaign_id, "reject", reason=reason.strip()).to_dict()

    def schedule_campaign(self, actor: Operator, campaign_id: str, *, start_at: float | None = None,
                          end_at: float | None = None) -> dict[str, Any]:
        """approved → scheduled; the worker starts it at ``start_at`` (default: the spec's, else now).
        The approved window binds: scheduling may narrow it, never widen it (that would be an unapproved
        schedule), 422 invalid_input otherwise."""
        current = self.campaigns.get(campaign_id)
        start, end = check_window(start_at if start_at is not None else current.start_at,
                                  end_at if end_at is not None else current.end_at)
        if current.start_at is not None and start is not None and start < current.start_at:
            raise InvalidInput("start_at", "开始时间不能早于审批通过的时间窗口")
        if current.end_at is not None and end is not None and end > current.end_at:
            raise InvalidInput("end_at", "结束时间不能晚于审批通过的时间窗口")
        start = start if start is not None else self.clock.now()
        if end is not None and end <= max(start, self.clock.now()):
            raise InvalidInput("end_at", "结束时间须晚于开始时间和当前时间")
        fields = {"start_at": start, "end_at": end}
        return self.campaigns.transition(actor, campaign_id, "schedule", fields=fields,
                                         changes={"start_at": start, "end_at": end}).to_dict()

    def pause_campaign(self, actor: Operator, campaign_id: str, reason: str | None = None) -> dict[str, Any]:
        return self.campaigns.transition(actor, campaign_id, "pause", reason=reason or "operator").to_dict()

    def resume_campaign(self, actor: Operator, campaign_id: str) -> dict[str, Any]:
        """paused → running; parked batches go back to the queues (it continues where it stopped) and
        the error-rate window restarts."""
        campaign = self.campaigns.transition(actor, campaign_id, "resume")
        self.stats.reset(campaign_id, {"attempts": 0, "errors": 0})
        moved = self.queue.unpark(campaign_id)
        result = campaign.to_dict()
        result["resumed_batches"] = moved
        return result

    def cancel_campaign(self, actor: Operator, campaign_id: str, reason: str | None = None) -> dict[str, Any]:
        campaign = self.campaigns.transition(actor, campaign_id, "cancel", reason=reason)
        self.queue.cancel_parked(campaign)
        return campaign.to_dict()

    def campaign_audit(self, actor: Operator, campaign_id: str) -> list[dict[str, Any]]:
        require_any_role(actor, READ_ROLES)
        return self.campaigns.audit(campaign_id)

    def campaign_versions(self, actor: Operator, campaign_id: str) -> list[dict[str, Any]]:
        """Every spec an operator wrote (create and each edit that changed something), oldest first."""
        require_any_role(actor, READ_ROLES)
        return self.campaigns.versions(campaign_id)

    def campaign_submissions(self, actor: Operator, campaign_id: str) -> list[dict[str, Any]]:
        """The four-eyes record: each submission (who, which version) and its decision (who, what)."""
        require_any_role(actor, READ_ROLES)
        return self.campaigns.submissions(campaign_id)

    def preview_campaign(self, actor: Operator, campaign_id: str) -> dict[str, Any]:
        """Audience and per-channel counts after opt-outs, address, caps, consent and quotas (nothing
        consumed), plus a rendered payload per channel."""
        require_any_role(actor, READ_ROLES)
        campaign = self.campaigns.get(campaign_id)
        result = self.planner.preview(campaign).to_dict()
        result["samples"] = {ch: self._renderers[ch].render(campaign, SAMPLE_ADDRESS[ch]) for ch in campaign.effective_channels}
        return result

    def campaign_stats(self, actor: Operator, campaign_id: str, *, since: float | None = None,
                       until: float | None = None) -> dict[str, Any]:
        require_any_role(actor, READ_ROLES)
        campaign = self.campaigns.get(campaign_id)
        summary = self.stats.summary(campaign_id)
        summary["status"] = campaign.status
        summary["series"] = self.stats.series(campaign_id, since=since, until=until)
        return summary

    def dead_letters(self, actor: Operator, *, campaign_id: str | None = None, channel: str | None = None,
                     limit: int = 100) -> list[dict[str, Any]]:
        """Newest first; editor or approver. See ``push.dead_letters``."""
        return self.dead.list(actor, campaign_id=campaign_id, channel=channel, limit=limit)

    def retry_dead_letter(self, actor: Operator, entry_id: str) -> dict[str, Any]:
        """Re-queue a dead letter's messages once (editor or approver; campaign running or paused)."""
        return self.dead.retry(actor, entry_id)

    def queue_depths(self) -> dict[str, int]:
        """Messages waiting per dispatch queue (undelivered + unacknowledged), the delayed set and dead letters."""
        depths: dict[str, int] = {channel: 0 for channel in CHANNELS}
        depths["delayed"] = depths["dead_letters"] = 0
        for shard in shards_in_use(self.redis):  # summed over the shards' queues
            for channel in CHANNELS:
                try:
                    groups = self.redis.xinfo_groups(keys.stream(shard, channel))
                except redis.ResponseError:  # no stream yet: nothing was ever queued there
                    continue
                group = next((g for g in groups if g["name"] == keys.GROUP), None)
                depths[channel] += int(group["pending"]) + int(group.get("lag") or 0) if group else 0
            depths["delayed"] += int(self.redis.zcard(keys.delayed(shard)))
            depths["dead_letters"] += int(self.redis.xlen(keys.dead_letters(shard)))
        return depths

    # === citizens =============================================================================================

    def sync_citizen(self, account_id: str) -> dict[str, Any]:
        """Refresh the citizen's targeting facts and addresses from auth. Call after login, binding,
        preference and real-name changes (it is idempotent and cheap)."""
        facts = self.directory.facts(account_id)
        if facts is None:
            raise CitizenNotFound()
        profile = self.profiles.sync(facts)
        return {"account_id": facts.account_id, "region": profile.region, "enterprise": profile.enterprise,
                "age_known": profile.birth_ym is not None}

    def rebuild_targeting(self, facts: Iterable[Any], *, database: Database | None = None) -> RebuildReport:
        """Rebuild the citizen index, profiles, addresses and identity-derived segments from identity's
        facts (``CitizenDirectory.all_facts()``), then the consent counters and bitmaps from the consent
        ledger (read through ``database``, default push's own pool): after a Redis loss, or to load a
        province. Idempotent."""
        report = rebuild(self.redis, from_citizen_facts(facts, self.crypto), now=self.clock.now())
        consent = rebuild_consent(self.redis, self.index, consent_records.iter_live(database or self.database))
        report.consents, report.consents_unindexed = consent.consents, consent.consents_unindexed
        report.consent_seconds = consent.consent_seconds
        return report

    def record_subscriptions(self, account_id: str, channel: str, results: Mapping[str, str]) -> list[dict[str, Any]]:
        """``POST /v1/subscriptions``: the popup results ``{template_id: accept|reject|ban|filter}``."""
        return [s.to_dict() for s in self.consent.record(account_id, channel, results, source="client")]

    def list_subscriptions(self, account_id: str) -> list[dict[str, Any]]:
        return [s.to_dict() for s in self.consent.list(account_id)]

    def register_device(self, account_id: str, device_token: str, platform: str) -> dict[str, Any]:
        self.profiles.register_device(account_id, device_token, platform)
        return {"registered": True, "platform": platform}

    def remove_device(self, account_id: str) -> dict[str, Any]:
        return {"removed": self.profiles.remove_device(account_id)}

    def inbox(self, account_id: str, *, limit: int = 20, cursor: str | None = None) -> dict[str, Any]:
        return self.inbox_store.list(account_id, limit=limit, cursor=cursor).to_dict()

    def deliver_account_notice(self, account_id: str, *, notice_id: str, title: str, text: str, at: float) -> bool:
        """An account-security notice from identity straight into the citizen's inbox: no campaign,
        no consent, caps or quiet hours (the holder must learn of a takeover at once)."""
        body = {"id": notice_id, "title": title, "text": text, "page": None, "category": "security",
                "campaign": "", "at": at}
        return self.inbox_store.deliver(account_id, body)

    def inbox_unread(self, account_id: str) -> dict[str, int]:
        return {"unread": self.inbox_store.unread_count(account_id)}

    def mark_inbox_read(self, account_id: str, message_ids: Iterable[str] | None = None) -> dict[str, int]:
        marked = self.inbox_store.mark_read(account_id, None if message_ids is None else list(message_ids))
        return {"marked": marked, "unread": self.inbox_store.unread_count(account_id)}

    def record_events(self, account_id: str | None, events: object, *, region: str | None = None) -> dict[str, int]:
        """≤ 50 behaviour events (search/view/start/finish/view_theme/click); 413 too_many_events."""
        return self.events.record(account_id, events, region=region)

    def policy_notices(self, *, region: str, limit: int = 5) -> list[dict[str, Any]]:
        """Home-screen notices: live policy campaigns whose audience covers ``region`` (never marketing)."""
        candidates = [*self.campaigns.list(status=RUNNING, limit=100), *self.campaigns.list(status=FINISHED, limit=100)]
        return live_policy_notices(candidates, region=region, tree=self.reference.regions, now=self.clock.now(), limit=limit)

    def recommendations(self, account_id: str | None, *, region: str | None = None, limit: int = 10) -> list[dict[str, Any]]:
        return [r.to_dict() for r in self.recommender.recommend(account_id, region=region, limit=limit)]

    # === WeChat message-push URL ================================================================================

    def wechat_verify_url(self, query: Mapping[str, str]) -> str:
        """GET: returns ``echostr`` to answer with (401 event_signature_invalid otherwise)."""
        return self.wechat_events.verify_url(query)

    def wechat_event(self, query: Mapping[str, str], body: bytes | str) -> dict[str, int]:
        """POST: verify and apply; the HTTP layer answers ``success`` (plain text) on return."""
        return self.wechat_events.handle(query, body)


__all__ = ["Actor", "PushService"]


def _auth_directory(redis_client: redis.Redis, crypto: Crypto, clock: Clock, database: Database | None) -> Directory:
    # Tools and tests that build push alone; the composition root hands over identity's directory.
    from auth.directory import CitizenDirectory

    if database is None:
        return _NoDirectory()  # benches and tools that never sync a citizen
    return CitizenDirectory(redis_client, crypto, clock, database=database)


class _NoDirectory:
    def facts(self, account_id: str) -> Any:
        raise RuntimeError("push was built without identity's directory (pass directory= or database=)")

    def account_for(self, kind: str, identifier: str) -> str | None:
        return self.facts(identifier)
