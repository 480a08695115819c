"""Sandbox population (人口库) and legal-person (法人库) registers, seeded
deterministically with fictional Inner Mongolia records whose check digits
are valid by construction, plus the identity platform's codes (SSO tickets,
face-check tokens)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sandbox.checkdigits import id_check_char, luhn_check_digit, uscc_check_char
from sandbox.state import CodeStore, Sandbox

ENTERPRISE_STATUS_TEXT = {"ACTIVE": "存续", "REVOKED": "吊销", "CANCELLED": "注销"}

REGION_NAMES = {
    "150102": "内蒙古自治区呼和浩特市新城区",
    "150105": "内蒙古自治区呼和浩特市赛罕区",
    "150203": "内蒙古自治区包头市昆都仑区",
    "150302": "内蒙古自治区乌海市海勃湾区",
    "150402": "内蒙古自治区赤峰市红山区",
    "150602": "内蒙古自治区鄂尔多斯市东胜区",
    "150781": "内蒙古自治区呼伦贝尔市满洲里市",
    "152502": "内蒙古自治区锡林郭勒盟锡林浩特市",
}


@dataclass
class Person:
    gov_uid: str
    name: str
    id_number: str
    phone: str | None = None
    bank_cards: list[str] = field(default_factory=list)

    def describe(self) -> dict[str, Any]:
        return {
            "gov_uid": self.gov_uid,
            "name": self.name,
            "id_number": self.id_number,
            "phone": self.phone,
            "bank_cards": list(self.bank_cards),
        }


@dataclass
class Enterprise:
    uscc: str
    name: str
    legal_representative_name: str
    # Never in ``describe()``: the register answers "is this person the representative?" only.
    legal_representative_id_number: str | None = None
    status: str = "ACTIVE"
    region_code: str = "150102"
    entity_type: str = "有限责任公司"
    established_on: str = "2018-06-01"

    def describe(self) -> dict[str, Any]:
        return {
            "uscc": self.uscc,
            "name": self.name,
            "legal_representative": {"name": self.legal_representative_name},
            "status": self.status,
            "status_text": ENTERPRISE_STATUS_TEXT[self.status],
            "region_code": self.region_code,
            "region_name": REGION_NAMES.get(self.region_code, ""),
            "entity_type": self.entity_type,
            "established_on": self.established_on,
        }


def with_id_check(first17: str) -> str:
    return first17 + id_check_char(first17)


def with_uscc_check(first17: str) -> str:
    return first17 + uscc_check_char(first17)


def with_luhn(partial: str) -> str:
    return partial + luhn_check_digit(partial)


# (name, region + birth date + sequence, phone, bank card without check digit)
_SEED_PEOPLE = (
    ("巴特尔", "15010219850312001", "13800471001", "622202060000000001"),
    ("其其格", "15020319900705002", "13800471002", "621700120000000002"),
    ("张伟", "15060219780120011", "13800471003", None),
    ("乌日娜", "15250219951111024", "13800471004", "622848004000000004"),
    ("王芳", "15040220000229046", None, None),
    ("李建国", "15078119520808031", "13800471006", None),
)

# (name, first 17 USCC chars, legal representative, status, region, entity type)
_SEED_ENTERPRISES = (
    ("内蒙古草原云乳业有限公司", "91150102MA0N3K7P1", "巴特尔", "ACTIVE", "150102", "有限责任公司"),
    ("包头市稀土新材料科技有限公司", "91150203MA13RT0X2", "张伟", "ACTIVE", "150203", "有限责任公司"),
    ("东胜区牧歌餐饮店", "92150602MA0Q8L2C3", "乌日娜", "ACTIVE", "150602", "个体工商户"),
    ("锡林浩特市草原运输有限责任公司", "91152502MA0P4D6W8", "李建国", "CANCELLED", "152502", "有限责任公司"),
    ("乌海市示例化工有限公司", "91150302MA0R2H5J4", "王芳", "REVOKED", "150302", "有限责任公司"),
)


class GovRegisters:
    def __init__(self, sandbox: Sandbox, config: dict[str, Any]) -> None:
        self.config = config
        self.clock = sandbox.clock
        self.codes = CodeStore(self.clock)  # SSO tickets and face tokens
        self.reset()

    def reset(self) -> None:
        self.people: dict[str, Person] = {}
        self.enterprises: dict[str, Enterprise] = {}
        self.codes.clear()
        for name, first17, phone, card in _SEED_PEOPLE:
            self.add_person(name, with_id_check(first17), phone, [with_luhn(card)] if card else [])
        for name, first17, rep, status, region, kind in _SEED_ENTERPRISES:
            self.add_enterprise(with_uscc_check(first17), name, rep, status, region, kind)

    def person_named(self, name: str) -> Person | None:
        return next((person for person in self.people.values() if person.name == name), None)

    def add_person(self, name: str, id_number: str, phone: str | None, bank_cards: list[str]) -> Person:
        existing = self.people.get(id_number)
        gov_uid = existing.gov_uid if existing else f"NM{len(self.people) + 1:010d}"
        person = Person(gov_uid, name, id_number, phone, bank_cards)
        self.people[id_number] = person
        return person

    def next_free_id_number(self) -> str:
        """A fresh valid number (Hohhot 新城区, born 1990-01-01) for drive
        callers who do not care which number they get."""
        for sequence in range(1, 1000):
            candidate = with_id_check(f"15010219900101{sequence:03d}")
            if candidate not in self.people:
                return candidate
        raise RuntimeError("sandbox population register is full")

    def add_enterprise(
        self, uscc: str, name: str, legal_rep: str, status: str, region_code: str, entity_type: str,
        legal_rep_id_number: str | None = None,
    ) -> Enterprise:
        """Without ``legal_rep_id_number`` the representative is the first registered person of
        that name (the seeds are built that way); with none, nobody matches."""
        if legal_rep_id_number is None:
            person = self.person_named(legal_rep)
            legal_rep_id_number = person.id_number if person else None
        enterprise = Enterprise(uscc, name, legal_rep, legal_rep_id_number, status, region_code, entity_type)
        self.enterprises[uscc] = enterprise
        return enterprise

    def next_free_uscc(self) -> str:
        for sequence in range(1, 10_000):
            candidate = with_uscc_check(f"91150102MA{sequence:07d}")
            if candidate not in self.enterprises:
                return candidate
        raise RuntimeError("sandbox legal-person register is full")
