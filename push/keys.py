"""Every Redis key of ``push/`` and how long it lives. Nothing else in the package builds a key name.

Citizens are addressed by a dense integer **citizen index** (``idx``, 0, 1, 2, …) handed out once per
account, so every segment is a bitmap with one bit per citizen: 24.5 M citizens = 3.1 MB per
segment, and an audience is a handful of ``BITOP``s. Key names never contain a phone number, ID
number, openid or device token: only account ids (opaque), citizen indexes, campaign ids, template
ids, item/theme/region codes and dates. Channel addresses are stored encrypted (``kernel.crypto``).

TTLs only collect garbage: every decision reads the injected clock. Campaign records and the inbox are
PostgreSQL records (``push.campaign_records``, ``push.inbox_records``), not keys here.

**Redis Cluster.** Every key that one script or transaction touches shares a hash tag, so the package
runs unchanged on a cluster:

- ``{p:s<n>}`` — one **shard of the citizen index**: citizens ``n * SHARD_SIZE .. (n+1) * SHARD_SIZE - 1``.
  Population-wide bitmaps (segments, consent, frequency levels, a campaign's message state) exist once
  per shard and are addressed by the citizen's offset in its shard (``bit_of``): 2^20 citizens per
  shard = 128 KiB per bitmap, 24 shards for 24.46 M citizens. Per-citizen hashes (addresses, the
  consent ledger, idx -> account) are split the same way (fields stay the global idx). The shard's
  dispatch streams, in-flight hash, delayed zset, dead letters and per-campaign stats live with it, so
  planning, claiming and settling a message are scripts on one shard, and shards can be planned and
  dispatched in parallel (on different cluster nodes).
- ``{p:a<bucket>}`` — account id -> idx, split into ACCOUNT_BUCKETS hashes by a CRC32 of the id;
  ``{p:d<bucket>}`` the same for APP device tokens.
- ``{h:<handle>}`` — one WeChat send in doubt.

Global single keys (the index sequence, the daily channel quotas, rate buckets) are only ever touched
alone.
"""
from __future__ import annotations

import os
import zlib
from collections import defaultdict
from collections.abc import Iterable

PREFIX = "push:"
DAY = 86_400

# Fixed for a deployment: every bitmap's layout depends on it. The environment override exists for the
# tests, which use small shards so that a few hundred citizens already span several shards (and nodes).
SHARD_BITS = int(os.environ.get("MSB_PUSH_SHARD_BITS", "20"))
SHARD_SIZE = 1 << SHARD_BITS
SHARD_BYTES = SHARD_SIZE // 8
ACCOUNT_BUCKETS = 1024  # 24.46 M accounts -> ~24 k fields per by-account hash


def shard_of(idx: int) -> int:
    return int(idx) >> SHARD_BITS


def bit_of(idx: int) -> int:
    """The citizen's bit offset inside its shard's bitmaps."""
    return int(idx) & (SHARD_SIZE - 1)


def shard_base(shard: int) -> int:
    """The global idx of a shard's bit 0."""
    return shard << SHARD_BITS


def shard_count(last_idx: int) -> int:
    """Shards in use when the highest idx handed out is ``last_idx`` (``CITIZEN_SEQ``)."""
    return shard_of(max(int(last_idx), 0)) + 1


def by_shard(idxs: Iterable[int]) -> dict[int, list[int]]:
    """Citizen indexes grouped by shard, order kept inside each group."""
    groups: dict[int, list[int]] = defaultdict(list)
    for idx in idxs:
        groups[shard_of(idx)].append(int(idx))
    return dict(groups)


def shard_of_key(key: str) -> int:
    """The shard a shard-tagged key (``push:{p:s<n>}:…``) belongs to."""
    return int(key.split("{p:s", 1)[1].split("}", 1)[0])


def _s(shard: int) -> str:
    return f"{PREFIX}{{p:s{int(shard)}}}:"


def _bucket(text: str) -> int:
    return zlib.crc32(text.encode()) % ACCOUNT_BUCKETS

# --- Citizen index (push.profiles) -- no TTL: an index is never reused --------------------------
CITIZEN_SEQ = PREFIX + "cidx:seq"  # string: last index handed out (INCR; first citizen gets 1)


def citizen_by_account(account_id: str) -> str:
    """hash account_id -> idx, for the accounts of one CRC32 bucket."""
    return f"{PREFIX}{{p:a{_bucket(account_id)}}}:cidx:by_acct"


def citizen_by_index(shard: int) -> str:
    """hash idx -> account_id, for one shard."""
    return _s(shard) + "cidx:by_idx"


def profile(idx: int) -> str:
    """hash: region, birth_ym (YYYYMM from the verified ID), enterprise (0/1), synced_at. What the segment bits were set from, so a change can clear the old bit. No TTL."""
    return f"{_s(shard_of(idx))}profile:{idx}"


# --- Segments (bitmaps per shard, bit ``bit_of(idx)``) -- no TTL: maintained on every sync/event ----------
def seg_all(shard: int) -> str:
    """Every indexed citizen."""
    return _s(shard) + "seg:all"


def seg_region(shard: int, code: str) -> str:
    """Home region (6-digit 旗县 code, or the 盟市 code when only that is known)."""
    return f"{_s(shard)}seg:region:{code}"


def seg_birth_month(shard: int, yyyymm: str) -> str:
    """Birth month from the verified ID number (age ranges are unions of months)."""
    return f"{_s(shard)}seg:birth:{yyyymm}"


def seg_verified_age(shard: int) -> str:
    """Citizens whose birth month is known."""
    return _s(shard) + "seg:birth:any"


def seg_enterprise(shard: int) -> str:
    """Has an active enterprise (法人) link."""
    return _s(shard) + "seg:kind:enterprise"


def seg_opt_out(shard: int, category: str, channel: str) -> str:
    """Opted out of ``category`` (marketing/policy) on ``channel`` (auth preferences)."""
    return f"{_s(shard)}seg:optout:{category}:{channel}"


def seg_address(shard: int, channel: str) -> str:
    """Reachable on ``channel`` (wechat openid / alipay open_id bound, APP device registered)."""
    return f"{_s(shard)}seg:addr:{channel}"


def seg_item(shard: int, basic_code: str, event: str) -> str:
    """Behaviour on an item: event in search/view/start/finish."""
    return f"{_s(shard)}seg:item:{basic_code}:{event}"


def seg_theme(shard: int, theme_code: str) -> str:
    """Touched a 一件事 theme (any event on one of its items, or viewed the theme)."""
    return f"{_s(shard)}seg:theme:{theme_code}"


def scratch(name: str, shard: int | None = None) -> str:
    """Temporary bitmaps of one audience resolution / preview / plan run (in ``shard``'s slot when they
    are combined with its bitmaps); TTL SCRATCH_TTL."""
    return f"{_s(shard)}tmp:{name}" if shard is not None else f"{PREFIX}tmp:{name}"


SCRATCH_TTL = 600


# --- Channel addresses (push.profiles) -- no TTL ---------------------------------------------------
def address(shard: int, channel: str) -> str:
    """hash idx -> ciphertext of the openid / open_id / JSON {token, platform} (AES-GCM, AAD
    ``push.address.<channel>``). A denormalised copy of auth's bindings, refreshed by
    ``sync_citizen``; APP device tokens live only here. One hash per shard."""
    return f"{_s(shard)}addr:{channel}"


# APP devices: one account per device token (push.profiles.register_device). The token appears only as
# a blind index (``Crypto.blind_index("app_device", token)``). No TTL. The dispatcher's Lua drops a
# dead token's address without touching these; a stale entry only points at an account with no
# address and is replaced on the next registration of that token.
def device_owner(digest: str) -> str:
    """hash token blind index -> idx of the account holding it (one hash per bucket of blind indexes)."""
    return f"{PREFIX}{{p:d{_bucket(digest)}}}:device:owner"


def device_of(shard: int) -> str:
    """hash idx -> blind index of the account's current token (one hash per shard)."""
    return _s(shard) + "device:of"


# --- Subscription ledger (push.consent) -------------------------------------------------------------
def consent(shard: int, channel: str, template_id: str) -> str:
    """hash idx -> remaining one-time sends (positive int) or -1 (long-term accepted). A missing
    field means no quota. No TTL (one-time accepts do not expire upstream). One hash per shard."""
    return f"{_s(shard)}consent:{channel}:{template_id}"


def consent_has(shard: int, channel: str, template_id: str) -> str:
    """bitmap: the citizen has quota for the template (kept in step with ``consent`` by the same
    Lua scripts), so previews count consent with one BITCOUNT."""
    return f"{_s(shard)}consent:has:{channel}:{template_id}"


def consent_recent(channel: str, template_id: str, idx: int) -> str:
    """hash {client, event}: accepts seen from one source and not yet matched by the other, so a
    client-reported accept and WeChat's popup event for the same tap count once. TTL CONSENT_MATCH_TTL."""
    return f"{_s(shard_of(idx))}consent:recent:{channel}:{template_id}:{idx}"


def consent_version(shard: int, channel: str, template_id: str) -> str:
    """hash idx -> the ``consent_state.version`` of the last recorded grant or revocation applied to
    ``consent`` (``push.consent``): a change is applied on top of the one before it, a replay is a no-op,
    and after a gap (a lost write, a flush) the record's value is taken. No TTL."""
    return f"{_s(shard)}consent:ver:{channel}:{template_id}"


def consent_staging(key: str) -> str:
    """A ``consent`` or ``consent_version`` hash being rebuilt (``push.consent_rebuild``), renamed over the
    live one when complete; same slot. No TTL (a crashed rebuild's leftovers are cleared by the next)."""
    return key + ":rebuild"


CONSENT_MATCH_TTL = 120


# --- Behaviour (push.events) --------------------------------------------------------------------------
def behaviour(idx: int) -> str:
    """list of JSON events, newest first, LTRIM to BEHAVIOUR_KEEP; TTL BEHAVIOUR_TTL (renewed)."""
    return f"{_s(shard_of(idx))}beh:{idx}"


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
def planned(shard: int, campaign_id: str, channel: str) -> str:
    """bitmap: a message campaign x citizen x channel was enqueued (the dedupe record)."""
    return f"{_s(shard)}msg:{campaign_id}:{channel}:planned"


def done(shard: int, campaign_id: str, channel: str) -> str:
    """bitmap: the message reached a terminal state (sent, failed, unknown, skipped, cancelled)."""
    return f"{_s(shard)}msg:{campaign_id}:{channel}:done"


def sent(shard: int, campaign_id: str, channel: str) -> str:
    """bitmap: accepted by the channel."""
    return f"{_s(shard)}msg:{campaign_id}:{channel}:sent"


def unknown(shard: int, campaign_id: str, channel: str) -> str:
    """bitmap: a worker died during the HTTP call; never retried (never-duplicate rule)."""
    return f"{_s(shard)}msg:{campaign_id}:{channel}:unknown"


def dead(shard: int, campaign_id: str, channel: str) -> str:
    """bitmap: the message was dead-lettered (retries exhausted) and not retried since; the only
    messages an operator's dead-letter retry may re-queue (``push.dead_letters``)."""
    return f"{_s(shard)}msg:{campaign_id}:{channel}:dead"


def clicked(shard: int, campaign_id: str, channel: str) -> str:
    """bitmap: the recipient clicked the message (counted once per message)."""
    return f"{_s(shard)}msg:{campaign_id}:{channel}:clicked"


MESSAGE_STATE_TTL = 60 * DAY

def inflight(shard: int) -> str:
    """hash "cid|channel|idx" -> "consumer|claimed_at|attempt[|w[|doubt handle]]" (the shard's claims)."""
    return _s(shard) + "inflight"


def wechat_msgid(msgid: str) -> str:
    """string "cid|idx" for a WeChat msgid, to attribute subscribe_msg_sent_event; TTL 7 days. Written
    right after the send's settling script (an event knows only the msgid, so the key cannot carry the
    shard's tag)."""
    return f"{PREFIX}wxmsg:{msgid}"


WECHAT_MSGID_TTL = 7 * DAY


def wechat_doubt(handle: str) -> str:
    """string "cid|idx": a WeChat send settled ``unknown``, by its doubt handle (keyed hash of openid +
    template, ``push.reconcile``), waiting for a sent event; TTL WECHAT_DOUBT_TTL."""
    return f"{PREFIX}{{h:{handle}}}:wxdoubt"


def wechat_seen(handle: str) -> str:
    """string ErrorCode: a sent event no msgid attributed, waiting for the sweeper to settle the send
    in doubt it names; TTL WECHAT_DOUBT_TTL."""
    return f"{PREFIX}{{h:{handle}}}:wxseen"


WECHAT_DOUBT_TTL = 1 * DAY


# --- Frequency caps and quotas (push.planner) ------------------------------------------------------------
def frequency(shard: int, channel: str, day: str, level: int) -> str:
    """bitmap: the citizen already got >= ``level`` capped (marketing/policy) messages on
    ``channel`` that Beijing day. A cap of N uses levels 1..N. TTL 2 days."""
    return f"{_s(shard)}freq:{channel}:{day}:{level}"


FREQUENCY_TTL = 2 * DAY


def channel_quota(channel: str, day: str) -> str:
    """string: messages planned on ``channel`` for that Beijing day (own cap, WeChat 10 M). Global (one
    key for all shards): the planner reserves blocks from it with INCRBY (``push.planner``). TTL 2 days."""
    return f"{PREFIX}quota:{channel}:{day}"


def rate_bucket(channel: str) -> str:
    """hash {tokens, at}: the channel's token bucket shared by every dispatcher. TTL 60 s."""
    return f"{PREFIX}rate:{channel}"


# --- Queues (push.planner -> push.dispatcher) ----------------------------------------------------------
def stream(shard: int, channel: str) -> str:
    """stream of batches {c: campaign, ch: channel, ids: "idx,idx,…", n: attempt} of one shard's
    citizens; consumer group GROUP. Trimmed (MINID) below the oldest entry still pending or undelivered."""
    return f"{_s(shard)}q:{channel}"


GROUP = "dispatchers"
def delayed(shard: int) -> str:
    """zset batch JSON -> due time: the shard's quiet-hours deferrals and retries."""
    return _s(shard) + "delayed"


def dead_letters(shard: int) -> str:
    """stream {c, ch, idx, code, attempts, at} of the shard's dead letters; MAXLEN ~ DEAD_MAXLEN. An
    operator sees entry ids as ``<shard>.<stream id>`` (``push.dead_letters``)."""
    return _s(shard) + "dead"
DEAD_MAXLEN = 100_000


def dead_retried(shard: int, entry_id: str) -> str:
    """string JSON {at, actor, requeued}: an operator re-queued the dead letter ``entry_id`` (once only).
    TTL MESSAGE_STATE_TTL: by then the message state it guards has expired too."""
    return f"{_s(shard)}dead:retried:{entry_id}"


def parked(shard: int, campaign_id: str) -> str:
    """list of batch JSON (of the shard) met while the campaign was paused; moved back on resume. No TTL."""
    return f"{_s(shard)}parked:{campaign_id}"


WORKERS = PREFIX + "workers"  # hash consumer name -> last heartbeat (epoch s)


# --- Statistics (push.stats) ------------------------------------------------------------------------
def stats(campaign_id: str, shard: int | None = None) -> str:
    """hash metric -> count (planned:<ch>, sent:<ch>, skipped:<reason>, failed_code:<code>, …),
    plus ``outstanding`` (messages not yet terminal). One hash per shard, written by the shard's
    scripts, and one for the campaign as a whole (``shard`` None: audience, reach, skip counts of the
    plan, opened, clicked); ``push.stats`` sums them at read time. No TTL."""
    if shard is None:
        return f"{PREFIX}{{c:{campaign_id}}}:stats"
    return f"{_s(shard)}stats:{campaign_id}"


def series(campaign_id: str, shard: int | None = None) -> str:
    """hash "<minute epoch>:<metric>" -> count, split like ``stats``; TTL SERIES_TTL from the last write."""
    if shard is None:
        return f"{PREFIX}{{c:{campaign_id}}}:series"
    return f"{_s(shard)}series:{campaign_id}"


SERIES_TTL = 30 * DAY


# --- WeChat pushed events (push.wechat_events) ----------------------------------------------------------
def wechat_nonce(nonce_hash: str) -> str:
    """string: a (timestamp, nonce) pair already accepted; TTL WECHAT_NONCE_TTL (replay window)."""
    return f"{PREFIX}wxevent:nonce:{nonce_hash}"


WECHAT_NONCE_TTL = 600
