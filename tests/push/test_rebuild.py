"""Push's Redis targeting data is derived from identity's records and rebuilt from them after a loss:
`python -m push rebuild-targeting` (PushService.rebuild_targeting over CitizenDirectory.all_facts)."""
from __future__ import annotations

import json
import subprocess
import sys
from datetime import date

from config import PROJECT_ROOT
from push import keys

RULES = [{}, {"regions": ["150102"]}, {"regions": ["150103"]}, {"age_min": 60}, {"age_max": 30}]


def _targeting(service, today):
    return [service.audience.reach(rules, today, "policy", ("wechat", "alipay", "inbox")) for rules in RULES]


def test_losing_redis_loses_no_targeting_fact(service, citizens, redis_client, clock) -> None:
    today = date(2026, 3, 2)
    people = [
        citizens.make(birth=date(1950, 6, 1)),
        citizens.make(region="150103", alipay=True, birth=date(2001, 2, 3)),
        citizens.make(opt_outs={"policy": ["wechat"]}),
        citizens.make(wechat=False, region=None),
        citizens.make(region="150103", opt_outs={"marketing": ["wechat", "alipay"]}),
    ]
    before = _targeting(service, today)
    profiles = {p["account_id"]: service.profiles.for_account(p["account_id"]) for p in people}
    assert before[0]["audience"] == 5

    redis_client.flushall()  # Redis lost: the records are all in PostgreSQL
    assert _targeting(service, today)[0]["audience"] == 0

    report = service.rebuild_targeting(service.directory.all_facts(page=2))  # several pages
    assert report.citizens == 5 and report.newly_indexed == 5
    assert _targeting(service, today) == before
    for account_id, profile in profiles.items():
        rebuilt = service.profiles.for_account(account_id)
        assert (rebuilt.region, rebuilt.birth_ym, rebuilt.enterprise) == (profile.region, profile.birth_ym,
                                                                          profile.enterprise)

    # Run again on a live system: every citizen keeps its index, nothing new, segments unchanged.
    indexes = {p["account_id"]: service.profiles.index.find(p["account_id"]) for p in people}
    again = service.rebuild_targeting(service.directory.all_facts())
    assert again.newly_indexed == 0 and _targeting(service, today) == before
    assert {p["account_id"]: service.profiles.index.find(p["account_id"]) for p in people} == indexes


def test_a_citizen_who_left_a_segment_leaves_its_bitmap(service, citizens, redis_client) -> None:
    citizen = citizens.make(region="150103")
    shard = keys.shard_of(service.profiles.index.find(citizen["account_id"]))
    citizens.accounts.update_preferences(citizen["account_id"], {"home_region": "150102"})
    service.rebuild_targeting(service.directory.all_facts())
    assert not redis_client.exists(keys.seg_region(shard, "150103"))  # nobody left in it
    assert redis_client.bitcount(keys.seg_region(shard, "150102")) == 1


def test_the_command(service, citizens, redis_client, settings_env) -> None:
    citizens.make()
    citizens.make(region="150103")
    redis_client.flushall()
    done = subprocess.run([sys.executable, "-m", "push", "rebuild-targeting"], cwd=PROJECT_ROOT, env=settings_env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["citizens"] == 2 and report["newly_indexed"] == 2
    assert service.audience.reach({}, date(2026, 3, 2), None, ("inbox",))["audience"] == 2
