"""Every finding the local engine can report, by stable code: its area, severity and the words the agent reads.

Codes never change meaning once shipped: alerts are deduplicated on (conversation, code), and performance
profiles count them over time. Positive findings (strengths) carry severity "low" and are never alerted on.
"""

from dataclasses import dataclass

from .types import Finding


@dataclass(frozen=True)
class Entry:
    area: str
    severity: str
    title: str
    message: str
    suggested_action: str = ""
    positive: bool = False


Q, P, O, C, M = ("lead_qualification", "property_presentation", "objection_handling", "closing", "market_expertise")

CATALOGUE: dict[str, Entry] = {
    # lead qualification
    "qualification_budget_timeline_missing": Entry(
        Q, "medium", "Budget and timeline never asked",
        "The lead is in the market, but the conversation never established their budget or their timeline.",
        "Ask early: \"What budget range are you working with, and when would you like to move?\" Then confirm "
        "financing (cash, mortgage, pre-approval) and who else decides."),
    "qualification_shallow": Entry(
        Q, "low", "Discovery stopped after one question",
        "Only one qualifying question was asked, so the agent is matching on half the picture.",
        "Cover budget, timeline, financing and motivation before presenting options."),
    "qualification_thorough": Entry(
        Q, "low", "Thorough discovery",
        "The agent established budget, timeline and more before recommending anything.", positive=True),
    # property presentation
    "presentation_needs_ignored": Entry(
        P, "high", "Presented something the lead said they don't want",
        "The lead had to repeat what they need; the agent kept pushing a property that doesn't fit.",
        "Acknowledge the requirement, apologise, and offer only options that match it."),
    "presentation_question_dodged": Entry(
        P, "medium", "Property question left unanswered",
        "The lead asked about the property and got no real answer (\"call me\", \"check the brochure\", \"not sure\").",
        "Answer the question in the channel the lead used, with the specific detail, then tie it to their needs."),
    "presentation_vague_hype": Entry(
        P, "medium", "Hype instead of detail",
        "The property was described with superlatives (\"amazing\", \"luxury\", \"world class\") rather than facts.",
        "Replace adjectives with specifics (size, view, layout, distances) and say what each means for this lead."),
    "presentation_features_without_benefits": Entry(
        P, "low", "Features listed, benefits missing",
        "The agent listed specifications without saying why they matter to this lead.",
        "Turn each feature into a benefit: \"park-facing, so you get morning light and a quiet view\"."),
    "presentation_no_detail": Entry(
        P, "medium", "No detail about the property",
        "The lead asked about a listing and got almost nothing beyond a yes or a price.",
        "Give two or three specifics (size, view, location) and ask what matters most to them."),
    "presentation_benefits": Entry(
        P, "low", "Features turned into benefits",
        "The agent tied the property's features to what this lead said they need.", positive=True),
    # objection handling
    "objection_defensive": Entry(
        O, "critical", "Defensive answer to an objection",
        "The lead raised a concern and the agent shut it down (\"that's the price\", \"take it or leave it\").",
        "Acknowledge first (\"I understand\"), then support the position with comparable sales, DLD transaction "
        "data or price per sq ft, and ask what would make it work for them."),
    "objection_competitor_disparaged": Entry(
        O, "high", "Competitor disparaged",
        "The agent attacked another agent or agency instead of showing their own value.",
        "Respect the other agent; offer something concrete they cannot (off-market stock, data, service)."),
    "objection_pressure": Entry(
        O, "high", "Pressure instead of an answer",
        "The lead hesitated and the agent answered with urgency (\"someone else will take it\", \"you'll regret it\").",
        "Ask what they need to think over, answer that concern with facts, and agree a time to decide."),
    "objection_price_without_data": Entry(
        O, "high", "Price objection answered without data",
        "The agent acknowledged a pricing concern but did not use any market data to support the response.",
        "Use a comparative market analysis: recent sales in the building or community (DLD transactions), "
        "price per sq ft, and what justifies any premium."),
    "objection_conceded_without_value": Entry(
        O, "medium", "Conceded without defending the value",
        "The agent gave way on price or fee at the first push, without explaining what it pays for.",
        "Explain what the fee or price covers, with figures, before negotiating; trade concessions for commitments."),
    "objection_not_explored": Entry(
        O, "medium", "Hesitation accepted without exploring it",
        "The lead hesitated (\"I need to think\") and the agent let it go.",
        "Ask what they want to think over (\"Is it the price, the area or the timing?\"), answer it, and agree "
        "when to speak again."),
    "objection_ignored": Entry(
        O, "high", "Concern not addressed",
        "The lead raised a concern and the agent's reply did not address it.",
        "Answer the concern itself first (commute times, layout, costs), then move on."),
    "objection_without_substance": Entry(
        O, "medium", "Reassurance without substance",
        "The agent reassured the lead but gave no facts, options or questions to resolve the concern.",
        "Back the reassurance with specifics (escrow, delivery record, figures) or an option that removes the worry."),
    "objection_handled_with_data": Entry(
        O, "low", "Objection handled with evidence",
        "The agent acknowledged the concern and answered it with data or a concrete option.", positive=True),
    # closing
    "closing_pressure": Entry(
        C, "high", "High-pressure close",
        "The agent pushed for a decision with false urgency instead of agreeing a next step.",
        "Use a trial close (\"Would Saturday at 11 or Sunday at 4 suit you?\") and create urgency with facts only."),
    "closing_no_next_step": Entry(
        C, "high", "No next step secured",
        "The lead showed interest but the conversation ended without an agreed next step.",
        "Before ending, propose a specific next step with a day and time: a viewing, a call or a meeting."),
    "closing_vague_next_step": Entry(
        C, "medium", "Vague next step",
        "The conversation ended on \"let me know\" or \"I'll send some options\" rather than a commitment.",
        "Turn it into a commitment: \"I'll send three options tonight; can we go through them tomorrow at 6?\""),
    "closing_next_step_secured": Entry(
        C, "low", "Next step secured",
        "The agent agreed a specific next step, with a time, and the lead accepted it.", positive=True),
    # market expertise
    "market_guaranteed_returns": Entry(
        M, "critical", "Returns promised as guaranteed",
        "The agent promised guaranteed returns or no risk, which misleads the lead and breaches RERA advertising rules.",
        "Quote realistic gross and net yields from current rents and service charges, and say they are estimates."),
    "market_incorrect_fact": Entry(
        M, "high", "Incorrect market fact",
        "The agent stated a figure every Dubai agent should know incorrectly (DLD transfer fee is 4%; the "
        "property golden visa needs AED 2 million).",
        "Check fees and thresholds before quoting them; keep a one-page cost sheet at hand."),
    "market_uncertain": Entry(
        M, "medium", "Unsure about the market",
        "The agent was unsure or vague when the lead asked about prices, fees or rules.",
        "Prepare the figures for the areas you sell (price per sq ft, recent sales, rents, fees); if unsure, "
        "say when you will come back with the answer and do it."),
    "market_unsupported_claim": Entry(
        M, "medium", "Market claim without evidence",
        "The agent made sweeping claims (\"prices always go up\") without any data.",
        "Replace claims with evidence: DLD transaction trends, rent changes, supply figures for the community."),
    "market_no_data": Entry(
        M, "medium", "No market data when it was needed",
        "The lead questioned prices or the market and the agent gave no figures.",
        "Bring recent comparable sales, rents or yields for the building and community."),
    "market_data_cited": Entry(
        M, "low", "Market data used",
        "The agent backed points with specific market figures or regulations.", positive=True),
}


def finding(code: str, evidence: tuple[str, ...], message_index: int | None) -> Finding:
    entry = CATALOGUE[code]
    return Finding(area=entry.area, code=code, severity=entry.severity, title=entry.title, message=entry.message,
                   suggested_action=entry.suggested_action, evidence=evidence, message_index=message_index,
                   positive=entry.positive)
