"""``AuthService``: the flows the HTTP views call, one method per endpoint.

Views pass request data in and turn results (``to_dict()``) or ``AuthError``s into responses; all
policy lives below. Every login checks the per-IP limit before spending an upstream call, then the
per-identity limit, then resolves (or creates, or merges) the account and opens a refresh family.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

import redis
from argon2 import PasswordHasher

from auth.accounts import AccountStore, AccountSummary, AccountView, AccountWork, Attachment, Identity
from auth.audit import AuditLog
from auth.claims import RealnameClaims
from auth.directory import CitizenDirectory
from auth.enterprises import Enterprises
from auth.errors import (
    AccountLocked,
    AuthError,
    RateLimited,
    RealnameLevelRequired,
    RefreshTokenInvalid,
    RefreshTokenReused,
    SmsCodeExhausted,
    SmsCodeExpired,
    SmsCodeInvalid,
    TokenInvalid,
)
from auth.identifiers import mask_phone, normalize_phone
from auth.login_guard import SMS_GUARD, Attempt, LoginGuard
from auth.notices import SecurityNotices
from auth.operators import Operators, require_role
from auth.ports import AlipayGateway, IdentityPlatform, SmsGateway, WeChatGateway
from auth.preferences import Preferences
from auth.enterprise_flows import EnterpriseFlows
from auth.protection import ProtectionFlows
from auth.rate_limits import (
    LOGIN_IP,
    LOGIN_SUBJECT,
    SMS_IP_HOURLY,
    SMS_PHONE_COOLDOWN,
    SMS_PHONE_DAILY,
    RateLimiter,
    ip_subject,
)
from auth.realname import RealnameVerifier
from auth.refresh_tokens import (
    Family,
    RefreshTokens,
)
from auth.session_types import AuthConfig, Principal, SmsCodeSent, TokenPair
from auth.signing_keys import SigningKeys
from auth.sms_codes import CODE_TTL, SmsCheck, SmsCodes, SmsVerification
from auth.tokens import IssuedToken, TokenService
from integrations.errors import IntegrationError, UpstreamUnavailable
from integrations.errors import RateLimited as UpstreamRateLimited
from kernel.outbox import Outbox
from kernel.postgres import Database
from kernel.clock import Clock, SystemClock
from kernel.crypto import Crypto
from kernel.events import EventBus

log = logging.getLogger("msb.auth")

# Published after every identity change other packages may mirror (push re-syncs the citizen).
ACCOUNT_CHANGED = "account.changed"

CONSOLE = "console"


class AuthService(ProtectionFlows, EnterpriseFlows):
    def __init__(
        self,
        redis_client: redis.Redis,
        *,
        wechat: WeChatGateway,
        alipay: AlipayGateway | None,
        identity: IdentityPlatform,
        sms: SmsGateway,
        secret_dir: Path | str,
        clock: Clock | None = None,
        config: AuthConfig = AuthConfig(),
        password_hasher: PasswordHasher | None = None,
        events: EventBus | None = None,
        database: Database,
    ) -> None:
        if not redis_client.get_connection_kwargs().get("decode_responses"):
            raise ValueError("AuthService needs a Redis client created with decode_responses=True")
        self.clock = clock or SystemClock()
        self.config = config
        self._wechat, self._alipay, self._identity, self._sms = wechat, alipay, identity, sms
        self.crypto = Crypto(secret_dir)
        self.database = database
        self.audit = AuditLog(database, self.crypto, self.clock)
        self.limiter = RateLimiter(redis_client, self.crypto, self.clock)
        self.signing_keys = SigningKeys(
            database,
            self.crypto,
            self.clock,
            retain_seconds=config.signing_key_retain_seconds,
            cache_seconds=config.signing_key_cache_seconds,
        )
        self.tokens = TokenService(self.signing_keys, self.clock, issuer=config.issuer, ttl=config.access_ttl)
        self.refresh_tokens = RefreshTokens(
            redis_client, self.crypto, self.clock, grace_seconds=config.refresh_grace_seconds
        )
        self.accounts = AccountStore(redis_client, self.crypto, self.clock, database=database)
        # The public query other packages (push) mirror citizens through.
        self.directory = CitizenDirectory(redis_client, self.crypto, self.clock, database=database)
        self.enterprises = Enterprises(self.clock, database=database)
        self.sms_codes = SmsCodes(redis_client, self.crypto, self.clock)
        self.realname = RealnameVerifier(self.accounts, identity, self.limiter, self.clock)
        self.guard = LoginGuard(self.limiter)
        self.operators = Operators(database, self.clock, self.limiter, self.audit, password_hasher, self.guard)
        self.events = events or EventBus()
        # Facts that must not be lost once a record changed go through PostgreSQL's outbox.
        self.outbox = Outbox(database, self.events)
        self.claims = RealnameClaims(redis_client, self.crypto, self.clock)
        self.notices = SecurityNotices(sms, self.clock, self.accounts.phones, self.events, self.outbox)

    def _announce(self, work: AccountWork, attachment: Attachment, channel: str) -> None:
        """Tell the existing account a login method was added or another account merged into it."""
        if attachment.merged:
            self.notices.notify(attachment.account_id, "merged", work=work)
        elif attachment.new_binding and not attachment.created:
            self.notices.notify(attachment.account_id, f"binding_added:{channel}", work=work)

    def _changed_in(self, work: AccountWork, *account_ids: str) -> None:
        """``account.changed`` in the transaction of the change itself: once it commits, other packages
        (push) will hear of it, at least once (``kernel.outbox``). Subscribers' failures never undo it."""
        for account_id in account_ids:
            work.add_event(self.outbox, ACCOUNT_CHANGED, account_id=account_id)

    def _changed(self, *account_ids: str) -> None:
        """``account.changed`` for a change already committed elsewhere (Redis-only state, no record
        changed): its own outbox transaction."""
        with self.accounts.work() as work:
            self._changed_in(work, *account_ids)

    def _attach(self, channel: str, identities: list[Identity], *, notice_channel: str, **options: Any) -> Attachment:
        """Attach identities, and announce it (notices, ``account.changed``) in the same transaction."""
        with self.accounts.work() as work:
            attachment = self.accounts.attach(channel, identities, work=work, **options)
            self._announce(work, attachment, notice_channel)
            self._changed_in(work, attachment.account_id)
        return attachment

    # --- citizen logins -------------------------------------------------------------------------

    @contextmanager
    def _failures_audited(
        self, event: str, channel: str | None, client_ip: str | None, account_id: str | None = None
    ) -> Iterator[None]:
        try:
            yield
        except (RateLimited, UpstreamRateLimited):
            raise  # refused before any work; auditing each one would let a flood fill the stream
        except (AuthError, IntegrationError) as exc:  # the outside systems' refusals are failed logins too
            self.audit.record(
                event, account_id=account_id, ip=client_ip, channel=channel, outcome="failure", reason=exc.code
            )
            raise

    def login_wechat(self, code: str, *, client_ip: str) -> TokenPair:
        self.limiter.hit((LOGIN_IP, ip_subject(client_ip)))
        with self._failures_audited("login_failed", "wechat", client_ip):
            session = self._wechat.code_to_session(code)
        self.limiter.hit((LOGIN_SUBJECT, f"wechat_openid:{session.openid}"))
        identities = [Identity("wechat_openid", session.openid)]
        if session.unionid:
            # Same unionid across our appids = same WeChat user = same account.
            identities.append(Identity("wechat_unionid", session.unionid))
        attachment = self._attach("wechat", identities, notice_channel="wechat", via="wechat")
        return self._open_session(attachment, channel="wechat", amr=("wechat",), client_ip=client_ip)

    def login_alipay(self, auth_code: str, *, client_ip: str) -> TokenPair:
        self.limiter.hit((LOGIN_IP, ip_subject(client_ip)))
        if self._alipay is None:  # the Alipay keys are not configured on this deployment
            raise UpstreamUnavailable(upstream="alipay")
        with self._failures_audited("login_failed", "alipay", client_ip):
            identity = self._alipay.exchange_auth_code(auth_code)
        self.limiter.hit((LOGIN_SUBJECT, f"alipay_open_id:{identity.open_id}"))
        identities = [Identity("alipay_open_id", identity.open_id)]
        if identity.user_id:
            identities.append(Identity("alipay_user_id", identity.user_id))
        attachment = self._attach("alipay", identities, notice_channel="alipay", via="alipay")
        return self._open_session(attachment, channel="alipay", amr=("alipay",), client_ip=client_ip)

    def send_sms_code(self, phone: str, *, client_ip: str) -> SmsCodeSent:
        """Same answer whether or not the phone has an account (no enumeration). The requesting
        address is trusted for the code's life, so strangers guessing elsewhere do not slow it down."""
        phone = normalize_phone(phone)
        subject = f"phone:{phone}"
        self.limiter.hit(
            (SMS_IP_HOURLY, ip_subject(client_ip)), (SMS_PHONE_COOLDOWN, subject), (SMS_PHONE_DAILY, subject)
        )
        code = self.sms_codes.issue(phone)
        self.guard.vouch(SMS_GUARD, subject, client_ip, CODE_TTL)
        self._sms.send_login_code(phone, code)
        return SmsCodeSent(expires_in=CODE_TTL, resend_after=SMS_PHONE_COOLDOWN.window)

    def login_app_sms(self, phone: str, sms_code: str, *, client_ip: str) -> TokenPair:
        """Wrong guesses burn the code after five (401 ``sms_code_exhausted``: ask for a new one); they
        never lock the phone. See ``auth.login_guard`` for the per-address limits."""
        phone = normalize_phone(phone)
        subject = f"phone:{phone}"
        # The looping-client limit is per (phone, address): per phone alone a stranger could hold it.
        self.limiter.hit((LOGIN_IP, ip_subject(client_ip)), (LOGIN_SUBJECT, f"{subject}|{ip_subject(client_ip)}"))
        with self._failures_audited("login_failed", "app", client_ip):
            attempt = self.guard.begin(SMS_GUARD, subject, client_ip)
            result = self.sms_codes.verify(phone, sms_code)
            if result.outcome is not SmsCheck.OK:
                self._sms_code_refused(attempt, result, client_ip)
        self.guard.succeeded(attempt)
        attachment = self._attach("phone", [Identity("phone", phone)], notice_channel="phone", masked=mask_phone(phone),
                                  via="sms")
        return self._open_session(attachment, channel="app", amr=("sms",), client_ip=client_ip)

    def _sms_code_refused(self, attempt: Attempt, result: SmsVerification, client_ip: str) -> NoReturn:
        try:
            self.guard.failed(attempt)
        except AccountLocked:
            self.audit.record("lockout", ip=client_ip, channel="app", scope="phone_ip")
            raise
        if result.outcome is SmsCheck.EXPIRED:
            raise SmsCodeExpired()
        if result.outcome is SmsCheck.EXHAUSTED:
            raise SmsCodeExhausted()
        raise SmsCodeInvalid(details={"attempts_left": result.attempts_left})

    def bind_wechat_phone(self, account_id: str, code: str) -> AccountSummary:
        """Bind the phone behind a WeChat phone-button code. If another account already has that
        phone, the two are merged; the summary names the surviving account."""
        account_id = self.accounts.resolve(account_id)
        # getPhoneNumber is billed per call: a looping client must not run up the bill.
        self.limiter.hit((LOGIN_SUBJECT, f"bind_phone:{account_id}"))
        phone = normalize_phone(self._wechat.phone_number(code))
        attachment = self._attach("phone", [Identity("phone", phone)], notice_channel="phone", account_id=account_id,
                                  masked=mask_phone(phone), via="wechat")
        self.audit.record("bind", account_id=attachment.account_id, channel="wechat", binding="phone", via="wechat")
        self._audit_merges(attachment.account_id, attachment.merged, reason="phone")
        return self.accounts.summary(attachment.account_id)

    def _open_session(self, attachment: Attachment, *, channel: str, amr: tuple[str, ...], client_ip: str) -> TokenPair:
        account_id = attachment.account_id
        family, refresh_token = self.refresh_tokens.start_family(
            account_id=account_id,
            channel=channel,
            amr=amr,
            policy=self.config.citizen_sessions,
            binding=attachment.binding_id,
        )
        summary = self.accounts.summary(account_id)
        access = self._issue_person(account_id, family, level=summary.realname_level, acting_for=None)
        self.audit.record(
            "login",
            account_id=account_id,
            ip=client_ip,
            channel=channel,
            new_account=attachment.created,
            family=family.family_id,
        )
        self._audit_merges(account_id, attachment.merged, reason=channel)
        return TokenPair(access.token, refresh_token, access.expires_in, summary)

    def _audit_merges(self, survivor: str, absorbed: Iterable[str], *, reason: str) -> None:
        for absorbed_id in absorbed:
            self.audit.record("merge", account_id=survivor, related_account_id=absorbed_id, reason=reason)
            self.audit.record("merge", account_id=absorbed_id, related_account_id=survivor, reason=reason)

    def _issue_person(self, account_id: str, family: Family, *, level: int, acting_for: str | None) -> IssuedToken:
        """``level``: the account's real-name level, as the caller already read it (no second read of the row)."""
        return self.tokens.issue(
            subject=account_id,
            channel=family.channel,
            session_id=family.family_id,
            account_type="person",
            amr=family.amr,
            level=level,
            acting_for=acting_for,
        )

    # --- sessions -------------------------------------------------------------------------------

    def refresh(self, refresh_token: str) -> TokenPair:
        try:
            rotation = self.refresh_tokens.rotate(refresh_token)
        except RefreshTokenReused as exc:
            log.warning("refresh token reuse: family revoked", extra={"fields": {"family": exc.family_id}})
            self.audit.record("refresh_reuse", account_id=exc.account_id, outcome="revoked", family=exc.family_id or "")
            raise
        family = rotation.family
        if family.channel == CONSOLE:
            operator = self.operators.get(family.account_id)
            if operator is None or operator.disabled:
                self.refresh_tokens.revoke_family(family.family_id)
                raise RefreshTokenInvalid()
            access = self._issue_operator(operator.operator_id, family, operator.roles)
            summary = AccountSummary(operator.operator_id, "operator", None, ())
        else:
            account_id = self.accounts.resolve(family.account_id)
            acting_for = family.acting_for
            if acting_for and not self.enterprises.can_act_for(account_id, acting_for):
                acting_for = None  # the link was removed: fall back to acting as oneself
                self.refresh_tokens.set_acting_for(family.family_id, None)
            summary = self.accounts.summary(account_id)
            access = self._issue_person(account_id, family, level=summary.realname_level, acting_for=acting_for)
        return TokenPair(access.token, rotation.refresh_token, access.expires_in, summary)

    def logout(self, account_id: str, family_id: str, all_devices: bool = False) -> None:
        """End this session, or every session of the account. Unknown or foreign families are
        ignored (the answer is the same either way)."""
        account_id = self.accounts.resolve(account_id)
        if all_devices:
            revoked = self.refresh_tokens.revoke_account(account_id)
            self.audit.record("logout", account_id=account_id, families=len(revoked), scope="all")
            return
        family = self.refresh_tokens.family(family_id)
        if family is not None and self.accounts.resolve(family.account_id) == account_id:
            self.refresh_tokens.revoke_family(family_id, owner_id=account_id)
            self.audit.record(
                "logout", account_id=account_id, channel=family.channel, family=family_id, scope="session"
            )

    def authenticate_access_token(self, token: str, *, audiences: Iterable[str]) -> Principal:
        """Verify a bearer token for one of ``audiences`` and check its session is still alive
        (logout, refresh-token reuse and operator disabling take effect at once)."""
        claims = self.tokens.verify(token, audiences=audiences)
        family = self.refresh_tokens.family(claims.session_id)
        if family is None:
            raise TokenInvalid()
        if claims.account_type == "operator":
            operator = self.operators.get(claims.subject)
            if (
                claims.channel != CONSOLE
                or family.account_id != claims.subject
                or operator is None
                or operator.disabled
            ):
                raise TokenInvalid()
            return Principal(
                operator.operator_id, "operator", None, CONSOLE, None, family.family_id, operator.roles, claims.amr
            )
        if claims.channel == CONSOLE:
            raise TokenInvalid()
        account_id, level, tokens_after = self.accounts.current(claims.subject)
        if family.account_id != claims.subject and self.accounts.resolve(family.account_id) != account_id:
            raise TokenInvalid()
        if claims.issued_at < tokens_after:  # every session ended by a recovery
            raise TokenInvalid()
        if claims.acting_for:
            self.enterprises.act_for(account_id, claims.acting_for)
        return Principal(
            account_id, "person", level, claims.channel, claims.acting_for, family.family_id, (), claims.amr
        )

    @staticmethod
    def require_level(principal: Principal, level: int) -> None:
        current = principal.level if principal.type == "person" else None
        if current is None or current < level:
            raise RealnameLevelRequired(required=int(level), current=current)

    @staticmethod
    def require_role(principal: Principal, role: str) -> None:
        require_role(principal.roles if principal.type == "operator" else (), role)

    def jwks(self) -> dict[str, list[dict[str, str]]]:
        return self.signing_keys.jwks()

    # --- real name, account, preferences ----------------------------------------------------------

    def me(self, account_id: str) -> AccountView:
        account_id = self.accounts.resolve(account_id)
        return self.accounts.view(account_id, enterprises=self.enterprises.links(account_id))

    def update_preferences(self, account_id: str, changes: Mapping[str, Any]) -> Preferences:
        """PATCH semantics: only the given fields change (see ``auth.preferences.apply_changes``)."""
        account_id = self.accounts.resolve(account_id)
        # The change and the fact push must learn (an opt-out) commit together: a 200 means push will hear it.
        with self.accounts.work() as work:
            preferences = self.accounts.update_preferences(account_id, changes, work=work)
            self._changed_in(work, account_id)
        return preferences

    def remove_binding(self, account_id: str, channel: str, binding_id: str | None = None) -> AccountView:
        account_id = self.accounts.resolve(account_id)
        with self.accounts.work() as work:
            removed = self.accounts.unbind(account_id, channel, binding_id, work=work)
            self._changed_in(work, account_id)
        for binding in removed:
            self.audit.record("unbind", account_id=account_id, binding=binding.binding_id)
        return self.me(account_id)

    # --- operators --------------------------------------------------------------------------------

    def login_operator(self, username: str, password: str, *, client_ip: str) -> TokenPair:
        operator = self.operators.authenticate(username, password, client_ip=client_ip)
        family, refresh_token = self.refresh_tokens.start_family(
            account_id=operator.operator_id, channel=CONSOLE, amr=("pwd",), policy=self.config.operator_sessions
        )
        access = self._issue_operator(operator.operator_id, family, operator.roles)
        return TokenPair(
            access.token, refresh_token, access.expires_in, AccountSummary(operator.operator_id, "operator", None, ())
        )

    def _issue_operator(self, operator_id: str, family: Family, roles: tuple[str, ...]) -> IssuedToken:
        return self.tokens.issue(
            subject=operator_id,
            channel=CONSOLE,
            session_id=family.family_id,
            account_type="operator",
            amr=family.amr,
            roles=roles,
        )
