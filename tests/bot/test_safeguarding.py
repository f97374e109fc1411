"""Safeguarding first: a child who may be at risk gets the emergency advice at once, staff get
an urgent task, and no recruitment flow follows. Ordinary questions never trigger it.

The lists here are fixed wordings of our own, none of them a training example (the model's
held-out measurement is in test_safeguarding_model.py)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from sqlmodel import select

import crm.models as m
from bot import safeguarding
from crm import clock

CONCERNS = [
    "im worried about my neighbours kids",
    "I think the child next door is being hit, I hear screaming every night",
    "my friend's little boy has bruises and says his dad hurts him",
    "a child in my street is always left home alone with no food",
    "how do i report child abuse",
    "my niece told me her stepdad touches her",
    "i think a kid is being neglected",
    "i'm 14 and my mum hits me, i don't want to go home",
    "there is a baby left alone in the flat upstairs",
    "i'm scared for a child at my sons school",
    "someone is hurting my little sister",
    "a child is in danger",
    "My neighbour beats his son",
    "her boyfriend slaps the kids when he's drunk",
    "the kids next door are not safe",
    "I want to report a concern about a child",
    "safeguarding concern about my grandson's dad",
    "my daughter's friend says her uncle touched her",
    "i'm scared to go home tonight",
    "I'm being abused at home",
    "he is hurting me",
    "there's a toddler left on his own in a car",
    "the children across the road are starving, nothing to eat",
    "i think my nephew is being groomed online",
    "worried about a girl in my class",
    "child abuse",
    "I need to report neglect",
    "a boy at the park had a black eye and said his dad did it",
    "i want to kill myself",
    "my stepdad hits me with a belt",
    "The little girl downstairs is locked in her room all day",
    "my sister's partner is violent and the baby is at risk",
    "concerned for the welfare of a child I teach",
    "NEIGHBOUR HITS HIS KIDS!!!",
    "me mums boyfriend hurts me n my brother",
]

ORDINARY = [
    "can I foster children who have been abused?",
    "do foster children come from abusive backgrounds",
    "I was abused as a child, can I still foster?",
    "what training is there for looking after kids who were neglected",
    "what happens if a child in my care says they are being hurt at contact",
    "what if a foster child makes an allegation against me",
    "I'm worried about how my kids will cope with fostering",
    "i'm worried my children will be jealous of a foster child",
    "concerned about the money side of fostering",
    "will I hit the age limit at 60",
    "is it safe to foster teenagers",
    "how do you keep children safe in foster care",
    "do you get support if the child has experienced trauma",
    "can I foster if I had depression",
    "my dog is good with children",
    "can a child share a room with my son",
    "how long does the assessment take",
    "what is the allowance for a baby",
    "my neighbour fosters and recommended you",
    "we have a spare room since our son left home",
    "I'm scared I won't be good enough",
    "worried about the assessment",
    "what happens when children go back home to their parents",
    "can we foster children with a history of abuse",
    "how do you report my change of address",
]


@pytest.mark.parametrize("text", CONCERNS)
def test_concerns_are_caught(text):
    assert safeguarding.detect(text) is not None, text


# The misses issue 10 lists, each as the issue put it and in other words.
ISSUE_MISSES = [
    # A child saying they do not feel safe at home and asking to be collected.
    ("i dont feel safe at home can someone come and get me", "child_disclosing", True),
    ("pls come n pick me up i dont feel safe in my house", "child_disclosing", True),
    ("its not safe for me at home right now, is there someone who could collect me?", None, True),
    ("i'm 13 and scared to be at home, can anyone come and take me somewhere safe", None, True),
    # A child looking after a sibling because a parent drinks and does not feed them.
    (
        "i have to look after my baby brother cos my mum drinks all day and never feeds us",
        None,
        True,
    ),
    (
        "my dad's always drinking so i make my sister's food, he forgets to give us anything",
        None,
        True,
    ),
    (
        "im 11 and i do the cooking for me and my sister coz mum is drunk and doesnt make us "
        "dinner",
        None,
        True,
    ),
    # Children who are always hungry and dirty.
    ("the kids at number 4 are always hungry and filthy", "neglect", False),
    (
        "those children over the road always look grubby and they're starving every time i "
        "see them",
        "neglect",
        False,
    ),
    ("neighbours little ones constantly dirty n asking for food", "neglect", False),
    # A teenager picked up by older men in cars.
    (
        "a 14 year old girl on my street keeps getting picked up by older men in different cars",
        "sexual_exploitation",
        False,
    ),
    (
        "i see grown men collecting the teenage girl next door in their cars late at night",
        "sexual_exploitation",
        False,
    ),
    ("my niece is 15 and men in their 30s pick her up in cars after school", None, False),
    # A boy running errands for older youths, with cash he cannot explain.
    (
        "the lad next door runs errands for older boys and always has cash he can't explain",
        "criminal_exploitation",
        False,
    ),
    (
        "a young boy in our block is doing jobs for some older teenagers and suddenly has "
        "loads of money",
        "criminal_exploitation",
        False,
    ),
    (
        "my 13 yr old nephew runs about for older lads on the estate and comes home with wads "
        "of money",
        "criminal_exploitation",
        False,
    ),
    # A child asked for pictures online.
    ("someone online keeps asking my daughter for pictures", "online_abuse", False),
    (
        "a stranger on snapchat asked my 12 year old son to send photos of himself",
        "online_abuse",
        False,
    ),
    ("my friend's girl is being asked for pics by a man she met on a game", "online_abuse", False),
    # Adults heard screaming at a crying baby every night.
    ("every night i hear the adults next door screaming at their baby while it cries", None, False),
    ("the couple upstairs scream at the crying baby night after night", None, False),
    ("theres shouting at a screaming newborn through the wall every evening", None, False),
    # Drug use in front of children.
    ("my neighbours take drugs in front of their kids", None, False),
    ("my brother smokes crack with his children in the room", None, False),
    ("the parents downstairs are using heroin while the kids watch tv", None, False),
    # A school worker told a child is not fed as a punishment.
    (
        "i work at a school and a pupil told me he isn't given food at home as a punishment",
        "neglect",
        False,
    ),
    (
        "as a teaching assistant i was told by a child that her parents don't feed her when she's "
        "naughty",
        "neglect",
        False,
    ),
    ("a boy at the school where i work says he gets no tea as punishment", "neglect", False),
]


@pytest.mark.parametrize(("text", "category", "about_self"), ISSUE_MISSES)
def test_the_misses_in_the_issue_are_caught(text, category, about_self):
    signal = safeguarding.detect(text)
    assert signal is not None, text
    assert signal.category in safeguarding.CATEGORIES
    if category is not None:
        assert signal.category == category, (text, signal)
    assert signal.about_self is about_self, (text, signal)
    assert 0.0 <= signal.confidence <= 1.0
    assert signal.excerpt and len(signal.excerpt) <= 200


# One clear case of each kind of harm: the Signal names it.
KINDS = [
    ("my partner's brother punched my little boy in the face at a barbecue", "physical_abuse"),
    (
        "the woman next door tells her son every day that she hates him and wishes he was dead",
        "emotional_abuse",
    ),
    ("my granddaughter says her uncle touched her private parts", "sexual_abuse"),
    ("the toddler next door is left in a filthy nappy all day and never gets fed", "neglect"),
    ("my sister's husband beats her while the kids watch", "domestic_abuse"),
    (
        "my 14 year old is seeing a 30 year old man who gives her drugs and takes her to hotels",
        "sexual_exploitation",
    ),
    ("my son is being made to carry drugs to other towns for a gang", "criminal_exploitation"),
    ("a man on instagram asked my 11 year old for naked pictures", "online_abuse"),
    (
        "please can someone help me get out of my house, i'm 12 and i'm not safe there",
        "child_disclosing",
    ),
    ("who do i contact to raise a concern about a child's safety", "unclear"),
]


@pytest.mark.parametrize(("text", "category"), KINDS)
def test_each_kind_of_harm_is_named(text, category):
    signal = safeguarding.detect(text)
    assert signal is not None, text
    assert signal.category == category, (text, signal)


@pytest.mark.parametrize(
    ("text", "about_self"),
    [
        ("my dad hits me when he's had a drink", True),
        ("im 12 and my step dad comes in my room at night", True),
        ("someone online keeps asking me for nudes, im 14", True),
        ("i'm in year 9 and i'm frightened of my mum's boyfriend", True),
        ("my husband hits me in front of the kids", False),
        ("i think my daughter is being groomed online by a man", False),
        ("i'm a teacher and a pupil told me his dad hits him", False),
        ("the kids next door are always hungry and on their own", False),
    ],
)
def test_who_is_writing(text, about_self):
    signal = safeguarding.detect(text)
    assert signal is not None, text
    assert signal.about_self is about_self, (text, signal)


def test_the_whole_message_is_read_not_only_its_start():
    ordinary = (
        "We have been thinking about fostering for a long time and have lots of questions. "
        "We rent a three bedroom house and have a dog who is very good with children. "
        "My husband works shifts and I work part time at the library. "
        "How long does the assessment take, and what training is there? "
    )
    long_text = ordinary * (9000 // len(ordinary) + 1)
    assert len(long_text) > 9000
    assert safeguarding.detect(long_text) is None
    disclosure = "Also the little girl next door told me her stepdad hits her with a belt."
    message = (long_text + disclosure)[-10_000:]
    assert message.index("stepdad") > 9000
    signal = safeguarding.detect(message)
    assert signal is not None
    assert signal.category == "physical_abuse"


def test_hidden_characters_do_not_hide_a_concern():
    # A zero-width space inside a word, a NUL and other control characters.
    assert safeguarding.detect("my dad h\u200bits me") is not None
    assert safeguarding.detect("my step\x00dad hurts me\x07 every night") is not None
    assert safeguarding.detect("\x00\x01\u200b") is None
    assert safeguarding.detect("") is None
    assert safeguarding.detect("   \n ") is None
    assert safeguarding.clean("a\x00b\u200bc\nd") == "a bc\nd"


@pytest.mark.parametrize("text", ORDINARY)
def test_ordinary_questions_are_not(text):
    assert safeguarding.detect(text) is None, text


# Fostering questions that share words with a concern, and everyday life.
NEAR_MISSES = [
    "worried about coping with a child with challenging behaviour",
    "i'm concerned i wouldn't cope with a teenager who has very challenging behaviour",
    "could we foster kids who've been abused or neglected?",
    "my two boys fight like mad, does that stop us fostering",
    "I grew up in care myself, would that help or hinder",
    "what help do you give children with trauma",
    "we are thinking about adoption rather than fostering",
    "can my cat live with a foster child",
    "what if a child tells me they've been hurt by their parents?",
    "do you give training on spotting grooming and exploitation",
    "my partner and I sometimes argue, will the assessor mind",
    "my daughter is 14 and has her first boyfriend, he's in her class",
    "my son is always starving when he gets in from school",
    "the baby next door cries a lot, they've only just had her",
    "my kids got muddy and soaked at the park today",
    "is it ok to leave a 15 year old foster child on their own for an evening?",
    "i was in a violent relationship 15 years ago, is that a problem now",
    "can i put photos of my foster child on instagram?",
    "my husband is 62, is he too old to foster",
    "how do i report a change in my income",
    "do teenagers in care get targeted by county lines gangs, and how do you keep them safe",
    "i'm a dinner lady and see lots of hungry kids, it's why i want to foster",
]


@pytest.mark.parametrize("text", NEAR_MISSES)
def test_near_misses_are_not(text):
    assert safeguarding.detect(text) is None, text


# Issue 10's second look: injuries described by what they look like, with no word for what
# was done, and pictures held over a child (sextortion). Wordings of our own, none of them a
# training example.
INJURIES_AND_SEXTORTION = [
    (
        "the little lad next door has a round blister on the back of his hand, just like a "
        "cigarette end",
        "physical_abuse",
        False,
    ),
    (
        "my granddaughter came back from her dad's with four purple marks on her arm in the shape "
        "of fingers",
        "physical_abuse",
        False,
    ),
    (
        "there's a bite mark on the baby's thigh and it's far too big to be from a child",
        "physical_abuse",
        False,
    ),
    ("whenever her mum's partner raises his hand she flinches and covers her face", None, False),
    ("a boy in my class cowers if the dinner man reaches over him", None, False),
    (
        "every bruise on him comes with a story, he fell off the sofa, he walked into the door, "
        "it never adds up",
        "physical_abuse",
        False,
    ),
    (
        "my nephew has a hand print on his cheek and says he isn't allowed to talk about it",
        "physical_abuse",
        False,
    ),
    ("the toddler i look after has small circular burns on the soles of her feet", None, False),
    (
        "she always wears long sleeves and when i saw her arms there were marks all the way up, "
        "she said she fell off a trampoline again",
        "physical_abuse",
        False,
    ),
    ("theres a mark on my face from my mums hand and i have to tell school i fell", None, True),
    ("i say i walked into the door every time but its not true", None, True),
    (
        "i have burns on my arm that look like cigarettes and i have to say it was the oven",
        "physical_abuse",
        True,
    ),
    (
        "someone who has my daughter's pictures says he'll email them to her teachers unless she "
        "sends him more",
        "online_abuse",
        False,
    ),
    (
        "a man has videos of my son from a video call and is asking for 200 pounds or he'll share "
        "them with his friends",
        "online_abuse",
        False,
    ),
    (
        "my 14 year old is being told to buy gift cards or a stranger will post her photos online",
        "online_abuse",
        False,
    ),
    (
        "this account saved my snaps and wants money or theyll send them to everyone in my "
        "contacts",
        "online_abuse",
        None,
    ),
    (
        "my niece is terrified because someone is threatening to leak her pictures to her family",
        "online_abuse",
        False,
    ),
    ("a guy has my photos and says he'll put them on instagram if i dont pay him", None, None),
    (
        "she said she'll show my pics to my whole year unless i keep sending them",
        "online_abuse",
        None,
    ),
    (
        "im 13 and a boy has my nudes and says if i dont send another one hes putting them on "
        "tiktok",
        "online_abuse",
        True,
    ),
]


@pytest.mark.parametrize(("text", "category", "about_self"), INJURIES_AND_SEXTORTION)
def test_injuries_without_a_violent_word_and_sextortion_are_caught(text, category, about_self):
    signal = safeguarding.detect(text)
    assert signal is not None, text
    if category is not None:
        assert signal.category == category, (text, signal)
    if about_self is not None:
        assert signal.about_self is about_self, (text, signal)


# The same words in ordinary life, and people telling us about themselves: a short "i am ..."
# is not a child's disclosure, and a relative asking to care for a child whom children's
# services already know about is a kinship enquiry.
ORDINARY_LIFE = [
    "we keep the horses in a stable and the kids love them",
    "i'm on a stable income and have a permanent contract",
    "we live in a bungalow near the school",
    "i only have hearing in one ear",
    "my son came home from rugby with a bruise on his leg, he says he fell in a tackle",
    "my son has a scar on his knee from falling off his bike last year",
    "the round table in our kitchen has burn marks from hot pans",
    "i bruise easily because of my blood thinners, does my health matter",
    "we made hand prints with paint at the toddler group",
    "my daughter raises her hand in class a lot, her teacher says she's keen",
    "my toddler flinches at loud noises like the hoover, is that normal",
    "feeding the ducks at the park with the kids",
    "can i record the video call with the social worker",
    "do i need to recycle the batteries from the smoke alarm",
    "we have a pushchair and a cot ready",
    "is private fostering the same as agency fostering",
    "i'm 35 and my partner is 41",
    "we paid for school photos, they want the money by friday or they'll send them back",
    "can you send photos of the bedrooms, unless it's easier to pay for a home visit",
    "the photographer will send the wedding photos to everyone unless we say otherwise",
    "the school will share photos of the nativity unless parents opt out",
    "can i post photos of the foster child online if i blur their face",
    "my mum says she will send the holiday photos to the family whatsapp",
    "my sister says she'll post her baby photos online, is that ok near a foster child",
    "i'm a sikh and wear a kara every day",
    "i'm 21 and still live with my parents",
    "i'm a single man in my thirties",
    "i have crohn's disease but it's in remission",
    "i'd rather not use a chatbot thanks",
    "my son's partner uses drugs and the council have asked if we'd take the baby, i'm the grandad",
    "our niece's social worker wants us assessed so she can stay in the family",
]


@pytest.mark.parametrize("text", ORDINARY_LIFE)
def test_ordinary_life_sharing_those_words_is_not(text):
    assert safeguarding.detect(text) is None, text


def test_no_fostering_question_in_the_evaluation_set_triggers_it():
    rows = csv.DictReader((Path(__file__).parent / "eval_set.csv").open(encoding="utf-8"))
    wrong = [
        r["text"]
        for r in rows
        if r["expected"] != "safeguarding" and safeguarding.detect(r["text"]) is not None
    ]
    assert wrong == []


def test_the_reply_gives_999_and_the_areas_number_and_staff_get_an_urgent_task(
    make_chat, session, org
):
    org.north.childrens_services_phone = "0116 305 0005"
    session.add(org.north)
    session.commit()
    chat = make_chat(m.ChatChannel.TELEGRAM, "555")
    # Half-way through a booking, in Northshire...
    chat.say("book a visit")
    chat.say("Sam Patel")
    chat.say("sam@example.com")
    chat.say("LE1 6ZG")
    outcome = chat.say("actually my neighbour hits his kids, I can hear it now")
    assert outcome.actions == ["safeguarding"]
    assert outcome.topic == "safeguarding"
    assert "999" in outcome.text
    assert "Northshire" in outcome.text and "0116 305 0005" in outcome.text
    # Nothing about booking, consent or fostering in that reply, and no buttons.
    assert len(outcome.replies) == 1 and outcome.buttons == []
    assert "agree" not in outcome.text and "visit" not in outcome.text
    task = session.exec(select(m.Task)).one()
    assert task.kind == m.TaskKind.SAFEGUARDING
    assert task.priority == m.TaskPriority.URGENT
    assert task.due_at == clock.now()
    assert task.area_id == org.north.id
    assert "hits his kids" in task.detail
    # Managers of the area (and admins) are alerted by email, without the person's words.
    alerts = session.exec(select(m.OutboxMessage)).all()
    assert {a.recipient for a in alerts} == {org.manager.email, org.admin.email}
    assert all("hits" not in str(a.payload) for a in alerts)
    # The booking flow does not carry on: the next message is understood afresh.
    conversation = session.exec(select(m.ChatConversation)).one()
    assert conversation.state == "start"
    assert chat.say("do i need a spare room").topic == "spare-room"


def test_without_an_area_the_service_number_is_given(chat, session, settings):
    outcome = chat.say("I think a child is being abused")
    assert settings.service.childrens_services_phone in outcome.text
    task = session.exec(select(m.Task)).one()
    assert task.area_id is None  # the hub's queue


# Issue 10's third look, themes an independent evaluation still missed or alarmed on, in
# wordings of our own (none of them a training example). Domestic abuse around children told
# by a neighbour or relative with no violent word: the police keep coming for rows where young
# children live. Sextortion told by a parent: someone has pictures of the child and holds them
# over them.
POLICE_ROWS_AND_SEXTORTION = [
    (
        "hi, not sure who to ask, the police get called to the house next door nearly every "
        "weekend for fighting, there are kids in that house",
        "domestic_abuse",
    ),
    (
        "my neighbours are always rowing, police have been out 5 times since summer, the little "
        "ones are there when it happens",
        "domestic_abuse",
    ),
    (
        "would a police record matter, the police came to my daughter's house because of a "
        "domestic, my grandkids were there",
        "domestic_abuse",
    ),
    (
        "I keep ringing the police about the couple next door fighting, they have two little girls",
        "domestic_abuse",
    ),
    (
        "there are always police cars at the house on the corner, its the couple fighting, "
        "they've got young kids",
        "domestic_abuse",
    ),
    (
        "my sister's boyfriend smashed up the kitchen and the police came, the children were "
        "upstairs",
        None,
    ),
    (
        "the family downstairs have the police out constantly for rows, there's a newborn in there",
        "domestic_abuse",
    ),
    (
        "my daughter and her partner fight so much the neighbours call the police, the "
        "grandchildren are 1 and 3",
        "domestic_abuse",
    ),
    (
        "is it normal for police to be at a house with kids every week, my neighbours scream at "
        "each other all night",
        "domestic_abuse",
    ),
    ("blue lights outside next door again, he was kicking off, their kids are 3 and 5", None),
    ("my son is being blackmailed by someone on snapchat who has photos of him", "online_abuse"),
    (
        "my 15 year old is being blackmailed by someone he met on instagram, they've got "
        "pictures of him",
        "online_abuse",
    ),
    (
        "i think my nephew is being blackmailed, some account on snap has pics of him and keeps "
        "messaging",
        "online_abuse",
    ),
    ("my grandson is being extorted online, they have pictures of him", "online_abuse"),
    (
        "my daughter is getting threatening messages on instagram from someone who says he has "
        "photos of her",
        "online_abuse",
    ),
    (
        "they say they will send the pictures of my son to all his followers if he doesnt pay",
        "online_abuse",
    ),
    ("my boy is being blackmailed over some pictures he sent, what do i do", "online_abuse"),
    (
        "someone says they'll post pictures of my daughter unless she pays them",
        "online_abuse",
    ),
    # Held-out misses of the cross-validation, reworded.
    (
        "the little boy over the road is only 4 and he's out on the street on his own most "
        "evenings",
        "neglect",
    ),
    (
        "the lady next door makes her son stand at the gate holding a sign that says i am a thief",
        "emotional_abuse",
    ),
    ("she told me she wished i'd never been born", "emotional_abuse"),
    ("he had her by the throat and the kids were crying", "domestic_abuse"),
    ("the kids next door are out alone at 11pm on school nights", "neglect"),
    ("the 6 year old across the road is outside on her own after dark every night", "neglect"),
    ("the children at number 9 never seem to have any food in the house", "neglect"),
    ("the man who lives with my niece and nephew beats them", None),
]


@pytest.mark.parametrize(("text", "category"), POLICE_ROWS_AND_SEXTORTION)
def test_police_called_to_rows_around_children_and_sextortion_are_caught(text, category):
    signal = safeguarding.detect(text)
    assert signal is not None, text
    if category is not None:
        assert signal.category == category, (text, signal)
    assert signal.about_self is False, (text, signal)


# An elderly or disabled adult's care is adults' social care, not a child at risk; someone whose
# situation is long to type and who asks for a person is asking for a human; the police and
# photos in ordinary life.
ADULTS_CARE_AND_ASKING_FOR_A_PERSON = [
    "getting my mum into a care home, she's 84 and can't manage on her own",
    "my dad is 90 and can't cope at home anymore, how do we get him into a home",
    "my nan keeps falling and can't look after herself, who do I talk to about carers",
    "my grandad has dementia and isn't safe on his own, can the council help",
    "i look after my elderly father who can't be left alone, would that stop me fostering",
    "my aunt is in a wheelchair and her carers don't turn up, who do I complain to",
    "my dad's in hospital and can't go home alone, social services are involved",
    "can i get help paying for my mum's residential care",
    "i have a complicated situation with my family and i don't want to type it all out, can i "
    "talk to a person",
    "my family situation is complicated, can i just speak to someone on the phone",
    "it's a long story with my family, i'd rather explain to a real person",
    "can someone ring me, my situation is complicated and hard to explain here",
    "we've got a complicated family set up, can i talk to an actual human",
    "my mum threatened to show my boyfriend photos of me as a baby haha",
    "my nephew sells photos of cars online",
    "my 16 year old son is out on his own till midnight sometimes, is that ok for a foster child",
    "my kids never get breakfast because they refuse to eat it",
    "the police came to my son's school to talk about road safety",
    "i had a police caution for a fight outside a club when i was 20, i'm 41 now with kids",
]


@pytest.mark.parametrize("text", ADULTS_CARE_AND_ASKING_FOR_A_PERSON)
def test_adults_care_and_asking_for_a_person_are_not(text):
    assert safeguarding.detect(text) is None, text
