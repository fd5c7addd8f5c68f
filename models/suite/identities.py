"""Who the suite's templates talk about: protected groups, slurs, and the non-protected contrasts.

Hate, in postguard's taxonomy, is abuse aimed at people *because of a protected characteristic*
(religion, race/ethnicity, national origin or immigration status, gender, sexual orientation,
gender identity, disability). The suite therefore fills every identity template with every
protected group, and fills the same abusive wording with targets that are *not* protected
(professions, fans, neighbours), individuals and objects: a model that flags "lawyers are
leeches" as hate has learnt "insult = hate", not what hate is.

Each group comes in several surface forms so a template can be grammatical for all of them
("Muslims" / "a Muslim" / "Muslim communities" / "Muslim people"). Everything here is plain data.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class IdentityGroup:
    """One protected group and the forms templates need.

    ``plural`` fills ``{group}`` ("Muslims"), ``singular`` fills ``{group_singular}`` ("Muslim",
    for "the next ... I see"), ``article`` fills ``{group_article}`` ("a Muslim", "an immigrant"),
    ``adjective`` fills ``{group_adj}`` ("Muslim" in "Muslim communities"; ``None`` where no
    adjective reads naturally, and such groups skip those templates), and ``people`` fills
    ``{group_people}``: the pronoun-ready form, a plural phrase that reads naturally after
    "those"/"typical" and that a later "they" can point back to ("Muslim people").
    """

    key: str
    category: str
    plural: str
    singular: str
    article: str
    adjective: str | None
    people: str


PROTECTED_GROUPS: tuple[IdentityGroup, ...] = (
    IdentityGroup("muslims", "religion", "Muslims", "Muslim", "a Muslim", "Muslim", "Muslim people"),
    IdentityGroup("jews", "religion", "Jews", "Jewish person", "a Jewish person", "Jewish", "Jewish people"),
    IdentityGroup("hindus", "religion", "Hindus", "Hindu", "a Hindu", "Hindu", "Hindu people"),
    IdentityGroup("sikhs", "religion", "Sikhs", "Sikh", "a Sikh", "Sikh", "Sikh people"),
    IdentityGroup(
        "black_people", "race", "Black people", "Black person", "a Black person", "Black", "Black folks"
    ),
    IdentityGroup(
        "asian_people", "race", "Asian people", "Asian person", "an Asian person", "Asian", "Asians"
    ),
    IdentityGroup("arabs", "ethnicity", "Arabs", "Arab", "an Arab", "Arab", "Arab people"),
    IdentityGroup("roma", "ethnicity", "Roma", "Romani person", "a Romani person", "Romani", "Romani people"),
    IdentityGroup(
        "chinese_people",
        "national_origin",
        "Chinese people",
        "Chinese person",
        "a Chinese person",
        "Chinese",
        "Chinese people",
    ),
    IdentityGroup(
        "mexicans", "national_origin", "Mexicans", "Mexican", "a Mexican", "Mexican", "Mexican people"
    ),
    IdentityGroup(
        "immigrants",
        "immigration_status",
        "immigrants",
        "immigrant",
        "an immigrant",
        "immigrant",
        "immigrants",
    ),
    IdentityGroup(
        "refugees", "immigration_status", "refugees", "refugee", "a refugee", "refugee", "refugees"
    ),
    IdentityGroup("women", "gender", "women", "woman", "a woman", None, "women"),
    IdentityGroup(
        "gay_people", "sexual_orientation", "gay people", "gay person", "a gay person", "gay", "gay folks"
    ),
    IdentityGroup(
        "lesbians", "sexual_orientation", "lesbians", "lesbian", "a lesbian", "lesbian", "lesbian women"
    ),
    IdentityGroup(
        "bisexual_people",
        "sexual_orientation",
        "bisexual people",
        "bisexual person",
        "a bisexual person",
        "bisexual",
        "bi people",
    ),
    IdentityGroup(
        "trans_people",
        "gender_identity",
        "trans people",
        "trans person",
        "a trans person",
        "trans",
        "trans folks",
    ),
    IdentityGroup(
        "disabled_people",
        "disability",
        "disabled people",
        "disabled person",
        "a disabled person",
        "disabled",
        "disabled folks",
    ),
    IdentityGroup(
        "autistic_people",
        "disability",
        "autistic people",
        "autistic person",
        "an autistic person",
        "autistic",
        "autistic folks",
    ),
)

GROUPS_BY_KEY: dict[str, IdentityGroup] = {group.key: group for group in PROTECTED_GROUPS}


@dataclass(frozen=True)
class Slur:
    """A real slur, its plural, and the key of the protected group it is aimed at.

    Real slurs are spelt out on purpose: a moderation model meets them spelt out, and a suite
    of asterisked stand-ins would test nothing. They appear only in test data.
    """

    word: str
    plural: str
    group: str


#: Widely known English slurs and the group each targets (``group`` is an ``IdentityGroup.key``).
SLURS: tuple[Slur, ...] = (
    Slur("nigger", "niggers", "black_people"),
    Slur("faggot", "faggots", "gay_people"),  # aimed at gay men
    Slur("dyke", "dykes", "lesbians"),
    Slur("kike", "kikes", "jews"),
    Slur("spic", "spics", "mexicans"),  # aimed at Latinos generally
    Slur("wetback", "wetbacks", "mexicans"),
    Slur("chink", "chinks", "chinese_people"),  # aimed at East Asians generally
    Slur("raghead", "ragheads", "muslims"),  # also aimed at Arabs and Sikhs
    Slur("tranny", "trannies", "trans_people"),
    Slur("retard", "retards", "disabled_people"),  # aimed at intellectually disabled people
)

#: Groups that are not protected characteristics: same abuse, but no hate. Plural, so "are" agrees.
NON_PROTECTED_GROUPS: tuple[str, ...] = (
    "lawyers",
    "cyclists",
    "fans of that team",
    "my neighbours",
    "politicians",
    "landlords",
    "estate agents",
    "tourists",
    "bankers",
    "influencers",
    "referees",
    "people who talk in cinemas",
    "drivers who never indicate",
    "the people in my group chat",
    "journalists",
)

#: Individuals with no identity attached. Templates using them avoid verb agreement ("can", past
#: tense), so "you" fits alongside third persons.
INDIVIDUALS: tuple[str, ...] = (
    "my boss",
    "you",
    "that referee",
    "my ex",
    "the guy next door",
    "my landlord",
    "my flatmate",
    "our manager",
    "Dave",
    "Sarah",
    "Kevin",
    "Jess",
    "Tom",
    "my brother",
)

#: Things people swear at. Templates avoid verb agreement, so singular and plural both fit.
OBJECTS: tuple[str, ...] = (
    "this printer",
    "Mondays",
    "my phone",
    "this laptop",
    "the wifi",
    "this traffic",
    "my alarm clock",
    "this weather",
    "the bus",
    "this app",
    "the new update",
    "my car",
    "this spreadsheet",
    "the self-checkout machine",
)

#: Intensifiers for ``{profanity}``: swearing that by itself is offensive, never hateful.
PROFANITIES: tuple[str, ...] = ("fucking", "fuckin", "goddamn", "bloody")

#: Nouns for ``{role}`` in the reclaimed-term templates ("as a queer {role}, ...").
ROLES: tuple[str, ...] = ("woman", "man", "teenager", "artist", "writer", "parent", "person")
