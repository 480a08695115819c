"""Bearer-token authentication for the BFF's views.

``citizen_required`` / ``operator_required`` wrap a view: they read ``Authorization: Bearer …``,
verify the token through ``AuthService.authenticate_access_token`` (signature, claims, audience and the
live session behind it), apply the ``X-Acting-For`` header, check a real-name level or an operator role,
and mark the operation with the bearer security scheme in the OpenAPI document. The view then calls
``current_principal()``. Errors are domain exceptions, so ``bff.errors`` turns them into the one
envelope (401 with ``WWW-Authenticate``, 403 ``realname_level_required`` …).
"""
from __future__ import annotations

import functools
import re
from dataclasses import replace
from typing import Any, Callable

from flask import Flask, g, request

from auth.errors import EnterpriseLinkRequired, RefreshTokenInvalid, TokenError, TokenInvalid
from auth.service import AuthService
from auth.session_types import Principal, TokenPair
from auth.tokens import CHANNEL_AUDIENCES, CITIZEN_AUDIENCES, MAX_TOKEN_LENGTH
from bff.extensions import services
from bff.extensions import ErrorEnvelopeSchema, api

BEARER_SCHEME = "bearerAuth"
ACTING_FOR_HEADER = "X-Acting-For"
CONSOLE_AUDIENCES = (CHANNEL_AUDIENCES["console"],)
ENTERPRISE_ID_PATTERN = re.compile(r"^ent_[a-z2-7]{26}\Z")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_PRINCIPAL = "msb_principal"


class AuthenticationRequired(TokenError):
    """No credentials at all: RFC 6750 §3.1 says the challenge then carries no error code."""

    code = "authentication_required"
    default_message = "请先登录"

    def __init__(self) -> None:
        super().__init__(headers={"WWW-Authenticate": 'Bearer realm="msb"'})


def client_ip() -> str:
    """The client address; ``ProxyFix`` (configured trusted hops only) has already applied
    ``X-Forwarded-For``, so a client cannot pick its own address to escape per-IP limits."""
    return request.remote_addr or ""


def bearer_token() -> str:
    header = request.headers.get("Authorization")
    if header is None or not header.strip():
        raise AuthenticationRequired()
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or len(token) > MAX_TOKEN_LENGTH or any(c.isspace() for c in token):
        raise TokenInvalid()
    return token


def _acting_for(service: AuthService, principal: Principal) -> Principal:
    """``X-Acting-For: <enterprise id>`` switches the acting context for this one request. The link
    is checked through the domain (an active link is required) and each use is audited."""
    raw = request.headers.get(ACTING_FOR_HEADER)
    if raw is None or not raw.strip():
        return principal
    enterprise_id = raw.strip()
    if enterprise_id.lower() == "self":
        return replace(principal, acting_for=None)
    if not ENTERPRISE_ID_PATTERN.match(enterprise_id):
        raise EnterpriseLinkRequired()
    service.enterprises.act_for(principal.account_id, enterprise_id)
    service.audit.record(
        "acting_for",
        account_id=principal.account_id,
        channel=principal.channel,
        enterprise=enterprise_id,
        via="header",
        scope="read" if request.method in SAFE_METHODS else "write",
    )
    return replace(principal, acting_for=enterprise_id)


def authenticate(audiences: tuple[str, ...]) -> Principal:
    cached: Principal | None = g.get(_PRINCIPAL)
    if cached is not None:
        return cached
    service = services().identity
    principal = service.authenticate_access_token(bearer_token(), audiences=audiences)
    if principal.type == "person":
        principal = _acting_for(service, principal)
    setattr(g, _PRINCIPAL, principal)
    g.client_channel = principal.channel  # read by the request log
    return principal


def current_principal() -> Principal:
    """The caller of the current request; only valid inside a view wrapped by one of the decorators."""
    principal: Principal | None = g.get(_PRINCIPAL)
    if principal is None:
        raise RuntimeError("current_principal() outside an authenticated view")
    return principal


def _document(blp: Any, wrapper: Callable, *, forbidden: str | None) -> Callable:
    wrapper = blp.doc(security=[{BEARER_SCHEME: []}])(wrapper)
    wrapper = blp.alt_response(
        401,
        schema=ErrorEnvelopeSchema,
        description="Missing, invalid or expired access token, or the session has ended "
        "(`WWW-Authenticate: Bearer` challenge)",
    )(wrapper)
    if forbidden:
        wrapper = blp.alt_response(403, schema=ErrorEnvelopeSchema, description=forbidden)(wrapper)
    return wrapper


def citizen_required(blp: Any, *, min_level: int | None = None, acting_for: bool = True) -> Callable:
    """A signed-in citizen (APP, WeChat or Alipay token). ``min_level`` is the step-up: below it the
    answer is 403 ``realname_level_required`` with the required and current levels."""

    def decorator(func: Callable) -> Callable:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            principal = authenticate(CITIZEN_AUDIENCES)
            if min_level is not None:
                AuthService.require_level(principal, min_level)
            return func(*args, **kwargs)

        forbidden = "`realname_level_required`: a higher real-name level is needed" if min_level else None
        if acting_for:
            forbidden = (forbidden + "; " if forbidden else "") + (
                "`enterprise_link_required`: no active link to the enterprise named in `X-Acting-For`"
            )
        return _document(blp, wrapper, forbidden=forbidden)

    return decorator


def operator_required(blp: Any, *, role: str | None = None) -> Callable:
    """A signed-in console operator (audience ``msb-console``), optionally holding ``role``."""

    def decorator(func: Callable) -> Callable:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            principal = authenticate(CONSOLE_AUDIENCES)
            if role is not None:
                AuthService.require_role(principal, role)
            return func(*args, **kwargs)

        return _document(blp, wrapper, forbidden=f"`operator_role_required`: needs role {role}" if role else None)

    return decorator


def register_security_scheme(app: Flask) -> None:
    """Publish the bearer scheme; call after ``api.init_app`` (each app gets a fresh spec)."""
    components = api.spec.components
    if BEARER_SCHEME not in components.security_schemes:
        components.security_scheme(
            BEARER_SCHEME,
            {
                "type": "http",
                "scheme": "bearer",
                "bearerFormat": "JWT",
                "description": "Access token from a login or refresh (ES256 JWT, typ at+jwt, 10 min). "
                "Citizen endpoints take APP/WeChat/Alipay tokens; /v1/admin endpoints take console tokens.",
            },
        )


def refuse_misrouted_refresh(pair: TokenPair) -> None:
    """A console refresh token at the citizen endpoint (or the reverse) is misrouted or stolen: end
    that session instead of handing its new tokens out on the wrong endpoint, and answer 401."""
    service = services().identity
    claims = service.tokens.verify(pair.access_token, audiences=tuple(CHANNEL_AUDIENCES.values()))
    service.refresh_tokens.revoke_family(claims.session_id)
    raise RefreshTokenInvalid()
