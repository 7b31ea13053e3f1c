"""How the pathway report words the disclosure rules of a released table.

A released table lists the rules applied to it (``ReleasedTable.disclosure``, as
:meth:`parties.request.Disclosure.describe` writes them) and, for each
suppression rule, the cells it withheld (``ReleasedTable.reasons``). The report
marks a withheld cell ``x`` with a footnote letter per rule, and states every
rule in a sentence with the number of figures it withheld.
"""

from __future__ import annotations

import math
from html import escape
from typing import Any

from parties.request import Request
from parties.table import SUPPRESSED_MARK, ReleasedTable

# Footnote letters of the suppression rules, in the order the MPC applies them.
MARKS = {"min_cell_size": "a", "complement": "b", "complementary": "c"}
OTHER_MARK = "d"

# The suppression rule (a key of ``reasons``) that each setting switches on.
RULE_OF_SETTING = {
    "min_cell_size": "min_cell_size",
    "protect_complements": "complement",
    "complementary": "complementary",
}


def mark_letter(rule: str) -> str:
    """The footnote letter of a suppression rule."""
    return MARKS.get(rule, OTHER_MARK)


def mark_html(rule: str, *, title: bool = False) -> str:
    """The suppression mark with its rule's letter, as inline HTML."""
    tip = f' title="Withheld ({escape(rule.replace("_", " "))})"' if title else ""
    return (
        f'<span class="x"{tip}>{SUPPRESSED_MARK}<sup>{mark_letter(rule)}</sup></span>'
    )


def effective_rules(request: Request, table: ReleasedTable) -> dict[str, Any]:
    """The rules the release lists, or the request's if the release lists none."""
    return dict(table.disclosure) or request.disclosure.describe()


def footnote_text(rule: str, rules: dict[str, Any]) -> str:
    """What a suppression rule means, in words, with this table's settings."""
    size = rules.get("min_cell_size")
    below = f"from 1 to {size - 1}" if isinstance(size, int) else "too few"
    noisy = "epsilon" in rules or "rho" in rules
    if rule == "min_cell_size":
        if noisy:
            return f"withheld: the noisy count is below the minimum cell size {size}"
        return f"withheld: {below} students (minimum cell size {size})"
    if rule == "complement":
        return f"withheld: the row's students without this outcome number {below}"
    if rule == "complementary":
        return (
            "withheld so that another withheld count cannot be worked out from the "
            "released ones (complementary suppression)"
        )
    if rule == "suppressed":
        return "withheld; the release does not name the rule"
    return f"withheld by the rule {rule}"


def rule_sentences(
    rules: dict[str, Any], withheld: dict[str, int], figures: int
) -> list[str]:
    """One HTML sentence per rule, with the mark and count of what it withheld."""
    lines = []
    for key, value in rules.items():
        text = escape(_setting_text(key, value, rules))
        rule = RULE_OF_SETTING.get(key)
        if rule is not None and withheld.get(rule):
            text += f" Marked {mark_html(rule)}: {withheld[rule]} of {figures} figures."
        lines.append(text)

    # Rules that withheld cells without a setting of their own.
    covered = {RULE_OF_SETTING.get(key) for key in rules}
    for rule, count in withheld.items():
        if rule not in covered and count:
            text = escape(footnote_text(rule, rules)).capitalize()
            marked = f"Marked {mark_html(rule)}: {count} of {figures} figures."
            lines.append(f"{text}. {marked}")
    return lines


def _setting_text(key: str, value: Any, rules: dict[str, Any]) -> str:
    """One disclosure setting in a sentence."""
    size = rules.get("min_cell_size")
    if key == "min_cell_size" and isinstance(value, int):
        if "epsilon" in rules or "rho" in rules:
            return (
                f"Minimum cell size {value}: a noisy count below {value} is withheld."
            )
        return f"Minimum cell size {value}: a count from 1 to {value - 1} is withheld."
    if key == "protect_complements" and value is True and isinstance(size, int):
        return (
            "Complements protected: an outcome count is also withheld when the row's "
            f"students without that outcome number from 1 to {size - 1}."
        )
    if key == "complementary" and value is True:
        return (
            "Complementary suppression: more counts are withheld until no withheld "
            "count can be worked out from the released ones, the table's totals and "
            "its declared column sums."
        )
    if key == "rounding_base" and value:
        return (
            f"Random rounding: each released count is rounded to a multiple of "
            f"{value}, up or down at random without bias; percentages use the "
            "rounded counts."
        )
    if key == "epsilon" and isinstance(value, (int, float)):
        return (
            f"Differential privacy: discrete Laplace noise with epsilon = {value:g} "
            "is added to every base count; totals add up the noisy counts."
        )
    if key == "rho" and isinstance(value, (int, float)):
        epsilon = math.sqrt(2.0 * value)
        return (
            f"Differential privacy: noise for rho = {value:g} (discrete Laplace with "
            f"epsilon = {epsilon:.3g}) is added to every base count; totals add up "
            "the noisy counts."
        )
    return f"{key.replace('_', ' ').capitalize()}: {value}."
