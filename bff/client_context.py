"""Who is asking, as far as the shape of an answer goes: channel, UI mode and language.

* **channel** (``app | wechat | alipay``): the audience of the access token when there is one,
  otherwise ``X-Client-Channel`` (default ``app``). A header cannot override the token.
* **mode** (``standard | elder``): ``X-Client-Mode``, else the citizen's preference, else standard.
* **language** (``zh | mn``): the citizen's preference, else ``Accept-Language`` (q-values honoured;
  ``mn``, ``mn-Mong``, ``mn-CN`` → mn; ``zh``, ``zh-CN``, ``zh-Hans`` → zh), else zh. Languages we do not
  serve are ignored, as content negotiation allows; only the two custom headers are strict.

Bad ``X-Client-Channel`` / ``X-Client-Mode`` values answer 400 in the envelope
(``invalid_client_channel`` / ``invalid_client_mode``) on every route, whether or not it uses them
(``check_headers``, a ``before_request`` hook); an empty value means the header is absent. Whatever a response depends on must be in
its ``Vary`` header (``VARY_HEADERS``) and in its cache key (``ClientContext.variant``).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from flask import g, request

from bff.caching.response_keys import Variant
from bff.errors import ApiError

if TYPE_CHECKING:
    from auth.accounts import AccountView
    from auth.session_types import Principal

CHANNEL_HEADER = "X-Client-Channel"
MODE_HEADER = "X-Client-Mode"
LANGUAGE_HEADER = "Accept-Language"

CHANNELS = ("app", "wechat", "alipay")
MODES = ("standard", "elder")
LANGUAGES = ("zh", "mn")
DEFAULTS = {"channel": "app", "mode": "standard", "language": "zh"}

# What each dimension is negotiated on, for the Vary header.
VARY_HEADERS = {"channel": CHANNEL_HEADER, "mode": MODE_HEADER, "language": LANGUAGE_HEADER}
LANGUAGE_TAGS = {"zh": "zh-Hans", "mn": "mn-Mong"}
# What a synthetic request sends to reproduce a variant (background refreshes of cached answers).
VARIANT_REQUEST_HEADERS = {"zh": "zh-CN", "mn": "mn-Mong"}

_G_KEY = "client_context"
_LANGUAGE_RANGE = re.compile(r"^\s*([A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*|\*)\s*(?:;\s*q\s*=\s*([0-9.]{1,5}))?\s*$")


@dataclass(frozen=True)
class ClientContext:
    channel: str = "app"
    mode: str = "standard"
    language: str = "zh"
    home_region: str | None = None
    principal: "Principal | None" = None
    account: "AccountView | None" = None

    @property
    def signed_in(self) -> bool:
        return self.principal is not None

    @property
    def language_tag(self) -> str:
        return LANGUAGE_TAGS[self.language]

    def variant(self, depends_on: tuple[str, ...] = ("channel", "mode", "language")) -> Variant:
        """The cache variant; dimensions the answer does not depend on take their default, so
        variants that would produce the same body share one entry."""
        return Variant(**{name: getattr(self, name) if name in depends_on else DEFAULTS[name]
                          for name in ("channel", "mode", "language")})


def _choice(header: str, allowed: tuple[str, ...], error: str) -> str | None:
    raw = request.headers.get(header)
    if raw is None or not raw.strip():
        return None
    value = raw.strip().lower()
    if value not in allowed:
        raise ApiError(400, error, f"{header} must be one of {', '.join(allowed)}",
                       errors={header: [f"must be one of {', '.join(allowed)}"]})
    return value


def check_headers() -> None:
    """One rule for the two custom headers on every route (``before_request``)."""
    _choice(CHANNEL_HEADER, CHANNELS, "invalid_client_channel")
    _choice(MODE_HEADER, MODES, "invalid_client_mode")


@lru_cache(maxsize=512)
def negotiate_language(header: str | None) -> str | None:
    """``zh`` or ``mn`` by q-value from an ``Accept-Language`` value; None when it names neither.

    Ties keep the client's order; ``*`` means "anything", which is Chinese; malformed ranges are
    skipped (a header we cannot read is no reason to refuse the request).
    """
    if not header:
        return None
    best: tuple[float, int, str] | None = None
    for position, part in enumerate(header.split(",")[:20]):
        match = _LANGUAGE_RANGE.match(part)
        if not match:
            continue
        tag, q = match.group(1).lower(), match.group(2)
        try:
            weight = 1.0 if q is None else float(q)
        except ValueError:
            continue
        if not 0 < weight <= 1:
            continue
        primary = tag.split("-", 1)[0]
        language = {"mn": "mn", "zh": "zh", "*": "zh"}.get(primary)
        if language is None:
            continue
        candidate = (-weight, position, language)
        if best is None or candidate < best:
            best = candidate
    return best[2] if best else None


def _signed_in() -> tuple["Principal", "AccountView"]:
    from auth.tokens import CITIZEN_AUDIENCES
    from bff.extensions import services
    from bff.auth.security import authenticate

    principal = authenticate(CITIZEN_AUDIENCES)
    return principal, services().identity.me(principal.account_id)


def resolve(*, optional_auth: bool = False) -> ClientContext:
    """Read the client context of this request (once) and remember it in ``g``.

    With ``optional_auth`` an ``Authorization`` header is verified (401 when bad, 503 when Redis is
    down) and the citizen's preferences fill in what the headers leave open.
    """
    cached: ClientContext | None = g.get(_G_KEY)
    if cached is not None and (cached.signed_in or not optional_auth or "Authorization" not in request.headers):
        return cached
    header_channel = _choice(CHANNEL_HEADER, CHANNELS, "invalid_client_channel")
    header_mode = _choice(MODE_HEADER, MODES, "invalid_client_mode")
    header_language = negotiate_language(request.headers.get(LANGUAGE_HEADER))

    principal = account = None
    preferences: dict[str, Any] = {}
    if optional_auth and "Authorization" in request.headers:
        principal, account = _signed_in()
        preferences = account.preferences.to_dict()
    channel = (principal.channel if principal is not None and principal.channel in CHANNELS else None)
    context = ClientContext(
        channel=channel or header_channel or DEFAULTS["channel"],
        mode=header_mode or _allowed(preferences.get("mode"), MODES) or DEFAULTS["mode"],
        # Phones send Accept-Language from their system settings on every request, so a language the
        # citizen chose in the app must win over it; X-Client-Mode is set by the app itself.
        language=_allowed(preferences.get("language"), LANGUAGES) or header_language or DEFAULTS["language"],
        home_region=preferences.get("home_region"),
        principal=principal,
        account=account,
    )
    setattr(g, _G_KEY, context)
    g.client_channel = context.channel  # read by the request log
    return context


def _allowed(value: Any, allowed: tuple[str, ...]) -> str | None:
    return value if value in allowed else None


def current() -> ClientContext:
    """The context resolved for this request (resolving it anonymously if nobody did yet)."""
    context: ClientContext | None = g.get(_G_KEY)
    return context if context is not None else resolve()


def request_headers_for(variant: Variant) -> dict[str, str]:
    """Headers that make a synthetic request resolve to ``variant`` (background cache refreshes)."""
    return {CHANNEL_HEADER: variant.channel, MODE_HEADER: variant.mode,
            LANGUAGE_HEADER: VARIANT_REQUEST_HEADERS[variant.language]}


# The parameters documented on every operation that negotiates on them (OpenAPI 3).
def openapi_parameters(depends_on: tuple[str, ...]) -> list[dict[str, Any]]:
    documented = {
        "channel": {"in": "header", "name": CHANNEL_HEADER, "required": False,
                    "description": "Client channel when no access token says it (default app)",
                    "schema": {"type": "string", "enum": [*CHANNELS, ""]}},  # empty = absent
        "mode": {"in": "header", "name": MODE_HEADER, "required": False,
                 "description": "UI mode: `elder` is the 长辈版 variant (default: the citizen's preference, else standard)",
                 "schema": {"type": "string", "enum": [*MODES, ""]}},
        "language": {"in": "header", "name": LANGUAGE_HEADER, "required": False,
                     "description": "`mn` / `mn-Mong` for Mongolian names where the reference data has them, "
                     "else Chinese (q-values honoured)",
                     "schema": {"type": "string", "example": "mn-Mong, zh-CN;q=0.8"}},
    }
    return [documented[name] for name in ("channel", "mode", "language") if name in depends_on]
