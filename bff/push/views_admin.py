"""Console side of push: campaigns (draft → submitted → approved by another operator → scheduled →
running ⇄ paused → finished / cancelled), preview, audit, statistics, the region tree and a live
audience estimate for the audience builder. Operator tokens (audience ``msb-console``).

Roles: ``editor`` creates, edits and submits; ``approver`` approves or rejects; editors and approvers
schedule, pause, resume and cancel; every operator role reads. Four eyes: nobody who created or edited
a campaign approves it (403 ``approver_is_author``), an edit after submission or approval sends it back
to draft, and an approval names the version it reviewed (409 ``version_conflict`` if it changed). Only
approved campaigns are ever sent. Each change is audited with its fields and resulting version.
"""
from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from bff.auth.security import current_principal, operator_required
from bff.caching.headers import no_store, private
from bff.extensions import ErrorEnvelopeSchema, services
from bff.push import schemas_admin as schemas
from push.campaigns import READ_ROLES, SYSTEM, require_any_role
from push.service import PushService

blp = Blueprint("push_admin", __name__, url_prefix="/v1/admin",
                description="Push campaigns for console operators: authoring, four-eyes approval, sending and statistics")

REGION_TREE_MAX_AGE = 300  # the region tree changes only with a catalogue release
ROLE_403 = "`operator_role_required`: the operator lacks the role"


def _errors(*statuses: int, **overrides: str):
    descriptions = {
        403: ROLE_403,
        404: "`campaign_not_found`",
        409: "`campaign_state_conflict` / `campaign_not_editable` / `version_conflict`",
        422: "Invalid input: `validation_failed`, `invalid_input`, `invalid_template_data`, `unknown_template`, "
             "`unknown_region`, `unknown_item` (`errors.field` names the field)",
    }
    descriptions.update({int(status.lstrip("_")): text for status, text in overrides.items()})

    def decorate(view):
        for status in statuses:
            view = blp.alt_response(status, schema=ErrorEnvelopeSchema, description=descriptions[status])(view)
        return view

    return decorate


def _service() -> PushService:
    return services().push


_answer = no_store  # operator answers are never kept (bff.caching.headers)


def _operator_names():
    """account id -> username through identity's public operators API (memoised for one request);
    ``system`` is the worker. Push keeps ids only: it must not read identity's records."""
    operators = services().identity.operators
    memo: dict[str, str | None] = {SYSTEM: "系统"}

    def name(account_id: str | None) -> str | None:
        if not account_id:
            return None
        if account_id not in memo:
            operator = operators.get(account_id)
            memo[account_id] = operator.username if operator is not None else None
        return memo[account_id]

    return name


def _named(campaign: dict[str, Any], name=None) -> dict[str, Any]:
    """The campaign answer with usernames beside the operator ids (``author_name``, ``approved_by_name``)."""
    name = name or _operator_names()
    return {**campaign, "author_name": name(campaign.get("author")), "approved_by_name": name(campaign.get("approved_by"))}


def _figures(service: PushService, campaign: dict[str, Any]) -> dict[str, Any]:
    stats = service.stats.summary(campaign["id"])
    figures = {name: stats[name] for name in ("audience", "planned", "sent", "delivered", "failed", "opened", "clicked")}
    keep = ("id", "name", "category", "channels", "status", "version", "author", "approved_by", "schedule",
            "created_at", "updated_at")
    return {**{k: campaign[k] for k in keep}, "figures": figures}


@blp.route("/campaigns")
class Campaigns(MethodView):
    @operator_required(blp)
    @_errors(403)
    @blp.arguments(schemas.CampaignListArgsSchema, location="query")
    @blp.response(200, schemas.CampaignListSchema)
    def get(self, args):
        """Campaigns, newest first, with status and key figures (audience, planned, sent, delivered,
        failed, opened, clicked)."""
        service = _service()
        found = service.list_campaigns(current_principal(), status=args.get("status"), limit=args["limit"], offset=args["offset"])
        name = _operator_names()
        return _answer({"items": [_named(_figures(service, c), name) for c in found]})

    @operator_required(blp, role="editor")
    @blp.arguments(schemas.CampaignCreateSchema)
    @blp.response(201, schemas.CampaignSchema)
    def post(self, body):
        """Create a draft (editor): name, category, channels in priority order, content per channel
        (WeChat template data checked against WeChat's value rules, Alipay template, APP title/body,
        inbox text), target page, audience rules, schedule window, per-citizen cap."""
        return _answer(_named(_service().create_campaign(current_principal(), body)), 201)


@blp.route("/campaigns/<string:campaign_id>")
class Campaign(MethodView):
    @operator_required(blp)
    @_errors(403, 404)
    @blp.response(200, schemas.CampaignSchema)
    def get(self, campaign_id):
        """One campaign with its full spec and lifecycle fields."""
        return _answer(_named(_service().get_campaign(current_principal(), campaign_id)))

    @operator_required(blp, role="editor")
    @_errors(404, 409)
    @blp.arguments(schemas.CampaignUpdateSchema)
    @blp.response(200, schemas.CampaignSchema)
    def patch(self, body, campaign_id):
        """Edit a campaign not yet sending (editor): only the given fields change; send `version` to detect
        concurrent edits. You become one of its authors (who may not approve it); a submitted, approved or
        scheduled campaign goes back to draft and needs a new approval."""
        changes = dict(body)
        version = changes.pop("version", None)
        return _answer(_named(_service().update_campaign(current_principal(), campaign_id, changes, expected_version=version)))


@blp.route("/campaigns/<string:campaign_id>/preview")
class CampaignPreview(MethodView):
    @operator_required(blp)
    @_errors(403, 404)
    @blp.response(200, schemas.PreviewSchema)
    def get(self, campaign_id):
        """Audience size, overall and per channel, after opt-outs, channel addresses, caps, consent and
        quotas (nothing is consumed), and a rendered sample per channel."""
        return _answer(_service().preview_campaign(current_principal(), campaign_id))


def _transition(action: str, doc: str, *, role: str | None = None, arguments: Any = None, **errors: str):
    """A lifecycle endpoint ``POST /campaigns/<id>/<action>`` answering the campaign."""

    def view(self, *args, **kwargs):
        body = args[0] if args else {}
        service, actor, campaign_id = _service(), current_principal(), kwargs["campaign_id"]
        if action == "approve":
            answer = service.approve_campaign(actor, campaign_id, body["version"])
        elif action == "reject":
            answer = service.reject_campaign(actor, campaign_id, body["reason"])
        elif action in ("pause", "cancel"):
            method = service.pause_campaign if action == "pause" else service.cancel_campaign
            answer = method(actor, campaign_id, body.get("reason"))
        elif action == "schedule":
            answer = service.schedule_campaign(actor, campaign_id, start_at=body.get("start_at"), end_at=body.get("end_at"))
        else:
            answer = getattr(service, f"{action}_campaign")(actor, campaign_id)
        return _answer(_named(answer))

    view.__name__ = "post"
    view.__doc__ = doc
    view = blp.response(200, schemas.CampaignSchema)(view)
    if arguments is not None:
        view = blp.arguments(arguments)(view)
    view = _errors(403, 404, 409, **errors)(view)
    view = operator_required(blp, role=role)(view)
    blp.route(f"/campaigns/<string:campaign_id>/{action}")(type(f"Campaign{action.title()}", (MethodView,), {"post": view}))


_transition("submit", "Submit a draft for approval (editor).", role="editor")
_transition("approve", "Approve the version you reviewed of a submitted campaign (approver who neither created nor "
            "edited it).", role="approver", arguments=schemas.ApproveSchema,
            _403=f"{ROLE_403}; `approver_is_author`: you created or edited this campaign",
            _409="`campaign_state_conflict`; `version_conflict`: it changed since the version you reviewed")
_transition("reject", "Send a submitted campaign back to draft with a reason (approver).", role="approver",
            arguments=schemas.RejectSchema)
_transition("schedule", "Schedule an approved campaign (editor or approver); it starts at `start_at` "
            "(default: the spec's, else now). Only approved campaigns are sent.", arguments=schemas.ScheduleSchema)
_transition("pause", "Pause a running campaign (editor or approver); queued messages are parked.", arguments=schemas.ReasonSchema)
_transition("resume", "Resume a paused campaign where it stopped (editor or approver).")
_transition("cancel", "Cancel a campaign that has not finished (editor or approver); unsent messages are dropped.",
            arguments=schemas.ReasonSchema)


@blp.route("/campaigns/<string:campaign_id>/audit")
class CampaignAudit(MethodView):
    @operator_required(blp)
    @_errors(403, 404)
    @blp.response(200, schemas.AuditSchema)
    def get(self, campaign_id):
        """Who did what, when: every change of the campaign, oldest first (`system` is the worker), with
        the operator's username in `actor_name`."""
        name = _operator_names()
        items = [{**entry, "actor_name": name(entry["actor"])}
                 for entry in _service().campaign_audit(current_principal(), campaign_id)]
        return _answer({"items": items})


@blp.route("/campaigns/<string:campaign_id>/versions")
class CampaignVersions(MethodView):
    @operator_required(blp)
    @_errors(403, 404)
    @blp.response(200, schemas.VersionsSchema)
    def get(self, campaign_id):
        """Every spec an operator wrote (creation and each edit that changed something), oldest first,
        with the writer's username in `written_by_name`."""
        name = _operator_names()
        items = [{**entry, "written_by_name": name(entry["written_by"])}
                 for entry in _service().campaign_versions(current_principal(), campaign_id)]
        return _answer({"items": items})


@blp.route("/campaigns/<string:campaign_id>/stats")
class CampaignStats(MethodView):
    @operator_required(blp)
    @_errors(403, 404)
    @blp.arguments(schemas.StatsArgsSchema, location="query")
    @blp.response(200, schemas.StatsSchema)
    def get(self, args, campaign_id):
        """Planned, sent, delivered, failed, skipped by reason (opted out, no channel address, no
        quota, frequency cap, duplicate), quiet-hours deferrals, opened/clicked, per channel, and a
        per-minute series for the chart (`since` / `until` bound it)."""
        return _answer(_service().campaign_stats(current_principal(), campaign_id, since=args.get("since"), until=args.get("until")))


@blp.route("/push-templates")
class Templates(MethodView):
    @operator_required(blp)
    @_errors(403)
    @blp.response(200, schemas.TemplateListSchema)
    def get(self):
        """The WeChat / Alipay message templates campaigns may use, with their data keys."""
        require_any_role(current_principal(), READ_ROLES)
        return _answer({"items": [t.to_dict() for t in _service().templates.all()]})


@blp.route("/regions")
class Regions(MethodView):
    @operator_required(blp)
    @blp.alt_response(503, schema=ErrorEnvelopeSchema, description="`catalogue_unavailable`: the index is loading")
    @blp.response(200, schemas.RegionTreeSchema)
    def get(self):
        """The 盟市 / 旗县 tree for the audience builder (a 盟市 in `audience.regions` includes its 旗县)."""
        tree = services().catalogue.get().regions

        def node(region, children=None):
            result = {"code": region.code, "name": region.name, "level": region.level, "kind": region.kind}
            if children is not None:
                result["children"] = children
            return result

        cities = [node(city, [node(county) for county in tree.counties(city.code)]) for city in tree.cities()]
        return node(tree.province, cities), 200, private(REGION_TREE_MAX_AGE)


@blp.route("/audience/estimate")
class AudienceEstimate(MethodView):
    @operator_required(blp)
    @_errors(403)
    @blp.arguments(schemas.EstimateSchema)
    @blp.response(200, schemas.EstimateResultSchema)
    def post(self, body):
        """Live audience size for the rules being built, and per channel how many can be reached
        (have an address and, for `category` marketing/policy, have not opted out)."""
        return _answer(_service().estimate_audience(current_principal(), body["audience"], body.get("category")))


@blp.route("/dead-letters")
class DeadLetters(MethodView):
    @operator_required(blp)
    @_errors(403, _403=f"{ROLE_403} (editor or approver)")
    @blp.arguments(schemas.DeadLetterArgsSchema, location="query")
    @blp.response(200, schemas.DeadLetterListSchema)
    def get(self, args):
        """Messages whose retries ran out (and batches that could not be processed), newest first,
        optionally of one campaign or channel, with who retried them (editor or approver)."""
        items = _service().dead_letters(current_principal(), campaign_id=args.get("campaign_id"),
                                        channel=args.get("channel"), limit=args["limit"])
        name = _operator_names()
        for item in items:
            if item["retried"] is not None:
                item["retried"]["actor_name"] = name(item["retried"]["actor"])
        return _answer({"items": items})


@blp.route("/dead-letters/<string:entry_id>/retry")
class DeadLetterRetry(MethodView):
    @operator_required(blp)
    @_errors(403, 404, 409, _403=f"{ROLE_403} (editor or approver)",
             _404="`dead_letter_not_found`; `campaign_not_found`",
             _409="`campaign_state_conflict`: the campaign is not running or paused; `already_retried`: "
                  "retried before (once only); `dead_letter_not_retryable`: nothing in it may be sent again "
                  "(`errors.reasons`: sent, unknown, in_flight, no_consent, not_dead, campaign_window_over)")
    @blp.response(200, schemas.DeadLetterRetryResultSchema)
    def post(self, entry_id):
        """Send a dead letter's messages back to the queue for another round of attempts (editor or
        approver), once. Never a second copy: a message that was sent, or whose outcome is unknown, stays
        dead; a one-time subscription is used again. A paused campaign sends them on resume. Audited."""
        return _answer(_service().retry_dead_letter(current_principal(), entry_id))
