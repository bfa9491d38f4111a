"""The local analyser's vocabulary: what leads say when they object, hesitate, warm up or ask, and what agents say
when they qualify, present, back a point with data, close, hedge or get defensive, in the Dubai residential market.

Every pattern runs on lower-cased text with typographic apostrophes straightened. Patterns are written for the
meaning, not for one phrasing ("too much", "pricey", "steep", "out of my range" are one signal), so they keep
working on conversations nobody tuned them on.
"""

import re

from .patterns import Rx, rx


# --- numbers and figures --------------------------------------------------------------------------------------

_NUM = r"\d[\d,]*(?:\.\d+)?"
# A figure an agent can back a point with: money, percentages, sizes, rates, durations.
FIGURE = rx(
    rf"(?:aed|dhs|dirhams?|\$|£|€)\s?{_NUM}",
    rf"\b{_NUM}\s?(?:k|m|mn|million|thousand|bn)\b",
    rf"\b{_NUM}\s?(?:%|percent|per ?cent)",
    rf"\b{_NUM}\s?(?:sq\.? ?ft|sqft|square (?:feet|foot|metres|meters)|sq\.? ?m\b|psf)",
    rf"\b{_NUM}\s?(?:dirhams|aed)\b",
    r"\bper (?:sq|square)\b",
    rf"\b{_NUM}\s?(?:-|to|and)\s?{_NUM}\s?(?:k|m|million|thousand|%)",
)
# Distances and travel times: neighbourhood knowledge when the lead asked about an area.
DISTANCE = rx(r"\d+\s?(?:-|to)?\s?\d*\s?(?:minutes?|mins?|km)\b", r"\b(?:one|two|three|four|five|ten|fifteen|twenty) minutes?\b")
# Words that make a figure a statement about the market rather than a spec of one unit.
MARKET_CONTEXT = rx(
    r"\bsold\b", r"\bsales?\b", r"transact", r"transferr?ed", r"changed hands", r"\btraded\b", r"\bindex\b",
    r"\baverag", r"\brent(?:ed|ing|s)? (?:for|at|between|from)\b", r"\bleased\b", r"\blet for\b", r"\byields?\b",
    r"\breturns?\b", r"\broi\b", r"\bgross\b", r"\bnet\b", r"\bper (?:sq|square)", r"\bpsf\b",
    r"service charges?", r"\bfees?\b", r"\bdld\b", r"land department", r"\brera\b", r"\bprices\b", r"\bmarket\b",
    r"comparabl", r"\bcomps?\b", r"\bsimilar\b", r"\blast (?:quarter|year|month|\w+ months)", r"\bthis (?:year|quarter)\b",
    r"\bup (?:about |around |by )?\d", r"\bdown (?:about |around |by )?\d", r"going for", r"\bvaluation\b",
    r"\bstart(?:s|ing)? (?:at|from)\b",
    r"\bltv\b", r"loan.to.value", r"\blend\b", r"down ?payment", r"\bmortgage\b", r"\binterest\b", r"\brates?\b",
    r"\bappreciat", r"capital growth", r"occupancy", r"\bsupply\b", r"\bdemand\b", r"\bcommission\b",
    r"on record", r"\brecords\b", r"\bejari\b", r"per night", r"\bpipeline", r"\bpeak\b", r"\bagency fee", r"\btrustee\b", r"\bnoc\b", r"registration",
)
# Regulation and process knowledge counts as expertise even without a figure.
PROCESS_FACT = rx(
    r"\bescrow\b", r"\brera\b", r"\bdld\b", r"land department", r"\bejari\b", r"\bnoc\b", r"\btrustee\b",
    r"\boqood\b", r"\bform [abfi]\b", r"\bmou\b", r"\bspa\b", r"title deed", r"golden visa", r"\bicp\b",
    r"\bgdrfa\b", r"holiday home permit", r"\bdtcm\b", r"\bdet\b", r"decree", r"rental disputes",
    r"rental (?:index|calculator)", r"\bindex\b", r"\bdewa\b", r"pre-?approval",
)

# --- the lead ---------------------------------------------------------------------------------------------------

# Objections and concerns, by kind. "price", "fees" and "payment" objections need numbers in the answer.
OBJECTIONS = {
    "price": rx(
        r"\btoo (?:high|much|expensive|pricey|steep)\b", r"\bexpensive\b", r"over ?priced", r"\bpricey\b",
        r"\bsteep\b", r"\b(?:is|seems|feels|looks|sounds|that's|thats) (?:like )?(?:a bit |a little |quite |very |way |too )?"
        r"(?:a lot|much|high|rich|pricey|a lot of money)\b",
        r"\ba lot for\b", r"(?:above|over|beyond|out of) (?:my|our) (?:budget|range|price range|league)",
        r"\bcan(?:no|')t afford\b", r"\bnot affordable\b", r"\bcheaper\b", r"\bdiscount\b",
        r"\b(?:above|over) (?:the )?market\b", r"\bnot worth\b", r"more than (?:it'?s|its) worth",
        r"\bover the odds\b", r"saw (?:similar|the same|others?)[^.?!]{0,25} for \d",
        r"(?:can|could) get (?:the same|similar|it|one|something)[^.?!]{0,30} for \d", r"\bcan you do \d",
        r"\bwould (?:the )?(?:landlord|owner|seller) take \d", r"\bcome down\b", r"\blowball\b",
        r"(?:don'?t|do not) want to (?:sell|go|let it go) (?:below|under|for less)", r"below what (?:i|we) paid",
        r"(?:lose|losing) money", r"take a loss", r"\bseems (?:low|tight)\b", r"(?:budget|allowance) (?:is|seems|looks) (?:low|tight|small)",
    ),
    "fees": rx(
        r"(?:commission|agency fee|your fee|your \d%|\d% (?:is|seems))[^.?!]{0,30}(?:high|steep|too much|a lot|expensive)",
        r"other (?:agencies|agents|brokers) (?:charge|take|only)",
        r"service charges?[^.?!]{0,30}(?:high|expensive|a lot|crazy|insane|huge|steep|too much)",
        r"expensive to (?:maintain|run)", r"hidden (?:costs|fees|charges)", r"why you'?re worth",
        r"\bwhy (?:do|should|would|must) (?:i|we) (?:need to |have to )?pay\b",
    ),
    "payment": rx(
        r"\b(?:one|1|single) cheque", r"\bin one go\b", r"(?:payments?|instal?lments?)[^.?!]{0,40}(?:too much|stretch|hard|difficult)",
        r"\ba stretch\b", r"(?:isn't|is not|not) possible for (?:us|me)", r"\bcan(?:no|')t (?:pay|manage|do) (?:that|it|one)",
        r"cash upfront", r"\bimpossible\b",
    ),
    "think": rx(
        r"\b(?:need|have|want|going) (?:some time )?to think", r"\bthink (?:about it|it over)\b", r"\blet me think\b",
        r"\b(?:i'll|we'll|i will|we will) think\b", r"\bsleep on it\b", r"\b(?:i'll|we'll) get back to you\b",
        r"\bnot ready\b", r"\bneed (?:more )?time\b", r"\btake my time\b",
    ),
    "timing": rx(
        r"\b(?:i'll|we'll|i will|maybe|better to|rather|should) wait\b", r"\bwait (?:for|until|till|a year|before)\b",
        r"prices? (?:will|could|might|are going to) (?:fall|drop|crash|come down|go down)", r"\bcrash\b",
        r"\bbubble\b", r"\bcorrection\b", r"not the right time", r"\bnext year\b.{0,20}\b(?:maybe|better)\b",
    ),
    "decision": rx(
        r"(?:my|our) (?:husband|wife|partner|family|parents|father|mother|boss|brother|sister) (?:has|needs|must|"
        r"will need|would need|have|wants) to (?:agree|see|approve|decide|check|look|be on board)",
        r"(?:show|ask|discuss with|talk to|consult|check with) (?:my|our) (?:husband|wife|partner|family|parents|boss)",
        r"\bdecide together\b", r"decisions together",
    ),
    "competitor": rx(
        r"(?:another|other|different) (?:agent|agency|broker|realtor)", r"already (?:working with|have) (?:an? )?(?:agent|broker)",
        r"working with (?:someone|another)", r"\bwhy should i (?:buy|list|go|use|give)",
        r"(?:damac|emaar|nakheel|sobha|another developer)[^.?!]{0,30}(?:offering|offers|cheaper)",
    ),
    "fit": rx(
        r"\btoo far\b", r"\bfar (?:from|out)\b", r"\ba bit far\b", r"commute (?:would be|is|will be) (?:\d|long|too|an hour)",
        r"\blong commute\b", r"\bnoise\b", r"\bnoisy\b", r"\btoo small\b", r"location is (?:too|not|a problem|bad|far)",
        r"traffic (?:is|would be) (?:bad|terrible|a problem|awful)", r"i (?:just )?told you",
        r"not what (?:i|we) (?:asked|wanted|need)", r"doesn'?t work for (?:us|me)", r"you'?re not listening",
    ),
    "concern": rx(
        r"\bworr(?:y|ied)\b", r"\bconcern(?:ed)?\b", r"\bnervous\b", r"\bscared\b", r"\bafraid\b", r"\bwary\b",
        r"\bhesitant\b", r"not (?:so |too |really )?sure (?:about|it|this|that|if it|whether)", r"not convinced",
        r"not comfortable", r"second thoughts", r"heard (?:stories|there were|that)", r"\bleaks?\b", r"\bdelay",
        r"\bscam\b", r"\brejected\b", r"don'?t like being (?:pushed|pressured)", r"doesn'?t sound right",
        r"\bnonsense\b", r"\bridiculous\b", r"that'?s not (?:right|fair|true)", r"\bi disagree\b",
        r"too good(?: to be true)?\b", r"\bin writing\?", r"put (?:us|me) off", r"\bsmell", r"\bdamp\b", r"\bmou?ld\b",
        r"\bcracks?\b", r"didn'?t like", r"\bdisappoint", r"\b(?:issue|problem)s? with\b", r"\bannoying\b",
        r"\bcancel+ed\b", r"felt (?:small|tight|cramped|dark)",
    ),
}
DATA_KINDS = frozenset({"price", "fees", "payment"})
# A lead repeating a requirement the agent ignored, and the vocabulary of an answer to a fit concern
# (distance, noise, size): without it the reply did not address the worry.
FIT_NEEDS = rx(r"i (?:just )?told you", r"not what (?:i|we) (?:asked|wanted|need)", r"you'?re not listening",
               r"\bi (?:need|want|asked for) (?:\d|two|three|four|five|a bigger|more)")
FIT_ANSWER = rx(r"\bminutes?\b", r"\bkm\b", r"\bdrive\b", r"\bcommut", r"\bmetro\b", r"\broad\b", r"\bdistance\b",
                r"close to", r"\bnear", r"\btraffic\b", r"\bquiet", r"glaz", r"\bfacing\b", r"\bside\b", r"\bsorry\b",
                r"apolog", r"\bsize\b", r"sq ft", r"\bhours?\b", r"\bpeak\b")

# The lead owns the property being discussed (a seller or landlord): nothing is being presented to them.
OWNER = rx(r"\b(?:sell|selling|list|listing|rent out|let) (?:my|our)\b", r"\bmy (?:[\w-]+ )?(?:villa|apartment|townhouse|flat|unit|property|house)\b",
           r"\bour (?:[\w-]+ )?(?:villa|apartment|townhouse|flat|house|property)\b", r"\bmy tenant", r"tenant'?s contract", r"\bi own\b")
# A lead who is in the market: enquiring, looking, selling, relocating.
PROSPECT = rx(
    r"\blooking (?:for|to|at)\b", r"\binterested in\b", r"\bwant(?:ing)? to (?:buy|rent|sell|invest|list|lease|move)",
    r"\bthinking (?:of|about) (?:buying|selling|renting|investing|it'?s time|moving)", r"\bplan(?:ning)? to (?:buy|rent|invest|sell)",
    r"\bconsidering\b", r"\bto invest\b", r"\bsaw (?:your|the) (?:ad|listing|post|advert)", r"on your (?:instagram|website|page)",
    r"\benquir", r"\binquir", r"still (?:available|there)", r"\bwhat do you have\b", r"\brelocat", r"\bmoving (?:to|from)\b",
    r"\bwe(?:'re| are) moving\b", r"\bi(?:'d| would) like to (?:sell|buy|rent|list|invest)", r"what (?:could|can) i get",
    r"how much can i get", r"what it'?s worth", r"what (?:my|our) [\w ]{0,30}(?:is|'s) worth", r"\bbuy-to-let\b", r"\bfilled in (?:a|the) form\b", r"\bneed a\b",
    r"(?:keen|want) to buy", r"\bfirst (?:time )?(?:buyer|purchase)\b", r"looking to invest", r"time to buy",
)
# Interest or warmth in what the agent offers (an enquiry is warm too: see PROSPECT).
INTEREST = rx(
    r"\binterested\b", r"\bkeen\b", r"\blove(?:d)? (?:it|the|this|that)\b", r"\bliked? (?:it|the|this|that)\b",
    r"\bsounds? (?:good|great|perfect|nice|lovely|ideal|interesting|amazing|like a dream|beautiful)",
    r"\b(?:looks|it'?s|that'?s) (?:great|beautiful|perfect|lovely|ideal)\b", r"\bperfect\b", r"exactly (?:what|right)",
    r"\bcan (?:i|we) (?:see|view|visit|book|talk)", r"\bi(?:'d| would)(?: still)? like to (?:see|view|visit)",
    r"\bwant (?:to )?see\b", r"\bsend me\b", r"next steps?\b", r"what do (?:i|we) need", r"how do (?:i|we) (?:reserve|book)",
    r"\blet'?s (?:do it|try|go)\b", r"\bconvincing\b", r"\bwow\b", r"\boh nice\b", r"\bthat'?s (?:a fair|reassuring)",
    r"\bis it possible to see\b",
)
# The relationship is over or paused: no close is owed.
NOT_IN_MARKET = rx(
    r"remove (?:my|me|our)", r"\bstop\b", r"\bunsubscribe\b", r"already bought", r"bought (?:already|elsewhere)",
    r"\bnot now\b", r"not interested", r"got the keys", r"settled in", r"\bmoved in\b", r"thank(?:s| you)[^.?!]{0,20}(?:all )?your help",
    r"couldn'?t have done it without you",
)
# The conversation is past the discovery stage (after a viewing, an offer, a handover).
LATE_STAGE = rx(
    r"\b(?:viewed|saw|seen|visited)\b[^.?!]{0,50}\b(?:yesterday|today|last week|this morning)",
    r"\b(?:after|before) (?:the|our|yesterday'?s) viewing", r"thanks for (?:yesterday|today|the viewing|yesterday'?s)",
    r"(?:great|good|nice|lovely) (?:showing|meeting|seeing) you", r"offer (?:was |being |has been )?accepted",
    r"accepted (?:the |our |your )?(?:offer|\d)", r"seller accepted", r"\bwe want to offer\b",
    r"\b(?:our|my) (?:[\w.]+ )?offer\b", r"rejected (?:our|my|the)",
    r"\bready to (?:list|sign|proceed|go ahead|buy)\b", r"\bas planned\b", r"\bas discussed\b", r"when we spoke",
    r"\b(?:we|i) (?:loved|liked|enjoyed)\b[^.?!]{0,50}\b(?:yesterday|today|this morning|last week)", r"(?:at|during) the viewing",
    r"handover notice", r"got the keys", r"\bsnagging\b", r"\bmy tenant\b", r"tenant'?s contract", r"\brenew(?:al|ing)?\b",
    r"landlord wants to (?:increase|raise)",
    r"\bmy (?:[\w-]+ )?unit\b", r"\bis due\b",
)
# Facts a lead volunteers (so the agent need not ask).
STATED_BUDGET = rx(
    rf"\b(?:budget|max|maximum|ceiling)\b[^.?!]{{0,20}}{_NUM}", rf"\b(?:up to|around|about|under) (?:aed |£|\$)?{_NUM}",
    rf"{_NUM}\s?(?:k|m|mn|million|thousand)\b", rf"(?:aed|£|\$|€)\s?{_NUM}",
)
STATED_TIMELINE = rx(
    r"\b(?:january|february|march|april|may|june|july|august|september|october|november|december|jan|feb|sept?|oct|nov|dec)\b",
    r"\bnext (?:month|year|week|few months)\b", r"\bthis (?:year|month|summer|autumn|winter|spring)\b",
    r"\bwithin (?:a |\d|the next|this|six|three|two)", r"\bin (?:the next )?\d+ (?:months|weeks)", r"\basap\b",
    r"\bby (?:the )?(?:end|start|summer|spring|autumn|winter|\d)", r"\bbefore (?:the|my|our|school|ramadan|summer)",
    r"\bno rush\b", r"\blease (?:ends|expires)", r"\bq[1-4]\b", r"\bmove (?:in|by)\b",
)
STATED_FINANCING = rx(r"\bcash\b", r"\bmortgage\b", r"pre-?approv", r"\bcheques?\b", r"\bloan\b")

# --- lead questions -----------------------------------------------------------------------------------------------

MARKET_QUESTION = rx(
    r"\bmarket\b", r"\bprices\b", r"price trend", r"how (?:have|are) prices", r"good investment", r"\binvest",
    r"\breturns?\b", r"\byields?\b", r"\broi\b", r"rental income", r"\bincome\b", r"\bfees?\b", r"\bcosts?\b",
    r"\bdld\b", r"\bvisa\b", r"\bmortgage\b", r"service charges?", r"\bejari\b", r"\bdeposit\b", r"\brera\b",
    r"\bnoc\b", r"\bairbnb\b", r"short.term", r"holiday home", r"\bnormal\b", r"good (?:for|area)", r"which area",
    r"\bor in\b", r"\bcompare", r"how long does it take", r"\bcommission\b", r"what else will", r"\bincrease\b",
    r"is (?:that|it|this) (?:allowed|legal|possible)", r"worth\b", r"going up or down", r"\btrend", r"what (?:could|can) i get", r"is it (?:a )?fair",
    r"\bbubble\b", r"overpriced", r"\boqood\b", r"\bspa\b", r"title deed", r"\bmou\b", r"\bform [abfi]\b", r"\btrustee\b",
    r"\bescrow\b", r"should (?:we|i) (?:look at|buy in|go for|choose|consider|pick)", r"which (?:community|area) is better",
    r"better for (?:families|kids|investment|renting)", r"good (?:deal|price|buy)\b", r"fair price", r"worth it",
    r"\bprotect(?:ion|ed)\b", r"\bsafe\b",
)
# Worries about the market that call for market data even when not phrased as a question.
MARKET_CONCERN = rx(r"service charges?", r"hidden (?:costs|fees)", r"\bbubble\b", r"\bmarket\b", r"prices? will")
PROPERTY_QUESTION = rx(
    r"\bavailable\b", r"\bbed(?:room)?s?\b", r"\bbr\b", r"\bsize\b", r"\bsq ?ft\b", r"\bbig\b", r"\bfloor\b",
    r"\bview\b", r"\bfurnished\b", r"\bchiller\b", r"\bparking\b", r"maid'?s? room", r"\bgarden\b", r"\bpool\b",
    r"\bbalcony\b", r"\bkitchen\b", r"\bpets?\b", r"\bmetro\b", r"school bus", r"\bsizes\b", r"\bbrochure\b", r"\bdetails\b",
    r"\bvideo\b", r"\bphotos?\b", r"\bpictures?\b", r"what are they", r"tell me more", r"\bthe project\b",
    r"when is (?:it )?(?:the handover|available)", r"\blayout\b", r"\bmove in\b", r"\bready\b", r"off.?plan",
    r"\bhandover\b",
)
# A specific listing named by the lead ("the 1 bed in JVC", "your listing", "the Frond G signature villa").
LISTING_REFERENCE = re.compile(
    r"\b(?:the|your|this|that)\b(?:\s+[\w'&-]+){0,4}?\s+(?:studio|apartment|flat|villa|townhouse|penthouse|unit|office|"
    r"listing|property|project|launch|garden home|\d\s?br|\d\s?-?\s?bed(?:room)?s?)\b"
)

# --- the agent ----------------------------------------------------------------------------------------------------

# Discovery dimensions an agent can ask about. Sellers and landlords are qualified on the same axes
# (price expectation, timeline, mortgage on the property, motivation).
QUALIFY = {
    "budget": rx(
        r"\bbudget\b", r"price range", r"\bspend\b", r"\bafford\b", r"\bceiling\b", r"\bmax(?:imum)?\b",
        r"how much (?:are|would|do|can|did)", r"what (?:price|rent|amount)", r"price (?:in mind|expectation)",
        r"ticket size", r"\brange\b", r"annual rent", r"per year", r"comfortable (?:with|paying|spending)",
        r"monthly amount", r"\bhow much\b.{0,30}\b(?:you|your)\b", r"what (?:kind of )?(?:budget|numbers?)", r"for how much",
    ),
    "timeline": rx(
        r"\bwhen\b", r"\btimeline\b", r"time ?frame", r"how soon", r"move in\b", r"\bby when\b", r"\bdeadline\b",
        r"\bdates?\b", r"(?:need|want|looking|hoping|planning) to (?:move|buy|sell|complete)", r"\bcomplete\b",
        r"\btiming\b", r"how long (?:do|would|will) you (?:plan |want |intend )?(?:to )?(?:hold|stay|keep)",
    ),
    "financing": rx(
        r"\bcash\b", r"\bmortgage\b", r"\bfinanc", r"pre-?approv", r"\bloan\b", r"\bcheques?\b", r"payment plan",
        r"\bmonthly\b", r"housing programme", r"\bsalary\b", r"\ballowance\b",
    ),
    "purpose": rx(
        r"\blive in\b", r"\bliving in\b", r"\binvest(?:ment|ing|or)?\b", r"rent (?:it )?out", r"own (?:use|company)",
        r"end use", r"holiday home", r"main residence", r"buying or renting", r"renting or buying", r"buy or rent",
        r"\bwhy\b", r"prompting", r"\breason\b", r"motivation", r"selling to buy", r"cashing out", r"for your family",
        r"permanent move", r"own use", r"rental income", r"capital growth", r"what (?:you'?d|would you) do with",
        r"(?:be )?buying (?:it )?for\b", r"what(?: is|'s) it for",
        r"for your own",
    ),
    "decision": rx(
        r"who else", r"\bdecision", r"part of the purchase", r"buying alone", r"both of you", r"\bjointly\b",
        r"need to agree",
    ),
    "needs": rx(
        r"how many (?:bed|bedroom|people|children|kids)", r"\bbedrooms?\b", r"\bfurnished\b", r"\bparking\b",
        r"which (?:area|community|schools?)", r"what (?:area|type)", r"must.haves?", r"(?:apartment|villa|townhouse) or",
        r"who (?:will|else|'?s) (?:be )?(?:living|live|moving)", r"who'?s moving", r"how many (?:of you|staff)",
        r"\bschools?\b", r"\bvacant\b", r"\btenanted\b", r"\boccupied\b", r"office (?:will be|is)", r"area you love",
        r"just you", r"what grades?", r"how old", r"where (?:you|they|he|she|the \w+) (?:will )?work", r"family size", r"manage it (?:yourself|themselves)", r"first (?:purchase|property|home|time buying)", r"use an? (?:operator|property manager)", r"what (?:you'?re|are you) (?:hoping|looking|planning) to (?:buy|rent)",
    ),
}
# "When would you like to see it?" is a close, not a timeline question.
VIEWING_QUESTION = rx(r"\bsee (?:it|them|both)\b", r"\bview\b", r"\bvisit\b", r"\bfree\b", r"\bmeet\b", r"\bcall\b")
QUESTION_START = re.compile(
    r"^(?:what|when|how|which|who|where|why|would|could|can|do|does|did|is|are|will|shall|may|have|has|any)\b"
)
REQUEST_QUESTION = rx(r"\bcan i ask\b", r"\bmay i ask\b", r"\bcould you tell me\b", r"\btell me (?:your|what|when|how|about)",
                      r"\blet me know (?:your|what|when|how)\b")
CONFIRM_QUESTION = rx(r"is that still (?:right|correct|the case)", r"still (?:the same|right)\b", r"does that sound right")

# An answer that starts with a yes or a no (after a greeting).
YES_NO = re.compile(r"^(?:hi\b[^,.!]*[,.!]\s*)?(?:yes|yeah|yep|no|nope|sure|of course|absolutely|it is|it's available|still available)\b")
EMPATHY = rx(
    r"\bi (?:completely |totally |really |fully )?(?:understand|hear you|get it|know)\b", r"\bunderstandabl",
    r"\bfair (?:question|point|concern|enough|worry|thought)\b", r"\bthat'?s fair\b", r"\bmakes (?:total )?sense\b",
    r"\b(?:good|great|sensible|reasonable|valid) (?:question|point|concern|worry|thing to (?:ask|check))\b",
    r"\bvery (?:reasonable|sensible)\b", r"\bof course\b", r"\bi appreciate\b", r"thanks? (?:you )?for (?:being upfront|telling me|asking)",
    r"good that you asked", r"\bi'?m sorry\b", r"\bnobody wants\b", r"big decision", r"\bi'?d rather you\b",
    r"\btotally fair\b", r"\b(?:felt|feel) the same\b", r"\bfound that\b", r"number one concern", r"\bcompletely\b",
)
HOSTILE_QUESTION = rx(r"interested or not", r"^why\??$", r"^why\? ", r"what do you expect")
SOLUTION = rx(
    r"\bi (?:can|could|'ll|will) (?:ask|propose|arrange|send|bring|set up|connect|put|show|prepare|introduce|check)",
    r"\bi'?d (?:suggest|recommend)", r"\bwe could\b", r"\boptions?\b", r"\bcompromise\b", r"\binstead\b",
    r"\bwould (?:a|it|that)\b[^.?!]{0,40}\b(?:work|help|suit)", r"\byou could\b", r"\bhere'?s (?:what|why)\b",
    r"\blet'?s\b", r"\bshall (?:i|we)\b",
)
DEFENSIVE = rx(
    r"that'?s the price", r"the price is the price", r"price is (?:fixed|final)", r"\b\d+k? final\b",
    r"take it or leave it", r"(?:owner|landlord|seller) (?:won'?t|will not|doesn'?t|is firm|is not flexible)",
    r"won'?t go lower", r"not negotiable", r"everyone (?:charges|pays)", r"that'?s (?:our|the) (?:fee|rule|policy)",
    r"that'?s the rule", r"(?:we )?don'?t do discounts", r"\bno discounts?\b", r"not my problem",
    r"if you can'?t afford", r"\byour loss\b", r"interested or not", r"(?:probably|are) (?:fake|not real)",
    r"just telling you the reality", r"you can decide (?:yourself|alone)", r"^why\?", r"we are a big company",
    r"\btrust me\b",
    r"^(?:yes|yeah|ok|okay),? but\b",
)
DISPARAGE = rx(r"don'?t know anything", r"\bhustlers?\b", r"\bliars?\b", r"\bscammers?\b", r"\buseless\b", r"\bclueless\b",
               r"\bamateurs?\b")
PRESSURE = rx(
    r"someone else will (?:take|book|buy|grab|get)", r"if you don'?t (?:decide|book|want it)", r"decide today",
    r"\b(?:book|pay|sign|reserve)\b[^.?!]{0,30}\btoday\b", r"or you(?:'ll| will)? lose", r"\byou(?:'ll| will) lose (?:it|the|this)", r"you(?:'ll| will) regret", r"last chance",
    r"won'?t last", r"sell(?:s|ing)? out\b", r"before it'?s gone", r"don'?t wait too long",
    r"\bbuy now\b", r"better to buy now", r"lots of people want", r"many people are buying", r"everybody is buying",
    r"other buyers", r"only going up", r"\bhurry\b", r"will sell fast",
)
PASSIVE = rx(r"take your time", r"\blet me know\b", r"^(?:ok|okay|sure|no problem|noted|alright)[.!]?$", r"^ok sure",
             r"no problem", r"^sure\b")
CONCEDE = rx(r"(?:ok|fine|alright)[^.?!]{0,20}(?:i'?ll|i will|we can|we'?ll|i can)(?: also)? (?:drop|reduce|lower|give|do|cut|match)",
             r"\bdrop to \d", r"\bjust please don'?t")

UNCERTAIN = rx(
    r"\bnot (?:really )?sure\b", r"\bno idea\b", r"\bdon'?t (?:really )?know\b", r"\bhard to say\b", r"something like that",
    r"\bi guess\b", r"don'?t (?:really )?follow", r"you should check with", r"\bnot an expert\b", r"^(?:it )?depends\W*$",
    r"the office will confirm", r"the agency will tell you",
)
HEDGE = rx(r"\bi think\b", r"\bmaybe\b", r"\bprobably\b", r"\bperhaps\b", r"\bmight be\b")
HYPE = rx(
    r"prices? (?:always|only) (?:go|goes|going)", r"always a good (?:buy|investment)", r"can'?t go wrong",
    r"best investment", r"will double", r"never drop", r"will boom", r"market is (?:\w+ )?(?:hot|crazy)",
    r"is the future", r"everyone is saying", r"returns are (?:very )?good", r"best place to invest",
    r"good time to (?:enter|buy)", r"going up every day", r"only going up", r"only go one way", r"(?:gone|going) up a lot",
    r"cheap compared", r"\bsell it in a week", r"this time is different",
    r"\beasily\b", r"very high demand", r"prices will never", r"never fails?\b", r"(?:is|are) (?:very |totally |100% )?safe\b",
)
GUARANTEE = rx(r"\bguarantee", r"100% sure", r"\bno risk\b", r"risk.free", r"zero risk")


# Property features, and the phrasing that turns a feature into a benefit for this buyer or tenant.
FEATURE = rx(
    r"\bbed(?:room)?s?\b", r"\d\s?-?\s?br\b", r"(?<!per )(?<!\ba )(?:sq\.? ?ft|square (?:feet|foot|metres)|\bsq m\b)", r"\bviews?\b(?!\s(?:it|them|both|the|this|that|on|at|a)\b)",
    r"\bfloor\b", r"\bgardens?\b", r"\bpools?\b", r"\bterraces?\b", r"\bbalcon(?:y|ies)\b", r"\bkitchens?\b", r"\bparking\b",
    r"\blayout\b", r"\bmajlis\b", r"maid'?s? room", r"\bstudy\b", r"\bfurnished\b", r"\bupgraded\b", r"\brenovated\b",
    r"\brepainted\b", r"\brebuilt\b", r"\bcorner\b", r"\bfac(?:es|ing)\b", r"backs? onto", r"\bplot\b", r"\bbeach\b",
    r"\blagoons?\b", r"\bliving room\b", r"\bwardrobes?\b", r"\bappliances\b", r"\bwindows?\b", r"\ben-suite\b",
    r"minutes? (?:walk|drive|away|from)", r"\bwalk to\b", r"\boverlooks?\b", r"\bgym\b", r"\bconcierge\b",
    r"\bamenities\b", r"\bglass\b", r"\bpantry\b", r"\bstaff wing\b", r"\bac\b|air.?con", r"double glazed",
)
SPECIFIC_LISTING = rx(
    r"\b(?:this|the)(?: [\w-]+)? (?:unit|apartment|flat|villa|townhouse|penthouse|property|home|office|one|studio|"
    r"listing|\d-bed(?:room)?)\b",
    r"\bit(?:'s| is| has| faces| sits| comes| overlooks| backs| opens)\b", r"\bi have (?:a|an|two|three)\b",
    r"\bthere'?s (?:a|one)\b", rf"{_NUM}\s?(?:sq\.? ?ft|sqft|square feet)", r"\boption \d", r"\b\d+(?:st|nd|rd|th) floor\b",
)
BENEFIT = rx(
    r"\bso (?:that )?(?:you|your|the (?:[\w]+ )?(?:kids|children|boys|girls|ones|family|school run|dogs?|cats?|pets|baby)|"
    r"tenants|buyers|guests|kids|it|he|she|they)\b[\w' ]{0,30}?\b(?:is|are|be|can|could|get|"
    r"gets|have|has|will|would|won'?t|don'?t|barely|still|even|rents|sells|resells|works|stays|skip|swim|watch|walk|"
    r"need|wake|enjoy|see|save|got|cycle|play|move)\b",
    r"\bwhich (?:you|he|she|they)(?:'ll| will| would|'d)? (?:appreciate|enjoy|like|love|value)",
    r"\b(?:which means|meaning) (?:you|your)\b",
    r"\b(?:perfect|ideal|great|handy|lovely|useful|important|good) (?:for|if) (?:you|your|the kids|kids|families|a family|"
    r"entertaining|working|a growing)",
    r"\byou(?:'d| would|'ll| will| can| could) (?:be able|barely|skip|swim|watch|work from|move straight|enjoy|walk|"
    r"wake|receive|clear|exit)\b",
    r"\bfor your (?:family|kids|children|husband|wife|daughters?|sons?|staff|tenants|commute|office|lab|dog)",
    r"\bwithout (?:any|crossing|renovating|neighbours|them|the|a)\b", r"\bsaves? you\b", r"\blets you\b", r"\bgives you\b",
    r"\bno (?:waiting|need)\b", r"\byour (?:commute|school run|morning|evening|walk)\b",
    r"\b(?:big|large|enough|space|room)(?: enough)? for (?:a|an|your|the|two|three|\w+ing)\b", r"\bworks as (?:a|an)\b",
    r"\bwhich is what\b", r"\b(?:the kids|your kids|the children|the family) (?:will|'ll|would|'d) (?:love|enjoy|live in)\b", r"\bwhat (?:families|tenants|buyers) (?:usually )?ask for\b", r"\bfor the kids\b",
)
VAGUE_PRAISE = rx(
    r"\bamazing\b", r"\bstunning\b", r"world.class", r"\bluxury\b", r"very good (?:unit|property|project|one)",
    r"\bbest (?:in|developer|project|unit)\b", r"\bfantastic\b", r"once in a lifetime", r"\bpremium\b",
    r"great deal", r"everything you need", r"you will love it", r"\bvery nice\b",
)
DODGE = rx(
    r"call me", r"better to call", r"check the (?:pictures|photos|brochure|listing)", r"details (?:are )?in the brochure",
    r"depends on you", r"all are good", r"\bi(?:'ll| will) check\b", r"will send later", r"\bsend later\b",
    r"please check", r"\bnot sure\b", r"check (?:the )?link", r"\bpls check\b", r"check[\w ]{0,15} pls\b",
)

# Next steps: an action, a specific time, and the lead agreeing to it.
NEXT_STEP = rx(
    r"\bview(?:ing)?\b", r"\bsee (?:it|them|both|you|the)\b", r"\bvisit\b", r"\bshow you\b", r"\bmeet\b", r"\bmeeting\b",
    r"\bcall\b", r"\bspeak\b", r"\btalk\b", r"video", r"\bzoom\b", r"walk.?through", r"\bsign(?:ing)?\b", r"\beoi\b",
    r"\breserve\b", r"\bbook(?:ed)?\b", r"\bcome (?:to|by|in|and)\b", r"\binspection\b", r"\btour\b", r"\bdrive\b",
    r"put (?:it|the offer|your offer) to", r"\bsend\b", r"\bdraft\b", r"\bprepare\b", r"\bfile\b", r"\bphotographer\b",
    r"\bconfirm\b", r"\bgo through\b", r"\bdecide\b",
)
SPECIFIC_TIME = rx(
    r"\b(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday|mon|tue|tues|wed|thu|thurs|fri|sat|sun)\b",
    r"\btomorrow\b", r"\btonight\b", r"\btoday\b", r"\bthis (?:afternoon|evening|morning|weekend)\b", r"\bnoon\b",
    r"\b\d{1,2}(?::\d{2})?\s?(?:am|pm)\b", r"\bat \d{1,2}(?::\d{2})?\b", r"\b\d{1,2}:\d{2}\b",
    r"\b\d{1,2}(?:st|nd|rd|th)?(?: of)? (?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\b",
    r"\bthe \d{1,2}(?:st|nd|rd|th)\b", r"after (?:maghrib|asr|isha|work)", r"\bby \d",
)
ACCEPT = rx(r"\b(?:yes|yeah|yep|sure|ok|okay|works|fine|good|great|perfect|done|confirmed|deal|see you|talk then|thanks|"
            r"thank you|cheers|"
            r"inshallah)\b", "👍")
DECLINE = rx(r"\bcan'?t\b", r"\bcannot\b", r"\bnot (?:free|available|possible)\b", r"\bno,", r"^no\b", r"\bbusy\b",
             r"\b(?:i'?m|we'?re|i am|we are) not\b", r"\bwon'?t\b", r"\bdon'?t\b")
CONFIRMATION = rx(r"\bbooked\b", r"\bconfirmed\b", r"^done\b", r"\bsee you\b", r"\btalk then\b", r"\bspeak then\b",
                  r"\bspeak tomorrow\b", r"\bsending the invite", r"\bi'?ll send the invite")
LEAD_COMMITMENT = rx(r"\b(?:i'?ll|we'?ll|will) (?:send|sign|transfer|pay|bring|call|confirm)\b")
VAGUE_CLOSE = rx(
    r"\blet me know\b", r"\bi'?ll send (?:you )?(?:some|something|a few|more)\b", r"\bfeel free\b", r"get back to me",
    r"whenever you'?re ready", r"take your time", r"have a (?:look|think)", r"call me when", r"come anytime",
    r"\bi will check and send\b", r"if you change your mind", r"anything else just",
)
TRIAL_CLOSE = rx(r"which (?:suits|works) you", r"\bshall (?:i|we)\b", r"would [^.?!]{0,40}(?:work|suit)",
                 r"\bor (?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)\b", r"how does that sound")

# Wrong facts about fees and thresholds every Dubai agent should know.
DLD_RATE = re.compile(r"\b(?:dld|land department)(?: transfer)?(?: fee)?(?: is| of| at)?(?: around| about| roughly)? "
                      r"(\d+(?:\.\d+)?)\s?%|(\d+(?:\.\d+)?)\s?% (?:dld|land department|transfer fee)")
VISA_THRESHOLD = re.compile(r"\bvisa\b[^.?!]{0,60}?\b(\d+(?:\.\d+)?)\s?(?:m|mn|million)\b|"
                            r"\b(\d+(?:\.\d+)?)\s?(?:m|mn|million)\b[^.?!]{0,60}?\bvisa\b")

# Expertise domains (the seed's RealEstateExpertiseArea), by vocabulary.
EXPERTISE = {
    "pricing_valuation": rx(r"\bprices?\b", r"\bvaluation\b", r"\bworth\b", r"per (?:sq|square)", r"\bpsf\b", r"\bsold\b",
                            r"\bcomps?\b", r"comparabl", r"\basking\b", r"\boffer\b", r"transact", r"\boverpriced\b"),
    "neighbourhood_knowledge": rx(
        r"\bschools?\b", r"\bmetro\b", r"\bcommute\b", r"\bbeach\b", r"\bmall\b", r"\bpark\b", r"\btraffic\b",
        r"\bcommunity\b", r"\bneighbourhood\b", r"\bmarina\b", r"\bjvc\b", r"\bdowntown\b", r"\bpalm\b", r"business bay",
        r"arabian ranches", r"dubai hills", r"\bjlt\b", r"creek harbour", r"al barsha", r"\bmirdif\b", r"damac hills",
        r"town square", r"al furjan", r"dubai south", r"city walk", r"\bjbr\b", r"good for families"),
    "financing": rx(r"\bmortgage\b", r"\bloan\b", r"\bltv\b", r"down ?payment", r"pre-?approv", r"\bcheques?\b",
                    r"payment plan", r"instal?lment", r"\bbanks?\b", r"\blend", r"\bfinanc", r"\binterest rate"),
    "regulation_process": PROCESS_FACT,
    "investment": rx(r"\byields?\b", r"\broi\b", r"\breturns?\b", r"rental income", r"capital growth", r"\bappreciat",
                     r"occupancy", r"\binvest", r"\bgross\b", r"\bnet\b", r"buy-to-let", r"short.term"),
}


def normalise(text: str) -> str:
    return text.lower().replace("\u2019", "'").replace("\u2018", "'").replace("\u2013", "-").replace("\u2014", "-")


NEGATION = re.compile(r"\b(?:not|no|never|nothing|can'?t|cannot|don'?t|doesn'?t|isn'?t|won'?t|without|hardly)\b")
_CLAUSE_BREAK = re.compile(r"[,.;:!?]|\bbut\b")
RHETORICAL = re.compile(r"\b(?:isn'?t|aren'?t|wasn'?t|don'?t|doesn'?t)\s+(?:it|that|this|they|there|you)\b")


def affirmed(pattern: Rx, text: str) -> bool:
    """Whether `pattern` occurs in `text` and is not negated ("I don't think it's too expensive").

    A negator in the four words before a match, within its clause, cancels it, except in a rhetorical question
    ("isn't it a bit far?"), which states the worry rather than denying it.
    """
    for match in pattern.finditer(text):
        clause = _CLAUSE_BREAK.split(text[: match.start()])[-1]
        before = " ".join(clause.split()[-4:])
        if NEGATION.search(before) and not RHETORICAL.search(before):
            continue
        return True
    return False
