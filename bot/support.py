"""Support items (issue 17): one support measure of a policy document, as data that a company profile
can be matched against.

An item says who may apply and on which conditions (`Condition`: a profile field, an operator, a
value, and the words it was read from), what the support is (a fixed amount, a ratio, a cap, in
万元 and %), and where it stands (document, section, the clause quoted verbatim). Items are read at
ingest (`knowledge.support_items`, optionally the LLM) and reviewed by operators: only published
items are matched (`SUPPORT_ITEMS_AUTO_PUBLISH` publishes what ingest reads).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace
from datetime import date
from typing import Any

from bot.types import Citation

DRAFT, PUBLISHED, HIDDEN = "draft", "published", "hidden"
STATES = (DRAFT, PUBLISHED, HIDDEN)
# the profile fields a condition can test (bot.profile has the questions and the parsing)
FIELDS = ("company_type", "certifications", "district", "founded_year", "revenue", "employees", "rd_ratio",
          "ip_count")
OPS = (">=", ">", "<=", "<", "==", "has", "in")


@dataclass(frozen=True, slots=True)
class Condition:
    field: str  # one of FIELDS; "founded_year" conditions hold a year, an age condition is written as "age"
    op: str  # one of OPS
    value: Any  # a number, a certification / district / type name, or a list of names ("in")
    text: str = ""  # the words of the clause it was read from

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Condition":
        return cls(str(data["field"]), str(data["op"]), data["value"], str(data.get("text", "")))

    def test(self, profile: dict[str, Any], today: date) -> bool | None:
        """True / False when the profile answers the condition, None when it does not say."""
        have = profile_value(profile, self.field, today)
        if have is None:
            return None
        if self.op == "has":
            return self.value in have
        if self.op == "in":
            return have in self.value
        if self.op == "==":
            return bool(have == self.value)
        try:
            a, b = float(have), float(self.value)
        except (TypeError, ValueError):
            return None
        return {">=": a >= b, ">": a > b, "<=": a <= b, "<": a < b}.get(self.op)


def profile_value(profile: dict[str, Any], name: str, today: date) -> Any:
    """The profile's value for a condition field; `age` and `rd_ratio` are derived when they can be."""
    if name == "age":
        year = profile.get("founded_year")
        return None if year is None else today.year - int(year)
    if name == "rd_ratio" and profile.get("rd_ratio") is None:
        spend, revenue = profile.get("rd_spend"), profile.get("revenue")
        return round(100 * float(spend) / float(revenue), 2) if spend is not None and revenue else None
    return profile.get(name)


def asks_for(cond: Condition) -> str:
    """The profile field a user answers to settle `cond`."""
    return {"age": "founded_year"}.get(cond.field, cond.field)


@dataclass(frozen=True, slots=True)
class SupportItem:
    what: str  # the measure: the innermost heading of its section, else the document title
    who: str = ""  # 支持对象 as written
    conditions: tuple[Condition, ...] = ()
    amount: float | None = None  # 万元, a fixed sum
    ratio: float | None = None  # %, of a base named in `support`
    cap: float | None = None  # 万元, the most one applicant gets
    support: str = ""  # the words stating the support ("按…的10%给予补助，最高50万元")
    clause: str = ""  # the sentences the item was read from, verbatim
    section: str = ""
    doc_id: str = ""
    title: str = ""
    source: str = ""
    region: str = ""  # the document's region (bot.regions)
    district: str = ""  # a Qingdao district the item is limited to, "" for the whole region
    origin: str = "rules"  # rules | llm | operator
    state: str = DRAFT  # draft | published | hidden
    id: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["conditions"] = [c.as_dict() for c in self.conditions]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "SupportItem":
        names = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in names}
        values["conditions"] = tuple(Condition.from_dict(c) for c in data.get("conditions") or ())
        return cls(**values)

    def citation(self) -> Citation:
        return Citation(title=self.title, section=self.section, source=self.source, snippet=self.clause,
                        region=self.region)

    def corrected(self, **changes: Any) -> "SupportItem":
        return replace(self, **changes)

    def figures(self) -> list[float]:
        """Every number the item states (support and conditions): each must be written in its clause."""
        found = [v for v in (self.amount, self.ratio, self.cap) if v is not None]
        for c in self.conditions:
            if isinstance(c.value, (int, float)) and not isinstance(c.value, bool):
                found.append(float(c.value))
        return found
