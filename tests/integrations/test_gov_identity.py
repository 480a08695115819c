"""GovIdentityClient against the live sandbox's population and legal-person registers."""
from __future__ import annotations

import pytest

from auth.identifiers import id_check_char, uscc_check_char
from integrations.errors import InputRefused, UpstreamUnavailable
from integrations.gateways import Gateways
from integrations.gov_identity import EnterpriseRecord, GovIdentityClient, PersonVerification
from tests.integrations.conftest import Drive

BATER_ID = "150102198503120010"  # seeded: 巴特尔
GRASSLAND_USCC = "91150102MA0N3K7P10"  # seeded: 内蒙古草原云乳业有限公司, legal representative 巴特尔


def unregistered_id() -> str:
    return "15010219900101999" + id_check_char("15010219900101999")


def test_verify_person_outcomes(gateways: Gateways) -> None:
    identity = gateways.identity
    assert identity.verify_person("巴特尔", BATER_ID) == PersonVerification(True, "matched")
    assert identity.verify_person("张三", BATER_ID) == PersonVerification(False, "name_mismatch")
    assert identity.verify_person("巴特尔", unregistered_id()) == PersonVerification(False, "not_found")


def test_face_check_and_legal_representative_match(gateways: Gateways, drive: Drive) -> None:
    identity = gateways.identity
    token = drive.call("POST", "/gov/face-token", {"id_number": BATER_ID})["face_token"]
    assert identity.verify_face("巴特尔", BATER_ID, token) == PersonVerification(True, "matched")
    assert identity.verify_face("巴特尔", BATER_ID, token) == PersonVerification(False, "face_token_invalid")  # used
    someone_else = drive.call("POST", "/gov/face-token", {"id_number": BATER_ID, "same_person": False})["face_token"]
    assert identity.verify_face("巴特尔", BATER_ID, someone_else).matched is False
    assert identity.verify_legal_representative(GRASSLAND_USCC, "巴特尔", BATER_ID) is True
    namesake = drive.call("POST", "/gov/people", {"name": "巴特尔"})["id_number"]
    assert identity.verify_legal_representative(GRASSLAND_USCC, "巴特尔", namesake) is False
    assert identity.verify_legal_representative("91350100M000100Y43", "巴特尔", BATER_ID) is False  # unknown USCC
    with pytest.raises(InputRefused, match="统一社会信用代码"):
        identity.verify_legal_representative("../realname/verify2", "巴特尔", BATER_ID)


def test_invalid_id_number(gateways: Gateways) -> None:
    wrong_check = BATER_ID[:-1] + ("1" if BATER_ID[-1] != "1" else "2")
    with pytest.raises(InputRefused, match="身份证号码"):
        gateways.identity.verify_person("巴特尔", wrong_check)


def test_enterprise_found_with_normalised_status(gateways: Gateways, drive: Drive) -> None:
    assert gateways.identity.lookup_enterprise(GRASSLAND_USCC) == EnterpriseRecord(
        uscc=GRASSLAND_USCC, name="内蒙古草原云乳业有限公司", legal_representative="巴特尔", status="active", region_code="150102"
    )
    statuses = {
        e["status"]: gateways.identity.lookup_enterprise(e["uscc"]).status  # type: ignore[union-attr]
        for e in drive.call("GET", "/gov/enterprises")["enterprises"]
    }
    assert statuses == {"ACTIVE": "active", "REVOKED": "revoked", "CANCELLED": "cancelled"}


def test_enterprise_not_found_and_invalid(gateways: Gateways) -> None:
    unknown = "91150102MA9999999" + uscc_check_char("91150102MA9999999")
    assert gateways.identity.lookup_enterprise(unknown) is None

    wrong_check = GRASSLAND_USCC[:-1] + ("1" if GRASSLAND_USCC[-1] != "1" else "2")
    with pytest.raises(InputRefused, match="统一社会信用代码"):
        gateways.identity.lookup_enterprise(wrong_check)
    with pytest.raises(InputRefused, match="统一社会信用代码"):
        gateways.identity.lookup_enterprise("../realname/verify2")  # never becomes part of a URL


def test_a_plain_404_is_not_a_missing_enterprise(gateways: Gateways, drive: Drive) -> None:
    # A wrong base URL or a proxy route answers 404 too; that must not read as "no such company".
    drive.fault("gov.enterprise.get", http_status=404, error={"code": "NOT_FOUND", "message": "no route"})
    with pytest.raises(UpstreamUnavailable):
        gateways.identity.lookup_enterprise(GRASSLAND_USCC)


def test_wrong_app_key_and_outage_are_unavailable(drive: Drive, gateways: Gateways) -> None:
    with pytest.raises(UpstreamUnavailable):
        GovIdentityClient(drive.base_url, "not-our-key", timeout=2).verify_person("巴特尔", BATER_ID)

    drive.fault("gov.realname.verify2")  # default: 503 SERVICE_UNAVAILABLE
    with pytest.raises(UpstreamUnavailable):
        gateways.identity.verify_person("巴特尔", BATER_ID)
