"""Every Redis key of ``integrations`` and how long it lives.

Key names carry only app ids (public configuration), never a token or personal data. The prefix moved
with the package (it was ``auth``'s): after a deploy the holder fetches once more with ``stable_token`` in
normal mode, which hands back the same still-valid token, so old and new processes never conflict (the
same holds for the hash-tagged names introduced for Redis Cluster).
"""
from __future__ import annotations

PREFIX = "integrations:"


# --- WeChat server access_token (integrations.wechat_token) ---------------------------------------
# The token and its refresh lock share the hash tag {access_token:<appid>}: one script checks the lock
# and stores the token (Redis Cluster runs it only when both keys live in one slot).
def wechat_access_token(appid: str) -> str:
    """hash {token, refresh_at, expires_at} (epoch seconds of the holder's clock).
    TTL = the token's ``expires_in`` as WeChat stated it, so a dead token disappears by itself."""
    return f"{PREFIX}wechat:{{access_token:{appid}}}"


def wechat_access_token_lock(appid: str) -> str:
    """string: random owner id of the one process refreshing the token; TTL WECHAT_TOKEN_LOCK_MIN_TTL_MS
    or more (see below). Released by compare-and-delete, so only its owner can release it."""
    return f"{PREFIX}wechat:{{access_token:{appid}}}:lock"


# The lock must outlive one stable_token call, or a second process could refresh alongside a slow
# first one. The holder uses max(this, 2 x the upstream timeout + 1 s).
WECHAT_TOKEN_LOCK_MIN_TTL_MS = 10_000
