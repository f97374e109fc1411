"""Does a message suggest a child may be at risk? Checked first, on every message, by patterns.

Fixed patterns in code rather than the editable knowledge base, so that no edit can switch the
safeguarding reply off, and tested with many phrasings both ways (tests/bot/test_safeguarding.py).
When in doubt it errs towards caution: telling someone who asked about fostering children who
"have been abused" how to report a concern costs little; missing a child at risk costs a lot.
So it separates a present worry ("my neighbour hits his kids") from a question about fostering
children with a history ("can I foster children who have been abused?").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.matching import basic_tokens

_CHILD = (
    r"(?:child|children|childs|kid|kids|kiddie|baby|babies|boy|boys|girl|girls|toddler|toddlers|"
    r"son|daughter|niece|nephew|grandson|granddaughter|grandchild|grandkids|sister|brother|"
    r"stepson|stepdaughter|little one|little ones|teenager|teen|youngster|pupil|pupils|"
    r"student|students|infant|newborn|lad|lass|[0-9]{1,2} ?(?:year|yr) ?old)"
)
_SOMEONE = (
    r"(?:he|she|they|dad|father|mum|mother|mom|stepdad|stepfather|stepmum|stepmother|"
    r"uncle|aunt|auntie|brother|sister|boyfriend|girlfriend|partner|neighbour|neighbours|"
    r"teacher|coach|man|woman|someone|somebody|carer|parents?|grandad|grandfather|cousin)"
)
_OBJECT = (
    rf"(?:me|him|her|them|us|(?:the|a|his|her|their|my|our|this|that|those|these) "
    rf"(?:\w+ )?{_CHILD})"
)
_HARM_VERB = (
    r"(?:hits|hit|hitting|beats|beat|beating|hurts|hurt|hurting|abuses|abused|abusing|"
    r"kicks|kicked|kicking|punches|punched|punching|slaps|slapped|slapping|burns|burned|burnt|"
    r"chokes|choked|strangles|strangled|shakes|shook|touches|touched|touching|rapes|raped|"
    r"molests|molested|grooms|groomed|grooming|starves|starved|starving|neglects|neglected|"
    r"neglecting|threatens|threatened|assaults|assaulted|batters|battered|whips|whipped|"
    r"smacks|smacked|locks|locked|harms|harmed|harming|abandons|abandoned|exploits|exploited)"
)
_WORRY = r"(?:worried|worry|worrying|concerned|concern|scared|afraid|frightened|fear|fearful)"

_STRONG = [
    # "my neighbour hits his kids", "her stepdad touches her", "someone is hurting my sister"
    rf"\b{_SOMEONE}\b(?: \w+){{0,2}} (?:is |are |keeps |has been |have been )?{_HARM_VERB} "
    rf"{_OBJECT}\b",
    # "the boy next door is being beaten", "a kid is being neglected"
    rf"\b{_CHILD}\b(?: \w+){{0,5}} (?:is|are|was|were|being|getting|gets|got) "
    rf"(?:being |getting |been )?(?:hit|beaten|hurt|abused|neglected|harmed|starved|"
    rf"locked (?:in|up|out)|kicked|punched|slapped|burned|burnt|molested|raped|groomed|"
    rf"touched|assaulted|battered|whipped|smacked|threatened|exploited|trafficked|shaken)\b",
    # "I'm being abused", "she is being hurt"
    r"\b(?:i am|im|i m|he is|hes|she is|shes|they are|theyre) (?:being|getting) "
    r"(?:hit|beaten|hurt|abused|neglected|harmed|touched|groomed|threatened|bullied at home)\b",
    # "a child is in danger", "the kids are not safe"
    rf"\b{_CHILD}\b(?: \w+){{0,4}} (?:is|are|isnt|arent|is not|are not|not) "
    rf"(?:in danger|at risk|unsafe|not safe|safe)\b",
    rf"\b{_CHILD}\b(?: \w+){{0,3}} (?:in (?:immediate |real |serious )?danger|at risk)\b",
    # "left home alone", "baby left alone in the flat", "no food in the house"
    rf"\b{_CHILD}\b(?: \w+){{0,6}} (?:left|leaves|leaving|alone) (?:\w+ ){{0,3}}"
    r"(?:alone|on (?:their|his|her) own|by (?:themselves|himself|herself)|unattended)\b",
    rf"\b(?:leaves|left|leaving|leave) (?:\w+ ){{0,2}}{_CHILD} (?:\w+ ){{0,3}}"
    r"(?:alone|on (?:their|his|her) own|unattended|by (?:themselves|himself|herself))\b",
    rf"\b(?:home alone|left alone|left on their own|left unattended)\b(?: \w+){{0,6}} "
    rf"{_CHILD}\b",
    rf"\b{_CHILD}\b(?: \w+){{0,8}} (?:no food|nothing to eat|not fed|never fed|hungry all|"
    r"starving|filthy|dirty clothes|no heating|sleeping rough|on the streets)\b",
    rf"\b{_CHILD}\b(?: \w+){{0,8}} (?:bruise|bruises|bruised|bruising|black eye|marks on|"
    r"burns on|injuries|injured|cuts on|scars)\b",
    r"\b(?:bruise|bruises|bruised|bruising|black eye|injuries)\b(?: \w+){0,6} "
    rf"(?:says|said|told|tells)\b(?: \w+){{0,3}} {_SOMEONE}",
    # Reporting: "how do I report child abuse", "who do I tell about a child"
    r"\breport(?:ing)? (?:a |some )?(?:child |suspected )?(?:abuse|neglect|cruelty|"
    r"safeguarding|concern|a child|a parent|a family|my neighbour|my neighbours)\b",
    r"\b(?:safeguarding|child protection) (?:concern|concerns|issue|issues|referral|"
    r"matter|problem|worry|alert)\b",
    r"\b(?:child|children|kid|kids) (?:abuse|cruelty|neglect|exploitation|trafficking)\b",
    r"\b(?:call|ring|phone|contact|tell) (?:social services|the police|childline|nspcc)\b"
    r"(?: \w+){0,4} (?:about|because|on|regarding)\b",
    # A child or young person speaking for themselves
    r"\b(?:scared|afraid|frightened|dont want|do not want|too scared) to go (?:back )?home\b",
    r"\b(?:kill myself|killing myself|end my life|suicidal|suicide|self harm|self harming|"
    r"selfharm|cutting myself|hurt myself|hurting myself)\b",
    r"\b(?:i am|im|i m) (?:[0-9]{1,2}|only [0-9]{1,2})\b(?: \w+){0,8} "
    rf"{_HARM_VERB}\b",
    r"\b(?:im|i am|i m) (?:not safe|unsafe|in danger|scared of (?:my|him|her|them))\b",
    r"\b(?:ran away|run away|running away|kicked out|thrown out) (?:from|of) (?:home|the house)\b",
    # Sexual harm in any wording
    r"\b(?:sexually abused|sexual abuse|sexually assaulted|inappropriate(?:ly)? touch\w*|"
    r"touch(?:es|ed|ing)? (?:me|her|him) inappropriately|sending (?:her|him) (?:pictures|nudes)|"
    r"grooming|groomed|fgm|female genital|forced marriage|county lines|trafficked|"
    r"trafficking)\b",
]

_WORRY_PATTERNS = [
    # "I'm worried about my neighbour's kids", "concerned for a child at school"
    rf"\b{_WORRY}\b (?:about|for|that) (?:\w+ ){{0,5}}{_CHILD}\b",
    rf"\b{_CHILD}\b(?: \w+){{0,6}} (?:scared|frightened|terrified) of\b",
    rf"\b{_WORRY}\b(?: \w+){{0,3}} (?:is|are) (?:being|getting)\b",
]

# Questions about fostering children with a history, or about the person's own past, which
# share words with a concern but are not one.
_NOT_A_CONCERN = [
    r"\b(?:who|that|which) (?:have|has|had|were|was|may have|might have)(?: been)? "
    r"(?:abused|neglected|harmed|hurt|traumatised|exploited|trafficked)\b",
    r"\b(?:history|experience|experienced|background|backgrounds|past) of (?:abuse|neglect|"
    r"trauma|harm)\b",
    r"\b(?:from )?(?:abusive|neglectful|traumatic) (?:homes|backgrounds|families|pasts)\b",
    r"\b(?:i|we) (?:was|were) (?:abused|neglected|in care|fostered)\b(?: \w+){0,4} "
    r"(?:as a child|as children|when i was|growing up|years ago|in the past)\b",
    r"\bas a child\b(?: \w+){0,2} (?:i was|i got) (?:abused|neglected|hit|beaten)\b",
    r"\bwhat (?:happens |do i do |would happen |should i do )?if\b",
    r"\bif a (?:foster )?child\b",
    rf"\b(?:worried|worry|concerned|anxious|nervous) (?:about|that) (?:how |whether |if )?"
    rf"(?:\w+ ){{0,3}}(?:{_CHILD})\b(?: \w+){{0,6}} "
    r"(?:cope|react|adjust|share|sharing|feel|jealous|get on|settle|fostering|foster|"
    r"affect|affected|cope with)\b",
    r"\b(?:worried|worry|concerned|nervous) (?:about|that)\b(?: \w+){0,6} "
    r"(?:fostering|foster|assessment|application|approval|panel|training|money|allowance)\b",
]

_STRONG_RE = [re.compile(p) for p in _STRONG]
_WORRY_RE = [re.compile(p) for p in _WORRY_PATTERNS]
_NOT_RE = [re.compile(p) for p in _NOT_A_CONCERN]


@dataclass(frozen=True)
class Signal:
    """Why a message was taken as a safeguarding concern (for staff, never shown to the person)."""

    pattern: str
    excerpt: str


def _prepare(text: str) -> str:
    # Plain lower-case words, so "Mum's boyfriend HITS her!!" reads "mums boyfriend hits her".
    words = basic_tokens(text[:4000])
    swaps = {
        "u": "you",
        "ur": "your",
        "cos": "because",
        "bc": "because",
        "mums": "mum",
        "dads": "dad",
        "neighbours": "neighbour",
        "neighbors": "neighbour",
        "neighbor": "neighbour",
        "hes": "he is",
        "shes": "she is",
        "mom": "mum",
        "kidz": "kids",
        "n": "and",
        "wat": "what",
        "abt": "about",
    }
    return " " + " ".join(swaps.get(w, w) for w in words) + " "


def detect(text: str) -> Signal | None:
    """A Signal when the message suggests a child (or the writer) may be at risk."""
    if not text or not text.strip():
        return None
    prepared = _prepare(text)
    not_a_concern = any(r.search(prepared) for r in _NOT_RE)
    for regex in _STRONG_RE:
        found = regex.search(prepared)
        if found is None:
            continue
        # A strong signal counts unless the message is clearly about children with a history
        # or a "what if" question, and even then a first-person present worry still counts.
        if not_a_concern and not _present_worry(prepared):
            continue
        return Signal(regex.pattern[:80], found.group(0).strip()[:200])
    if not not_a_concern:
        for regex in _WORRY_RE:
            found = regex.search(prepared)
            if found is not None:
                return Signal(regex.pattern[:80], found.group(0).strip()[:200])
    return None


_PRESENT = re.compile(
    r"\b(?:right now|tonight|today|at the moment|next door|my neighbour|upstairs|downstairs|"
    r"i think (?:a|the|my|our|this) \w+ (?:is|are) being|i can hear|screaming|just told me|"
    r"told me today)\b"
)


def _present_worry(prepared: str) -> bool:
    return _PRESENT.search(prepared) is not None
