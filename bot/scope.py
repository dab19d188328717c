"""Region scope of an answer: which retrieved passages govern the place a question is about, and
the line that tells the user whose rule they are reading.

A question that names places is about the innermost of them (several when it compares places);
one that names none is about the deployment's home region (HOME_REGION, 青岛市). A passage
applies when its document's region is that place or a region above it (province, nation);
provincial and national rules are labelled as such. Passages of other places never answer for
the place asked about: when only they match, the answer says so and that the place's own
documents do not cover the question.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import prompts
from bot import regions
from bot.types import Citation, Passage


@dataclass(frozen=True, slots=True)
class Scope:
    targets: tuple[str, ...]
    explicit: bool  # the question named the place(s)

    @property
    def comparison(self) -> bool:
        return len(self.targets) > 1


def scope_of(question: str, home: str) -> Scope:
    places, explicit = regions.targets(question, home)
    return Scope(tuple(places), explicit)


def applicable(passages: Sequence[Passage], target: str) -> list[Passage]:
    return [p for p in passages if regions.applies(p.region, target)]


def elsewhere(passages: Sequence[Passage], target: str) -> list[Passage]:
    return [p for p in passages if not regions.applies(p.region, target)]


def place_name(name: str, lang: str) -> str:
    """A region's name for users: Chinese as is; in English its romanised name."""
    if lang != "en":
        return "国家" if name == regions.NATIONAL else name
    if name == regions.NATIONAL:
        return "national"
    latin = next((a for a, n in regions.ALIASES.items() if n == name and a.isascii()), None)
    return latin.title() if latin else name


def region_line(target: str, citations: Sequence[Citation], lang: str) -> tuple[str, bool] | None:
    """For an answer citing rules that are not (all) the target's own: the line that says whose they
    are, and whether it leads the answer (none of the target's own rules is cited) or follows it."""
    cited = [c.region for c in citations]
    foreign = list(dict.fromkeys(r for r in cited if r and r != target))
    if not foreign:
        return None
    names = "、".join(place_name(r, lang) for r in foreign) if lang != "en" else \
        ", ".join(place_name(r, lang) for r in foreign)
    first = target not in cited
    key = "region_higher_only" if first else "region_higher_also"
    return prompts.text(lang, key, place=place_name(target, lang), others=names), first


def not_here_line(target: str, others: Sequence[Passage], lang: str) -> str:
    """Says that the target's documents do not cover the question, naming where it is covered."""
    places = list(dict.fromkeys(p.region for p in others if p.region))[:3]
    sep = "、" if lang != "en" else ", "
    if not places:
        return prompts.text(lang, "region_not_covered", place=place_name(target, lang))
    return prompts.text(lang, "region_elsewhere", place=place_name(target, lang),
                        others=sep.join(place_name(r, lang) for r in places))


def compare_heading(target: str, lang: str) -> str:
    return prompts.text(lang, "region_compare_heading", place=place_name(target, lang))
