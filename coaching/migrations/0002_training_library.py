"""The platform's training module library: five coaching areas × beginner, intermediate and advanced.

The data lives here, frozen, rather than imported from app code: this migration must seed the same rows whatever
later versions of the app look like. Library rows have no brokerage, so every brokerage sees them; brokerages add
their own modules through `training_module_create`. Running it again updates the rows in place (by key).
"""

from django.db import migrations

LIBRARY = [
    # --- lead qualification -----------------------------------------------------------------------------------
    {
        "key": "lead_qual_beginner",
        "area": "lead_qualification",
        "level": "beginner",
        "title": "Lead qualification foundations: BANT for Dubai buyers",
        "description": (
            "Qualify every new enquiry in the first conversation: budget (cash or mortgage, and the deposit the "
            "UAE mortgage caps require), who decides, what they need and by when. Learn discovery questions "
            "that make the lead talk, and how to find the motivation behind the move."
        ),
        "duration_minutes": 45,
        "topics": [
            "The BANT framework: budget, authority, need, timeline",
            "Discovery questions: open questions before features",
            "Buyer motivation: end-user, investor, upsizer or downsizer",
            "Cash or mortgage: pre-approval and the deposit expats need",
        ],
        "practice_scenarios": [
            "First-time buyer: a salaried expat renting in JLT asks about a 1-bedroom in JVC and has not spoken "
            "to a bank yet; find the budget, the deposit they have saved and whether a pre-approval exists.",
            "Investor: an overseas buyer asks for 'the best ROI in Dubai'; find the cash available, the yield "
            "they expect, ready or off-plan, and who else signs off on the purchase.",
            "Downsizers: a couple selling their Arabian Ranches villa now the children have left; find their "
            "timeline, whether they must sell before buying, and what they will not give up.",
        ],
    },
    {
        "key": "lead_qual_intermediate",
        "area": "lead_qualification",
        "level": "intermediate",
        "title": "Qualifying investors and off-plan buyers",
        "description": (
            "Go past the first answer: the real budget once the 4% DLD transfer fee and other costs are "
            "counted, the financing route for off-plan versus ready property, and whether the lead is an "
            "end-user, an investor or a golden visa applicant. Spot tyre-kickers politely and early."
        ),
        "duration_minutes": 50,
        "topics": [
            "Total cost of purchase: price plus DLD transfer fee, trustee and agency fees",
            "Off-plan versus ready: payment plan appetite and handover expectations",
            "Golden visa goals and the AED 2 million property threshold",
            "Layered questions: following up a vague answer without interrogating",
        ],
        "practice_scenarios": [
            "A buyer says their budget is AED 2 million 'all in' for a ready 2-bedroom in Dubai Hills; work "
            "out with them what price that leaves after the DLD transfer fee and agency fees.",
            "An investor asks about a post-handover payment plan in Business Bay; qualify how much they can pay "
            "before handover and whether they plan to rent it out or flip it.",
            "A lead wants 'a property for the golden visa'; confirm whether they understand the value "
            "threshold, whether a mortgage is involved, and their timeline for the visa.",
        ],
    },
    {
        "key": "lead_qual_advanced",
        "area": "lead_qualification",
        "level": "advanced",
        "title": "Advanced qualification: complex buyers and decision units",
        "description": (
            "Qualify buyers whose decision involves several people or entities: family offices, company "
            "purchases, joint buyers abroad, sellers who must buy and sell at once. Map the decision unit, "
            "the financing risk and the true deadline, and agree a qualification summary with the lead."
        ),
        "duration_minutes": 60,
        "topics": [
            "Mapping the decision unit: spouse, partner, family office or company board",
            "Chain risk: selling and buying at once, mortgage release and NOC timing",
            "Portfolio investors: yield targets, service charges and exit strategy",
            "Summarising the qualification back to the lead and agreeing next steps",
        ],
        "practice_scenarios": [
            "A family office wants three units in Dubai Marina for rental income; identify who signs, how "
            "funds arrive in the UAE and the yield after service charges they need.",
            "A seller in Jumeirah Village Triangle wants to upgrade to Palm Jumeirah but still has a mortgage; "
            "qualify the release, the NOC from the developer and the bridging risk.",
            "A husband calls about a villa while his wife, who decides, is abroad; qualify without losing the "
            "lead and set up a call with both.",
        ],
    },
    # --- property presentation --------------------------------------------------------------------------------
    {
        "key": "property_presentation_beginner",
        "area": "property_presentation",
        "level": "beginner",
        "title": "Presenting property: from features to benefits",
        "description": (
            "Turn a listing into reasons to view: connect each feature to what the lead said they need, "
            "use vivid but accurate language, and keep every claim within what the RERA-permitted advert "
            "(Trakheesi permit) says."
        ),
        "duration_minutes": 40,
        "topics": [
            "Feature to benefit: 'maid's room' to 'space for live-in help or a home office'",
            "Linking the presentation to the lead's stated needs",
            "Descriptive language without exaggeration",
            "What an advertised listing may and may not claim",
        ],
        "practice_scenarios": [
            "Present a 3-bedroom townhouse in Town Square to a young family who mentioned schools and a "
            "garden; turn five features into benefits for them.",
            "A lead relocating from London asks what is special about a Downtown apartment with a Burj "
            "Khalifa view; present it without overselling.",
            "Describe a JVC studio to an investor in three sentences that matter to a tenant.",
        ],
    },
    {
        "key": "property_presentation_intermediate",
        "area": "property_presentation",
        "level": "intermediate",
        "title": "Presenting off-plan projects and payment plans",
        "description": (
            "Present an off-plan project honestly and persuasively: the developer's track record, the payment "
            "plan in plain numbers, escrow protection, the handover date and what happens if it slips, and "
            "how to compare it with ready stock."
        ),
        "duration_minutes": 55,
        "topics": [
            "Payment plans explained in dirhams and dates (e.g. 60/40, post-handover)",
            "Escrow accounts, Oqood registration and developer track record",
            "Handover dates, delays and what the SPA says about them",
            "Comparing off-plan with a ready unit in the same community",
        ],
        "practice_scenarios": [
            "Walk a buyer through a 60/40 payment plan on an AED 1.4 million Dubai Creek Harbour apartment: "
            "what they pay at booking, during construction and at handover.",
            "A lead worries that the handover date of a Meydan project will slip; present the developer's "
            "delivery record and what the sale and purchase agreement provides.",
            "An investor hesitates between an off-plan unit in Sobha Hartland and a ready one next door; "
            "present both with the rent they forgo while waiting.",
        ],
    },
    {
        "key": "property_presentation_advanced",
        "area": "property_presentation",
        "level": "advanced",
        "title": "Storytelling for luxury and investment presentations",
        "description": (
            "Present high-value property to discerning buyers: build a story around lifestyle or return, lead "
            "a viewing that answers unspoken questions, and handle comparisons with competing listings and "
            "communities with evidence."
        ),
        "duration_minutes": 65,
        "topics": [
            "Lifestyle narratives for prime communities (Palm Jumeirah, Emirates Hills, Jumeirah Bay)",
            "Investment cases: net yield after service charges and vacancy",
            "Running a viewing: order of rooms, pauses, and questions that reveal objections",
            "Competing listings: fair comparisons that favour your client's needs",
        ],
        "practice_scenarios": [
            "Present a Palm Jumeirah signature villa to a European family office representative over video "
            "call, in ten minutes.",
            "An investor compares your Dubai Marina listing with a cheaper one two towers away; present the "
            "difference in service charges, views and rentability.",
            "Lead a viewing of a Dubai Hills Estate villa for a couple who disagree about the layout.",
        ],
    },
    # --- objection handling -----------------------------------------------------------------------------------
    {
        "key": "objection_handling_beginner",
        "area": "objection_handling",
        "level": "beginner",
        "title": "Objection handling basics: listen, acknowledge, answer",
        "description": (
            "Treat an objection as a question the lead has not finished asking. Listen fully, acknowledge "
            "without arguing, ask what lies behind it, then answer with a fact. Covers the objections new "
            "agents hear every week in Dubai."
        ),
        "duration_minutes": 40,
        "topics": [
            "Listen, acknowledge, clarify, respond",
            "Not being defensive: objections as buying signals",
            "Fees objections: agency commission and the DLD transfer fee",
            "Knowing when to ask for help from a senior agent",
        ],
        "practice_scenarios": [
            "'Why should I pay you 2% when I can find it on the portal myself?' from a buyer of a ready "
            "apartment in Al Barsha.",
            "'The 4% DLD fee is too much, can the seller pay it?' from a first-time buyer.",
            "A tenant says the rent in an Ejari-registered renewal is above what their friend pays in the "
            "same building.",
        ],
    },
    {
        "key": "objection_handling_intermediate",
        "area": "objection_handling",
        "level": "intermediate",
        "title": "Objection handling: Feel-Felt-Found and data-driven responses",
        "description": (
            "Answer the objections that stall deals with empathy and evidence: the Feel-Felt-Found framework, "
            "pricing concerns answered with DLD transaction data and comparable sales, and timing objections "
            "reframed around the lead's own goals."
        ),
        "duration_minutes": 60,
        "topics": [
            "The Feel-Felt-Found framework",
            "Pricing concerns: comparable sales and price per square foot",
            "Data-driven responses: DLD transaction records and the RERA rental index",
            "Timing objections and 'waiting for prices to fall'",
        ],
        "practice_scenarios": [
            "'Price is too high': a buyer says an AED 1.8 million 2-bedroom in JLT is overpriced; respond "
            "with recent comparable transactions and price per square foot.",
            "'Need to think about it': a couple who loved a Mirdif villa go quiet after the viewing; find the "
            "real concern and agree a next step.",
            "Timing: an investor wants to wait for the market to correct before buying in Business Bay; "
            "answer with rental income forgone and recent price data.",
        ],
    },
    {
        "key": "objection_handling_advanced",
        "area": "objection_handling",
        "level": "advanced",
        "title": "Advanced objections: negotiation, risk and multiple stakeholders",
        "description": (
            "Handle the objections that carry real risk: off-plan delivery fears, mortgage valuations below "
            "the agreed price, service charge disputes and objections raised by a second decision maker. "
            "Negotiate without conceding value."
        ),
        "duration_minutes": 70,
        "topics": [
            "Off-plan risk objections: escrow, developer delivery record, handover delays",
            "Bank valuation below price: renegotiating or bridging the gap",
            "Service charges and the Mollak service charge index",
            "Objections from a spouse, partner or adviser who was not in the first conversation",
        ],
        "practice_scenarios": [
            "The bank values a Dubai Hills apartment AED 150,000 below the price in the signed Form F; keep "
            "the deal alive with buyer and seller.",
            "An investor cites a developer who delivered two years late; answer with escrow rules and this "
            "developer's record in Meydan.",
            "A buyer's financial adviser says Dubai Marina service charges kill the yield; respond with net "
            "yield figures from the service charge index.",
        ],
    },
    # --- closing ----------------------------------------------------------------------------------------------
    {
        "key": "closing_beginner",
        "area": "closing",
        "level": "beginner",
        "title": "Closing foundations: always secure the next step",
        "description": (
            "End every conversation with a specific, agreed next step: a viewing with a date and time, a call "
            "with the mortgage adviser, documents to send. Learn simple closing questions and how to confirm "
            "in writing on WhatsApp."
        ),
        "duration_minutes": 35,
        "topics": [
            "Next steps with a date and time, not 'I'll send you some options'",
            "Simple closing questions: 'Does Tuesday at 6 or Thursday at 7 suit you?'",
            "Confirming the next step in writing the same day",
            "Recognising buying signals",
        ],
        "practice_scenarios": [
            "A warm lead for a Damac Hills 2 townhouse ends the call with 'sounds good'; turn it into a "
            "booked viewing.",
            "A tenant likes a Silicon Oasis apartment; agree the cheque schedule, the security deposit and "
            "when you will prepare the Ejari.",
            "Close a WhatsApp chat with an overseas buyer by booking a video viewing in their time zone.",
        ],
    },
    {
        "key": "closing_intermediate",
        "area": "closing",
        "level": "intermediate",
        "title": "Trial closes and commitment through the transaction",
        "description": (
            "Test readiness throughout the conversation with trial closes, then move the lead through the "
            "Dubai transaction steps: offer, RERA Form F (MOU) and deposit, NOC, and transfer at the DLD "
            "trustee office."
        ),
        "duration_minutes": 55,
        "topics": [
            "Trial closes during the conversation",
            "From offer to Form F: deposit cheque and conditions",
            "Keeping momentum through the NOC and mortgage approval",
            "Urgency from facts (other viewings, launch prices), never pressure",
        ],
        "practice_scenarios": [
            "After a second viewing in Arabian Ranches III, use trial closes to find out whether the buyer "
            "is ready to make an offer today.",
            "A buyer agreed a price on a JVC apartment but delays signing the Form F; secure the signature "
            "and the 10% deposit cheque.",
            "The seller's NOC is taking longer than expected; keep the buyer committed with a clear timeline.",
        ],
    },
    {
        "key": "closing_advanced",
        "area": "closing",
        "level": "advanced",
        "title": "Advanced closing: assumptive closes, urgency and multiple offers",
        "description": (
            "Close with confidence in competitive and hesitant situations: assumptive language, trial closes "
            "at every stage, urgency created from real market facts, multiple offers handled fairly, contract "
            "hesitation resolved, and listing presentations that win the mandate."
        ),
        "duration_minutes": 75,
        "topics": [
            "Assumptive closes: 'When we schedule the viewing…'",
            "Trial closes throughout the conversation",
            "Urgency creation from real facts: competing offers, launch price rises, handover dates",
            "Winning the listing: Form A, pricing strategy and the marketing plan",
        ],
        "practice_scenarios": [
            "Multiple offers: three buyers bid on a Palm Jumeirah apartment; run a fair best-and-final round "
            "and close the seller on the strongest offer, not only the highest.",
            "Contract hesitation: a buyer gets cold feet the night before signing the Form F for an "
            "AED 3.2 million villa in Dubai Hills.",
            "Listing presentation: win an exclusive Form A mandate from a Downtown owner who is talking to "
            "three other agencies.",
        ],
    },
    # --- market expertise -------------------------------------------------------------------------------------
    {
        "key": "market_expertise_beginner",
        "area": "market_expertise",
        "level": "beginner",
        "title": "Dubai market essentials: fees, forms and financing",
        "description": (
            "Know the facts every buyer and tenant asks about: the DLD transfer fee and other purchase costs, "
            "the RERA forms (A, B, F, I), Ejari registration, service charges, and the UAE Central Bank "
            "mortgage caps for expats and nationals."
        ),
        "duration_minutes": 45,
        "topics": [
            "Purchase costs: 4% DLD transfer fee, trustee fee, mortgage registration, agency fee",
            "RERA forms A, B, F and I: who signs what and when",
            "Ejari and the RERA rental index for tenants",
            "Mortgage caps: loan-to-value limits for expats, nationals and off-plan",
        ],
        "practice_scenarios": [
            "A first-time buyer asks what they will pay in total on top of an AED 1.2 million apartment; "
            "explain each cost.",
            "An expat asks how much deposit they need for an AED 3 million first home with a mortgage, and "
            "how that changes above AED 5 million.",
            "A landlord asks what Ejari is and whether the rent increase they want is allowed by the RERA "
            "rental index.",
        ],
    },
    {
        "key": "market_expertise_intermediate",
        "area": "market_expertise",
        "level": "intermediate",
        "title": "Using market data: yields, comparables and community trends",
        "description": (
            "Back every statement with data: rental yields by community (for example JVC against Dubai "
            "Marina), price per square foot from DLD transactions, service charges from the Mollak index, and "
            "the supply pipeline of off-plan handovers."
        ),
        "duration_minutes": 60,
        "topics": [
            "Gross and net rental yield by community",
            "Comparable sales from DLD transaction data",
            "Service charges and their effect on returns",
            "Supply pipeline: upcoming handovers and their effect on rents",
        ],
        "practice_scenarios": [
            "An investor asks whether JVC or Dubai Marina gives the better return; compare gross and net "
            "yields using current rents and service charges.",
            "A seller in Business Bay believes their apartment is worth AED 2,500 per square foot; show "
            "recent transactions in the building.",
            "A tenant asks whether rents in Dubai South will fall when the new handovers arrive; explain the "
            "supply pipeline.",
        ],
    },
    {
        "key": "market_expertise_advanced",
        "area": "market_expertise",
        "level": "advanced",
        "title": "Market authority: advising investors and high-net-worth clients",
        "description": (
            "Advise like a trusted market expert: residency through property (golden visa), portfolio "
            "strategy across ready and off-plan stock, market cycles, regulation changes, and explaining "
            "risks as clearly as opportunities."
        ),
        "duration_minutes": 70,
        "topics": [
            "Golden visa through property: thresholds, mortgaged and off-plan property",
            "Portfolio strategy: ready income against off-plan capital growth",
            "Market cycles, transaction volumes and price indices",
            "Regulation changes and how to explain them to clients",
        ],
        "practice_scenarios": [
            "A high-net-worth buyer wants the golden visa and a 7% net yield; build a two-property portfolio "
            "recommendation and explain its risks.",
            "A client asks whether Dubai is at the top of the cycle; answer with transaction volumes, price "
            "indices and the supply pipeline.",
            "An investor from India asks how a mortgage affects golden visa eligibility and what the bank's "
            "loan-to-value cap will be on their second property.",
        ],
    },
]


def seed(apps, schema_editor):
    TrainingModule = apps.get_model("coaching", "TrainingModule")
    for module in LIBRARY:
        fields = {name: value for name, value in module.items() if name != "key"}
        TrainingModule.objects.update_or_create(brokerage=None, key=module["key"], defaults=fields)


def unseed(apps, schema_editor):
    TrainingModule = apps.get_model("coaching", "TrainingModule")
    TrainingModule.objects.filter(brokerage=None, key__in=[module["key"] for module in LIBRARY]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("coaching", "0001_initial"),
    ]

    operations = [migrations.RunPython(seed, unseed)]
