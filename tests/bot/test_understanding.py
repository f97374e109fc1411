"""Understanding, measured honestly.

- Cross-validation: the classifier is trained on 4 of 5 folds of the knowledge base's own
  examples and tested on the fifth, for every fold, so the figures printed are not the ones it
  was tuned on. The floors sit just under what is measured (see the report / README).
- The knowledge base: 40 or more examples for every topic and intent, none copied from the
  evaluation files.
- The near-misses the last evaluation exposed, and everyday council or pet questions that must
  go to `fallback`.
- An independent evaluation file, tests/bot/eval_fresh.csv, written by someone who never saw
  the examples: when it is there, its figures are printed and held to the floors below (set by
  the lead).
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from rapidfuzz import fuzz

from bot import safeguarding
from bot.assistant import Assistant
from bot.evaluation import (
    cross_validate,
    evaluate,
    fold_split,
    near_copy_groups,
    read_eval_file,
)
from bot.knowledge import (
    REQUIRED_INTENTS,
    REQUIRED_TOPICS,
    AnswerChange,
    KnowledgeCache,
    load_knowledge,
    save_answer,
)
from bot.matching import CLARIFY, FALLBACK, Match
from crm.testing.fixtures import make_test_settings

HERE = Path(__file__).parent
FRESH_FILE = HERE / "eval_fresh.csv"
# Cross-validation floors: a little under what is measured, so a real regression fails.
# Near copies of one phrasing share a fold (bot.evaluation.near_copy_groups), which made the
# figures stricter than before: 88.2% overall, 84.5% off-topic when that came in; 89.6% and
# 91.3% after the examples of issue 10; 91.1% and 91.0% (seed 0; 90.7-91.4% and 90.4-91.2%
# over seeds 0-4) with the kinship, "points back" and age rules of bot/matching.py and 191
# more examples; 92.6% and 91.0% (seed 0; 92.4-92.7% and 90.5-92.2% over seeds 0-4) with 149
# more examples, some moved between topics, and the classifier's C 1.0 and fostering-words
# weight 0.4.
CV_SEED = 0
CV_MIN_OVERALL = 0.92
CV_MIN_OFF_TOPIC = 0.90
CV_MIN_PER_TOPIC = 0.65
CV_MAX_FALSE_ALARMS = 0.01
# The independent file (the lead sets these once it is written).
FRESH_MIN_OVERALL = 0.85
FRESH_MIN_SAFEGUARDING_RECALL = 1.0
FRESH_MAX_FALSE_ALARMS = 0.01
FRESH_MIN_OFF_TOPIC = 0.90
MIN_EXAMPLES = 40


@pytest.fixture(scope="module")
def knowledge():
    return load_knowledge()


@pytest.fixture(scope="module")
def cv(knowledge):
    return cross_validate(
        knowledge.entries(),
        knowledge.language,
        folds=5,
        detector=safeguarding.detect,
        seed=CV_SEED,
    )


@pytest.fixture(scope="module")
def offline_assistant(knowledge_files) -> Assistant:
    base, matcher = knowledge_files
    return Assistant(make_test_settings(), KnowledgeCache(base, matcher))


def test_cross_validation_figures(cv, capsys):
    with capsys.disabled():
        print("\nCross-validation over the knowledge base's examples (5 folds):")
        for line in cv.lines(mistakes=False):
            print("  " + line)
    assert cv.accuracy >= CV_MIN_OVERALL, "\n".join(cv.lines())
    assert cv.off_topic_accuracy >= CV_MIN_OFF_TOPIC
    assert cv.false_alarm_rate <= CV_MAX_FALSE_ALARMS
    weakest = {
        s: cv.slug_accuracy(s) for s in cv.per_slug if cv.slug_accuracy(s) < CV_MIN_PER_TOPIC
    }
    assert not weakest, weakest


def test_near_copies_of_one_phrasing_share_a_fold():
    examples = [
        ("adoption", "do you do adoption"),
        ("adoption", "do you do adoptions"),
        ("adoption", "can foster carers adopt"),
        ("lgbtq", "do you do adoption"),
    ]
    groups = near_copy_groups(examples)
    assert groups[0] == groups[1]
    # Another phrasing, and the same words under another slug, are not tied to it.
    assert groups[2] != groups[0] and groups[3] != groups[0]


def test_every_topic_and_intent_has_forty_examples(knowledge):
    for slug in (*REQUIRED_TOPICS, *REQUIRED_INTENTS, "greeting", "thanks"):
        assert len(knowledge.get(slug).examples) >= MIN_EXAMPLES, slug


def test_no_example_is_copied_from_an_evaluation_file(knowledge):
    """Short canonical questions ("what is kinship care") are bound to coincide; anything
    longer in the knowledge base must not be an evaluation message copied."""
    rows = []
    for path in sorted(HERE.glob("eval_*.csv")):
        if path.name == FRESH_FILE.name:
            continue  # never read here: it must stay unseen
        rows += [text.lower() for _, text in read_eval_file(path)]
    copied = [
        example
        for topic in knowledge.topics.values()
        for example in topic.examples
        if len(example.split()) >= 7 and any(fuzz.ratio(example.lower(), row) >= 90 for row in rows)
    ]
    assert copied == []


NEAR_MISSES = {
    # choosing a child vs types of fostering
    "can we say we'd only take a girl under 10": "choosing-a-child",
    "what's the difference between respite and long term fostering": "types-of-fostering",
    # own children vs relationship status
    "we have two little ones of our own at home, would that be a problem": "own-children",
    "me and my partner aren't married, does that matter": "relationship-status",
    # smoking and health vs choosing a child
    "i vape, would that mean we could only have older children": "smoking",
    "i have asthma, would that limit which children we get": "health",
    # kinship vs adoption (special guardianship)
    "should we get special guardianship for our grandson instead of fostering him": "kinship",
    "can foster carers go on to adopt the child they look after": "adoption",
    # being in a couple vs LGBTQ+
    "my wife and i have been together ten years and want to foster": "relationship-status",
    "my wife and i are both women, would we be accepted": "lgbtq",
    # everyday council and pet questions: not fostering
    "is there parking at the council office": FALLBACK,
    "how do i apply for a housing transfer": FALLBACK,
    "i'd like to adopt a dog from the shelter": FALLBACK,
    "could i foster a cat for the rescue": FALLBACK,
}


@pytest.mark.parametrize(("text", "slug"), NEAR_MISSES.items())
def test_near_misses(offline_assistant, text, slug):
    analysis = offline_assistant.analyse(text)
    if analysis.decision == CLARIFY:
        # Asking "do you mean A or B?" is right only when the right one is offered first.
        assert analysis.alternatives[0].slug == slug, analysis
    else:
        assert analysis.best.slug == slug, analysis


BETWEEN_TOPICS = {
    # A relative's or friend's child is the kinship pathway, whatever is asked about it.
    "me and my wife are bringing up our granddaughter, is there any help for us": "kinship",
    "my nephew has lived with us since christmas, what support can we get": "kinship",
    "my sisters two boys are in care, could they come to us": "kinship",
    # A foster carer asking about support is still asking about support.
    "im a foster carer, what support is there": "support",
    # ... even when a grandchild is mentioned: the question is about support for carers.
    "we foster and our granddaughter visits, is there support for carers": "support",
    # A question that points back ("should we wait") is about what was said before it.
    "we've just had a baby, should we wait a bit before fostering": "own-children",
    # Step-children are the household's own children, not kinship.
    "my stepdaughter stays with us at weekends, does she count": "own-children",
}


@pytest.mark.parametrize(("text", "slug"), BETWEEN_TOPICS.items())
def test_questions_between_two_topics(offline_assistant, text, slug):
    analysis = offline_assistant.analyse(text)
    assert analysis.decision != CLARIFY and analysis.best.slug == slug, analysis


def test_the_cross_validation_split_is_the_same_every_time(knowledge):
    """The figure is reproducible: the folds depend on the examples and the seed only.
    Twenty examples of each slug are enough to show it, and keep the test cheap."""
    examples = [(e.slug, t) for e in knowledge.entries() for t in e.examples[:20]]

    def tests(seed):
        return [tuple(test) for _train, test in fold_split(examples, 5, seed)]

    assert tests(CV_SEED) == tests(CV_SEED)
    assert tests(CV_SEED) != tests(CV_SEED + 1)
    every = sorted(i for fold in tests(CV_SEED) for i in fold)
    assert every == list(range(len(examples)))


def test_a_pet_beside_a_fostered_child_is_still_about_pets(offline_assistant):
    assert offline_assistant.classify("can i foster if i have a dog and two cats").slug == "pets"


def test_second_answers_only_for_questions_asked(offline_assistant):
    analysis = offline_assistant.analyse("we're both fit and healthy, can we foster a baby?")
    assert "smoking" not in analysis.slugs and "health" not in analysis.slugs
    analysis = offline_assistant.analyse("we rent. can we foster with a dog?")
    assert analysis.slugs == ["pets"]
    analysis = offline_assistant.analyse("can we foster if we rent? and what about our dog?")
    assert analysis.slugs[:2] == ["renting", "pets"]


def test_confidence_is_calibrated_on_held_out_folds(knowledge_files):
    _base, matcher = knowledge_files
    # Fitted on held-out folds: not the untouched default, and not absurd.
    assert 0.02 < matcher.temperature < 5
    probabilities = matcher.probabilities("can i foster if i rent")
    assert abs(probabilities.sum() - 1) < 1e-6
    assert matcher.ranked("can i foster if i rent")[0].slug == "renting"


def test_decisions_answer_clarify_or_fallback(knowledge_files):
    _base, matcher = knowledge_files
    decide = matcher.decide
    assert decide([Match("pets", 0.9), Match("age", 0.05)])[0] == "answer"
    decision, found = decide([Match("pets", 0.45), Match("age", 0.4), Match("renting", 0.1)])
    assert decision == CLARIFY and [m.slug for m in found] == ["pets", "age"]
    assert decide([Match("pets", 0.2), Match("age", 0.1), Match(FALLBACK, 0.1)])[0] == FALLBACK
    # The classifier alone raises a concern only when sure; otherwise it judges without it.
    assert decide([Match("safeguarding", 0.4), Match("support", 0.35)])[1][0].slug == "support"


def test_a_message_two_topics_share_asks_which_they_mean(chat, session, org):
    """Two topics whose examples say the same thing: the assistant asks, with a button for
    each, and pressing one answers it."""
    base = chat.assistant.knowledge.base
    admin = org.actor(session, org.admin)
    for slug in ("pets", "age"):
        examples = [*base.get(slug).examples, "tell me about zebras and giraffes"]
        save_answer(session, admin, base, slug, AnswerChange(examples=examples))
    outcome = chat.say("tell me about zebras and giraffes")
    data = [b.data for b in outcome.buttons]
    assert sorted(data) == ["go:topic:age", "go:topic:pets"]
    assert "Do you mean" in outcome.text
    answered = chat.press_data("go:topic:pets")
    assert answered.topic == "pets" and "temperament" in answered.text


def test_the_independent_evaluation_file(offline_assistant, capsys):
    if not FRESH_FILE.exists():
        pytest.skip("tests/bot/eval_fresh.csv is not there yet (written independently)")
    with FRESH_FILE.open(encoding="utf-8") as handle:
        header = next(csv.reader(handle))
    assert {"expected", "text"} <= set(header)
    result = evaluate(offline_assistant, read_eval_file(FRESH_FILE))
    with capsys.disabled():
        print(f"\nIndependent evaluation ({FRESH_FILE.name}):")
        for line in result.lines(mistakes=False):
            print("  " + line)
    assert result.accuracy >= FRESH_MIN_OVERALL, "\n".join(result.lines())
    assert result.safeguarding_recall >= FRESH_MIN_SAFEGUARDING_RECALL
    assert result.false_alarm_rate <= FRESH_MAX_FALSE_ALARMS
    assert result.off_topic_accuracy >= FRESH_MIN_OFF_TOPIC
