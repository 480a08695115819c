import pytest

from auth.errors import (
    EnterpriseInactive,
    EnterpriseLinkRequired,
    EnterpriseNotFound,
    InvalidUscc,
    RealnameLevelRequired,
    TokenInvalid,
)
from tests.auth.conftest import ID_WULAN, ID_ZHANG, USCC_GRASSLAND, valid_id, valid_uscc

IP = "203.0.113.7"
WECHAT = ["msb-wechat"]


def person(service, wechat, openid, name=None, id_number=None):
    pair = service.login_wechat(wechat.login_code(openid), client_ip=IP)
    if name:
        service.verify_realname(pair.account.id, name, id_number)
    return pair


def test_requires_level_three(service, wechat, identity):
    pair = person(service, wechat, "o-l2")
    with pytest.raises(RealnameLevelRequired) as caught:
        service.link_enterprise(pair.account.id, USCC_GRASSLAND)
    assert caught.value.details == {"required_level": 3, "current_level": 2}
    assert caught.value.http_status == 403
    assert identity.enterprise_calls == 0


def test_invalid_uscc_never_reaches_upstream(service, wechat, identity):
    pair = person(service, wechat, "o-u", "张三", ID_ZHANG)
    with pytest.raises(InvalidUscc):
        service.link_enterprise(pair.account.id, USCC_GRASSLAND[:-1] + ("1" if USCC_GRASSLAND[-1] != "1" else "2"))
    assert identity.enterprise_calls == 0


def test_unknown_and_inactive_enterprises(service, wechat, identity):
    pair = person(service, wechat, "o-n", "张三", ID_ZHANG)
    with pytest.raises(EnterpriseNotFound):
        service.link_enterprise(pair.account.id, "91350100M000100Y43")
    revoked = valid_uscc("91150100MA0N00001")
    identity.add_enterprise(revoked, "已吊销公司", "张三", status="revoked")
    with pytest.raises(EnterpriseInactive):
        service.link_enterprise(pair.account.id, revoked)


def test_legal_representative_acts_for_the_enterprise(service, wechat):
    pair = person(service, wechat, "o-legal", "张三", ID_ZHANG)
    link = service.link_enterprise(pair.account.id, USCC_GRASSLAND)
    assert (link.role, link.status, link.uscc) == ("legal_representative", "active", USCC_GRASSLAND)
    assert link.enterprise_id.startswith("ent_")
    assert service.link_enterprise(pair.account.id, USCC_GRASSLAND).enterprise_id == link.enterprise_id

    principal = service.authenticate_access_token(pair.access_token, audiences=WECHAT)
    grant = service.act_for(principal, link.enterprise_id)
    acting = service.authenticate_access_token(grant.access_token, audiences=WECHAT)
    assert acting.acting_for == link.enterprise_id and acting.account_id == pair.account.id
    # The context survives a refresh …
    refreshed = service.refresh(pair.refresh_token)
    assert service.authenticate_access_token(refreshed.access_token, audiences=WECHAT).acting_for == link.enterprise_id
    # … and can be dropped.
    back = service.act_for(acting, None)
    assert service.authenticate_access_token(back.access_token, audiences=WECHAT).acting_for is None
    assert service.me(pair.account.id).to_dict()["enterprises"] == [link.to_dict()]


def test_others_get_a_pending_agent_link_until_approved(service, wechat):
    legal = person(service, wechat, "o-legal2", "张三", ID_ZHANG)
    agent = person(service, wechat, "o-agent", "乌兰其其格", ID_WULAN)
    enterprise_id = service.link_enterprise(legal.account.id, USCC_GRASSLAND).enterprise_id
    pending = service.link_enterprise(agent.account.id, USCC_GRASSLAND)
    assert (pending.role, pending.status) == ("agent", "pending")
    agent_principal = service.authenticate_access_token(agent.access_token, audiences=WECHAT)
    with pytest.raises(EnterpriseLinkRequired):
        service.act_for(agent_principal, enterprise_id)
    with pytest.raises(EnterpriseLinkRequired):  # an agent cannot approve itself
        service.approve_enterprise_agent(agent.account.id, enterprise_id, agent.account.id)

    approved = service.approve_enterprise_agent(legal.account.id, enterprise_id, agent.account.id)
    assert approved.status == "active"
    grant = service.act_for(agent_principal, enterprise_id)

    # Removing the agent takes effect on the next request, not at token expiry.
    service.unlink_enterprise(legal.account.id, enterprise_id, agent.account.id)
    with pytest.raises(EnterpriseLinkRequired):
        service.authenticate_access_token(grant.access_token, audiences=WECHAT)
    refreshed = service.refresh(agent.refresh_token)
    assert service.authenticate_access_token(refreshed.access_token, audiences=WECHAT).acting_for is None


def test_act_for_needs_a_live_session(service, wechat):
    pair = person(service, wechat, "o-live", "张三", ID_ZHANG)
    enterprise_id = service.link_enterprise(pair.account.id, USCC_GRASSLAND).enterprise_id
    principal = service.authenticate_access_token(pair.access_token, audiences=WECHAT)
    service.logout(pair.account.id, principal.session_id)
    with pytest.raises(TokenInvalid):
        service.act_for(principal, enterprise_id)


def test_a_same_name_person_is_never_legal_representative(service, wechat, identity):
    namesake_id = valid_id("15020319900101005")
    identity.add_person("张三", namesake_id)  # another 张三, another number
    namesake = person(service, wechat, "o-namesake", "张三", namesake_id)
    link = service.link_enterprise(namesake.account.id, USCC_GRASSLAND)
    assert (link.role, link.status) == ("agent", "pending")
    real = person(service, wechat, "o-real", "张三", ID_ZHANG)
    assert service.link_enterprise(real.account.id, USCC_GRASSLAND).role == "legal_representative"
