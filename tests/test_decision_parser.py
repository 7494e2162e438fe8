"""A reply names a decision only unambiguously: word boundaries, negations, inflections, "Decision: X"."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.decision_parser import NEGATIONS, parse_decision

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
    lambda w: w.lower() not in NEGATIONS and not any(w.lower().startswith(c) for c in ("local", "offload"))
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
