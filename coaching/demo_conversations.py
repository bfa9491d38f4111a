"""Conversations for the demo and for `simulate_conversation`: realistic Dubai agent–lead exchanges.

A demo conversation is assembled from parts (opening, qualification, presentation, objection, market talk,
close), each written in a handled-well and a handled-badly version, so every agent's history reflects their own
strengths and weaknesses and the analyser has something real to judge. `SCRIPTS` are whole conversations that
`simulate_conversation` replays message by message.
"""

import random
from dataclasses import dataclass

Line = tuple[str, str]  # (speaker, text)

COMMUNITIES = (
    ("Dubai Marina", "2-bedroom apartment", "2,450,000", "2,180"),
    ("JVC", "1-bedroom apartment", "1,050,000", "1,310"),
    ("Downtown Dubai", "2-bedroom apartment", "3,600,000", "2,950"),
    ("Business Bay", "studio", "890,000", "1,720"),
    ("Arabian Ranches", "4-bedroom villa", "5,900,000", "1,640"),
    ("Dubai Hills Estate", "3-bedroom townhouse", "3,950,000", "1,830"),
)

OPENINGS = (
    (("lead", "Hi, I saw your listing for the {home} in {community} on the portal. Is it still available?"),
     ("agent", "Hello {lead}, thanks for reaching out! Yes, it is still available.")),
    (("lead", "Good morning, I'm interested in {community}. Do you have anything like the {home} you posted?"),
     ("agent", "Good morning {lead}, yes we do. Happy to help you with {community}.")),
    (("lead", "Hello, my friend recommended you. We are looking at {community}, something like a {home}."),
     ("agent", "Hi {lead}, lovely to hear from you, and please thank your friend for me.")),
)

QUALIFY_GOOD = (
    (("agent", "Before I send options, what budget range are you working with, and are you buying with a "
               "mortgage or cash?"),
     ("lead", "Around AED {price}, probably with a mortgage."),
     ("agent", "Great. Do you already have a mortgage pre-approval, and when would you like to move in?"),
     ("lead", "Not yet pre-approved. We'd like to move within three months, before school starts."),
     ("agent", "Understood. Is anyone else involved in the decision, your spouse perhaps?"),
     ("lead", "Yes, my wife will want to see it too.")),
    (("agent", "So I can shortlist properly: is this to live in or as an investment, and what is your budget?"),
     ("lead", "To live in. Our budget is up to AED {price}."),
     ("agent", "And what is your timeline — are you on a notice period with your current landlord?"),
     ("lead", "Our tenancy ends in May, so we need something by then."),
     ("agent", "Perfect, that gives us a clear window. Who else will be deciding with you?"),
     ("lead", "Just me and my husband.")),
)

QUALIFY_BAD = (
    (("agent", "Sure, I'll send you a few listings now."),
     ("lead", "Okay, thanks.")),
    (("agent", "We have lots of options, I'll share the brochure."),
     ("lead", "Fine, send it over.")),
)

PRESENT_GOOD = (
    (("lead", "What's special about this one?"),
     ("agent", "It's a corner unit with a full marina view, so the living room gets light all day — with kids "
               "at home that second bedroom works as a proper playroom. The building has a shaded pool and a "
               "nursery on the ground floor, which you said matters to you."),
     ("lead", "That sounds great for us actually.")),
    (("lead", "Can you tell me more about the layout?"),
     ("agent", "The kitchen is open to the living area, so you can cook and keep an eye on the children, and the "
               "master bedroom is on the quiet side away from the road. You mentioned working from home — the "
               "study off the hall gives you a door you can close for calls."),
     ("lead", "Oh, a separate study would really help.")),
)

PRESENT_BAD = (
    (("lead", "What's special about this one?"),
     ("agent", "It's a nice apartment. 2 bed, 2 bath, balcony, parking."),
     ("lead", "Okay. Anything else?"),
     ("agent", "Pool and gym.")),
    (("lead", "Can you tell me more about the layout?"),
     ("agent", "Standard layout, kitchen, living, bedrooms."),
     ("lead", "Hmm, okay.")),
)

OBJECTION_GOOD = (
    (("lead", "Honestly the price seems too high for {community}."),
     ("agent", "I understand, many buyers feel that way at first. The last three comparable units in the same "
               "building sold for AED {per_sqft} to AED 2,300 per sq ft according to DLD transactions, and this "
               "one is priced at the lower end of that range with a better view."),
     ("lead", "I didn't know that, that does make it more reasonable.")),
    (("lead", "I think it's overpriced, I've seen cheaper ones."),
     ("agent", "That's a fair concern. Other clients felt the same until we compared service charges: the cheaper "
               "units pay AED 22 per sq ft a year versus AED 15 here, which is about AED 9,000 a year saved. "
               "I can send you the comparison from the DLD data."),
     ("lead", "Please do, that's useful.")),
)

OBJECTION_BAD = (
    (("lead", "Honestly the price seems too high for {community}."),
     ("agent", "That's the price, the owner won't move on it."),
     ("lead", "Hmm, okay. I'm not sure then.")),
    (("lead", "I think it's overpriced, I've seen cheaper ones."),
     ("agent", "Prices are what they are, everyone is paying this now. If you don't take it someone else will."),
     ("lead", "I'll think about it.")),
)

MARKET_GOOD = (
    (("lead", "Is it a good time to buy there?"),
     ("agent", "Prices in {community} rose about 9% over the last twelve months and rental yields are around 6.5% "
               "gross, with new supply mostly off-plan handing over in 2027, so ready units are holding value."),
     ("lead", "Good to know.")),
    (("lead", "What are the extra costs on top of the price?"),
     ("agent", "Budget 4% DLD transfer fee, 2% agency fee plus VAT, around AED 4,200 for the trustee and title "
               "deed, and if you take a mortgage, 0.25% registration. I'll put it all in one sheet for you."),
     ("lead", "Thanks, that helps me plan.")),
)

CLOSE_GOOD = (
    (("agent", "Shall we book a viewing on Saturday at 11am so you and your wife can see it together?"),
     ("lead", "Saturday at 11 works."),
     ("agent", "Booked. I'll send you the location pin and the floor plan today.")),
    (("agent", "When we view it, I'll bring the service charge statement. Does Thursday at 6pm suit you?"),
     ("lead", "Thursday evening is fine."),
     ("agent", "Great, I've confirmed Thursday 6pm and will WhatsApp you the details.")),
)

CLOSE_BAD = (
    (("lead", "Okay, I'll think about it and get back to you."),
     ("agent", "Sure, no problem. Let me know.")),
    (("lead", "Let me discuss with my family."),
     ("agent", "Okay, take your time.")),
)

PARTS = (
    ("lead_qualification", QUALIFY_GOOD, QUALIFY_BAD),
    ("property_presentation", PRESENT_GOOD, PRESENT_BAD),
    ("objection_handling", OBJECTION_GOOD, OBJECTION_BAD),
    ("market_expertise", MARKET_GOOD, ()),
)


@dataclass(frozen=True)
class Script:
    title: str
    lines: tuple[Line, ...]


# simulate_conversation's default: a warm buyer, a price objection the agent fumbles, and no next step.
FUMBLED_PRICE_OBJECTION = Script(
    title="A warm Dubai Marina buyer, a fumbled price objection",
    lines=(
        ("lead", "Hi, I saw the 2-bedroom in Dubai Marina on the portal. Is it still available?"),
        ("agent", "Hi Sara, yes it is! It's a great unit."),
        ("lead", "We love the marina. We're moving from London with two kids in the summer."),
        ("agent", "Nice. It has 2 bedrooms, 2 bathrooms, a balcony and parking."),
        ("lead", "The price seems too high though. AED 2.45 million for a 2-bed?"),
        ("agent", "That's the price, the owner won't negotiate. Everyone is paying that now."),
        ("lead", "Hmm. I've seen similar ones for less on the same portal."),
        ("agent", "Those are probably not as good."),
        ("lead", "Okay, I'll think about it and get back to you."),
        ("agent", "Sure, let me know."),
    ),
)

# The same lead handled well: what the agent could have said.
STRONG_CALL = Script(
    title="A warm Dubai Marina buyer, handled well",
    lines=(
        ("lead", "Hi, I saw the 2-bedroom in Dubai Marina on the portal. Is it still available?"),
        ("agent", "Hi Sara, yes it is. So I can help properly — what's your budget, and when do you plan to move?"),
        ("lead", "Up to AED 2.5 million, and we move from London with two kids in the summer."),
        ("agent", "Will you buy with a mortgage, and is your husband deciding with you?"),
        ("lead", "Mortgage, yes, and yes he'll decide with me."),
        ("agent", "The second bedroom is next to a shaded pool and a nursery, so the kids have space from day one."),
        ("lead", "The price seems too high though. AED 2.45 million for a 2-bed?"),
        ("agent", "I understand. The last three comparable units in the building sold for AED 2,180 to 2,300 per sq "
                  "ft on DLD data, and this one is at the lower end with a full marina view."),
        ("lead", "Oh, that's fair then."),
        ("agent", "Shall we book a video viewing on Saturday at 11am with your husband?"),
        ("lead", "Saturday at 11 works."),
    ),
)

SCRIPTS = {"fumbled-price-objection": FUMBLED_PRICE_OBJECTION, "strong-call": STRONG_CALL}


def compose(rng: random.Random, skill: dict[str, float], lead_first: str) -> list[Line]:
    """One conversation for an agent whose chance of handling each area well is `skill[area]` (0–1).

    Objections and market questions come up only in some conversations, as in real life, so not every area has
    an occasion in every conversation.
    """
    community, home, price, per_sqft = rng.choice(COMMUNITIES)
    values = {"community": community, "home": home, "price": price, "per_sqft": per_sqft, "lead": lead_first}
    lines: list[Line] = list(rng.choice(OPENINGS))
    for area, good, bad in PARTS:
        if area in ("objection_handling", "market_expertise") and rng.random() < 0.4:
            continue
        handled_well = rng.random() < skill.get(area, 0.5)
        if handled_well or not bad:
            if handled_well:
                lines += rng.choice(good)
        else:
            lines += rng.choice(bad)
    lines += rng.choice(CLOSE_GOOD if rng.random() < skill.get("closing", 0.5) else CLOSE_BAD)
    return [(speaker, text.format(**values)) for speaker, text in lines]
