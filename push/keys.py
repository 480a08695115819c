"""Every Redis key of ``push/`` and how long it lives. Nothing else in the package builds a key name.

Citizens are addressed by a dense integer **citizen index** (``idx``, 0, 1, 2, …) handed out once per
account, so every segment is a bitmap with one bit per citizen: 24.5 M citizens = 3.1 MB per
segment, and an audience is a handful of ``BITOP``s. Key names never contain a phone number, ID
number, openid or device token: only account ids (opaque), citizen indexes, campaign ids, template
ids, item/theme/region codes and dates. Channel addresses are stored encrypted (``kernel.crypto``).

TTLs only collect garbage: every decision reads the injected clock. The inbox is a record in
PostgreSQL (``push.inbox_records``), not a key here.
"""
from __future__ import annotations

PREFIX = "push:"
DAY = 86_400

# --- Citizen index (push.profiles) -- no TTL: an index is never reused --------------------------
CITIZEN_SEQ = PREFIX + "cidx:seq"  # string: last index handed out (INCR; first citizen gets 1)
CITIZEN_BY_ACCOUNT = PREFIX + "cidx:by_acct"  # hash account_id -> idx
CITIZEN_BY_INDEX = PREFIX + "cidx:by_idx"  # hash idx -> account_id


def profile(idx: int) -> str:
    """hash: region, birth_ym (YYYYMM from the verified ID), enterprise (0/1), synced_at. What the segment bits were set from, so a change can clear the old bit. No TTL."""
    return f"{PREFIX}profile:{idx}"


# --- Segments (bitmaps, bit idx) -- no TTL: maintained on every sync/event ------------------------
SEG_ALL = PREFIX + "seg:all"  # every indexed citizen


def seg_region(code: str) -> str:
    """Home region (6-digit 旗县 code, or the 盟市 code when only that is known)."""
    return f"{PREFIX}seg:region:{code}"


def seg_birth_month(yyyymm: str) -> str:
    """Birth month from the verified ID number (age ranges are unions of months)."""
    return f"{PREFIX}seg:birth:{yyyymm}"


SEG_VERIFIED_AGE = PREFIX + "seg:birth:any"  # citizens whose birth month is known
SEG_ENTERPRISE = PREFIX + "seg:kind:enterprise"  # has an active enterprise (法人) link


def seg_opt_out(category: str, channel: str) -> str:
    """Opted out of ``category`` (marketing/policy) on ``channel`` (auth preferences)."""
    return f"{PREFIX}seg:optout:{category}:{channel}"


def seg_address(channel: str) -> str:
    """Reachable on ``channel`` (wechat openid / alipay open_id bound, APP device registered)."""
    return f"{PREFIX}seg:addr:{channel}"


def seg_item(basic_code: str, event: str) -> str:
    """Behaviour on an item: event in search/view/start/finish."""
    return f"{PREFIX}seg:item:{basic_code}:{event}"


def seg_theme(theme_code: str) -> str:
    """Touched a 一件事 theme (any event on one of its items, or viewed the theme)."""
    return f"{PREFIX}seg:theme:{theme_code}"


def scratch(name: str) -> str:
    """Temporary bitmaps of one audience resolution / preview / plan run; TTL SCRATCH_TTL."""
    return f"{PREFIX}tmp:{name}"


SCRATCH_TTL = 600


# --- Channel addresses (push.profiles) -- no TTL ---------------------------------------------------
def address(channel: str) -> str:
    """hash idx -> ciphertext of the openid / open_id / JSON {token, platform} (AES-GCM, AAD
    ``push.address.<channel>``). A denormalised copy of auth's bindings, refreshed by
    ``sync_citizen``; APP device tokens live only here."""
    return f"{PREFIX}addr:{channel}"


# APP devices: one account per device token (push.profiles.register_device). The token appears only as
# a blind index (``Crypto.blind_index("app_device", token)``). No TTL. The dispatcher's Lua drops a
# dead token's address without touching these; a stale entry only points at an account with no
# address and is replaced on the next registration of that token.
DEVICE_OWNER = PREFIX + "device:owner"  # hash token blind index -> idx of the account holding it
DEVICE_OF = PREFIX + "device:of"  # hash idx -> blind index of the account's current token


# --- Subscription ledger (push.consent) -------------------------------------------------------------
def consent(channel: str, template_id: str) -> str:
    """hash idx -> remaining one-time sends (positive int) or -1 (long-term accepted). A missing
    field means no quota. No TTL (one-time accepts do not expire upstream)."""
    return f"{PREFIX}consent:{channel}:{template_id}"


def consent_has(channel: str, template_id: str) -> str:
    """bitmap: the citizen has quota for the template (kept in step with ``consent`` by the same
    Lua scripts), so previews count consent with one BITCOUNT."""
    return f"{PREFIX}consent:has:{channel}:{template_id}"


def consent_recent(channel: str, template_id: str, idx: int) -> str:
    """hash {client, event}: accepts seen from one source and not yet matched by the other, so a
    client-reported accept and WeChat's popup event for the same tap count once. TTL CONSENT_MATCH_TTL."""
    return f"{PREFIX}consent:recent:{channel}:{template_id}:{idx}"


CONSENT_MATCH_TTL = 120
CONSENT_TEMPLATES = PREFIX + "consent:templates"  # set of "channel:template_id" ever granted


# --- Behaviour (push.events) --------------------------------------------------------------------------
def behaviour(idx: int) -> str:
    """list of JSON events, newest first, LTRIM to BEHAVIOUR_KEEP; TTL BEHAVIOUR_TTL (renewed)."""
    return f"{PREFIX}beh:{idx}"


BEHAVIOUR_KEEP = 100
BEHAVIOUR_TTL = 180 * DAY


def popularity(region: str) -> str:
    """zset basic_code -> weighted count of view/start/finish events by citizens of the region
    (county and its 盟市 both counted). No TTL; scores halve weekly (``events.decay_popularity``)."""
    return f"{PREFIX}pop:{region}"


# --- Campaign planning (push.planner) -- the campaign records themselves are in PostgreSQL ------------
def plan_lock(campaign_id: str) -> str:
    """string owner; TTL PLAN_LOCK_TTL, renewed while planning: one planner per campaign."""
    return f"{PREFIX}campaign:{campaign_id}:planlock"


PLAN_LOCK_TTL = 120


# --- Message state (push.planner, push.dispatcher) -- TTL MESSAGE_STATE_TTL from the last write ---------
def planned(campaign_id: str, channel: str) -> str:
    """bitmap: a message campaign x citizen x channel was enqueued (the dedupe record)."""
    return f"{PREFIX}msg:{campaign_id}:{channel}:planned"


def done(campaign_id: str, channel: str) -> str:
    """bitmap: the message reached a terminal state (sent, failed, unknown, skipped, cancelled)."""
    return f"{PREFIX}msg:{campaign_id}:{channel}:done"


def sent(campaign_id: str, channel: str) -> str:
    """bitmap: accepted by the channel."""
    return f"{PREFIX}msg:{campaign_id}:{channel}:sent"


def unknown(campaign_id: str, channel: str) -> str:
    """bitmap: a worker died during the HTTP call; never retried (never-duplicate rule)."""
    return f"{PREFIX}msg:{campaign_id}:{channel}:unknown"


def dead(campaign_id: str, channel: str) -> str:
    """bitmap: the message was dead-lettered (retries exhausted) and not retried since; the only
    messages an operator's dead-letter retry may re-queue (``push.dead_letters``)."""
    return f"{PREFIX}msg:{campaign_id}:{channel}:dead"


def clicked(campaign_id: str, channel: str) -> str:
    """bitmap: the recipient clicked the message (counted once per message)."""
    return f"{PREFIX}msg:{campaign_id}:{channel}:clicked"


MESSAGE_STATE_TTL = 60 * DAY

INFLIGHT = PREFIX + "inflight"  # hash "cid|channel|idx" -> "consumer|claimed_at|attempt[|w[|doubt handle]]"


def wechat_msgid(msgid: str) -> str:
    """string "cid|idx" for a WeChat msgid, to attribute subscribe_msg_sent_event; TTL 7 days."""
    return f"{PREFIX}wxmsg:{msgid}"


WECHAT_MSGID_TTL = 7 * DAY


def wechat_doubt(handle: str) -> str:
    """string "cid|idx": a WeChat send settled ``unknown``, by its doubt handle (keyed hash of openid +
    template, ``push.reconcile``), waiting for a sent event; TTL WECHAT_DOUBT_TTL."""
    return f"{PREFIX}wxdoubt:{handle}"


def wechat_seen(handle: str) -> str:
    """string ErrorCode: a sent event no msgid attributed, waiting for the sweeper to settle the send
    in doubt it names; TTL WECHAT_DOUBT_TTL."""
    return f"{PREFIX}wxseen:{handle}"


WECHAT_DOUBT_TTL = 1 * DAY


# --- Frequency caps and quotas (push.planner) ------------------------------------------------------------
def frequency(channel: str, day: str, level: int) -> str:
    """bitmap: the citizen already got >= ``level`` capped (marketing/policy) messages on
    ``channel`` that Beijing day. A cap of N uses levels 1..N. TTL 2 days."""
    return f"{PREFIX}freq:{channel}:{day}:{level}"


FREQUENCY_TTL = 2 * DAY


def channel_quota(channel: str, day: str) -> str:
    """string: messages planned on ``channel`` for that Beijing day (own cap, WeChat 10 M). TTL 2 days."""
    return f"{PREFIX}quota:{channel}:{day}"


def rate_bucket(channel: str) -> str:
    """hash {tokens, at}: the channel's token bucket shared by every dispatcher. TTL 60 s."""
    return f"{PREFIX}rate:{channel}"


# --- Queues (push.planner -> push.dispatcher) ----------------------------------------------------------
def stream(channel: str) -> str:
    """stream of batches {c: campaign, ch: channel, ids: "idx,idx,…", n: attempt}; consumer group
    GROUP. Trimmed (MINID) below the oldest entry still pending or undelivered."""
    return f"{PREFIX}q:{channel}"


GROUP = "dispatchers"
DELAYED = PREFIX + "delayed"  # zset batch JSON -> due time: quiet-hours deferrals and retries
DEAD_LETTERS = PREFIX + "dead"  # stream {c, ch, idx, code, attempts, at}; MAXLEN ~ DEAD_MAXLEN
DEAD_MAXLEN = 100_000


def dead_retried(entry_id: str) -> str:
    """string JSON {at, actor, requeued}: an operator re-queued the dead letter ``entry_id`` (once only).
    TTL MESSAGE_STATE_TTL: by then the message state it guards has expired too."""
    return f"{PREFIX}dead:retried:{entry_id}"


def parked(campaign_id: str) -> str:
    """list of batch JSON met while the campaign was paused; moved back on resume. No TTL."""
    return f"{PREFIX}parked:{campaign_id}"


WORKERS = PREFIX + "workers"  # hash consumer name -> last heartbeat (epoch s)


# --- Statistics (push.stats) ------------------------------------------------------------------------
def stats(campaign_id: str) -> str:
    """hash metric -> count (planned:<ch>, sent:<ch>, skipped:<reason>, failed_code:<code>, …),
    plus ``outstanding`` (messages not yet terminal). No TTL."""
    return f"{PREFIX}stats:{campaign_id}"


def series(campaign_id: str) -> str:
    """hash "<minute epoch>:<metric>" -> count; TTL SERIES_TTL from the last write."""
    return f"{PREFIX}series:{campaign_id}"


SERIES_TTL = 30 * DAY


# --- WeChat pushed events (push.wechat_events) ----------------------------------------------------------
def wechat_nonce(nonce_hash: str) -> str:
    """string: a (timestamp, nonce) pair already accepted; TTL WECHAT_NONCE_TTL (replay window)."""
    return f"{PREFIX}wxevent:nonce:{nonce_hash}"


WECHAT_NONCE_TTL = 600
