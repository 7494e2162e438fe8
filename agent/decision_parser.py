"""Which decision a free-text LLM reply names ("generate" mode, and backends without log-probs).

The rule is: never invert. A reply that negates, rejects or contrasts names no decision
unless it is clear which one it chooses; a reply the parser cannot read with certainty
names none (the agent's fallback decides, and the miss is counted), never the one it
turned down.

How a reply is read:
- Only its first REPLY_CHARS characters. A reply of that length or more is read as
  cut, and its last unfinished sentence is dropped ("local is a bad idea" cut after
  "local is a" must not read as "local"). Every backend's `Completion` carries at most
  REPLY_CHARS characters of text (agent.backends.base), and the transcript keeps the same
  characters; the bound also keeps a runaway reply (a chat model that writes pages)
  from costing more than one reply's worth.
- It is split into words once (a number such as "1.2" is one word; a hyphen joins
  words: "llama-65b-1", "non-local") and every rule below looks at a bounded number of
  words around a mention, so the time is linear in the reply's length.
- Candidates match whole words, case-insensitively, a multiword label as its words in
  order ("node 12", "llama-65b-1"), its last word with the inflections of INFLECTIONS
  ("offloading", "locally", "bypassed"): "o", "locale" and "offloader" name nothing. A
  one-letter label (association's nodes "A".."Z") matches only as a capital letter (the
  lower-case "a" of "a node", the "e" of "e.g." are words; a reply of one letter, "node b"
  and "Decision: b" count), and "A"/"I" not as the English article or pronoun: "A"
  starting a clause before a noun ("A good choice is B") and "I" before a verb ("I think")
  are words; "node I", "A is ...", "A or B", "I over J", "Decision: I" name labels.
- Each mention of a candidate is read as chosen, rejected, excluded or unsure:
  rejected after a negation or rejection within NEGATION_REACH words before it in its
  clause ("not local", "I reject local", "avoid local", "non-local"), or when its own
  sentence turns it down after it ("local is a bad idea", "offload is not recommended",
  "local: no"; "the worst choice is local"), or as the losing side of a contrast ("local instead of offload",
  "rather than offloading, run it locally", "offload over local", "prefer local to
  offload", "local is better than offload", "offloading beats processing locally");
  excluded after "anything but", "other than", "except", "excluding"; unsure where the
  reply does not say which way it goes ("besides local", "local uses less energy than
  offload", "semi-local", the range "1.0-1.2", "nothing but local"); else chosen. The
  words these rules read are the fixed lists below: a turn-down in other words ("local
  would wreck the deadline") reads as a plain mention.
- A candidate rejected or excluded anywhere in the reply is never its decision.
- An explicit "Decision: X" (also "decision is X", "answer: X", "choice = X") wins over
  prose: the last one that names exactly one chosen candidate is the reply's conclusion.
- Otherwise exactly one candidate must be chosen, with no other candidate chosen or
  unsure; else, when the reply excludes candidates ("anything but offload") and chooses
  none, the one candidate left over, if exactly one is left; else no decision.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

# The most characters of a reply that are read: the one bound on a reply's length for every
# backend (base.Completion cuts its text to it) and the transcript. A decision is named in a
# reply's first sentences; 4096 characters are some 700 words, far more than a decision needs.
REPLY_CHARS = 4096

# Endings that keep a word's meaning as a vote: offload -> offloads, offloaded, offloading;
# local -> locally. Kept short on purpose: "localize" is another word.
INFLECTIONS = ("", "s", "es", "ed", "d", "ing", "ly", "ally")
NEGATIONS = frozenset(
    "not no never don't dont doesn't doesnt didn't didnt won't wont wouldn't wouldnt shouldn't shouldnt "
    "can't cant cannot isn't isnt aren't arent avoid avoiding without nor neither non".split()
)
# Words before a candidate that turn it down, as a negation does.
REJECTIONS = frozenset(
    "reject rejects rejected rejecting refuse refuses refusing decline declines declining dismiss dismissing "
    "avoids avoided skip skips skipping forgo forgoing against oppose opposing discard discarding "
    "rule rules ruled ruling eliminate eliminating".split()
)
# Words after a candidate, in its sentence, that turn it down ("local is a bad idea", "offload: no").
VERDICTS_AGAINST = NEGATIONS - {"without"} | frozenset(
    "nope bad worse worst poor wrong terrible awful unwise inadvisable unsuitable inappropriate suboptimal "
    "mistake rejected excluded avoided ruled discouraged slow slower costly costlier expensive pricier risky riskier "
    "fail fails failing miss misses inferior weaker infeasible impossible unacceptable overloaded out violate violates "
    "hurt hurts harmful disastrous doubt lose loses losing unnecessary pointless useless wasteful inefficient dangerous".split()
)
# Before "is"/"be" and a mention, those words name it too: "the worst choice is local".
COPULAS = frozenset("is be".split())
# Comparatives before "than": "X is better than Y" chooses X; "X is worse than Y" chooses Y
# (X is then turned down by VERDICTS_AGAINST); any other comparative leaves both unsure.
BETTER = frozenset("better preferable superior faster quicker cheaper safer wiser smarter".split())
WORSE = frozenset("worse inferior slower costlier riskier pricier weaker".split())
PREFER = frozenset("prefer prefers preferred preferring preferable".split())
# Words before "but"/"except"/"other than" that make it mean "only" ("nothing but local"): unsure.
ONLY_QUANTIFIERS = frozenset("nothing none no not never".split())
# Words between two mentions over which a negation before the first reaches the second ("not local or offload").
CONJUNCTIONS = frozenset("or nor and".split())
# Verbs that start a new choice after a rejected mention ("I reject local and choose offload").
CHOICE_VERBS = frozenset("choose chose pick picks select selects go use take opt recommend keep run send prefer prefers do".split())
# How many words before a candidate a negation, rejection or contrast reaches, inside one clause.
NEGATION_REACH = 4
# Words that open a new clause (a negation does not reach over them: "not local but offload").
CLAUSE_WORDS = frozenset("but instead rather whereas".split())
EXPLICIT_WORDS = frozenset("decision answer choice".split())
# After the article "A" or the pronoun "I" comes a noun or a verb; a label is followed by these.
AFTER_A_LABEL = frozenset(
    "or and nor is has was would will should could can might must does over rather instead than to not vs versus "
    "because since with seems looks offers gives wins but are were beats doesn't isn't won't wouldn't can't shouldn't".split()
)
AFTER_I_LABEL = frozenset(
    "or and nor is has does over rather instead than to not vs versus because since with seems looks offers gives wins are were beats".split()
)
LABEL_NOUNS = frozenset("node nodes".split())

SENTENCE_ENDS = frozenset(".!\n")
CUT_ENDS = frozenset(".!?\n")  # where a cut reply's last whole sentence ends
CLAUSE_MARKS = frozenset(";:,?—–-")  # "-" only as a spaced dash (" - "); a bare hyphen joins words
EXPLICIT_MARKS = frozenset(":=-—–")

_TOKEN = re.compile(r"(?P<word>\d+(?:\.\d+)+(?![A-Za-z0-9])|[A-Za-z0-9]+(?:['’][A-Za-z]+)?)|(?P<mark>[.;:!?,=\n—–]|(?<=\s)-(?=\s))")
# Every word a rule reads (tests draw filler words outside it).
CUE_WORDS = (
    NEGATIONS | REJECTIONS | VERDICTS_AGAINST | BETTER | WORSE | PREFER | ONLY_QUANTIFIERS | CONJUNCTIONS | CHOICE_VERBS
    | CLAUSE_WORDS | EXPLICIT_WORDS | LABEL_NOUNS | AFTER_A_LABEL | AFTER_I_LABEL | COPULAS
    | frozenset("of than to over beats beat outperforms trumps anything everything all except excluding exclude excludes other besides apart aside from "
                "in place opposed compared less the a an".split())
)
_KNOWN_BEFORE_THAN = BETTER | WORSE | {"rather", "other"}
CHOSEN, REJECTED, EXCLUDED, UNSURE = "chosen", "rejected", "excluded", "unsure"


@dataclass
class _Words:
    """A reply split once into words: each word's lower-case text, capitalization, clause, sentence and what precedes it."""

    text: list[str]
    capital: list[bool]
    clause: list[int]
    sentence: list[int]
    gap: list[str]  # the characters between the word before and this one ("-" joins: "non-local", "65b-1")
    marks_after: list[str]  # the punctuation between this word and the next


def _split(reply: str, limit: int) -> _Words:
    """The reply's words (one pass); a reply of `limit` characters or more is read as cut: its unfinished last sentence goes."""
    cut = len(reply) >= limit
    text = reply[:limit]
    words = _Words([], [], [], [], [], [])
    clause = sentence = 0
    word_end, pending_marks = 0, ""
    keep = 0  # words up to the last sentence end (for a cut reply)
    for match in _TOKEN.finditer(text):
        token = match.group()
        if match.lastgroup == "mark":
            if token in SENTENCE_ENDS:
                sentence += 1
                clause += 1
            elif token in CLAUSE_MARKS:
                clause += 1
            if token in CUT_ENDS:
                keep = len(words.text)
            pending_marks += token
            if words.marks_after:
                words.marks_after[-1] = pending_marks
            continue
        lower = token.lower()
        if "’" in lower:
            lower = lower.replace("’", "'")
        if lower in CLAUSE_WORDS:
            clause += 1
        words.gap.append(text[word_end : match.start()] if words.text else " ")
        words.text.append(lower)
        words.capital.append(token.isupper())
        words.clause.append(clause)
        words.sentence.append(sentence)
        words.marks_after.append("")
        pending_marks, word_end = "", match.end()
    if cut:
        for column in (words.text, words.capital, words.clause, words.sentence, words.gap, words.marks_after):
            del column[keep:]
    return words


def _label_words(candidate: str) -> list[str]:
    """A candidate's words as the reply is split into them."""
    return [m.group().lower().replace("’", "'") for m in _TOKEN.finditer(candidate) if m.lastgroup == "word"]


class _Mention(NamedTuple):
    """Words [start, end) of the reply name candidate `index`."""

    start: int
    end: int
    index: int


class _Labels:
    """The candidates as word sequences, looked up by their first word (one dictionary look-up per reply word)."""

    def __init__(self, decisions: Sequence[str]) -> None:
        self.by_first: dict[str, list[tuple[list[str], int]]] = {}  # first word -> (the label's words, its index)
        for index, decision in enumerate(decisions):
            words = _label_words(decision)
            if not words:
                continue  # a candidate without words never matches
            last = words[-1]
            inflect = last.isalpha() and len(last) > 1
            for ending in INFLECTIONS if inflect else ("",):
                form = [*words[:-1], last + ending]
                self.by_first.setdefault(form[0], []).append((form, index))

    def mentions(self, words: _Words) -> list[_Mention]:
        """Every mention, left to right; at one place the longest label wins, and a mention hides what lies inside it."""
        found: list[_Mention] = []
        text, n, i = words.text, len(words.text), 0
        while i < n:
            best: _Mention | None = None
            for form, index in self.by_first.get(text[i], ()):
                end = i + len(form)
                if end > i + 1 and (end > n or text[i:end] != form or any(words.marks_after[k] for k in range(i, end - 1))):
                    continue  # a multiword label must stand whole, with no punctuation between its words
                if (best is None or end > best.end) and _names_a_label(words, i, end):
                    best = _Mention(i, end, index)
            if best is None:
                i += 1
            else:
                found.append(best)
                i = best.end
        return found


def _names_a_label(words: _Words, start: int, end: int) -> bool:
    """Whether a one-letter word at `start` is a label, not a lower-case letter or the English "a"/"I"."""
    if end - start != 1 or len(words.text[start]) != 1 or not words.text[start].isalpha():
        return True
    if _in_abbreviation(words, start):
        return False
    after_a_label_noun = start > 0 and words.text[start - 1] in LABEL_NOUNS and not words.marks_after[start - 1]
    if not words.capital[start]:
        return after_a_label_noun or len(words.text) == 1 or _starts_an_answer(words, start)
    if words.text[start] not in ("a", "i") or after_a_label_noun or _starts_an_answer(words, start):
        return True
    if words.marks_after[start] or start + 1 >= len(words.text):
        return True
    if words.text[start] == "a":  # the article is capital only where a clause starts: "A good choice is B"
        starts_clause = start == 0 or words.clause[start - 1] != words.clause[start]
        return not starts_clause or words.text[start + 1] in AFTER_A_LABEL
    return words.text[start + 1] in AFTER_I_LABEL  # the pronoun: "I think", "so I choose"


def _in_abbreviation(words: _Words, position: int) -> bool:
    """Whether a one-letter word is part of "e.g.", "i.e.", "U.S.": joined to another letter by a dot, no space."""
    return (position > 0 and words.gap[position] == "." and len(words.text[position - 1]) == 1) or (
        position + 1 < len(words.text) and words.gap[position + 1] == "." and len(words.text[position + 1]) == 1
    )


class _Reader:
    """How each mention of one reply is meant (see the module note); one pass over the mentions."""

    def __init__(self, words: _Words, mentions: list[_Mention]) -> None:
        self.words = words
        self.mentions = mentions
        # per clause: the first word that prefers and the first mention, for "prefer X to Y" / "X is preferable to Y"
        self.first_prefer: dict[int, int] = {}
        self.first_mention: dict[int, int] = {}
        for position, word in enumerate(words.text):
            if word in PREFER:
                self.first_prefer.setdefault(words.clause[position], position)
        for mention in mentions:
            self.first_mention.setdefault(words.clause[mention.start], mention.start)

    def classes(self) -> list[str]:
        """One class per mention: chosen, rejected, excluded or unsure."""
        before: list[str | None] = []
        result: list[str] = []
        for k in range(len(self.mentions)):
            marker = self._before(k, before)
            before.append(marker)
            after = self._after(k)
            if marker in (REJECTED, EXCLUDED):
                result.append(marker)
            elif after is not None:
                result.append(after if marker is None or after == REJECTED else UNSURE)
            else:
                result.append(marker or CHOSEN)
        return result

    def _joined(self, mention: _Mention) -> str | None:
        """A mention hyphen-joined to another word: "non-local" rejects, "semi-local" and "1.0-1.2" are unsure."""
        words = self.words
        if words.gap[mention.start] == "-":
            return REJECTED if words.text[mention.start - 1] == "non" else UNSURE
        if mention.end < len(words.text) and words.gap[mention.end] == "-":
            return UNSURE
        return None

    def _before(self, k: int, before: list[str | None]) -> str | None:
        """What the words before mention k (within NEGATION_REACH, in its clause) make of it; None: nothing."""
        words, mention = self.words, self.mentions[k]
        joined = self._joined(mention)
        if joined is not None:
            return joined
        clause = words.clause[mention.start]
        previous = self.mentions[k - 1] if k > 0 else None
        predicate = mention.start > 0 and words.text[mention.start - 1] in COPULAS and not words.marks_after[mention.start - 1]
        for position in range(mention.start - 1, max(mention.start - NEGATION_REACH, 0) - 1, -1):
            if words.clause[position] != clause:
                return None
            if predicate and words.text[position] in VERDICTS_AGAINST and (previous is None or position >= previous.end):
                return REJECTED
            if previous is not None and position < previous.end:
                return self._carried(previous, before[k - 1], mention)
            marker = self._marker(position, mention)
            if marker is not None:
                return marker
        return None

    def _carried(self, previous: _Mention, its_marker: str | None, mention: _Mention) -> str | None:
        """A negation or contrast before the previous mention, carried over to this one ("not local or offload")."""
        if its_marker is None:
            return None
        between = set(self.words.text[previous.end : mention.start])
        if between & CHOICE_VERBS:
            return None  # "I reject local and choose offload"
        if between <= CONJUNCTIONS | LABEL_NOUNS | {"the", "a", "an"}:
            return its_marker
        return UNSURE

    def _marker(self, position: int, mention: _Mention) -> str | None:
        """What the word at `position`, before a mention, makes of it; None: nothing."""
        text = self.words.text
        word = text[position]
        one_before = text[position - 1] if position > 0 else ""
        two_before = text[position - 2] if position > 1 else ""
        if word in NEGATIONS or word in REJECTIONS:
            return REJECTED
        if word == "of" and (one_before == "instead" or (one_before == "place" and two_before == "in")):
            return REJECTED
        if word == "to":
            if one_before == "opposed":
                return REJECTED
            if one_before == "compared":
                return UNSURE
            clause = self.words.clause[position]
            prefer, first = self.first_prefer.get(clause), self.first_mention.get(clause)
            if prefer is not None and first is not None and prefer < position and first < position:
                return REJECTED  # "prefer local to offload", "local is preferable to offload"
            return None
        if word in ("over", "beats", "beat", "outperforms", "trumps"):
            return REJECTED  # "offload over local", "offloading beats processing locally"
        if word == "than":
            return self._than(position)
        if word == "but" and one_before in ("anything", "everything", "all"):
            return EXCLUDED
        if word in ("except", "excluding", "exclude", "excludes"):
            quantified = any(w in ONLY_QUANTIFIERS for w in text[max(position - 2, 0) : position])
            return UNSURE if quantified else EXCLUDED
        if word == "from" and one_before in ("apart", "aside"):
            return UNSURE
        if word == "besides":
            return UNSURE
        if word == "but" and one_before in ONLY_QUANTIFIERS:
            return UNSURE  # "nothing but local"
        return None

    def _than(self, position: int) -> str | None:
        """The mention after "than": rejected after "rather"/"better", excluded after "other", chosen after "worse"."""
        text = self.words.text
        comparative = text[position - 1] if position > 0 else ""
        hedged = any(w in NEGATIONS or w in ("less", "no") for w in text[max(position - 3, 0) : position - 1])
        if comparative == "rather":
            return REJECTED
        if comparative == "other":
            quantified = any(w in ONLY_QUANTIFIERS for w in text[max(position - 3, 0) : position - 1])
            return UNSURE if quantified else EXCLUDED
        if comparative in BETTER and not hedged:
            return REJECTED
        if comparative in WORSE and not hedged:
            return None  # the other side was turned down by its verdict
        return UNSURE

    def _after(self, k: int) -> str | None:
        """What the words after mention k, up to the next mention or its sentence's end, make of it."""
        words, mention = self.words, self.mentions[k]
        following = self.mentions[k + 1].start if k + 1 < len(self.mentions) else len(words.text)
        sentence = words.sentence[mention.start]
        verdict: str | None = None
        for position in range(mention.end, following):
            if words.sentence[position] != sentence:
                break
            word = words.text[position]
            claimed = (
                (word in NEGATIONS or word in REJECTIONS)
                and following < len(words.text)
                and words.clause[position] == words.clause[following]
                and following - position <= NEGATION_REACH
            )
            if claimed:
                break  # a negation within reach of the next mention belongs to it ("local, not offload")
            if word in VERDICTS_AGAINST:
                return REJECTED
            if word == "than" and words.text[position - 1] not in _KNOWN_BEFORE_THAN:
                verdict = UNSURE  # "local uses less energy than ... offload": which one is better is not said
        return verdict


def _answer_start(words: _Words, i: int) -> int | None:
    """Where the answer starts when word i is "decision"/"answer"/"choice" followed by ":", "=", "-" or "is"; else None."""
    text, marks, n = words.text, words.marks_after, len(words.text)
    if text[i] not in EXPLICIT_WORDS or i + 1 >= n:
        return None
    if marks[i]:
        return i + 1 if set(marks[i]) <= EXPLICIT_MARKS else None
    if text[i + 1] == "is" and i + 2 < n and (not marks[i + 1] or set(marks[i + 1]) <= EXPLICIT_MARKS):
        return i + 2
    return None


def _starts_an_answer(words: _Words, position: int) -> bool:
    """Whether the word at `position` is the first of an explicit answer ("Decision: b")."""
    return any(i >= 0 and _answer_start(words, i) == position for i in (position - 1, position - 2))


def _explicit_spans(words: _Words) -> list[tuple[int, int]]:
    """The words [start, end) of each explicit answer: up to its clause's end or the next explicit marker."""
    n = len(words.text)
    markers = [(i, start) for i, word in enumerate(words.text) if word in EXPLICIT_WORDS and (start := _answer_start(words, i)) is not None]
    spans = []
    for (_, start), (bound, _) in zip(markers, [*markers[1:], (n, n)]):
        end = start  # up to the end of its clause, never past the next marker: spans are disjoint, one pass in all
        while end < min(bound, n) and (end == start or not _ends_clause(words.marks_after[end - 1])):
            end += 1
        spans.append((start, min(end, bound)))
    return spans


def _ends_clause(marks: str) -> bool:
    return any(m in SENTENCE_ENDS or m in CLAUSE_MARKS for m in marks)


def _decide(mentions: list[_Mention], classes: list[str], turned_down: set[int], count: int) -> int | None:
    """The one chosen candidate of these mentions; else the one left over by exclusions; else None."""
    chosen = {m.index for m, c in zip(mentions, classes) if c == CHOSEN} - turned_down
    maybe = chosen | ({m.index for m, c in zip(mentions, classes) if c == UNSURE} - turned_down)
    if len(maybe) == 1 and chosen == maybe:
        return chosen.pop()
    if not maybe and any(c == EXCLUDED for c in classes):
        left = set(range(count)) - turned_down
        if len(left) == 1:
            return left.pop()
    return None


def parse_decision(reply: str, decisions: Sequence[str], limit: int = REPLY_CHARS) -> int | None:
    """The index of the decision `reply` names with certainty, else None (see the module note).

    `limit`: how many characters are read; REPLY_CHARS everywhere but in
    scripts/measure_parser.py, which reads whole replies to show the time is linear.
    """
    if not isinstance(reply, str) or not reply.strip():
        return None
    words = _split(reply, limit)
    mentions = _Labels(decisions).mentions(words)
    if not mentions:
        return None
    classes = _Reader(words, mentions).classes()
    turned_down = {m.index for m, c in zip(mentions, classes) if c in (REJECTED, EXCLUDED)}
    spans = _explicit_spans(words)
    if spans:
        k = 0
        per_span: list[list[int]] = [[] for _ in spans]
        for position, mention in enumerate(mentions):  # mentions and spans are both in order: one merge
            while k < len(spans) and spans[k][1] <= mention.start:
                k += 1
            if k < len(spans) and spans[k][0] <= mention.start:
                per_span[k].append(position)
        for members in reversed(per_span):  # the last explicit decision is the reply's conclusion
            if members:
                named = _decide([mentions[p] for p in members], [classes[p] for p in members], turned_down, len(decisions))
                if named is not None:
                    return named
    return _decide(mentions, classes, turned_down, len(decisions))
