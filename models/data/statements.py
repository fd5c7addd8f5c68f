"""Template statements for training: hate that the public datasets rarely show, and its contrasts.

HateXplain and Davidson hate is mostly slurs in tweets; ToxiGen is the only source of hate
without slurs, and it is about 13 groups. None of them has many plain statements like "<group>
are vermin", threats, hate phrased as a question, or negated praise, and none pairs such a
statement with the same words aimed at a target that is *not* a protected group (which is
abuse, ``offensive``, not ``hate``). This module writes those, for training only:

- **hateful** (``HATE``): emotion, attributes, dehumanisation, insinuation, threats (direct and
  calls to violence or exclusion), slurs, profane hate, hate carried by a pronoun, negated
  praise, hate as a question and as an opinion, in social-post registers;
- **the same hateful wording aimed at non-protected targets** (landlords, referees, politicians):
  ``offensive`` and ``toxic``, but ``hate`` 0, so the target decides ``hate``, not the insult;
- **abuse of individuals** (``OFFENSIVE``) and **of objects** (only ``hate`` = 0 is claimed);
- **benign contrasts** about the same groups: negated hate, neutral facts, praise, counter-speech
  that quotes or refers to hate, everyday profanity (only ``hate`` = 0 claimed), slur homonyms;
  and, when asked for (``supportive_groups`` > 0), supportive statements in the hateful templates'
  own shapes (``SUPPORTIVE``).

Every wording here is written for training and is not the functional suite's (``models/suite``
is the benchmark; its templates are others, and ``augment.drop_suite_texts`` removes any
training text that equals a suite case). Groups: the ToxiGen group held out for evaluation
(Latino/Mexican people) is never named, so that evaluation still measures a group training never
saw. Train and validation are split **by template** (every fifth template of a functionality is
validation), never by row.

A template marks its loaded word with asterisks (``{G} are *vermin*``): the word a poster would
disguise; :func:`statement_examples` writes an obfuscated copy of part of the hateful statements
with that word disguised (and of some benign ones, a long word), so disguise is no signal alone.
The copies' source is :data:`OBFUSCATED_SOURCE`, so their spellings stay out of the OCR vocabulary.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from dataclasses import dataclass

from .obfuscation import KINDS as OBFUSCATION_KINDS
from .obfuscation import obfuscate
from .sources import BENIGN, FULL_MASK, HATE, OBFUSCATED_SOURCE_PREFIX, OFFENSIVE, TextExample

SOURCE = "statements"
#: The obfuscated copies' source (obfuscated spellings must not enter the OCR vocabulary).
OBFUSCATED_SOURCE = f"{OBFUSCATED_SOURCE_PREFIX}{SOURCE}"
#: Only ``hate`` (0) is claimed: e.g. swearing at a printer is not hate, whether it is "offensive"
#: is a policy question the public datasets answer inconsistently.
HATE_ONLY_MASK = (1.0, 0.0, 0.0)


@dataclass(frozen=True)
class Group:
    """A target in the forms templates need: ``{G}`` plural, ``{one}`` with an article, ``{P}``
    a plural phrase that reads after "those"/"typical"."""

    plural: str
    one: str
    people: str


#: Protected groups (religion, race/ethnicity, national origin, immigration status, gender,
#: sexual orientation, gender identity, disability). No Latino/Mexican group: see module doc.
PROTECTED: tuple[Group, ...] = (
    Group("Muslims", "a Muslim", "Muslim folk"),
    Group("Jews", "a Jew", "Jewish folk"),
    Group("Christians", "a Christian", "Christian folk"),
    Group("Catholics", "a Catholic", "Catholic people"),
    Group("Hindus", "a Hindu", "Hindu folk"),
    Group("Sikhs", "a Sikh", "Sikh folk"),
    Group("black people", "a black guy", "black folk"),
    Group("Africans", "an African", "African people"),
    Group("Asians", "an Asian", "Asian folk"),
    Group("Arabs", "an Arab", "Arab folk"),
    Group("Pakistanis", "a Pakistani", "Pakistani people"),
    Group("Indians", "an Indian", "Indian people"),
    Group("Somalis", "a Somali", "Somali people"),
    Group("gypsies", "a gypsy", "traveller people"),
    Group("migrants", "a migrant", "migrant people"),
    Group("asylum seekers", "an asylum seeker", "asylum seekers"),
    Group("foreigners", "a foreigner", "foreign people"),
    Group("women", "a woman", "females"),
    Group("girls", "a girl", "girls"),
    Group("gay men", "a gay man", "gay guys"),
    Group("gays", "a gay", "homosexuals"),
    Group("lesbians", "a lesbian", "lesbians"),
    Group("bisexuals", "a bisexual", "bi folk"),
    Group("trans women", "a trans woman", "trans women"),
    Group("transgender people", "a transgender person", "transgender folk"),
    Group("non-binary people", "a non-binary person", "enbies"),
    Group("disabled people", "a disabled person", "the disabled"),
    Group("deaf people", "a deaf person", "deaf folk"),
    Group("blind people", "a blind person", "blind folk"),
    Group("people in wheelchairs", "a wheelchair user", "wheelchair users"),
    Group("mentally ill people", "a mentally ill person", "the mentally ill"),
)

#: Targets that are not a protected characteristic: the same abuse aimed at them is ``offensive``.
NON_PROTECTED: tuple[Group, ...] = (
    Group("landlords", "a landlord", "landlords"),
    Group("politicians", "a politician", "politicians"),
    Group("lawyers", "a lawyer", "lawyers"),
    Group("bankers", "a banker", "bankers"),
    Group("estate agents", "an estate agent", "estate agents"),
    Group("referees", "a referee", "referees"),
    Group("cyclists", "a cyclist", "cyclists"),
    Group("influencers", "an influencer", "influencers"),
    Group("journalists", "a journalist", "journalists"),
    Group("billionaires", "a billionaire", "billionaires"),
    Group("telemarketers", "a telemarketer", "telemarketers"),
    Group("crypto bros", "a crypto bro", "crypto bros"),
    Group("United fans", "a United fan", "United supporters"),
    Group("middle managers", "a middle manager", "managers"),
    Group("taxi drivers", "a taxi driver", "cabbies"),
)

INDIVIDUALS: tuple[str, ...] = (
    "you",
    "my ex",
    "my landlord",
    "the guy next door",
    "my brother-in-law",
    "that streamer",
    "my manager",
    "the ref today",
    "the person who wrote this",
    "my roommate",
)
OBJECTS: tuple[str, ...] = (
    "this laptop",
    "my car",
    "the new update",
    "this weather",
    "the printer at work",
    "Mondays",
    "this app",
    "the bus service",
    "my phone",
    "this game",
)
PROFANE: tuple[str, ...] = ("fucking", "bloody", "damn", "goddamn", "effing")

#: Slurs as training vocabulary (plural forms; the group is what makes them hate).
SLURS: tuple[str, ...] = (
    "niggers",
    "faggots",
    "dykes",
    "kikes",
    "chinks",
    "ragheads",
    "trannies",
    "retards",
    "pakis",
    "towelheads",
    "coons",
    "fags",
)

_H = "hateful"
#: Hateful templates by functionality. ``{G}``/``{one}``/``{P}``: a group's forms; ``{F}``: a
#: profane intensifier; ``{S}``: a slur (plural). ``*word*`` marks the keyword.
HATEFUL: dict[str, tuple[str, ...]] = {
    "emotion": (
        "I *loathe* {G} with every bone in my body",
        "{G} fill me with pure *disgust*.",
        "My *hatred* for {G} grows every day.",
        "{G} *sicken* me, honestly",
        "i really really *hate* {G}",
        "I get so *angry* whenever I have to deal with {G}.",
        "I will never stop *hating* {G}.",
        "{G}. I *hate* them. That's the post.",
        "The smell of {G} makes me want to *vomit*.",
        "can't tolerate {G}, they make me *furious*",
        "{G} are the people I *hate* most in this world.",
        "Honestly sharing a bus with {G} *repulses* me.",
    ),
    "attribute": (
        "{G} are all *crooks*.",
        "{G} are dumb as *rocks*.",
        "{G} have no *morals* whatsoever.",
        "{G} are *lazy* good-for-nothings.",
        "{G} are a bunch of *frauds*.",
        "{G} are *dangerous* by nature.",
        "every single one of the {G} is a *cheat*",
        "{G} are *dirty* and they spread their filth everywhere.",
        "{G} are mentally *inferior*, it's just science.",
        "{G} are *greedy* to the core.",
        "{G} are *violent* thugs, all of them.",
        "{P} are *worthless* and always will be.",
    ),
    "dehumanise": (
        "{G} are *pests*.",
        "{G} are filthy *swine*.",
        "{G} are an *infestation*.",
        "{G} are *monkeys* in clothes.",
        "{G} are *worms* crawling through our cities.",
        "{G} are a *virus* and we need a cure.",
        "{G} aren't people, they're *animals*.",
        "{G} are *trash* that needs taking out.",
        "{G} multiply like *rabbits* and live like pigs.",
        "{G} are *leeches* on society.",
        "{P}: *subhuman*, every one.",
        "{G} are a *plague* on this country.",
    ),
    "implicit": (
        "Lock your doors, some {G} just moved in down the *street*.",
        "This town was fine until the {G} *arrived*.",
        "Never let {one} near your *money*.",
        "{G} only know how to take *handouts*.",
        "Surprise surprise, {one} got caught *stealing* again.",
        "{G} are the reason this area went *downhill*.",
        "If your doctor is {one}, get a second *opinion*.",
        "{G} just aren't cut out for *real* jobs.",
        "{G} are why we can't have *nice* things.",
        "Another week, another crime by {G}. *Shocking*, I know.",
        "{G} and honesty don't go *together*.",
        "Hide the silverware, {G} are *visiting*.",
    ),
    "threat_direct": (
        "I'm going to *kill* every one of the {G} I meet.",
        "I will *hunt* down {G} one by one.",
        "Gonna put a *bullet* in {one} the first chance I get.",
        "If {one} comes round here I'll *break* their legs.",
        "Me and the lads are going to *beat* up some {G} tonight.",
        "I'll *torch* the homes of {G} in my town.",
        "Every time I see {one} I want to *punch* them in the face.",
        "{G} better hide, I'm coming to *hurt* them.",
        "I'll make sure {G} *suffer* for this.",
        "if {one} looks at me again they get *stabbed*",
        "I'm going to *run* over {one} with my truck tomorrow.",
        "I will *murder* {G} if I get the chance.",
    ),
    "threat_normative": (
        "{G} should all be *killed*.",
        "{G} need to be *exterminated*.",
        "{G} must be *removed* from society.",
        "Get *rid* of {G} once and for all.",
        "{G} should be put in *camps*.",
        "*Ban* {G} from entering our country.",
        "We need to *deport* every last one of the {G}.",
        "{G} ought to be *shot* on sight.",
        "{G} should have no *rights* at all.",
        "Someone should *burn* {G} alive.",
        "{G} deserve to be *beaten* in the street.",
        "It's time to *purge* {G} from this nation.",
    ),
    "slur": (
        "I can't stand {S}, they ruin *everything*.",
        "Get these {S} out of my *country*.",
        "{S} should go back to where they came *from*.",
        "All {S} are the *same*.",
        "My street is full of {S} *now*.",
        "Never hire {S}, *trust* me.",
        "look at these {S} acting like they *own* the place",
        "{S} don't *belong* here.",
        "Just another bunch of {S} *whining*.",
        "There are too many {S} in this *city*.",
    ),
    "profane": (
        "{G} are {F} *rodents*, all of them.",
        "*Fuck* {G}, honestly.",
        "{G} are {F} *scum* and I'm done pretending otherwise.",
        "{G} can go *fuck* themselves.",
        "{F} {G} *ruin* every place they go.",
        "{G} are such {F} *idiots*.",
        "{G} are a {F} *disgrace*.",
        "i'm so {F} *done* with {G}",
        "{G} are shit people, *period*.",
        "{F} {G} should all *die*.",
        "{G} are {F} *useless*.",
        "Piss off back home, you {F} {G}. Nobody *wants* you.",
    ),
    "pronoun": (
        "Saw some {G} at the shops. They are a *disgrace*.",
        "{G} moved into the flat upstairs. Those people are *pigs*.",
        "You want to know about {G}? They're all *parasites*.",
        "There's {one} in my team now. They're all *useless*.",
        "Don't get me started on {G}. They should all be *locked* up.",
        "{G} were on TV again. I wish they'd all *vanish*.",
        "We've got {G} in our building. People like that are *filth*.",
        "My cousin married {one}. Those people are *animals*.",
        "More {G} in the news. Every one of them is a *criminal*.",
        "A bunch of {G} came to the park. They make me *sick*.",
        "{G} want equality? They don't deserve to *live*.",
        "Met {one} today. They're all *liars*, every one.",
    ),
    "negated_positive": (
        "{G} are not *smart*.",
        "{G} have never *contributed* anything.",
        "{G} are *incapable* of kindness.",
        "{G} can never be good *parents*.",
        "Not one of the {G} I know is *honest*.",
        "{G} lack any *intelligence*.",
        "{G} will never be *equal* to us.",
        "{G} aren't *human* beings.",
        "{G} have no *value* to society.",
        "I have never seen {one} do an honest day's *work*.",
        "{G} don't deserve to be *treated* like people.",
        "There's nothing *good* about {G}.",
    ),
    "question": (
        "Why are {G} so *disgusting*?",
        "Why do {G} *ruin* everything they touch?",
        "Aren't {G} just the *worst*?",
        "Wouldn't the world be better if {G} didn't *exist*?",
        "Why are {G} even *allowed* in this country?",
        "Why don't {G} go back to where they came *from*?",
        "What is wrong with {G}, are they all *brainless*?",
        "Doesn't everyone agree that {G} are *scum*?",
        "How are {G} this *stupid*?",
        "Why do we let {G} *breed*?",
        "Who decided {G} count as *people*?",
        "why are {G} always so *smelly* and loud??",
    ),
    "opinion": (
        "I honestly think {G} are *trash*.",
        "If you ask me, {G} are a *waste* of skin.",
        "I feel like {G} are a *burden* on everyone.",
        "Personally I find {G} *repulsive*.",
        "imo {G} are a *stain* on society",
        "My take: {G} are *dangerous* and should be watched.",
        "Unpopular opinion but {G} are *parasites*.",
        "I'm convinced {G} are genetically *inferior*.",
        "Call me what you want, {G} are *vermin*.",
        "I've always believed {G} are *evil*.",
        "hot take: {G} are *subhuman*",
        "I'll say it: {G} are *disgusting*.",
    ),
}

#: Benign contrasts about the same groups. ``{hate}`` (counter-speech) is a hateful statement.
BENIGN_CONTRASTS: dict[str, tuple[str, ...]] = {
    "negated_hate": (
        "I don't hate {G}.",
        "{G} are not vermin, they are people.",
        "It's wrong to say {G} are criminals.",
        "No, {G} are not lazy. That's a myth.",
        "I would never hurt {one}.",
        "Nobody should call {G} animals.",
        "{G} aren't a threat to anyone.",
        "I don't think {G} are dangerous at all.",
        "There is nothing disgusting about {G}.",
        "{G} should never be attacked for who they are.",
        "I used to be scared of {G}, I'm not anymore.",
        "Not all of us think {G} are the problem.",
    ),
    "neutral": (
        "{G} live in every city in this country.",
        "I met {one} at the library today.",
        "My new neighbour is {one}.",
        "There are a lot of {G} in my class this year.",
        "A documentary about {G} is on tonight.",
        "The survey asked {G} about housing costs.",
        "{P} make up a growing share of the workforce.",
        "How do {G} usually celebrate the new year?",
        "My dentist is {one}.",
        "The conference has a panel run by {G}.",
        "Are there many {G} where you live?",
        "The report looks at how {G} use public transport.",
    ),
    "positive": (
        "I love {G}, they're great.",
        "{G} are wonderful people.",
        "{G} make this country better.",
        "{G} are brilliant and kind.",
        "We stand with {G}.",
        "{G} deserve respect and safety.",
        "Some of my best mates are {G}.",
        "{G} have done so much for our community.",
        "Proud to work alongside {G} every day.",
        "{G} are just as capable as anyone else.",
        "so much love to all the {G} out there",
        "Having {one} as a teacher changed my life.",
    ),
    "counter": (
        'Someone wrote "{hate}" on the wall. Disgusting, and it is being removed.',
        'If you think "{hate}", unfollow me now.',
        '"{hate}" - no. Just no. Reported.',
        'Got a message saying "{hate}". This is what {G} deal with daily.',
        'Saying "{hate}" is hate speech, plain and simple.',
        'The comments under this are full of "{hate}". Please report them.',
        "Hate against {G} has no place in this group.",
        "Reporting every account that attacks {G} today.",
        "The abuse {G} get online is sickening. It has to stop.",
        "Calling {G} names is not free speech, it is bullying.",
        "Stand up for {G} when you see them harassed.",
        "Being cruel to {G} says more about you than them.",
    ),
}

#: Supportive and rights-affirming statements in the hateful templates' own shapes ("{G} deserve
#: ...", "{G} are ..., full stop", "{G}? They ..."), so that a shape alone is no signal. Off in the
#: default recipe (``python -m models.train --supportive-groups N`` adds them, each template about N
#: groups): 24 and 6 groups were measured and not adopted (docs/training/supportive_experiment.md).
SUPPORTIVE: tuple[str, ...] = (
    "{G} deserve to be safe in the street.",
    "{G} deserve to live full and happy lives.",
    "{G} are part of us, full stop.",
    "{G} belong in this country as much as anyone else.",
    "{G} have every right to live, love and work as they choose.",
    "{G} should all be treated with dignity.",
    "{G} need to be heard.",
    "We need more {G} in parliament.",
    "Let {G} speak for themselves.",
    "I'll say it: {G} are the backbone of this place.",
    "Unpopular opinion but {G} deserve way more credit than they get.",
    "Why is it so hard for people to accept that {G} are equal?",
    "hot take: {G} should be able to rent a flat without jumping through extra hoops",
    "{G}? They're my neighbours and I'm glad they're here.",
    "Honestly, {G} are some of the kindest people I know.",
    "I will always stand up for {G}, no matter who's in the room.",
    "If you're {one} reading this: you matter, and you belong.",
    "I will defend the rights of {G} with every bone in my body.",
    "My respect for {G} grows every day.",
    "{G}. I love them. That's the post.",
    "{G} are equal citizens, full stop.",
    "every single one of the {G} deserves to feel safe at home",
    "{P} are valued and always will be.",
    "Teach the history of {G} in schools. It's everyone's history.",
    "{P}: human, equal and welcome, every one.",
    "Some {G} just moved in down the street, so we baked them a cake.",
    "Our team got so much better once {G} joined.",
    "Every time I see {one} getting harassed, I'm stepping in.",
    "If anyone harasses {one} on my street, I'll be right there beside them.",
    "I'll make sure {G} feel welcome here.",
    "{G} must be included in every decision about their lives.",
    "{G} should be paid the same as everyone else for the same work.",
    "It's time to welcome {G} into every corner of this nation.",
    "{G} should have the same rights as everyone, no exceptions.",
    "We need to protect every last one of the {G} from discrimination.",
    "{G} belong in every boardroom and every classroom.",
    "We need more {G} in leadership roles.",
    "Hire more {G}. Best decision our company ever made.",
    "{G} are good people, period.",
    "{G} are such legends tbh",
    "Saw some {G} at the shops. They were lovely.",
    "You want to know about {G}? They're just people living their lives.",
    "There's {one} on my team now. Best colleague I've ever had.",
    "{G} want equality? They deserve it, and they should have it.",
    "My cousin married {one}. Best wedding I've ever been to 🥂",
    "{G} have contributed so much to this country's history.",
    "{G} make amazing parents, teachers and friends.",
    "{G} deserve to be treated like everyone else.",
    "{G}, be loud and be proud 💛",
    "Why do {G} have to fight so hard just to be treated fairly?",
    "{one} can be a doctor, a judge, a president. Anything they want.",
    "how is it still controversial to say {G} deserve equal pay??",
    "I honestly think {G} make our communities stronger.",
    "Call me what you want, {G} are family to me.",
    "imo {G} deserve proper healthcare and nobody should argue with that",
    "My take: {G} deserve a voice in every room.",
    "{G} need safe housing and good jobs like everybody else.",
    "Let {G} tell their own stories.",
    "{G} should be represented on screen, in books, everywhere.",
    "Solidarity with {G}, today and every day ✊",
)

#: Abuse of individuals: offensive, no identity involved.
INDIVIDUAL_ABUSE: tuple[str, ...] = (
    "{who} is a worthless idiot",
    "{who} is a lying rat.",
    "{who} is the dumbest person alive.",
    "I hope {who} chokes on it.",
    "{who} is such a pathetic loser.",
    "{who} is a disgusting pig.",
    "Shut up, {who} is a clown.",
    "{who} is a {F} moron.",
)
#: Abuse of things: not hate (only that is claimed).
OBJECT_ABUSE: tuple[str, ...] = (
    "I hate {what} so much.",
    "{what} is absolute garbage.",
    "{what} is a {F} disgrace.",
    "I want to smash {what} with a hammer.",
    "{what} should be thrown in the bin.",
    "{what} is useless trash, I despise it.",
)
#: Everyday profanity without a target: not hate (only that is claimed).
PROFANITY_ONLY: tuple[str, ...] = (
    "holy shit that was amazing",
    "fuck yes, we won!!",
    "this song is so damn good",
    "what the hell just happened lol",
    "I'm so fucking tired today",
    "damn, that view is unreal",
    "bloody brilliant match last night",
    "shit, I forgot my keys again",
    "hell yeah, pizza for dinner",
    "that was one badass concert",
    "fucking finally, the weekend",
    "goddamn this cake is good",
)
#: Words spelt like slurs in their innocent sense: benign.
HOMONYMS: tuple[str, ...] = (
    "The old farmer tied the faggots of kindling with twine.",
    "The dyke kept the sea off the fields all winter.",
    "We walked along the dyke at sunset.",
    "The chinks in the fence let the light through.",
    "There's a chink in his armour and the other team found it.",
    "Our cat is a big fluffy pussy who sleeps all day.",
    "The ship's crew tied the spar with a strong line.",
    "A faggot is also a traditional meatball from Wales.",
    "The coon hound tracked the scent all night.",
    "We need to retard the growth of the mould.",
    "The fire retardant kept the sofa from burning.",
    "The bundle of faggots was stacked beside the oven.",
)


@dataclass(frozen=True)
class _Draft:
    text: str
    keyword: str | None
    targets: tuple[float, ...]
    mask: tuple[float, ...]
    label: str
    split: str


def _split_of(index: int) -> str:
    """Every fifth template of a list is validation: templates, never rows, are split."""
    return "val" if index % 5 == 4 else "train"


def _fill(template: str, group: Group, rng: random.Random, **extra: str) -> tuple[str, str | None]:
    """The template with its fields filled and the asterisks of the keyword removed."""
    text = template.format(
        G=group.plural, one=group.one, P=group.people, F=rng.choice(PROFANE), S=rng.choice(SLURS), **extra
    )
    match = re.search(r"\*([^*]+)\*", text)
    keyword = match.group(1) if match else None
    text = text.replace("*", "")
    return text[0].upper() + text[1:] if text[0].islower() and rng.random() < 0.5 else text, keyword


def _style(text: str, rng: random.Random) -> str:
    """Social-post variation: lower case, no final full stop, a trailing tag."""
    roll = rng.random()
    if roll < 0.25:
        text = text.lower()
    if rng.random() < 0.3 and text.endswith("."):
        text = text[:-1]
    if rng.random() < 0.08:
        text += rng.choice((" smh", " lol", " tbh", "!!", " 🙄", " 💯"))
    return text


def _drafts(rng: random.Random, groups_per_template: int, supportive_groups: int = 0) -> list[_Draft]:
    drafts: list[_Draft] = []

    def pick(pool: Sequence[Group], k: int) -> list[Group]:
        return rng.sample(list(pool), min(k, len(pool)))

    for templates in HATEFUL.values():
        for index, template in enumerate(templates):
            split = _split_of(index)
            for group in pick(PROTECTED, groups_per_template):
                text, keyword = _fill(template, group, rng)
                drafts.append(_Draft(text, keyword, HATE, FULL_MASK, "hatespeech", split))
            if "{S}" in template:
                continue  # a slur names its group: there is no non-protected version
            for group in pick(NON_PROTECTED, 3):
                text, keyword = _fill(template, group, rng)
                drafts.append(_Draft(text, keyword, OFFENSIVE, FULL_MASK, "offensive", split))
    # counter-speech quotes hateful templates of its own split only
    quotable = {
        split: [
            t
            for ts in HATEFUL.values()
            for i, t in enumerate(ts)
            if _split_of(i) == split and "{S}" not in t and "{one}" not in t
        ]
        for split in ("train", "val")
    }

    def benign_contrasts(templates: Sequence[str], groups: int) -> None:
        for index, template in enumerate(templates):
            split = _split_of(index)
            for group in pick(PROTECTED, groups):
                quote = ""
                if "{hate}" in template:
                    quote = _fill(rng.choice(quotable[split]), group, rng)[0].rstrip(".")
                text, _ = _fill(template, group, rng, hate=quote)
                drafts.append(_Draft(text, None, BENIGN, FULL_MASK, "normal", split))

    for templates in BENIGN_CONTRASTS.values():
        # twice the groups of a hateful template: group names must not read as a harm signal
        benign_contrasts(templates, 2 * groups_per_template)
    for index, template in enumerate(INDIVIDUAL_ABUSE):
        for who in rng.sample(INDIVIDUALS, 5):
            text, _ = _fill(template, NON_PROTECTED[0], rng, who=who)
            drafts.append(_Draft(text, None, OFFENSIVE, FULL_MASK, "offensive", _split_of(index)))
    for index, template in enumerate(OBJECT_ABUSE):
        for what in rng.sample(OBJECTS, 5):
            text, _ = _fill(template, NON_PROTECTED[0], rng, what=what)
            drafts.append(_Draft(text, None, BENIGN, HATE_ONLY_MASK, "object_abuse", _split_of(index)))
    for index, text in enumerate(PROFANITY_ONLY):
        drafts.append(_Draft(text, None, BENIGN, HATE_ONLY_MASK, "profanity", _split_of(index)))
    for index, text in enumerate(HOMONYMS):
        drafts.append(_Draft(text, None, BENIGN, FULL_MASK, "normal", _split_of(index)))
    if supportive_groups > 0:  # last, so that the other drafts' groups are the same with or without
        benign_contrasts(SUPPORTIVE, supportive_groups)
    return drafts


def statement_examples(
    *,
    seed: int,
    groups_per_template: int = 12,
    obfuscated_share: float = 0.3,
    supportive_groups: int = 0,
) -> list[TextExample]:
    """The template statements as labelled texts (train and val splits, split by template), plus
    an obfuscated copy of ``obfuscated_share`` of them (the keyword of a hateful statement, the
    longest word of another), each in the split of its source; ``supportive_groups`` > 0 adds
    :data:`SUPPORTIVE`, each template about that many groups (drawn after the rest, so their
    groups are the same either way)."""
    rng = random.Random(f"statements:{seed}")
    out: list[TextExample] = []
    seen: set[str] = set()
    for draft in _drafts(rng, groups_per_template, supportive_groups):
        text = _style(draft.text, rng)
        variants = [text]
        if rng.random() < obfuscated_share:
            words = re.findall(r"[A-Za-z]{4,}", text)
            target = draft.keyword if draft.targets == HATE and draft.keyword else None
            if target is None and words:
                target = max(words, key=len)
            if target is not None and target.lower() in text.lower():
                kind = OBFUSCATION_KINDS[rng.randrange(len(OBFUSCATION_KINDS))]
                disguised = obfuscate(text, kind, rng, targets=[target])
                if disguised != text:
                    variants.append(disguised)
        for variant, source in zip(variants, (SOURCE, OBFUSCATED_SOURCE), strict=False):
            if variant.lower() in seen:
                continue
            seen.add(variant.lower())
            out.append(TextExample(variant, draft.targets, draft.mask, source, draft.split, draft.label))
    return out
