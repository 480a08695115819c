"""Every Redis key of ``auth/`` and how long it lives.

No key name contains a raw phone number, ID number, openid, IP address or token: identifiers appear
only as keyed hashes (``Crypto.blind_index`` / ``Crypto.keyed_hash``). TTLs here garbage-collect;
expiry decisions compare stored timestamps with the injected clock (see ``kernel.clock``).
Records (operators, signing keys, preferences, the audit log…) live in PostgreSQL, not here.
"""

from __future__ import annotations

PREFIX = "auth:"
DAY = 86_400

# Accounts, bindings, blind-index lookups, enterprise links, operators and signing keys are PostgreSQL
# records (auth.account_records, auth.enterprise_records, auth.operator_records,
# auth.signing_key_records); only the refresh-family index of accounts lives here.

# --- Refresh tokens (auth.refresh_tokens) -------------------------------------------------------
def refresh_token(token_hash: str) -> str:
    """hash {family}: the token's way to its family; TTL = the family's remaining life, capped by its
    idle limit (14 d citizens / 30 min operators). Rotated tokens stay as tombstones for reuse
    detection. Whether a token is current, the grace-window predecessor or a reused tombstone is
    decided from the family's own hash, so every script of a family touches one key (no hash tag)."""
    return f"{PREFIX}rt:{token_hash}"


def refresh_family(family_id: str) -> str:
    """hash {account, channel, amr, created_at, last_used, idle, absolute, current, previous,
    rotated_at, acting_for, binding}; TTL = absolute limit (30 d citizens / 12 h operators) from
    creation. Addressed by family id alone (access tokens carry it), so it is not tagged by account:
    after a merge the survivor's index lists families created under the absorbed account."""
    return f"{PREFIX}rf:{family_id}"


def account_families(account_id: str) -> str:
    """set of family ids for logout-all; TTL = longest absolute limit (30 d), renewed on each login.
    Only ever used alone (SADD/SREM/SMEMBERS/DEL); writes to it and to a family are ordered, not atomic
    (see ``auth.refresh_tokens``)."""
    return f"{PREFIX}acct:{{{account_id}}}:families"


ACCOUNT_FAMILIES_TTL = 30 * DAY


# --- SMS login codes (auth.sms_codes) -----------------------------------------------------------
SMS_CODE_TTL = 300  # the code's validity; TTL equals it


def sms_code(phone_hash: str) -> str:
    """hash {code_hash, expires_at, attempts}; TTL SMS_CODE_TTL."""
    return f"{PREFIX}sms:{phone_hash}"


# --- Real-name claims (auth.protection) ---------------------------------------------------------
REALNAME_PENDING_TTL = 900  # the 409 answer stays claimable this long
CLAIM_TTL = 600  # a started claim (SMS code or face capture) must be confirmed within 10 min
CLAIM_ATTEMPTS = 5


def realname_pending(account_id: str) -> str:
    """hash {target, id_blind, enc_name, enc_id_number, at}: the caller verified an ID number that
    belongs to ``target``; TTL REALNAME_PENDING_TTL. Shares the caller's hash tag."""
    return f"{PREFIX}acct:{{{account_id}}}:rn_pending"


def realname_claim(account_id: str, claim_id: str) -> str:
    """hash {target, method, code_hash, attempts, expires_at, id_blind, enc_name, enc_id_number}: a
    claim is readable only under the caller's own account id; TTL CLAIM_TTL."""
    return f"{PREFIX}acct:{{{account_id}}}:claim:{claim_id}"


# --- Rate limits and lockouts (auth.rate_limits) ------------------------------------------------
def rate_window(rule: str, subject_hash: str) -> str:
    """hash {count, start}; TTL = the rule's window (60 s .. 1 d). One subject's windows share the hash
    tag ``{<subject hash>}`` so one script checks and counts them together (e.g. a phone's
    per-minute and per-day windows); different subjects are checked one after another (see
    ``auth.rate_limits``), so the limits spread over the whole cluster."""
    return f"{PREFIX}rl:{{{subject_hash}}}:{rule}"


# --- Guessing throttles (auth.login_guard) -------------------------------------------------------
# One identity's keys share the hash tag {<scope>:<subject hash>} so one script checks and counts them.
GUARD_KNOWN_TTL = 30 * DAY  # how long an address an identity logged in from stays trusted


def guard_identity(scope: str, subject_hash: str) -> str:
    """hash {count, start, last}: failures for the identity from any address; TTL = the window
    (15 min) from its first failure. Only slows unknown addresses down, never locks."""
    return f"{PREFIX}guard:{{{scope}:{subject_hash}}}:id"


def guard_pair(scope: str, subject_hash: str, ip_hash: str) -> str:
    """hash {count, start, locked_until}: failures for the identity from one client address;
    TTL = the window, or the lock (15 min) once locked."""
    return f"{PREFIX}guard:{{{scope}:{subject_hash}}}:ip:{ip_hash}"


def guard_known(scope: str, subject_hash: str) -> str:
    """hash ip_hash -> trusted-until: addresses the identity logged in from (30 d) or, for SMS,
    asked for the current code from (the code's 5 min); TTL GUARD_KNOWN_TTL, renewed on each success."""
    return f"{PREFIX}guard:{{{scope}:{subject_hash}}}:known"


def guard_ip(scope: str, ip_hash: str) -> str:
    """hash {count, start}: failures from one client address across identities; TTL = the window (1 h)."""
    return f"{PREFIX}guard:{{ip:{ip_hash}}}:{scope}"

