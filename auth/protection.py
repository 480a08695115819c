"""Account protection flows of ``AuthService``: real-name conflicts, claims, recovery, notices.

The rule: knowing a name and an ID number never grants access to an existing account.

* ``verify_realname`` on an ID number that another account holds answers 409
  ``realname_bound_elsewhere`` with how to prove control of that account; the caller's account
  stays apart (level 2, not holding the number) and the holder is told in their inbox.
* ``start_claim`` / ``confirm_claim``: a one-time code sent to the holder's bound phone, or a 四级
  face check. Only then are the accounts merged, into the holder's account (it keeps its data);
  the caller gets fresh tokens for it and the holder is notified on every channel. A face check
  against a holder that never passed one (it proved only knowledge of the name and number, as an
  attacker who verified first did) also removes that holder's login methods and ends its sessions.
* ``recover``: whoever passes a 四级 face check against the account's verified ID number evicts the
  login bindings that are not theirs; every session of the account ends at once (families revoked
  and ``tokens_after`` set, checked on every authenticated request). Audited and notified.

A mixin so ``auth.service`` stays readable; it uses the service's stores and helpers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from auth import keys
from auth.accounts import LOGIN_CHANNELS, REALNAME_CHANNEL
from auth.claims import METHOD_FACE, METHOD_SMS, Pending
from auth.errors import (
    BindingNotFound,
    ClaimMethodUnavailable,
    ClaimNotFound,
    ClaimProofInvalid,
    ClaimRequired,
    FaceCheckFailed,
    LastBinding,
    RealnameBoundElsewhere,
    RealnameLevelRequired,
    RecoveryRefused,
)
from auth.identifiers import mask_phone
from auth.rate_limits import (
    CLAIM_ACCOUNT_DAILY,
    CLAIM_ID_DAILY,
    RECOVERY_ACCOUNT_DAILY,
    SMS_PHONE_COOLDOWN,
    SMS_PHONE_DAILY,
)
from auth.realname import RealnameLevel, RealnameOwnedElsewhere, RealnameResult

if TYPE_CHECKING:
    from auth.account_values import Attachment
    from auth.accounts import AccountWork
    from auth.service import AuthService
    from auth.session_types import Principal, TokenPair

SOURCE_FACE = "face_check"


class ProtectionFlows:
    """Mixed into ``AuthService``."""

    # --- real name --------------------------------------------------------------------------------

    def verify_realname(self: AuthService, account_id: str, name: str, id_number: str, *, client_ip: str = "") -> RealnameResult:
        account_id = self.accounts.resolve(account_id)
        already = self.accounts.realname_index(account_id) is not None
        recorded = []

        def announce(work: AccountWork, attachment: Attachment) -> None:
            # In the verification's own transaction: the record, the notice and account.changed commit together.
            if not already:
                self.notices.notify(attachment.account_id, "realname_verified", work=work)
            self._changed_in(work, attachment.account_id)
            recorded.append(attachment.account_id)

        try:
            with self._failures_audited("realname", None, client_ip or None, account_id):
                result = self.realname.verify(account_id, name, id_number, client_ip=client_ip, announce=announce)
        except RealnameOwnedElsewhere as owned:
            raise self._bound_elsewhere(account_id, owned) from None
        self.audit.record("realname", account_id=result.account_id, level=result.realname_level)
        if not already:
            self.claims.forget(account_id)
        if not recorded:  # the same number again: nothing recorded, other packages re-sync all the same
            self._changed(result.account_id)
        return result

    def _bound_elsewhere(self: AuthService, account_id: str, owned: RealnameOwnedElsewhere) -> RealnameBoundElsewhere:
        target = self.accounts.resolve(owned.owner)
        self.claims.remember(account_id, Pending(target, owned.id_blind, owned.name, owned.id_number))
        self.audit.record("realname_conflict", account_id=account_id, related_account_id=target, outcome="refused")
        self.notices.notify(target, "realname_attempt")
        return RealnameBoundElsewhere(details=self._claim_options(target))

    def _claim_options(self: AuthService, target: str) -> dict[str, Any]:
        phones = self.accounts.phones(target)
        methods = ([METHOD_SMS] if phones else []) + [METHOD_FACE]
        return {
            "methods": methods,
            "phone_masked": mask_phone(phones[0]) if phones else None,
            "claim_path": "/v1/me/realname/claims",
            "expires_in": keys.REALNAME_PENDING_TTL,
        }

    # --- claims ---------------------------------------------------------------------------------------

    def _live_pending(self: AuthService, account_id: str) -> Pending:
        pending = self.claims.pending(account_id)
        if pending is None:
            raise ClaimRequired()
        target = self.accounts.resolve(pending.target)
        if self.accounts.realname_index(target) != pending.id_blind:
            # The number was freed or moved since: verifying again is the honest next step.
            self.claims.forget(account_id)
            raise ClaimRequired()
        return Pending(target, pending.id_blind, pending.name, pending.id_number)

    def start_claim(self: AuthService, account_id: str, method: str, *, client_ip: str = "") -> dict[str, Any]:
        account_id = self.accounts.resolve(account_id)
        pending = self._live_pending(account_id)
        phones = self.accounts.phones(pending.target) if method == METHOD_SMS else []
        if method == METHOD_SMS and not phones:
            raise ClaimMethodUnavailable()
        checks = [(CLAIM_ACCOUNT_DAILY, f"account:{account_id}"), (CLAIM_ID_DAILY, f"id_number:{pending.id_blind}")]
        if phones:
            checks += [(SMS_PHONE_COOLDOWN, f"phone:{phones[0]}"), (SMS_PHONE_DAILY, f"phone:{phones[0]}")]
        self.limiter.hit(*checks)
        claim_id, code = self.claims.start(account_id, pending, method)
        if code is not None:
            self._sms.send_claim_code(phones[0], code)
        self.audit.record(
            "realname_claim", account_id=account_id, related_account_id=pending.target, outcome="started", method=method
        )
        return {
            "claim_id": claim_id,
            "method": method,
            "phone_masked": mask_phone(phones[0]) if phones else None,
            "expires_in": keys.CLAIM_TTL,
            "attempts_left": keys.CLAIM_ATTEMPTS,
        }

    def confirm_claim(
        self: AuthService, principal: Principal, claim_id: str, *, code: str | None = None,
        face_token: str | None = None, client_ip: str = "",
    ) -> TokenPair:
        account_id = self.accounts.resolve(principal.account_id)
        method = METHOD_SMS if code is not None else METHOD_FACE
        try:
            claim = self.claims.check(account_id, claim_id, method, code)
            if method == METHOD_FACE:
                verdict = self._identity.verify_face(claim.pending.name, claim.pending.id_number, face_token or "")
                if not verdict.matched:
                    if claim.attempts_left <= 0:
                        self.claims.burn(account_id, claim_id)
                    raise ClaimProofInvalid(claim.attempts_left, "人脸核验未通过，请本人重新核验")
                self.claims.burn(account_id, claim_id)
        except (ClaimProofInvalid, ClaimNotFound) as exc:
            self.audit.record("realname_claim", account_id=account_id, ip=client_ip or None, outcome="failure", reason=exc.code, method=method)
            raise
        target = self.accounts.resolve(claim.pending.target)
        if self.accounts.realname_index(target) != claim.pending.id_blind:
            raise ClaimRequired()
        # A face check outranks a holder who only ever proved knowledge of the name and number (the
        # attacker-first order): that holder's login methods go and their sessions end with the merge,
        # so the rightful person never shares the account with whoever verified first.
        unproven = [] if method != METHOD_FACE or self.accounts.level(target) >= int(RealnameLevel.PERSON) else [
            b for b in self.accounts.bindings(target) if b.channel in LOGIN_CHANNELS]
        # The merge, the level, the eviction's record changes and their facts: one transaction.
        with self.accounts.work() as work:
            survivor, absorbed = self.accounts.merge(account_id, target, reason="realname_claim", survivor=target,
                                                     work=work)
            if method == METHOD_FACE:
                self.accounts.raise_level(survivor, int(RealnameLevel.PERSON), SOURCE_FACE, work=work)
            if unproven:
                self._evict_records(work, survivor, unproven)
            self.notices.notify(survivor, "merged", work=work)
            self._changed_in(work, survivor)
        self.claims.forget(account_id)
        self.audit.record("realname_claim", account_id=survivor, related_account_id=absorbed, outcome="success", method=method)
        self._audit_merges(survivor, (absorbed,) if absorbed != survivor else (), reason="realname_claim")
        if unproven:
            self._end_sessions(survivor, len(unproven), client_ip, reason="face_claim_over_unproven_holder")
        # The caller's session continues as a fresh one on the merged account; the old one ends.
        binding = self.refresh_tokens.family_binding(principal.session_id)
        self.refresh_tokens.revoke_family(principal.session_id, owner_id=survivor)
        amr = tuple(dict.fromkeys((*principal.amr, "otp" if method == METHOD_SMS else "face")))
        return self._fresh_pair(survivor, principal.channel, amr, binding)

    def _evict_records(self: AuthService, work: AccountWork, account_id: str, bindings: list[Any]) -> None:
        """In ``work``: remove ``bindings`` and refuse access tokens issued up to this second even before they
        expire; announced. ``_end_sessions`` revokes the refresh families once this committed."""
        for binding in bindings:
            self.accounts.unbind(account_id, binding.channel, binding.binding_id, work=work)
        self.accounts.set_tokens_after(account_id, int(self.clock.now()), work=work)
        self.notices.notify(account_id, "bindings_evicted", work=work)

    def _end_sessions(self: AuthService, account_id: str, evicted: int, client_ip: str, **why: str) -> None:
        revoked = self.refresh_tokens.revoke_account(account_id)
        self.audit.record("recovery", account_id=account_id, ip=client_ip or None, evicted=evicted,
                          families=len(revoked), **why)

    # --- recovery -------------------------------------------------------------------------------------

    def recover(
        self: AuthService, principal: Principal, face_token: str, evict: list[str], *, client_ip: str = ""
    ) -> TokenPair:
        """The rightful person (四级 face check against the account's verified ID number) evicts the
        login bindings that are not theirs; every session of the account ends, theirs continues fresh."""
        account_id = self.accounts.resolve(principal.account_id)
        identity = self.accounts.realname_identity(account_id)
        if identity is None:
            raise RealnameLevelRequired(required=int(RealnameLevel.VERIFIED), current=self.accounts.level(account_id))
        bindings = {b.binding_id: b for b in self.accounts.bindings(account_id)}
        own = self.refresh_tokens.family_binding(principal.session_id)
        for binding_id in evict:
            if binding_id not in bindings or bindings[binding_id].channel == REALNAME_CHANNEL:
                raise BindingNotFound()
            if binding_id == own:
                raise RecoveryRefused()
        left = [b for b in bindings.values() if b.channel in LOGIN_CHANNELS and b.binding_id not in evict]
        if not left:
            raise LastBinding()
        self.limiter.hit((RECOVERY_ACCOUNT_DAILY, f"account:{account_id}"))
        verdict = self._identity.verify_face(identity[0], identity[1], face_token)
        if not verdict.matched:
            self.audit.record("recovery", account_id=account_id, ip=client_ip or None, outcome="failure", reason="face_check_failed")
            raise FaceCheckFailed()
        # Every session ends now; the fresh pair below is issued after it.
        with self.accounts.work() as work:
            self.accounts.raise_level(account_id, int(RealnameLevel.PERSON), SOURCE_FACE, work=work)
            self._evict_records(work, account_id, [bindings[binding_id] for binding_id in evict])
            self._changed_in(work, account_id)
        self._end_sessions(account_id, len(evict), client_ip)
        amr = tuple(dict.fromkeys((*principal.amr, "face")))
        return self._fresh_pair(account_id, principal.channel, amr, own)

    def _fresh_pair(self: AuthService, account_id: str, channel: str, amr: tuple[str, ...], binding: str) -> TokenPair:
        from auth.session_types import TokenPair

        family, refresh_token = self.refresh_tokens.start_family(
            account_id=account_id, channel=channel, amr=amr, policy=self.config.citizen_sessions, binding=binding
        )
        summary = self.accounts.summary(account_id)
        access = self._issue_person(account_id, family, level=summary.realname_level, acting_for=None)
        return TokenPair(access.token, refresh_token, access.expires_in, summary)
