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
what an outsider read. An approval names the version it read; the locked row must still be at it, so an
edit slipped in between gets ``version_conflict`` instead of an approval. Only ``running`` campaigns send.

The records live in PostgreSQL (``push.campaign_records``). A change, its audit entry (actor, fields,
resulting version), the spec version or four-eyes submission it produces and its
``CAMPAIGN_STATE_CHANGED`` event (the outbox) are one transaction over the campaign's row held with
``SELECT … FOR UPDATE``: there is no change without its audit record or its event, and two operators
racing get one winner and one 409 (the second waits for the lock, then sees the first's change).
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from catalog.model import ReferenceData
from kernel.clock import Clock, SystemClock
from kernel.events import EventBus
from kernel.ids import new_id
from kernel.outbox import Outbox
from kernel.postgres import Database
from push import campaign_records as records
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
T = TypeVar("T")

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


class CampaignStore:
    """Campaign records in PostgreSQL. Every change is one transaction over the row locked with
    ``SELECT … FOR UPDATE``: the checks (status, version, authors), the new row, its audit entry, the
    spec version or four-eyes submission it produces and — for a status change — the
    ``CAMPAIGN_STATE_CHANGED`` event in the outbox commit together or not at all."""

    def __init__(self, database: Database, reference: ReferenceData, templates: TemplateRegistry,
                 clock: Clock | None = None, events: EventBus | None = None, *, outbox: Outbox | None = None) -> None:
        self._database = database
        self._reference = reference
        self._templates = templates
        self._clock = clock or SystemClock()
        events = events or EventBus()
        self._outbox = outbox or Outbox(database, events)

    # --- reads ------------------------------------------------------------------------------------------

    def get(self, campaign_id: str) -> Campaign:
        """One primary-key read (the dispatcher and worker call this on their loops)."""
        if not _plausible_id(campaign_id):
            raise CampaignNotFound(str(campaign_id)[:64])
        with self._database.transaction() as conn:
            row = records.load(conn, campaign_id)
        if row is None:
            raise CampaignNotFound(campaign_id[:64])
        return _from_row(row)

    def list(self, *, status: str | None = None, limit: int = 50, offset: int = 0) -> list[Campaign]:
        if status is not None and status not in STATUSES:
            raise InvalidInput("status")
        limit = max(1, min(int(limit), 200))
        with self._database.transaction() as conn:
            rows = records.listing(conn, status=status, limit=limit, offset=max(0, int(offset)))
        return [_from_row(row) for row in rows]

    def audit(self, campaign_id: str, limit: int = 200) -> list[dict[str, Any]]:
        """Oldest first: ``[{id, at, actor, action, from, to, changes, version}]``."""
        self.get(campaign_id)
        with self._database.transaction() as conn:
            rows = records.audit(conn, campaign_id, max(1, min(limit, 1000)))
        return [{"id": str(row["id"]), "at": records.from_time(row["at"]), "actor": row["actor"], "action": row["action"],
                 "from": row["from_status"] or None, "to": row["to_status"], "changes": row["changes"],
                 "version": row["version"]} for row in rows]

    def versions(self, campaign_id: str, limit: int = 200) -> list[dict[str, Any]]:
        """Every spec an operator wrote, oldest first: ``[{version, written_by, fields, at, spec}]``."""
        self.get(campaign_id)
        with self._database.transaction() as conn:
            rows = records.versions(conn, campaign_id, max(1, min(limit, 1000)))
        return [{"version": row["version"], "written_by": row["written_by"], "fields": list(row["fields"]),
                 "at": records.from_time(row["written_at"]), "spec": row["spec"]} for row in rows]

    def submissions(self, campaign_id: str) -> list[dict[str, Any]]:
        """The four-eyes record, oldest first: who submitted which version, who decided what."""
        self.get(campaign_id)
        with self._database.transaction() as conn:
            rows = records.submissions(conn, campaign_id)
        return [{"version": row["submitted_version"], "submitted_by": row["submitted_by"],
                 "submitted_at": records.from_time(row["submitted_at"]), "decision": row["decision"],
                 "decided_by": row["decided_by"], "decided_at": records.from_time(row["decided_at"]),
                 "reason": row["reason"]} for row in rows]

    def scheduled_due(self, now: float, limit: int = 20) -> list[str]:
        with self._database.transaction() as conn:
            return records.scheduled_due(conn, now, limit)

    def active(self) -> list[Campaign]:
        """Running or paused campaigns (what the dispatch side works on), read whole in one transaction."""
        with self._database.transaction() as conn:
            rows = records.active(conn)
        return [_from_row(row) for row in rows]

    # --- writes ----------------------------------------------------------------------------------------

    def create(self, actor: Operator, raw: Mapping[str, Any]) -> Campaign:
        require_any_role(actor, (EDITOR,))
        spec = validate_spec(raw, self._reference, self._templates)
        campaign_id = new_id("cmp_")
        written = [name for name in SPEC_FIELDS if name in raw]
        now = self._clock.now()
        with self._database.transaction() as conn:
            row = records.insert(conn, campaign_id=campaign_id, status=DRAFT, spec=spec, author=actor.account_id,
                                 start_at=spec.get("start_at"), end_at=spec.get("end_at"), now=now)
            records.insert_version(conn, campaign_id, row["version"], spec, written_by=actor.account_id,
                                   fields=written, now=now)
            records.insert_audit(conn, campaign_id, now=now, actor=actor.account_id, action="create", from_status=None,
                                 to_status=DRAFT, changes={"fields": written}, version=row["version"])
        return _from_row(row)

    def update(self, actor: Operator, campaign_id: str, changes: Mapping[str, Any], *, expected_version: int | None = None) -> Campaign:
        """Change the spec. The editor joins the campaign's authors; a submitted, approved or scheduled
        campaign goes back to draft with its approval cleared. An edit that changes nothing is no write."""
        require_any_role(actor, (EDITOR,))
        now = self._clock.now()
        with self._database.transaction() as conn:
            current = self._locked(conn, campaign_id)
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
            # The authors are those of the locked row: no editor slips past the set before an approval.
            authors = list(current.authors)
            if actor.account_id not in authors:
                authors.append(actor.account_id)
            row = records.update(conn, campaign_id, {
                "spec": spec, "start_at": spec.get("start_at"), "end_at": spec.get("end_at"), "authors": authors,
                "approved_by": None, "approved_at": None, "status": DRAFT}, now=now)
            if current.status == SUBMITTED:
                records.close_submission(conn, campaign_id, "withdrawn", decided_by=actor.account_id, now=now,
                                         reason="edited")
            records.insert_version(conn, campaign_id, row["version"], spec, written_by=actor.account_id,
                                   fields=changed, now=now)
            records.insert_audit(conn, campaign_id, now=now, actor=actor.account_id, action="update",
                                 from_status=current.status, to_status=DRAFT, changes={"fields": changed},
                                 version=row["version"])
        return _from_row(row)

    def transition(self, actor: Operator, campaign_id: str, action: str, *, reason: str | None = None,
                   fields: Mapping[str, Any] | None = None, changes: Mapping[str, Any] | None = None,
                   version: int | None = None) -> Campaign:
        """A lifecycle step. ``version`` (approve: the version the approver read) must be current."""
        allowed, target, roles = TRANSITIONS[action]
        if actor.account_id != SYSTEM:
            if not roles:
                raise OperatorRoleRequired(SYSTEM)
            require_any_role(actor, roles)
        now = self._clock.now()
        columns = _columns(fields or {})
        columns["status"] = target
        if action == "approve":
            columns.update({"approved_by": actor.account_id, "approved_at": now, "rejection": None})
        elif action == "reject":
            columns["rejection"] = (reason or "")[:200]
        elif action == "pause":
            columns["paused_reason"] = (reason or "operator")[:60]
        elif action == "resume":
            columns["paused_reason"] = None
        audit_changes = dict(changes or {})
        if reason:
            audit_changes["reason"] = reason[:200]
        with self._database.transaction() as conn:
            current = self._locked(conn, campaign_id)
            if version is not None and version != current.version:
                raise VersionConflict(version, current.version)
            if action == "approve" and (actor.account_id in current.authors or actor.account_id == current.author):
                raise ApproverIsAuthor(details={"campaign_id": campaign_id})
            if current.status not in allowed:
                raise CampaignStateConflict(action, current.status, allowed)
            row = records.update(conn, campaign_id, columns, now=now)
            self._record_submission(conn, action, current, row["version"], actor, now, reason)
            records.insert_audit(conn, campaign_id, now=now, actor=actor.account_id, action=action,
                                 from_status=current.status, to_status=target, changes=audit_changes,
                                 version=row["version"])
            event = None
            if target != current.status:
                event = self._outbox.add(conn, CAMPAIGN_STATE_CHANGED, campaign_id=campaign_id, status=target,
                                         previous=current.status, category=current.category)
        if event is not None:
            self._outbox.deliver(event)
        return _from_row(row)

    def set_fields(self, campaign_id: str, fields: Mapping[str, Any], *, action: str, actor: Operator = SYSTEM_ACTOR) -> None:
        """Non-status bookkeeping (plan state), audited like everything else."""
        now = self._clock.now()
        columns = _columns(fields)
        with self._database.transaction() as conn:
            current = self._locked(conn, campaign_id)
            row = records.update(conn, campaign_id, columns, now=now)
            records.insert_audit(conn, campaign_id, now=now, actor=actor.account_id, action=action,
                                 from_status=current.status, to_status=current.status, changes=dict(fields),
                                 version=row["version"])

    def audited(self, actor: Operator, campaign_id: str, action: str, allowed: tuple[str, ...],
                operation: Callable[[Campaign], tuple[Mapping[str, Any] | None, T]]) -> T:
        """Run ``operation(campaign)`` while the campaign row is locked in one of the ``allowed`` statuses
        (no transition can interleave), and audit what it returns (``changes``; None = nothing to audit).
        If it raises, nothing is recorded. The version is not bumped: the record itself did not change."""
        now = self._clock.now()
        with self._database.transaction() as conn:
            current = self._locked(conn, campaign_id)
            if current.status not in allowed:
                raise CampaignStateConflict(action, current.status, allowed)
            changes, result = operation(current)
            if changes is not None:
                records.insert_audit(conn, campaign_id, now=now, actor=actor.account_id, action=action,
                                     from_status=current.status, to_status=current.status, changes=changes,
                                     version=current.version)
        return result

    def _locked(self, conn: Any, campaign_id: str) -> Campaign:
        row = records.load(conn, campaign_id, for_update=True) if _plausible_id(campaign_id) else None
        if row is None:
            raise CampaignNotFound(str(campaign_id)[:64])
        return _from_row(row)

    @staticmethod
    def _record_submission(conn: Any, action: str, current: Campaign, version: int, actor: Operator, now: float,
                           reason: str | None) -> None:
        """The four-eyes record: a submission opens, an approver decides it, a cancel withdraws it."""
        if action == "submit":
            records.open_submission(conn, current.id, version, submitted_by=actor.account_id, now=now)
        elif action in ("approve", "reject"):
            records.close_submission(conn, current.id, "approved" if action == "approve" else "rejected",
                                     decided_by=actor.account_id, now=now, reason=reason)
        elif action == "cancel" and current.status == SUBMITTED:
            records.close_submission(conn, current.id, "withdrawn", decided_by=actor.account_id, now=now, reason=reason)


def _plausible_id(campaign_id: object) -> bool:
    """Anything a URL may carry reaches here: PostgreSQL refuses NUL bytes and lone surrogates with an
    error, so such ids are simply not found (ids are ``cmp_`` + 26 base32 characters)."""
    return isinstance(campaign_id, str) and 0 < len(campaign_id) <= 64 and campaign_id.isascii() and "\0" not in campaign_id


def _columns(fields: Mapping[str, Any]) -> dict[str, Any]:
    """Bookkeeping fields as callers name them (times as epoch seconds, None to clear the column)."""
    columns: dict[str, Any] = {}
    for name, value in fields.items():
        if name not in records.TIME_COLUMNS | records.TEXT_COLUMNS:
            raise ValueError(f"not a campaign field: {name}")
        if value is None:
            columns[name] = None
        else:
            columns[name] = float(value) if name in records.TIME_COLUMNS else str(value)
    return columns

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


def _from_row(row: Mapping[str, Any]) -> Campaign:
    spec = row["spec"]
    return Campaign(
        id=row["id"], name=spec["name"], category=spec["category"], channels=tuple(spec["channels"]),
        content=spec["content"], page=spec.get("page"), audience=spec.get("audience") or {},
        start_at=records.from_time(row["start_at"]), end_at=records.from_time(row["end_at"]),
        max_per_citizen=int(spec["max_per_citizen"]), note=spec.get("note", ""), status=row["status"],
        version=row["version"], author=row["author"], created_at=records.from_time(row["created_at"]) or 0.0,
        updated_at=records.from_time(row["updated_at"]) or 0.0, approved_by=row["approved_by"],
        approved_at=records.from_time(row["approved_at"]), rejection=row["rejection"] or None,
        paused_reason=row["paused_reason"] or None, plan_state=row["plan_state"] or None,
        authors=tuple(row["authors"]) or (row["author"],),
    )
