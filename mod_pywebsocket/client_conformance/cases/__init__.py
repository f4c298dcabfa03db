"""Every case of the suite, in its order (1.1.1 ... 13.7.18), and selection by id or glob.

Each section's module exports ``CASES``; this package joins them. Case numbers (the
``case=N`` of the URL API) are 1-based positions in ``all_cases()``.
"""

from __future__ import annotations

import fnmatch
import functools
import importlib

from ..case import Case

SECTION_MODULES = ("framing", "fragmentation", "utf8", "closing", "limits", "compression")


@functools.cache
def all_cases() -> tuple[Case, ...]:
    cases: list[Case] = []
    for name in SECTION_MODULES:
        cases.extend(importlib.import_module(f"{__name__}.{name}").CASES)
    cases.sort(key=lambda c: c.key)
    ids = [c.id for c in cases]
    if len(set(ids)) != len(ids):
        raise RuntimeError("two client-conformance cases share an id")
    return tuple(cases)


@functools.cache
def _numbers() -> dict[str, int]:
    return {case.id: number for number, case in enumerate(all_cases(), 1)}


def by_number(number: int) -> Case | None:
    cases = all_cases()
    return cases[number - 1] if 1 <= number <= len(cases) else None


def by_id(case_id: str) -> Case | None:
    number = _numbers().get(case_id)
    return None if number is None else all_cases()[number - 1]


def number_of(case_id: str) -> int:
    return _numbers()[case_id]


def select(patterns: list[str] | None) -> list[Case]:
    """The cases whose ids match any of ``patterns`` (ids or globs like ``6.4.*``); all if none."""
    if not patterns:
        return list(all_cases())
    return [c for c in all_cases() if any(c.id == p or fnmatch.fnmatchcase(c.id, p) for p in patterns)]
