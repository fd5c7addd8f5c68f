"""postguard's categories: what each means, and its closest Azure AI Content Safety name.

``toxic`` is the umbrella (any harm the checkpoint was trained on). How the categories answer
OpenAI's moderation keys is the synchronous API's mapping (service/api/taxonomy.py).
docs/categories.md holds the same table with measured quality.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CategoryInfo:
    name: str
    definition: str
    out_of_scope: str
    trained_on: str
    azure: tuple[str, ...]


KNOWN: dict[str, CategoryInfo] = {
    info.name: info
    for info in (
        CategoryInfo(
            "hate",
            "Attacks on people for a protected attribute (race, religion, ethnicity, gender, sexual "
            "orientation, disability, ...): slurs, dehumanisation, threats, derogation.",
            "Abuse of individuals or non-protected groups (offensive), counter-speech, reclaimed slurs.",
            "HateXplain, Davidson, ToxiGen, HarMeme texts, own templates, rendered memes (checkpoint)",
            ("Hate",),
        ),
        CategoryInfo(
            "offensive",
            "Insults, profanity aimed at someone, abuse of individuals or non-protected groups.",
            "Profanity without a target, quoting abuse to condemn it.",
            "HateXplain, Davidson, ConvAbuse (checkpoint)",
            ("Hate",),
        ),
        CategoryInfo(
            "toxic",
            "Umbrella: any harm the checkpoint scores (hate or offensive, harmful memes).",
            "Harms of the example-defined categories (they have their own scores).",
            "All of the checkpoint's sources",
            ("Hate",),
        ),
        CategoryInfo(
            "self_harm",
            "Intent, plans, glorification or encouragement of suicide, self-harm or eating disorders, "
            "and asking for ways to do it.",
            "Recovery stories, support and crisis resources, news, education, hyperbole ('this is killing me').",
            "Team-written examples + SimpleSafetyTests self-harm prompts (example-defined)",
            ("SelfHarm",),
        ),
        CategoryInfo(
            "violence",
            "Threats of physical violence, incitement, glorifying attacks, wishing injury or death on "
            "someone, gratuitous gore.",
            "News, history, sport, games, fiction, cooking, self-defence, banter among friends.",
            "Team-written examples + SimpleSafetyTests violence prompts (example-defined)",
            ("Violence",),
        ),
        CategoryInfo(
            "sexual",
            "Sexual content between adults meant to arouse, explicit descriptions, sexting, "
            "propositions, selling sexual content or services (text only).",
            "Sex education, medicine, romance, identity, news. Sexual content involving minors "
            "(OpenAI's sexual/minors) is neither written into the examples nor measured: it needs "
            "a dedicated process (hash matching, legal reporting).",
            "Team-written examples (example-defined)",
            ("Sexual",),
        ),
        CategoryInfo(
            "spam",
            "Scams, phishing and bulk or unsolicited promotion: fake giveaways and prize notices, "
            "crypto, investment and job scams, fake shops and support accounts, follower bots, "
            "engagement bait, self-promotion dropped into others' comments.",
            "Sharing a link with a comment, a business posting to its own followers, genuine "
            "giveaways and fundraisers, scam warnings, ordinary contact details.",
            "SMS Spam Collection + YouTube Spam Collection (training parts) + team-written examples (example-defined)",
            (),
        ),
    )
}


def describe(name: str, description: str = "") -> CategoryInfo:
    """What is known about ``name``; a user-defined category is described by its own card."""
    return KNOWN.get(
        name,
        CategoryInfo(name, description or "(user-defined by examples)", "", "user examples", ()),
    )
