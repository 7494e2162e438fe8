"""A reply names a decision only unambiguously and never the one it turns down: word boundaries,
negations, rejections, contrasts, inflections, "Decision: X", a bounded read in linear time."""

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.decision_parser import CUE_WORDS, REPLY_CHARS, parse_decision

DECISIONS = ("local", "offload")
LOCAL, OFFLOAD, NONE = 0, 1, None

REPLIES = [
    # plain answers, any case and punctuation
    ("local", LOCAL),
    ("offload", OFFLOAD),
    (" Local", LOCAL),
    ("OFFLOAD.", OFFLOAD),
    ('"local"', LOCAL),
    ("**offload**", OFFLOAD),
    ("(local)", LOCAL),
    ("`offload`", OFFLOAD),
    ("local\n", LOCAL),
    # inflections count
    ("Offloading", OFFLOAD),
    ("Locally", LOCAL),
    ("offloaded", OFFLOAD),
    ("It offloads.", OFFLOAD),
    ("I suggest offloading the task.", OFFLOAD),
    ("Process it locally.", LOCAL),
    # explicit decisions win over prose
    ("Decision:local", LOCAL),
    ("Decision: offload", OFFLOAD),
    ("decision = local", LOCAL),
    ("The decision is offload.", OFFLOAD),
    ("The answer is: local", LOCAL),
    ("Offloading is tempting, but local is cheaper. Decision: local", LOCAL),
    ("Local would be slow. Decision: offload.", OFFLOAD),
    ("Decision: offload. Local would miss the quality.", OFFLOAD),
    ("Choice: local", LOCAL),
    ("Decision: local. Decision: offload.", OFFLOAD),  # the last explicit one is the conclusion
    # negations are not votes
    ("not local", NONE),
    ("I would not choose local", NONE),
    ("don't offload", NONE),
    ("never offload", NONE),
    ("No offloading.", NONE),
    ("Do not process it locally.", NONE),
    ("I can't recommend offloading", NONE),
    ("Not local; offload.", OFFLOAD),
    ("I would not choose local, offload instead", OFFLOAD),
    ("Don't offload, keep it local.", LOCAL),
    ("Never offload chatting tasks: local", LOCAL),
    ("No, local.", LOCAL),  # "No," answers something else: a clause break
    ("I'm not sure, but local is best", LOCAL),
    ("Decision: not local", NONE),
    ("You shouldn’t offload this", NONE),
    # word boundaries: parts of words, single letters and other words name nothing
    ("o", NONE),
    ("L", NONE),
    ("off", NONE),
    ("loc", NONE),
    ("locale", NONE),
    ("offloader", NONE),
    ("The best decision is to choose", NONE),
    ("", NONE),
    ("   ", NONE),
    ("?lacol", NONE),
    ("N/A", NONE),
    # both named: ambiguous
    ("local or offload", NONE),
    ("Either local or offloading works.", NONE),
    ("local, offload", NONE),
    # a candidate repeated is still one vote
    ("local, local, local", LOCAL),
    ("Offload. Yes, offload.", OFFLOAD),
    # contrasts: the chosen side only
    ("prefer local to offload", LOCAL),
    ("I prefer offloading to local.", OFFLOAD),
    ("local is preferable to offload", LOCAL),
    ("local instead of offload", LOCAL),
    ("local rather than offload", LOCAL),
    ("instead of offloading, run it locally", LOCAL),
    ("Rather than offloading, keep it local.", LOCAL),
    ("offload over local", OFFLOAD),
    ("local is better than offload", LOCAL),
    ("local is worse than offload", OFFLOAD),
    ("local, not offload", LOCAL),
    ("I reject local and choose offload", OFFLOAD),
    ("Local? No. Offload.", OFFLOAD),
    # exclusions: the one left over, with two decisions
    ("anything but offload", LOCAL),
    ("anything other than offload", LOCAL),
    ("except offload", LOCAL),
    ("Decision: anything but local", OFFLOAD),
    # rejections: never the rejected one
    ("non-local", NONE),
    ("local is a bad idea", NONE),
    ("offload is not recommended", NONE),
    ("I reject local", NONE),
    ("local: no", NONE),
    ("Decision: local is a bad idea", NONE),
    ("The worst choice is local", NONE),
    ("Offload loses.", NONE),
    ("neither local nor offload", NONE),
    ("not local or offload", NONE),
    # unsure: which one the reply prefers is not said
    ("local uses less energy than offload", NONE),
    ("local is more expensive than offload", NONE),
    ("nothing but local", NONE),
]


@pytest.mark.parametrize("reply,expected", REPLIES)
def test_a_reply_names_a_decision_only_unambiguously(reply, expected):
    assert parse_decision(reply, DECISIONS) == expected


def test_the_table_covers_at_least_fifty_replies():
    assert len(REPLIES) >= 50


def test_multi_word_candidates_match_as_phrases():
    decisions = ("node 3", "node 12", "drop")
    assert parse_decision("Send the user to node 12.", decisions) == 1
    assert parse_decision("node 3", decisions) == 0
    assert parse_decision("node 1", decisions) is None  # "node 1" is part of neither label
    assert parse_decision("Decision: drop", decisions) == 2
    assert parse_decision("not node 3; node 12", decisions) == 1


CANDIDATE_LIKE = ("local", "offload", "locals", "locally", "offloads", "offloading", "offloaded", "locales")
FILLER = st.text(alphabet=st.characters(whitelist_categories=("Ll", "Lu", "Nd"), max_codepoint=0x7F), min_size=1, max_size=8).filter(
    lambda w: w.lower() not in CUE_WORDS and not any(w.lower().startswith(c) for c in ("local", "offload"))
)


@given(st.text())
@settings(max_examples=400, deadline=None)
def test_no_string_makes_the_parser_crash(reply):
    assert parse_decision(reply, DECISIONS) in (None, 0, 1)


@given(st.lists(FILLER, max_size=12), st.lists(FILLER, max_size=12), st.sampled_from([0, 1]), st.sampled_from(["", ".", ",", "!"]))
@settings(max_examples=300, deadline=None)
def test_one_candidate_word_and_no_negation_parses_to_it(before, after, index, punctuation):
    reply = " ".join([*before, DECISIONS[index] + punctuation, *after])
    assert parse_decision(reply, DECISIONS) == index


def test_one_letter_labels_are_capitals_not_the_english_a_or_i():
    nodes = ("A", "B", "I", "drop")
    assert parse_decision("I think A is best", nodes) == 0
    assert parse_decision("A good choice is B.", nodes) == 1  # the article
    assert parse_decision("I reject A and choose B", nodes) == 1  # the pronoun
    assert parse_decision("I would pick I over B", nodes) == 2
    assert parse_decision("Send it to node b", nodes) == 1 and parse_decision("Decision: b", nodes) == 1
    assert parse_decision("e.g. B", nodes) == 1
    assert parse_decision("b", nodes) == 1 and parse_decision("Pick a node", nodes) is None and parse_decision("A or B", nodes) is None


def test_labels_of_every_shape_match_and_contrast():
    models = ("llama-65b-0", "gpt3-175b-0", "llama-65b-1", "bypass")
    assert parse_decision("Evict llama-65b-1 instead of llama-65b-0.", models) == 2
    assert parse_decision("not gpt3-175b-0; bypassing", models) == 3
    assert parse_decision("the llama-65b family", models) is None
    alphas = ("1.0", "1.2", "1.4")
    assert parse_decision("alpha = 1.4.", alphas) == 2 and parse_decision("Choose 1.2 over 1.0", alphas) == 1
    assert parse_decision("1.0-1.2", alphas) is None  # a range names neither
    assert parse_decision("1.2x", alphas) is None


# --- replies of known meaning, drawn over the candidate sets of every problem ------------------------
Pick = Callable[[Sequence], object]  # draws one element of a sequence (hypothesis's or a seeded numpy Generator's)
LEADS = ("", "", "Looking at the examples, ", "Given the keywords. ", "I think ", "Based on the reward history: ")
TAILS = ("", "", " It meets the deadline.", " This keeps the reward high.", "\nThat is all.")
# {X}: the choice, {Y} (and {Z}): turned down
CHOICE = (
    "{X}", "{X}.", "Decision: {X}", "The decision is {X}.", "Answer: {X}", "I prefer {X} to {Y}.", "Prefer {X} to {Y}.",
    "{X} is preferable to {Y}.", "{X} instead of {Y}.", "Choose {X} instead of {Y}.", "Instead of {Y}, choose {X}.",
    "{X} rather than {Y}.", "Rather than {Y}, go with {X}.", "{X} over {Y}.", "I would pick {X} over {Y}.",
    "{X} is better than {Y}.", "{Y} is worse than {X}.", "Not {Y}; {X}.", "{X}, not {Y}.", "Not {Y} but {X}.", "{X} not {Y}.",
    "{Y} is a bad idea, so {X}.", "{Y} is not recommended. {X} is the better choice.", "I reject {Y} and choose {X}.",
    "{Y}: no. {X}: yes.", "Don't pick {Y}; pick {X}.", "Avoid {Y}. Go with {X}.", "{Y} would be a mistake. Decision: {X}",
    "The answer is {X}, not {Y}.", "Never {Y}. Always {X}.", "Anything but {Y}: {X}.", "Decision: {X} rather than {Y}.",
    "{X} instead of {Y} or {Z}.", "Neither {Y} nor {Z}: {X}.", "non-{Y}, so {X}.",
    # phrasings the parser was not written around (some are missed: the share is printed)
    "My pick: {X}.", "Go with {X}; {Y} doesn't meet the deadline.", "Skip {Y}, use {X}.", "{X} (not {Y}).",
    "Between {X} and {Y}, I choose {X}.", "Would {Y} work? No. {X}.", "{Y} seems wrong; {X}.", "{X}! Not {Y}.",
    "Better to choose {X} than {Y}.", "{Y} is out; {X}.", "Definitely {X}: {Y} would violate the deadline.",
    "{X} is the way to go, {Y} is overloaded.",
)
# the decisions turned down are {Y} (and {Z}); the choice is the one left over, if one is
EXCLUSION = ("Anything but {Y}.", "Anything other than {Y}.", "Everything except {Y}.", "Decision: anything but {Y}", "Anything but {Y} or {Z}.")
# no decision may be named
NO_CHOICE = (
    "not {Y}", "Not {Y}.", "non-{Y}", "{Y} is a bad idea.", "{Y} is not recommended.", "I reject {Y}.", "{Y}: no", "I would not choose {Y}.",
    "Don't pick {Y}.", "Avoid {Y}.", "{Y} is not a good choice.", "Decision: not {Y}.", "{Y}? No.", "{X} or {Y}?", "Either {X} or {Y}.",
    "Neither {X} nor {Y}.", "{X} and {Y} are both fine.", "{X} is faster but {Y} is cheaper.", "{X} is more expensive than {Y}.",
    "I'm not sure whether {X} or {Y}.", "{X} uses less energy than {Y}.", "Not {X} and not {Y}.",
    "{Y} is out of the question.", "{Y}? Absolutely not.", "{Y} would violate the deadline.", "{Y} would hurt the reward.",
    "Is {Y} right? I doubt it.", "I have no idea between {X} and {Y}.",
)
# the offloading pair with inflected words: (reply, the choice or None)
INFLECTED = (
    ("Instead of offloading, run it locally.", "local"), ("Run it locally rather than offloading it.", "local"),
    ("Processing locally is better than offloading.", "local"), ("Offloading is not recommended; process it locally.", "local"),
    ("Rather than processing it locally, offload.", "offload"), ("Offloading beats processing locally.", "offload"),
    ("Do not process it locally.", None), ("Offloading is a bad idea.", None), ("Avoid offloading.", None),
)


@dataclass(frozen=True)
class Case:
    """A reply and what it means: `chosen` (None: no decision may be named) and the decisions it turns down."""

    reply: str
    decisions: tuple[str, ...]
    chosen: int | None
    turned_down: frozenset[int]


def candidate_sets() -> list[tuple[str, ...]]:
    """Every registered problem's decisions (the open candidates are drawn from them)."""
    import edge_icl.cli  # noqa: F401  (registers every problem)
    from edge_icl.problems.registry import PROBLEMS

    return [tuple(problem.task(problem.config(None)).decisions) for problem in PROBLEMS.values()]


def written(label: str, pick: Pick) -> str:
    """A label as a reply may write it: as is, capitalized, upper case, quoted or bold; a node letter maybe after "node"."""
    forms = [label, label.capitalize(), label.upper(), f'"{label}"', f"**{label}**", f"`{label}`"]
    if len(label) == 1 and label.isalpha():
        forms.append(f"node {label}")
    return str(pick(forms))


def draw_case(pick: Pick, sets: list[tuple[str, ...]]) -> Case:
    """One reply of known meaning: its template, open candidates, choice and filler drawn by `pick`."""
    decisions = pick(sets)
    if decisions == ("local", "offload") and pick((False, False, False, True)):
        reply, choice = pick(INFLECTED)
        chosen = None if choice is None else decisions.index(choice)
        turned_down = frozenset({1 - chosen} if chosen is not None else {decisions.index(w) for w in decisions if w[:5] in reply.lower()})
        return Case(reply, decisions, chosen, turned_down)
    size = int(pick(range(2, min(6, len(decisions)) + 1)))
    open_ = sorted({int(pick(range(len(decisions)))) for _ in range(4 * size)})[:size]
    if len(open_) < 2:
        open_ = [0, len(decisions) - 1]
    labels = tuple(decisions[i] for i in open_)
    order = list(range(len(labels)))
    x = int(pick(order))
    y = int(pick([i for i in order if i != x]))
    z = [i for i in order if i not in (x, y)]
    z = int(pick(z)) if z else None
    kinds = ["choice", "exclusion", "none"]
    kind = pick(kinds)
    templates = {"choice": CHOICE, "exclusion": EXCLUSION, "none": NO_CHOICE}[kind]
    template = str(pick([t for t in templates if z is not None or "{Z}" not in t]))
    names = {"X": x, "Y": y, "Z": z}
    body = template.format(**{k: written(labels[v], pick) for k, v in names.items() if v is not None})
    turned_down = frozenset({y} | ({z} if "{Z}" in template else set()))
    if kind == "choice":
        chosen = x
    elif kind == "exclusion":
        left = set(order) - turned_down
        chosen = left.pop() if len(left) == 1 else None
    else:
        chosen = None
        if "{X}" in template:
            turned_down = frozenset()  # "X or Y?": nothing turned down, nothing chosen
    return Case(str(pick(LEADS)) + body + str(pick(TAILS)), labels, chosen, turned_down)


def inverted(case: Case, parsed: int | None) -> bool:
    """A parse that names a decision the reply turns down, or not the one it chose, or one where none may be named."""
    return parsed is not None and (parsed in case.turned_down or parsed != case.chosen)


def numpy_pick(rng: np.random.Generator) -> Pick:
    return lambda options: list(options)[int(rng.integers(len(options)))]


def test_ten_thousand_replies_of_known_meaning_are_never_inverted():
    sets = candidate_sets()
    rng = np.random.default_rng(22)
    cases = [draw_case(numpy_pick(rng), sets) for _ in range(10_000)]
    parsed = [parse_decision(case.reply, case.decisions) for case in cases]
    inversions = [(c.reply, c.decisions, p) for c, p in zip(cases, parsed) if inverted(c, p)]
    assert inversions == []
    knowable = [p for c, p in zip(cases, parsed) if c.chosen is not None]
    missed = sum(p is None for p in knowable)
    print(f"\n10,000 replies: 0 inversions; missed {missed} of {len(knowable)} knowable choices ({missed / len(knowable):.1%})")
    assert len(knowable) > 4000 and len({c.decisions for c in cases}) > 100  # every kind of reply and many candidate sets drawn
    assert missed / len(knowable) < 0.05  # a parser that names nothing would pass the inversion test; this one reads the choices


@given(st.data())
@settings(max_examples=500, deadline=None)
def test_a_reply_that_negates_rejects_or_contrasts_never_names_the_decision_it_turns_down(data):
    case = draw_case(lambda options: data.draw(st.sampled_from(list(options))), SETS)
    assert not inverted(case, parse_decision(case.reply, case.decisions)), case


SETS = candidate_sets()


def test_a_huge_reply_is_read_up_to_its_bound():
    decisions = ("local", "offload")
    assert parse_decision("local " * 100_000, decisions) is None  # no whole sentence in the first REPLY_CHARS characters
    assert parse_decision("Decision: offload. " + "local " * 100_000, decisions) == 1
    assert parse_decision("offload. " * 50_000, decisions) == 1
    assert parse_decision("x" * (REPLY_CHARS + 10) + " offload.", decisions) is None  # past the bound: not read
    # a reply cut inside its last sentence: "local is a bad idea" cut after "local is a" is not "local"
    head = "Let me think. " * ((REPLY_CHARS - 11) // 14)
    cut = head.ljust(REPLY_CHARS - 11) + "local is a bad idea"
    assert cut[:REPLY_CHARS].endswith(" local is a ") and parse_decision(cut[:REPLY_CHARS], decisions, limit=10**7) == 0
    assert parse_decision(cut, decisions) is None
    # the whole reply, read without the bound, parses alike
    assert parse_decision("local " * 100_000, decisions, limit=10**7) == 0
