"""Which decision a free-text LLM reply names ("generate" mode, and backends without log-probs).

A reply names a decision only unambiguously:
- candidates match whole words (word boundaries), case-insensitively, with their
  inflections ("offloading", "offloaded", "locally"): "o" or "locale" name nothing;
- a candidate after a negation in the same clause ("not local", "I would not choose
  local", "don't offload", "never offload", "no offloading") is not a vote;
- an explicit "Decision: X" (also "decision is X", "answer: X") wins over prose;
- otherwise exactly one candidate must get a vote, else the reply names no decision.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

# Endings that keep a word's meaning as a vote: offload -> offloads, offloaded, offloading;
# local -> locally. Kept short on purpose: "localize" is another word.
INFLECTIONS = ("", "s", "es", "ed", "d", "ing", "ly", "ally")
NEGATIONS = frozenset(
    "not no never don't dont doesn't doesnt didn't didnt won't wont wouldn't wouldnt shouldn't shouldnt "
    "can't cant cannot isn't isnt aren't arent avoid avoiding without nor neither".split()
)
# How many words before a candidate a negation reaches, inside one clause.
NEGATION_REACH = 4
_CLAUSE_BREAK = re.compile(r"[.;:!?,\n]|\bbut\b|\binstead\b|\brather\b")
_WORD = re.compile(r"[a-z0-9]+(?:['’][a-z]+)?")
_EXPLICIT = re.compile(r"\b(?:decision|answer|choice)\s*(?:is|:|=|-|—)\s*:?\s*[\"'*`(\[]*\s*([a-z0-9][a-z0-9' -]*)")


def _pattern(candidate: str) -> re.Pattern[str]:
    """Whole words of `candidate` (spaces and punctuation around it ignored), its last word inflected."""
    words = _WORD.findall(candidate.lower())
    if not words:
        return re.compile(r"(?!)")  # a candidate without words never matches
    head = r"\W+".join(re.escape(w) for w in words)
    endings = "|".join(re.escape(e) for e in sorted(INFLECTIONS, key=len, reverse=True))
    return re.compile(rf"(?<![a-z0-9]){head}(?:{endings})(?![a-z0-9])")


def _negated(text: str, start: int) -> bool:
    """Whether a negation stands within NEGATION_REACH words before `start`, in the same clause."""
    clause = _CLAUSE_BREAK.split(text[:start])[-1]
    before = _WORD.findall(clause.replace("’", "'"))[-NEGATION_REACH:]
    return any(word in NEGATIONS for word in before)


def _votes(text: str, patterns: list[re.Pattern[str]]) -> set[int]:
    """Candidates named at least once outside a negation; a longer candidate's match hides a shorter one inside it."""
    spans: list[tuple[int, int, int]] = []
    for index, pattern in enumerate(patterns):
        spans.extend((m.start(), m.end(), index) for m in pattern.finditer(text))
    kept = [s for s in spans if not any(o[0] <= s[0] and s[1] <= o[1] and (o[1] - o[0]) > (s[1] - s[0]) for o in spans)]
    return {index for start, _, index in kept if not _negated(text, start)}


def parse_decision(reply: str, decisions: Sequence[str]) -> int | None:
    """The index of the decision `reply` names unambiguously, else None (see the module note)."""
    if not isinstance(reply, str) or not reply.strip():
        return None
    text = reply.lower()
    patterns = [_pattern(d) for d in decisions]
    explicit = [m.group(1) for m in _EXPLICIT.finditer(text)]
    for answer in reversed(explicit):  # the last explicit decision is the reply's conclusion
        named = _votes(answer, patterns)
        if len(named) == 1:
            return named.pop()
    named = _votes(text, patterns)
    return named.pop() if len(named) == 1 else None
