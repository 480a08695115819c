"""Fabricated but well-formed implementation details: the implementing
department's full name and USCC-style code, 办理地点, office hours, phone,
online address and 受理条件. Deterministic in their inputs."""
from __future__ import annotations

from functools import lru_cache

from catalog.hashing import stable_int
from catalog.model import BasicItem
from catalog.regions import CITY, COUNTY, PROVINCE, TOWNSHIP

PORTAL = "https://zwfw.nmg.gov.cn"
MOBILE_PAGE = "/pages/item/detail"

_AREA_CODES = {  # 长途区号 by 盟市
    "150100": "0471", "150200": "0472", "150300": "0473", "150400": "0476",
    "150500": "0475", "150600": "0477", "150700": "0470", "150800": "0478",
    "150900": "0474", "152200": "0482", "152500": "0479", "152900": "0483",
}
_PROVINCE_AREA_CODE = "0471"
_PROVINCE_PREFIX = "内蒙古自治区"

_OFFICE_HOURS = (
    "周一至周五 9:00-12:00，13:30-17:30（法定节假日除外）",
    "周一至周五 8:30-12:00，14:30-18:00（夏季）；8:30-12:00，13:30-17:00（冬季）",
    "周一至周五 9:00-17:00 午间不休；周六 9:00-12:00 延时服务",
)

_CONDITIONS_BY_HANDLE = {
    "首次申请": "申请人符合{name}的法定条件，申请材料齐全、符合法定形式。",
    "变更": "已办结{short}，登记或许可事项（名称、地址、负责人等）发生变化，在规定期限内申请变更。",
    "延续": "有效期届满前30个工作日内提出延续申请，且仍符合{name}条件。",
    "注销": "主体终止、有效期届满未延续或依法应当注销的，申请办理注销。",
    "补办": "证件遗失或损毁，已登报声明或书面说明情况。",
    "补发": "证件遗失或损毁，已书面说明情况。",
    "申请": "申请人符合{name}的享受条件，如实申报家庭及个人情况。",
    "待遇变更": "已享受{short}待遇，家庭人口、收入或银行账户等情况发生变化。",
    "停发": "不再符合{short}享受条件或本人申请停止。",
    "备案": "按规定应当办理{name}的，在规定时限内提交备案材料。",
    "变更备案": "已备案事项发生变化，在规定时限内申请变更备案。",
    "注销备案": "备案主体终止或备案事项不再存续。",
    "办理": "符合{name}的办理条件，材料齐全。",
    "查询": "本人或经授权的委托人可申请查询{short}相关信息。",
    "申报": "按规定期限如实申报{name}相关信息。",
    "缴纳": "已完成申报，按核定金额缴纳。",
}
_USCC_CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)


def local_department(department: str, level: str) -> str:
    """Region-level 厅 become 局 below the region; 总队 become 支队/大队."""
    if level == PROVINCE:
        return department
    if department == "消防救援总队":
        return "消防救援支队" if level == CITY else "消防救援大队"
    if department.endswith("厅"):
        return department[:-1] + "局"
    return department


# cached: the same (department, region) recurs for every item of the department
@lru_cache(maxsize=None)
def department_full_name(department: str, level: str, region_name: str, city_name: str,
                         county_kind: str | None = None) -> str:
    if level == PROVINCE:
        if department == "税务局":
            return f"国家税务总局{_PROVINCE_PREFIX}税务局"
        if department == "海关":
            return "呼和浩特海关"
        return _PROVINCE_PREFIX + department
    if level == TOWNSHIP:
        return f"{region_name}{'办事处' if region_name.endswith('街道') else '人民政府'}"
    local = local_department(department, level)
    if department == "税务局":
        return f"国家税务总局{region_name}税务局" if level == CITY else f"国家税务总局{city_name}{region_name}税务局"
    if department == "海关":
        return f"{region_name}海关" if level == CITY else f"{city_name}海关{region_name}办事处"
    if level == COUNTY and department == "住房公积金管理中心":
        return f"{city_name}住房公积金管理中心{region_name}管理部"
    if level == COUNTY and department == "公安厅" and county_kind == "市辖区":
        return f"{city_name}公安局{region_name}分局"
    return region_name + local


@lru_cache(maxsize=None)
def uscc(department_full: str, region_code: str) -> str:
    """18-char 统一社会信用代码 shape: 11 (机关) + 6-digit area + 9-char
    organisation code (with its GB 11714 check) + GB 32100 check char."""
    digits = f"{stable_int('org', department_full) % 10**8:08d}"
    org_check = 11 - sum(int(d) * w for d, w in zip(digits, _ORG_WEIGHTS)) % 11
    org = digits + {10: "X", 11: "0"}.get(org_check, str(org_check))
    body = "11" + region_code[:6] + org
    total = sum(_USCC_CHARSET.index(ch) * w for ch, w in zip(body, _USCC_WEIGHTS))
    return body + _USCC_CHARSET[(31 - total % 31) % 31]


def service_address(level: str, region_name: str, county_name: str, department_local: str) -> str:
    if level == PROVINCE:
        return f"{_PROVINCE_PREFIX}政务服务中心{department_local}窗口"
    if level == TOWNSHIP:
        return f"{county_name}{region_name}便民服务中心综合受理窗口"
    return f"{region_name}政务服务中心{department_local}窗口"


def office_hours(region_code: str) -> str:
    return _OFFICE_HOURS[stable_int("hours", region_code[:6]) % len(_OFFICE_HOURS)]


@lru_cache(maxsize=None)
def phone(region_code: str, department_full: str) -> str:
    area = _AREA_CODES.get(region_code[:4] + "00", _PROVINCE_AREA_CODE)
    return f"{area}-{6000000 + stable_int('phone', department_full) % 1000000:07d}"


def online_urls(implementation_code: str, online_depth: int) -> tuple[str | None, str | None]:
    if online_depth < 2:  # depth 1 is a guide only, nothing can be submitted online
        return None, None
    return (f"{PORTAL}/bsfw/item/{implementation_code}",
            f"{MOBILE_PAGE}?implementationCode={implementation_code}")


def conditions(item: BasicItem, handle_name: str) -> str:
    template = _CONDITIONS_BY_HANDLE.get(handle_name, _CONDITIONS_BY_HANDLE["办理"])
    audience = "、".join(item.audience)
    return f"服务对象：{audience}。" + template.format(name=item.name, short=item.short_name)
