"""The suite's functionalities and templates: all wording written for postguard, none copied.

A *functionality* is one thing a hate classifier must get right ("hate phrased as a question",
"counter-speech that quotes hate", ...); each has one expected label. A *template* is one
sentence pattern for a functionality; ``models.suite.cases.build_suite`` fills its placeholders
from :mod:`models.suite.identities`:

- ``{group}`` / ``{group_singular}`` / ``{group_article}`` / ``{group_adj}`` / ``{group_people}``:
  the forms of one protected group (see ``IdentityGroup``)
- ``{slur}`` / ``{slurs}``: one slur, singular / plural (the case's target is the slur's group)
- ``{profanity}``: a swearing intensifier; ``{person}``: an individual; ``{object}``: a thing;
  ``{target}``: a non-protected group; ``{role}``: a noun for the reclaimed-term templates

Hateful templates name a ``keyword``: the word a poster would disguise (the slur, or the most
loaded word) and that the obfuscated functionalities perturb. It may itself hold ``{slur}`` /
``{slurs}``, formatted with the same values as the text.

Template ids are ``<functionality>_<nn>`` numbered in order of appearance: append new templates
at the end of a list so existing ids (and the train/test split made on them) stay stable.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..data.obfuscation import KINDS

#: What a case expects; see the package docstring for what counts as a pass.
LABELS: tuple[str, ...] = ("hateful", "non_hateful_offensive", "benign")


@dataclass(frozen=True)
class Functionality:
    """One tested behaviour: a one-line description, the label all its cases carry, and its size cap.

    The cap keeps a functionality with many fillers (every group x every template) from
    dominating the suite's overall score; it is a maximum, smaller functionalities keep all cases.
    """

    description: str
    label: str
    cap: int = 250


@dataclass(frozen=True)
class Template:
    """One sentence pattern. ``keyword``: the word obfuscation targets (hateful templates only)."""

    id: str
    functionality: str
    text: str
    label: str
    keyword: str | None = None


_HATEFUL_CAP = 140
_OBFUSCATED_CAP = 90

FUNCTIONALITIES: dict[str, Functionality] = {
    # --- hateful: the `hate` category must fire ---------------------------------------------
    "derog_emotion": Functionality(
        "Strong negative emotion stated about a protected group", "hateful", _HATEFUL_CAP
    ),
    "derog_attribute": Functionality(
        "Negative traits ascribed to a whole protected group", "hateful", _HATEFUL_CAP
    ),
    "derog_dehumanise": Functionality(
        "A protected group likened to vermin, animals, disease or filth", "hateful", _HATEFUL_CAP
    ),
    "derog_implicit": Functionality(
        "Derogation by stereotype or insinuation, without explicit insults", "hateful", _HATEFUL_CAP
    ),
    "threat_direct": Functionality(
        "The speaker threatens to harm members of a protected group", "hateful", _HATEFUL_CAP
    ),
    "threat_normative": Functionality(
        "Calls for violence against, or exclusion of, a protected group", "hateful", _HATEFUL_CAP
    ),
    "slur_hateful": Functionality("A slur used to demean its target group", "hateful", _HATEFUL_CAP),
    "profanity_hateful": Functionality(
        "Hate against a protected group, intensified by swearing", "hateful", _HATEFUL_CAP
    ),
    "ref_pronoun": Functionality(
        "Group named in one sentence, derogated through 'they'/'those people' in the next",
        "hateful",
        _HATEFUL_CAP,
    ),
    "negated_positive": Functionality(
        "Hate expressed by denying a group any positive quality", "hateful", _HATEFUL_CAP
    ),
    "phrased_question": Functionality("Hate phrased as a (rhetorical) question", "hateful", _HATEFUL_CAP),
    "phrased_opinion": Functionality("Hate phrased as the speaker's opinion", "hateful", _HATEFUL_CAP),
    **{
        f"obf_{kind}": Functionality(
            f"Hateful cases with their slur or keyword obfuscated ({kind})", "hateful", _OBFUSCATED_CAP
        )
        for kind in KINDS
    },
    # --- non-hateful contrasts -------------------------------------------------------------------
    "negated_hate": Functionality("A hateful statement explicitly negated or denied", "benign"),
    "neutral_identity": Functionality("Neutral, factual mention of a protected group", "benign"),
    "positive_identity": Functionality("Positive statement about a protected group", "benign"),
    "counter_quote": Functionality("Counter-speech that quotes the hate it rejects", "benign"),
    "counter_reference": Functionality("Counter-speech that refers to hate without quoting it", "benign"),
    "reclaimed_profane": Functionality(
        "In-group, friendly use of a reclaimed slur that is still profane (hate must not fire)",
        "non_hateful_offensive",
    ),
    "reclaimed_clean": Functionality(
        "Reclaimed term now in mainstream, positive use ('queer'): nothing may fire", "benign"
    ),
    "slur_homonym": Functionality("Innocent word spelt like a slur (sticks, embankments, cats)", "benign"),
    "profanity_nonhate": Functionality(
        "Swearing with no target or a positive meaning", "non_hateful_offensive"
    ),
    "abuse_object": Functionality("Abuse aimed at an object or a thing", "non_hateful_offensive"),
    "abuse_individual": Functionality(
        "Abuse aimed at an individual, no identity involved", "non_hateful_offensive"
    ),
    "abuse_nonprotected": Functionality(
        "Abuse aimed at a group that is not a protected characteristic", "non_hateful_offensive"
    ),
    "bland_caption": Functionality("Short, harmless caption posted with a picture", "benign"),
}


def _templates(functionality: str, entries: Sequence[str | tuple[str, str]]) -> tuple[Template, ...]:
    """Number one functionality's templates; an entry is ``text`` or ``(text, keyword)``."""
    label = FUNCTIONALITIES[functionality].label
    out: list[Template] = []
    for i, entry in enumerate(entries, start=1):
        text, keyword = (entry, None) if isinstance(entry, str) else entry
        out.append(Template(f"{functionality}_{i:02d}", functionality, text, label, keyword))
    return tuple(out)


_HATEFUL: dict[str, list[tuple[str, str]]] = {
    "derog_emotion": [
        ("I hate {group} so much it hurts.", "hate"),
        ("honestly {group} disgust me", "disgust"),
        ("{group} make me sick to my stomach.", "sick"),
        ("Nothing fills me with more loathing than {group}.", "loathing"),
        ("I despise {group}, every last one of them.", "despise"),
        ("Just seeing {group} on my street makes my blood boil.", "boil"),
        ("I can't stand {group}, they're repulsive.", "repulsive"),
        ("{group} are revolting, I can't bear being near them.", "revolting"),
        ("So sick of {group}. I detest them.", "detest"),
        ("Being around {group} makes my skin crawl.", "crawl"),
        ("There is no group I hate more than {group}.", "hate"),
        ("I have nothing but contempt for {group}.", "contempt"),
    ],
    "derog_attribute": [
        ("{group} are all liars.", "liars"),
        ("{group} are thieves, every one of them.", "thieves"),
        ("{group} are stupid and lazy.", "stupid"),
        ("All {group} are violent by nature.", "violent"),
        ("{group} are nothing but dishonest cheats.", "cheats"),
        ("{group} are ignorant and backward.", "backward"),
        ("Every {group_singular} I've met has been a useless freeloader.", "freeloader"),
        ("{group} are a bunch of criminals.", "criminals"),
        ("{group} are born manipulators.", "manipulators"),
        ("{group} are too dim to be trusted with anything.", "dim"),
        ("{group} are greedy, sneaky and cruel.", "greedy"),
        ("typical {group_people}, lazy as always", "lazy"),
    ],
    "derog_dehumanise": [
        ("{group} are vermin.", "vermin"),
        ("{group} are rats who breed in the gutter.", "rats"),
        ("{group} are a disease spreading through this country.", "disease"),
        ("{group} are no better than animals.", "animals"),
        ("{group} are parasites feeding off the rest of us.", "parasites"),
        ("{group} are cockroaches, they get everywhere.", "cockroaches"),
        ("To me {group} are just filth.", "filth"),
        ("{group} are subhuman garbage.", "subhuman"),
        ("{group} are a cancer on this nation.", "cancer"),
        ("{group} are like lice, impossible to get rid of.", "lice"),
        ("{group_people} are walking trash.", "trash"),
        ("{group} are savages, barely even human.", "savages"),
    ],
    "derog_implicit": [
        ("Funny how crime goes up every time more {group} move into a neighbourhood.", "crime"),
        ("Keep an eye on your wallet when {group} are around.", "wallet"),
        ("{group} always seem to end up living on benefits, no surprise there.", "benefits"),
        ("Hire {group_article}? Sure, if you want things to go missing.", "missing"),
        ("Of course it was {group_article} who cheated. Some things never change.", "cheated"),
        ("{group} can't help it, it's in their blood.", "blood"),
        ("Put {group} in charge and watch the whole place fall apart.", "apart"),
        ("There's a reason nobody wants {group} living next door.", "nobody"),
        ("{group} are only good for cleaning toilets.", "toilets"),
        ("{group} would rather steal than work a day in their lives.", "steal"),
        ("You can always tell when {group} have been somewhere, the place is wrecked.", "wrecked"),
        ("{group} breed like there's no tomorrow and the rest of us pay for it.", "breed"),
    ],
    "threat_direct": [
        ("I'm going to hurt the next {group_singular} I see.", "hurt"),
        ("I will beat up any {group_singular} who walks past my house.", "beat"),
        ("The next {group_singular} who talks to me gets stabbed.", "stabbed"),
        ("I'm going to burn down the place where {group} meet.", "burn"),
        ("I'll shoot any {group_singular} who comes near my family.", "shoot"),
        ("Watch out {group}, I'm coming for you with a knife.", "knife"),
        ("I'm going to make {group} bleed.", "bleed"),
        ("If I catch {group_article} on my street I will kill them.", "kill"),
        ("Tonight I'm going to find some {group} and smash their heads in.", "smash"),
        ("I swear I'll strangle the next {group_singular} who crosses me.", "strangle"),
        ("Any {group} at the march tomorrow are getting their skulls cracked by me.", "skulls"),
        ("I'm going to ram my car into the next crowd of {group} I see.", "ram"),
    ],
    "threat_normative": [
        ("{group} should be thrown out of the country.", "thrown"),
        ("Someone needs to wipe out {group} for good.", "wipe"),
        ("{group} deserve to be shot.", "shot"),
        ("We should round up {group} and lock them away.", "lock"),
        ("{group} should be banned from every public place.", "banned"),
        ("Every {group_singular} in this country should be deported today.", "deported"),
        ("The world would be better if all {group} were dead.", "dead"),
        ("{group} should be hanged in the town square.", "hanged"),
        ("Kick {group} out of our schools and hospitals.", "kick"),
        ("{group} shouldn't be allowed to vote or own property.", "allowed"),
        ("Time to take up arms and drive {group} out of our towns.", "arms"),
        ("{group} should be sterilised so they stop multiplying.", "sterilised"),
    ],
    "slur_hateful": [
        ("{slurs} like you shouldn't be allowed here.", "{slurs}"),
        ("Get out of my shop, you filthy {slur}.", "{slur}"),
        ("Another {slur} moved in next door, there goes the neighbourhood.", "{slur}"),
        ("{slurs} are ruining everything.", "{slurs}"),
        ("shut up {slur}, nobody asked you", "{slur}"),
        ("I don't let {slurs} into my house.", "{slurs}"),
        ("Of course a {slur} would say that.", "{slur}"),
        ("Nobody wants you here, {slur}.", "{slur}"),
        ("That {slur} at work needs to be fired.", "{slur}"),
        ("Can't believe they let a {slur} run this place.", "{slur}"),
        ("You'll always just be a {slur} to me.", "{slur}"),
        ("{slurs} should all be locked up.", "{slurs}"),
        ("what a typical {slur}, pathetic", "{slur}"),
    ],
    "profanity_hateful": [
        ("{group} are {profanity} parasites.", "parasites"),
        ("I {profanity} hate {group}.", "hate"),
        ("{group} are {profanity} disgusting, all of them.", "disgusting"),
        ("Get these {profanity} {group} out of my country, they're scum.", "scum"),
        ("{group} are {profanity} useless wastes of space.", "useless"),
        ("{group} are absolute shit and everyone knows it.", "shit"),
        ("Fuck {group}, every single one of them.", "Fuck"),
        ("{group} are {profanity} animals.", "animals"),
        ("I'm so {profanity} sick of {group} ruining everything.", "ruining"),
        ("{group} are a bunch of {profanity} idiots.", "idiots"),
        ("{group} are full of shit, always have been.", "shit"),
        ("Those {profanity} {group} should piss off back where they came from.", "piss"),
        ("{group_people}? {profanity} losers, the lot of them.", "losers"),
    ],
    "ref_pronoun": [
        ("I met some {group} at work today. They are all disgusting.", "disgusting"),
        ("You asked what I think of {group}? They're vermin, plain and simple.", "vermin"),
        ("My town is full of {group} now. I wish they would all just disappear.", "disappear"),
        ("Don't talk to me about {group}. Those people are a waste of oxygen.", "waste"),
        ("A family of {group_people} moved onto my street. People like them ruin everything.", "ruin"),
        ("{group} keep turning up on the news. They're nothing but criminals.", "criminals"),
        ("I used to work with {group_people}. Never again, they're liars and thieves.", "thieves"),
        ("My sister is dating {group_article}. I told her they're all worthless.", "worthless"),
        ("Have you seen how many {group} live here now? They make me sick.", "sick"),
        ("Somebody mentioned {group} in the meeting. Honestly, those people are revolting.", "revolting"),
        ("We have {group} in our class this year. They're dirty and they smell.", "dirty"),
        ("{group} want more rights? They don't even deserve to exist.", "exist"),
    ],
    "negated_positive": [
        ("{group} are never honest.", "honest"),
        ("I don't think {group} have any worth.", "worth"),
        ("{group} are not capable of being decent human beings.", "decent"),
        ("No {group_singular} has ever done anything good for this country.", "good"),
        ("{group} will never be as smart as the rest of us.", "smart"),
        ("I've never met {group_article} I could trust.", "trust"),
        ("{group} don't deserve any respect.", "respect"),
        ("{group} are not real people to me.", "real"),
        ("There is nothing intelligent about {group}.", "intelligent"),
        ("{group} don't belong in a civilised society.", "civilised"),
        ("{group} aren't worth the air they breathe.", "worth"),
        ("{group} can't be trusted with anything important.", "trusted"),
        ("The lives of {group} don't matter at all.", "matter"),
    ],
    "phrased_question": [
        ("Why are {group} always so filthy?", "filthy"),
        ("Why do {group} have to be so stupid?", "stupid"),
        ("Is there anything more pathetic than {group}?", "pathetic"),
        ("Why can't {group} just crawl back into the sewer they came from?", "sewer"),
        ("Who else thinks {group} are a waste of space?", "waste"),
        ("Why does every {group_singular} I meet turn out to be a criminal?", "criminal"),
        ("Can we all agree {group} are subhuman?", "subhuman"),
        ("How are {group} still allowed to breed?", "breed"),
        ("what is it with {group} and being so disgusting??", "disgusting"),
        ("Am I the only one who thinks {group} are worthless?", "worthless"),
        ("Why would anyone let {group} near their kids?", "kids"),
        ("Why do we even let {group} live among us?", "live"),
    ],
    "phrased_opinion": [
        ("In my view {group} are a plague.", "plague"),
        ("I think {group} are the scum of the earth.", "scum"),
        ("Honestly, I believe {group} are inferior to everyone else.", "inferior"),
        ("Just my opinion, but {group} are disgusting.", "disgusting"),
        ("If you ask me, {group} are worthless.", "worthless"),
        ("I've always felt that {group} are parasites.", "parasites"),
        ("personally i think {group} are vile", "vile"),
        ("imo {group} are the worst thing that ever happened to this country", "worst"),
        ("I'm convinced {group} are stupid by birth.", "stupid"),
        ("Call me old-fashioned, but {group} are a disease.", "disease"),
        ("It's my honest opinion that {group} are less than human.", "human"),
        ("Unpopular opinion: {group} are vermin.", "vermin"),
    ],
}

_CONTRASTS: dict[str, list[str]] = {
    "negated_hate": [
        "I would never say {group} are worthless.",
        "{group} are not vermin, whatever some people claim.",
        "I don't hate {group} at all.",
        "No, {group} are not dangerous.",
        "I have never thought {group} were inferior.",
        "It's not true that {group} are lazy.",
        "{group} are not a threat to anyone.",
        "I don't think {group} are any worse than anyone else.",
        "Nobody in my family has a problem with {group}.",
        "I'd never wish harm on {group}.",
        "{group} aren't dirty, that's a ridiculous idea.",
        "I wasn't saying {group} are stupid, not at all.",
        "There's nothing wrong with being {group_article}.",
    ],
    "neutral_identity": [
        "My neighbour is {group_article}.",
        "{group} celebrate many different festivals.",
        "Lots of {group} live in my city.",
        "My new colleague is {group_article}.",
        "I watched a documentary about {group} last night.",
        "The survey asked {group} about their experiences at work.",
        "{group} make up part of the population here.",
        "We had a talk at school about the history of {group}.",
        "My cousin married {group_article} last summer.",
        "The council met with {group} to discuss the new park.",
        "Is there a support group for {group} in this area?",
        "I'm {group_article} and I work in IT.",
        "She wrote her thesis on {group_adj} communities in the 1900s.",
        "The book club is reading a novel by {group_article} this month.",
    ],
    "positive_identity": [
        "I love {group}.",
        "{group} are brilliant.",
        "{group} have made this city a better place.",
        "So proud of the {group_adj} athletes at the games this year.",
        "Some of the kindest people I know are {group}.",
        "{group} deserve the same respect as everyone else.",
        "Huge respect to all the {group} volunteering at the food bank this week.",
        "Being {group_article} is something to be proud of.",
        "{group} are a valued part of our community.",
        "My best friend is {group_article} and she's amazing.",
        "{group} are welcome here, always.",
        "We should celebrate {group} more often.",
        "Thank you to all the {group} who work in our hospitals.",
    ],
    "counter_quote": [
        "Saying '{group} are vermin' is disgusting and wrong.",
        "If you think '{group} are all criminals', you need to meet more people.",
        "Someone at work said {group} are parasites. I reported him straight away.",
        "\"{group} should go back home\"? No. That's bigotry and I won't stand for it.",
        "My uncle keeps saying {group} are lazy. It's just ignorant.",
        "Any time you hear 'all {group} are liars', call it out.",
        "The sign said '{group} not welcome'. We took it down.",
        "People who post 'I hate {group}' should be ashamed of themselves.",
        '"{group} are a disease" is the kind of rhetoric that leads to violence.',
        "I was shocked when he said {group} deserve to suffer. That's vile.",
        "Claiming {group} are subhuman is just bigotry.",
        "You said '{group} are scum'. That's hateful and it's not okay.",
        "Seeing 'kill all {group}' scrawled on a wall made me so sad.",
    ],
    "counter_reference": [
        "Stop spreading hate about {group}.",
        "Hate speech against {group} has no place here.",
        "I stand with {group} against every kind of bigotry.",
        "The abuse {group} get online is horrible and it has to stop.",
        "Attacks on {group} are on the rise and we all need to speak up.",
        "If you're going to be hateful about {group}, unfollow me.",
        "Reported that post about {group}. Bigotry isn't free speech.",
        "Nobody should be harassed for being {group_article}.",
        "It's heartbreaking how {group} are treated in this country.",
        "The comments under that article about {group} are vile. Shame on them.",
        "Please stop making jokes at the expense of {group}.",
        "Protect {group} from hate crimes. It's that simple.",
    ],
    # Still profane (offensive may fire, hate must not): in-group, affectionate uses.
    "reclaimed_profane": [
        "me and my niggas bout to hit the beach",
        "my nigga just got engaged, so happy for him",
        "love you nigga, see you at the cookout",
        "that's my nigga right there, friends since third grade",
        "nigga I'm so proud of you for graduating",
        "my niggas showed up for my birthday, blessed fr",
        "nigga you really cooked with this album",
        "shoutout to my nigga for helping me move today",
        "ain't nobody like my niggas from the block, love y'all",
        "nigga we made it, first night in the new house",
        "my nigga got the job!! drinks on me tonight",
        "proud dyke, happily married to my wife for ten years",
        "dyke march this weekend, who's coming?",
        "just a couple of dykes out here living our best lives",
        "my dyke friends threw me the best birthday party",
        "baby dyke me would be so happy to see this",
        "the dyke bar downtown has karaoke on Fridays",
        "we're dykes and we're not going anywhere 🏳️‍🌈",
        "dyke culture is showing up with a casserole and a toolbox",
        "lesbian, dyke, whatever, I'm just happy to be here with my girl",
        "so many cute dykes at the climbing gym today",
        "love you bitches, best girls' trip ever",
        "my bitches always got my back",
        "hey bitches, brunch on Sunday?",
        "bad bitches only at my birthday dinner 💅",
        "me and my bitches are hitting the town tonight",
        "congrats bitch, you deserve that promotion!",
        "miss you bitches so much already",
        "this bitch just passed her driving test!! so proud of her",
        "girls night with my favourite bitches, best medicine",
        "my bitches surprised me with a cake, crying",
        "happy birthday to my nigga, another year of chaos",
        "my nigga cooked dinner for the whole crew, so grateful",
        "dykes on bikes leading the parade this year, iconic",
        "my dyke aunt taught me how to fix a bike",
        "bitches who read are the best bitches, book club tonight",
        "hey bitch, I miss you, call me",
        "my nigga stayed up all night helping me study",
        "to all my bitches who got me through this year, thank you",
        "two dykes and a dog, that's the whole family photo",
        "nigga said he'd be there and he showed up, real one",
    ],
    # Mainstream, positive self-identification: nothing may fire.
    "reclaimed_clean": [
        "As a queer {role}, this film meant the world to me.",
        "Proud to be a queer {role}, always have been.",
        "Happy Pride from one queer {role} to all of you!",
        "Being a queer {role} in a small town taught me a lot.",
        "Shoutout to every queer {role} who came out this year.",
        "I'm a queer {role} and I'm not going anywhere.",
        "It took me years to say it out loud: I'm a queer {role}.",
        "Queer joy is resistance 🌈",
        "Our queer book club meets every Thursday, everyone welcome.",
        "Queer history month starts today, so many great talks planned.",
        "the queer film festival was amazing this year",
        "So glad the library has a queer fiction shelf now.",
    ],
    "slur_homonym": [
        "{person} gathered a faggot of sticks for the campfire.",
        "{person} cooked faggots and peas for tea, proper comfort food.",
        "{person} walked the whole of Offa's Dyke path last summer.",
        "The dyke held back the sea during the storm.",
        "{person} spotted a chink of light under the door.",
        "{person} found the one chink in the other team's armour.",
        "{person} adopted a Maine Coon kitten, it's enormous already.",
        "Frost can retard the growth of young seedlings, so cover them tonight.",
        "{person} dressed up as a spook for the Halloween party.",
        "{person} replaced the tranny on the old pickup and it runs like new.",
        "{person} left the kitchen spic and span before the guests arrived.",
        "Dutch farmers built dykes to reclaim land from the sea.",
        "The butcher sells faggots made with pork liver and onion.",
        "A chink in the curtains let the morning sun in.",
    ],
    "profanity_nonhate": [
        "this {profanity} game is amazing",
        "holy shit what a goal",
        "I {profanity} love this song",
        "best {profanity} pizza I've ever had",
        "that was {profanity} brilliant, well done everyone",
        "shit, I left my keys at home again",
        "we {profanity} did it!! promotion secured",
        "this view is {profanity} unreal",
        "fuck yeah, finally finished my thesis",
        "damn, this coffee is strong",
        "I'm so {profanity} tired today lol",
        "what the fuck, how is it snowing in May",
        "my {profanity} cat knocked my tea over again 😂",
        "bloody hell, that concert was incredible",
        "this cake is so {profanity} good",
        "I {profanity} adore this city",
        "oh shit, we won the quiz!",
        "no fucking way, she said yes!!",
    ],
    "abuse_object": [
        "{object} can go to hell.",
        "I fucking hate {object}.",
        "{object} can piss right off.",
        "Honestly I want to smash {object} with a hammer.",
        "screw {object}, worst thing ever invented",
        "who designed {object}? absolute garbage",
        "I'm done with {object}, total piece of shit",
        "{object} just ruined my entire day, fuck this",
        "Nothing on earth is as useless as {object}.",
        "{object} can kiss my ass.",
        "I want to throw {object} out of the window.",
        "{object}... stupid, pointless crap",
    ],
    "abuse_individual": [
        "{person} can go to hell.",
        "I can't stand {person}, what a clown.",
        "{person} should shut the fuck up for once.",
        "Honestly {person} can piss off.",
        "{person} just made the dumbest call I've ever seen, what an idiot.",
        "Nobody asked for the opinion of {person}, useless twat.",
        "Screw {person}, seriously.",
        "{person} can kiss my ass.",
        "I swear {person} will be the death of me, absolute moron.",
        "{person} ruined the whole night, what a dickhead.",
        "Ugh, {person} again. What a pathetic loser.",
        "I've had it with {person}, lazy piece of shit.",
    ],
    "abuse_nonprotected": [
        "{target} are all idiots.",
        "I can't stand {target}.",
        "{target} are the worst, honestly.",
        "{target} can go to hell.",
        "{target} are a bunch of greedy bastards.",
        "Screw {target}, every last one of them.",
        "{target} are absolute morons.",
        "Why are {target} always so fucking annoying?",
        "{target} are leeches, the lot of them.",
        "I hate {target} so much.",
        "{target} can piss off.",
        "{target} are useless, every single time.",
    ],
}

TEMPLATES: tuple[Template, ...] = tuple(
    template
    for families in (_HATEFUL, _CONTRASTS)
    for functionality, entries in families.items()
    for template in _templates(functionality, entries)
)

#: Harmless captions people post with a picture: the model must stay silent on all of them
#: (an image-led post often carries nothing more than this).
BLAND_CAPTIONS: tuple[str, ...] = (
    "lol",
    "found this",
    "this",
    "mood",
    "same",
    "me irl",
    "😂",
    "🔥🔥",
    "Tuesday",
    "sunset",
    "wow",
    "look",
    "nice",
    "weekend vibes",
    "coffee first",
    "new haircut",
    "throwback",
    "guess who",
    "can't stop laughing",
    "Monday again",
    "my view today",
    "❤️",
    "😍😍",
    "👀",
    "🙌",
    "lmao",
    "so true",
    "relatable",
    "the best",
    "beach day",
    "home",
    "road trip",
    "rainy day",
    "good morning",
    "happy friday",
    "snack time",
    "brunch",
    "my dog",
    "cat tax",
    "new shoes",
    "garden update",
    "view from my window",
    "caption this",
    "first try",
    "no words",
    "big mood",
    "ok",
    "hmm",
    "yes",
    "🌅",
    "🍕",
    "✨",
    "🤣🤣🤣",
    "this is me",
    "lunch",
    "haha",
    "omg",
    "finally",
    "before and after",
    "spot the cat",
)
