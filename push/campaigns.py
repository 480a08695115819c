"""Campaigns: the model, the lifecycle and the store (every change audited atomically); the spec rules
are in ``push.campaign_spec``.

Lifecycle (listmonk's states plus a four-eyes approval)::

    draft ──submit──▶ submitted ──approve (an approver who wrote none of it)──▶ approved
      ▲                  │ reject                                                 │ schedule
      └──────────────────┘                                                        ▼
                                              cancelled ◀── any non-final ── scheduled
                                                                                  │ start (worker, at start_at)
                           finished ◀── finish (all messages terminal) ── running ⇄ paused (operator or auto)

Four eyes: every write bumps ``version``; ``authors`` is the creator plus every operator who ever changed
the spec (content, targeting, schedule, anything), and none of them may approve. The set never shrinks:
text carried over from an earlier draft is still its writer's text. An edit of a submitted, approved or
scheduled campaign sends it back to ``draft`` and clears the approval, so what is approved is exactly
what an outsider read. An approval names the version it read; the script checks it, so an edit slipped
in between gets ``version_conflict`` instead of an approval. Only ``running`` campaigns send.

A change, its index updates (scheduled zset, running set) and its audit entry (actor, fields, resulting
version) are one Lua script: there is no change without its audit record, and two operators racing get
one winner and one 409.
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import redis

from catalog.model import ReferenceData
from kernel.clock import Clock, SystemClock
from kernel.events import EventBus
from kernel.ids import new_id
from push import keys
from push.campaign_spec import validate_spec
from push.errors import (ApproverIsAuthor, CampaignNotEditable, CampaignNotFound, CampaignStateConflict, InvalidInput,
                         OperatorRoleRequired, VersionConflict)
from push.templates import TemplateRegistry

# Published on every status change, by the API (operators) and the worker (scheduled starts, finishes).
CAMPAIGN_STATE_CHANGED = "campaign.state_changed"
DRAFT, SUBMITTED, APPROVED, SCHEDULED, RUNNING, PAUSED, CANCELLED, FINISHED = (
    "draft", "submitted", "approved", "scheduled", "running", "paused", "cancelled", "finished")
STATUSES = (DRAFT, SUBMITTED, APPROVED, SCHEDULED, RUNNING, PAUSED, CANCELLED, FINISHED)
EDITOR, APPROVER, ADMIN = "editor", "approver", "admin"
SYSTEM = "system"

# action -> (allowed from, to, roles that may do it; () = the system only)
TRANSITIONS: dict[str, tuple[tuple[str, ...], str, tuple[str, ...]]] = {
    "submit": ((DRAFT,), SUBMITTED, (EDITOR,)),
    "approve": ((SUBMITTED,), APPROVED, (APPROVER,)),
    "reject": ((SUBMITTED,), DRAFT, (APPROVER,)),
    "schedule": ((APPROVED,), SCHEDULED, (EDITOR, APPROVER)),
    "start": ((SCHEDULED,), RUNNING, ()),
    "pause": ((RUNNING,), PAUSED, (EDITOR, APPROVER)),
    "resume": ((PAUSED,), RUNNING, (EDITOR, APPROVER)),
    "cancel": ((DRAFT, SUBMITTED, APPROVED, SCHEDULED, RUNNING, PAUSED), CANCELLED, (EDITOR, APPROVER)),
    "finish": ((RUNNING,), FINISHED, ()),
}
READ_ROLES = (EDITOR, APPROVER, ADMIN)
# Statuses whose spec may still change; an edit in any but draft withdraws the submission/approval.
EDITABLE = (DRAFT, SUBMITTED, APPROVED, SCHEDULED)
SPEC_FIELDS = ("name", "category", "channels", "content", "page", "audience", "schedule", "max_per_citizen", "note")


class Operator(Protocol):
    account_id: str
    roles: tuple[str, ...]


@dataclass(frozen=True)
class Actor:
    """An operator principal (``auth.service.Principal`` fits too) or the system itself."""

    account_id: str
    roles: tuple[str, ...] = ()


SYSTEM_ACTOR = Actor(SYSTEM, ())


def require_any_role(actor: Operator, roles: Iterable[str]) -> None:
    """Admins hold every role; the four-eyes rule (never approve what you wrote) still binds them."""
    roles = tuple(roles)
    held = set(getattr(actor, "roles", ()) or ())
    if ADMIN not in held and not held & set(roles):
        raise OperatorRoleRequired(roles[0] if len(roles) == 1 else "|".join(roles))


# --- the model -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Campaign:
    id: str
    name: str
    category: str
    channels: tuple[str, ...]  # as chosen, in priority order
    content: dict[str, dict[str, Any]]
    page: str | None
    audience: dict[str, Any]
    start_at: float | None
    end_at: float | None
    max_per_citizen: int
    note: str
    status: str
    version: int
    author: str
    created_at: float
    updated_at: float
    approved_by: str | None = None
    approved_at: float | None = None
    rejection: str | None = None
    paused_reason: str | None = None
    plan_state: str | None = None
    authors: tuple[str, ...] = ()  # creator first, then every later editor of the spec
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def effective_channels(self) -> tuple[str, ...]:
        """Service notices always reach the inbox, whatever the other channels do."""
        if self.category == "service" and "inbox" not in self.channels:
            return self.channels + ("inbox",)
        return self.channels

    def forced(self, channel: str) -> bool:
        return self.category == "service" and channel == "inbox"

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "name": self.name, "category": self.category, "channels": list(self.channels),
            "effective_channels": list(self.effective_channels), "content": self.content, "page": self.page,
            "audience": self.audience, "schedule": {"start_at": self.start_at, "end_at": self.end_at},
            "max_per_citizen": self.max_per_citizen, "note": self.note, "status": self.status, "version": self.version,
            "author": self.author, "authors": list(self.authors), "created_at": self.created_at, "updated_at": self.updated_at,
            "approved_by": self.approved_by, "approved_at": self.approved_at, "rejection": self.rejection,
            "paused_reason": self.paused_reason, "plan_state": self.plan_state,
        }


_MUTATE = """
local prev = ''
if ARGV[8] == '1' then
  if redis.call('exists', KEYS[1]) == 1 then return {-3, '', 0} end
  redis.call('hset', KEYS[1], 'created_at', ARGV[3], 'version', 0)
  redis.call('zadd', KEYS[5], ARGV[3], ARGV[10])
else
  prev = redis.call('hget', KEYS[1], 'status')
  if not prev then return {-1, '', 0} end
  if ARGV[1] ~= '*' then
    local ok = false
    for s in string.gmatch(ARGV[1], '[^,]+') do if s == prev then ok = true end end
    if not ok then return {0, prev, 0} end
  end
  if ARGV[4] ~= '' and redis.call('hget', KEYS[1], 'version') ~= ARGV[4] then
    return {-2, prev, tonumber(redis.call('hget', KEYS[1], 'version'))}
  end
end
if ARGV[2] ~= '' then redis.call('hset', KEYS[1], 'status', ARGV[2]) end
redis.call('hset', KEYS[1], 'updated_at', ARGV[3])
for i = 11, #ARGV, 2 do
  if ARGV[i + 1] == '\\0' then redis.call('hdel', KEYS[1], ARGV[i]) else redis.call('hset', KEYS[1], ARGV[i], ARGV[i + 1]) end
end
local version = redis.call('hincrby', KEYS[1], 'version', 1)
local status = redis.call('hget', KEYS[1], 'status')
if status == 'scheduled' then
  redis.call('zadd', KEYS[2], tonumber(redis.call('hget', KEYS[1], 'start_at') or ARGV[3]) or ARGV[3], ARGV[10])
else
  redis.call('zrem', KEYS[2], ARGV[10])
end
if status == 'running' or status == 'paused' then redis.call('sadd', KEYS[3], ARGV[10]) else redis.call('srem', KEYS[3], ARGV[10]) end
redis.call('xadd', KEYS[4], 'MAXLEN', '~', ARGV[9], '*', 'at', ARGV[3], 'actor', ARGV[5], 'action', ARGV[6],
  'from', prev, 'to', status, 'changes', ARGV[7], 'version', version)
return {1, prev, version}
"""
DELETE = "\0"  # field value meaning "remove the field"


class CampaignStore:
    def __init__(self, redis_client: redis.Redis, reference: ReferenceData, templates: TemplateRegistry,
                 clock: Clock | None = None, events: EventBus | None = None) -> None:
        self._redis = redis_client
        self._reference = reference
        self._templates = templates
        self._clock = clock or SystemClock()
        self._events = events or EventBus()
        self._mutate = redis_client.register_script(_MUTATE)

    # --- reads ------------------------------------------------------------------------------------------

    def get(self, campaign_id: str) -> Campaign:
        data = self._redis.hgetall(keys.campaign(campaign_id)) if isinstance(campaign_id, str) else {}
        if not data or "spec" not in data:
            raise CampaignNotFound(str(campaign_id)[:64])
        return _from_hash(campaign_id, data)

    def list(self, *, status: str | None = None, limit: int = 50, offset: int = 0) -> list[Campaign]:
        if status is not None and status not in STATUSES:
            raise InvalidInput("status")
        limit = max(1, min(int(limit), 200))
        ids = self._redis.zrevrange(keys.CAMPAIGNS, 0, -1) if status else self._redis.zrevrange(
            keys.CAMPAIGNS, offset, offset + limit - 1)
        pipe = self._redis.pipeline(transaction=False)
        for campaign_id in ids:
            pipe.hgetall(keys.campaign(campaign_id))
        campaigns = [_from_hash(cid, data) for cid, data in zip(ids, pipe.execute()) if data and "spec" in data]
        if status:
            campaigns = [c for c in campaigns if c.status == status][offset: offset + limit]
        return campaigns

    def audit(self, campaign_id: str, limit: int = 200) -> list[dict[str, Any]]:
        self.get(campaign_id)
        entries = self._redis.xrange(keys.campaign_audit(campaign_id), count=max(1, min(limit, 1000)))
        return [{"id": entry_id, "at": float(f["at"]), "actor": f["actor"], "action": f["action"],
                 "from": f["from"] or None, "to": f["to"], "changes": json.loads(f["changes"]),
                 "version": int(f["version"]) if f.get("version") else None}
                for entry_id, f in entries]

    def scheduled_due(self, now: float, limit: int = 20) -> list[str]:
        return self._redis.zrangebyscore(keys.SCHEDULED, "-inf", now, start=0, num=limit)

    def running_ids(self) -> list[str]:
        return sorted(self._redis.smembers(keys.RUNNING))

    # --- writes ----------------------------------------------------------------------------------------

    def create(self, actor: Operator, raw: Mapping[str, Any]) -> Campaign:
        require_any_role(actor, (EDITOR,))
        spec = validate_spec(raw, self._reference, self._templates)
        campaign_id = new_id("cmp_")
        written = [name for name in SPEC_FIELDS if name in raw]
        self._write(campaign_id, actor, "create", {"fields": written}, create=True, new_status=DRAFT,
                    fields={"spec": json.dumps(spec, ensure_ascii=False), "author": actor.account_id,
                            "authors": json.dumps([actor.account_id]), **_window_fields(spec)})
        return self.get(campaign_id)

    def update(self, actor: Operator, campaign_id: str, changes: Mapping[str, Any], *, expected_version: int | None = None) -> Campaign:
        """Change the spec. The editor joins the campaign's authors; a submitted, approved or scheduled
        campaign goes back to draft with its approval cleared. An edit that changes nothing is no write."""
        require_any_role(actor, (EDITOR,))
        current = self.get(campaign_id)
        if current.status not in EDITABLE:
            raise CampaignNotEditable("update", current.status, EDITABLE)
        if not isinstance(changes, Mapping):
            raise InvalidInput("campaign")
        if expected_version is not None and expected_version != current.version:
            raise VersionConflict(expected_version, current.version)
        before = _spec_of(current)
        spec = validate_spec({**before, **changes}, self._reference, self._templates)
        changed = _changed_fields(validate_spec(before, self._reference, self._templates), spec)
        if not changed:
            return current
        authors = list(current.authors)
        if actor.account_id not in authors:
            authors.append(actor.account_id)
        fields = {"spec": json.dumps(spec, ensure_ascii=False), **_window_fields(spec),
                  "authors": json.dumps(authors), "approved_by": DELETE, "approved_at": DELETE}
        # The version read above is the one the authors list was built from: the script refuses the
        # write if anything happened since, so no editor can slip past the set.
        self._write(campaign_id, actor, "update", {"fields": changed}, allowed=EDITABLE, expected_version=current.version,
                    new_status=DRAFT, fields=fields, editing=True)
        return self.get(campaign_id)

    def transition(self, actor: Operator, campaign_id: str, action: str, *, reason: str | None = None,
                   fields: Mapping[str, str] | None = None, changes: Mapping[str, Any] | None = None,
                   version: int | None = None) -> Campaign:
        """A lifecycle step. ``version`` (approve: the version the approver read) must be current."""
        allowed, target, roles = TRANSITIONS[action]
        if actor.account_id != SYSTEM:
            if not roles:
                raise OperatorRoleRequired(SYSTEM)
            require_any_role(actor, roles)
        current = self.get(campaign_id)
        if version is not None and version != current.version:
            raise VersionConflict(version, current.version)
        expected: int | None = version
        if action == "approve":
            if actor.account_id in current.authors or actor.account_id == current.author:
                raise ApproverIsAuthor(details={"campaign_id": campaign_id})
            expected = current.version  # the authors just checked are those of this version, atomically
        now = self._clock.now()
        extra: dict[str, str] = dict(fields or {})
        if action == "approve":
            extra.update({"approved_by": actor.account_id, "approved_at": repr(now), "rejection": DELETE})
        elif action == "reject":
            extra.update({"rejection": (reason or "")[:200]})
        elif action == "pause":
            extra.update({"paused_reason": (reason or "operator")[:60]})
        elif action == "resume":
            extra.update({"paused_reason": DELETE})
        audit_changes = dict(changes or {})
        if reason:
            audit_changes["reason"] = reason[:200]
        self._write(campaign_id, actor, action, audit_changes, allowed=allowed, new_status=target, fields=extra,
                    expected_version=expected)
        if target != current.status:
            self._events.publish(CAMPAIGN_STATE_CHANGED, campaign_id=campaign_id, status=target,
                                 previous=current.status, category=current.category)
        return self.get(campaign_id)

    def set_fields(self, campaign_id: str, fields: Mapping[str, str], *, action: str, actor: Operator = SYSTEM_ACTOR) -> None:
        """Non-status bookkeeping (plan state), audited like everything else."""
        self._write(campaign_id, actor, action, dict(fields), allowed=None, fields=fields)

    def record_action(self, campaign_id: str, actor: Operator, action: str, changes: Mapping[str, Any]) -> None:
        """An audited operator action that changes no field of the record (a dead letter re-queued)."""
        self._write(campaign_id, actor, action, changes, allowed=None)

    def _write(self, campaign_id: str, actor: Operator, action: str, changes: Mapping[str, Any], *,
               allowed: tuple[str, ...] | None = None, new_status: str = "", create: bool = False,
               expected_version: int | None = None, fields: Mapping[str, str] | None = None,
               editing: bool = False) -> int:
        args: list[Any] = [
            "*" if allowed is None else ",".join(allowed), new_status, repr(self._clock.now()),
            "" if expected_version is None else str(expected_version), actor.account_id, action,
            json.dumps(changes, ensure_ascii=False, default=str), "1" if create else "0", keys.AUDIT_MAXLEN, campaign_id,
        ]
        for name, value in (fields or {}).items():
            args.extend([name, value])
        code, previous, version = self._mutate(
            keys=[keys.campaign(campaign_id), keys.SCHEDULED, keys.RUNNING, keys.campaign_audit(campaign_id), keys.CAMPAIGNS],
            args=args)
        if code == 1:
            return int(version)
        if code == -1:
            raise CampaignNotFound(campaign_id)
        if code == -2:
            raise VersionConflict(int(expected_version or 0), int(version))
        if code == 0:
            if editing:
                raise CampaignNotEditable(action, previous, allowed or ())
            raise CampaignStateConflict(action, previous, allowed or ())
        raise RuntimeError(f"campaign write failed: {code}")


def _window_fields(spec: Mapping[str, Any]) -> dict[str, str]:
    return {"start_at": repr(spec["start_at"]) if spec.get("start_at") else DELETE,
            "end_at": repr(spec["end_at"]) if spec.get("end_at") else DELETE}


def _changed_fields(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
    """Spec fields (as the API names them) whose normalised value differs."""
    changed = {("schedule" if name in ("start_at", "end_at") else name)
               for name in set(before) | set(after) if before.get(name) != after.get(name)}
    return [name for name in SPEC_FIELDS if name in changed]


def _spec_of(campaign: Campaign) -> dict[str, Any]:
    return {"name": campaign.name, "category": campaign.category, "channels": list(campaign.channels),
            "content": {ch: _raw_content(ch, body) for ch, body in campaign.content.items()},
            "page": campaign.page, "audience": campaign.audience,
            "schedule": {"start_at": campaign.start_at, "end_at": campaign.end_at},
            "max_per_citizen": campaign.max_per_citizen, "note": campaign.note}


def _raw_content(channel: str, body: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if v is not None}


def _from_hash(campaign_id: str, data: Mapping[str, str]) -> Campaign:
    spec = json.loads(data["spec"])

    def number(name: str) -> float | None:
        value = data.get(name)
        return float(value) if value else None

    return Campaign(
        id=campaign_id, name=spec["name"], category=spec["category"], channels=tuple(spec["channels"]),
        content=spec["content"], page=spec.get("page"), audience=spec.get("audience") or {},
        start_at=number("start_at"), end_at=number("end_at"), max_per_citizen=int(spec["max_per_citizen"]),
        note=spec.get("note", ""), status=data.get("status", DRAFT), version=int(data.get("version", 0)),
        author=data.get("author", ""), created_at=float(data.get("created_at", 0)),
        updated_at=float(data.get("updated_at", 0)), approved_by=data.get("approved_by") or None,
        approved_at=number("approved_at"), rejection=data.get("rejection") or None,
        paused_reason=data.get("paused_reason") or None, plan_state=data.get("plan_state") or None,
        authors=tuple(json.loads(data["authors"])) if data.get("authors") else
        ((data["author"],) if data.get("author") else ()),
    )
