"""Precise phrase lists: only where a phrase explains itself and no labelled data exists.

The trained classifiers (``processors.classifiers``) judge sentiment, irony,
emotion, offensive language and hate. What is left here is what a person can
read off the words alone and would want quoted back as the reason: a threat, a
request for comment, a lawyer, a near miss on the road, a bereavement, a
follower-selling pitch. Each pattern names a *situation*, never a lone
ambiguous word: "my dad died" is grief, "my laptop died" is not; "crash" alone
is an app problem, "car crash" a safety matter.

Every pattern is matched case-insensitively on word boundaries unless it says
otherwise; a match's own text becomes the evidence shown to people.
"""

from __future__ import annotations

import re

__all__ = [
    "ABUSE",
    "ACCOUNT_SECURITY",
    "ACK",
    "BUILTIN_TOPICS",
    "DATA_BREACH",
    "FIRST_PERSON",
    "GIVE_UP",
    "GRIEF",
    "HEADLINE_WORDS",
    "HEALTH",
    "INSULT",
    "LEGAL",
    "MINORS",
    "MONEY",
    "PHISHING",
    "PRAISE",
    "PRESS",
    "PROBLEM",
    "PROFANITY",
    "PROMOTION",
    "QUESTION",
    "REQUEST",
    "RESOLVED",
    "SAFETY",
    "SECOND_PERSON",
    "SELF_HARM",
    "SPAM",
    "THANKS",
    "THREAT",
    "USE",
    "WARM",
]


def _rx(pattern: str, flags: int = re.IGNORECASE) -> re.Pattern[str]:
    return re.compile(rf"(?<![\w'])(?:{pattern})(?![\w'])", flags)


_KIN = (
    r"(?:mum|mom|mommy|mummy|mother|dad|daddy|father|husband|wife|partner|son|daughter|baby"
    r"|brother|sister|friend|best friend|nan|nana|nanna|gran|granny|grandma|grandad|granddad"
    r"|grandpa|grandmother|grandfather|aunt|auntie|uncle|cousin|nephew|niece|dog|cat|pup"
    r"|puppy|fianc[eé]e?|boyfriend|girlfriend|bestie|child|kid)"
)
_ME = r"(?:i|i'm|i've|i'd|i'll|im|ive|my|me|mine|myself)"

# --- personal topics -------------------------------------------------------------------------
SELF_HARM = _rx(
    r"suicid(?:e|al)|self[- ]harm(?:ing)?|kill(?:ing)? myself|end(?:ing)? (?:it all|my life)"
    r"|want(?:ed)? to die|don'?t want to (?:live|be here)|overdos(?:e|ed)|cutting myself"
)
GRIEF = _rx(
    r"passed away|passed on|funeral|bereave(?:d|ment)|griev(?:e|ing)|condolences"
    r"|rest in peace|in (?:loving )?memory of|memorial service|lost (?:my|our) "
    + _KIN
    + r"|(?:my|our) (?:\w+ )?"
    + _KIN
    + r" (?:has |had |just |sadly )?(?:died|passed)"
    r"|death of (?:my|our) "
    + _KIN
    + r"|(?:RIP|R\.I\.P\.?) (?:to )?(?:my |our |sweet |dear )?"
    + _KIN
)
HEALTH = _rx(
    r"cancer|chemo(?:therapy)?|diagnosed (?:with|as)|my diagnosis|in (?:the )?hospital"
    r"|hospitali[sz]ed|(?:my|had|having|after) surgery|chronic(?:ally)? ill|chronic pain"
    r"|depression|depressed|anxiety|panic attacks?|mental health|disabilit(?:y|ies)"
    r"|disabled (?:person|people|child|son|daughter|mum|mom|dad|access|parking|badge|toilet)"
    r"|wheelchair|pregnan(?:t|cy)|miscarriage|in icu|a&e|seizures?|epilep(?:sy|tic)"
    r"|my (?:doctor|gp|therapist|meds|medication|chemo|treatment)|dialysis|stroke"
)
MINORS = _rx(
    r"my (?:\d+ ?(?:yo|y/o|year old|yr old) )?(?:son|daughter|kids?|children|child|baby"
    r"|toddler|little one|twins|stepson|stepdaughter)"
    r"|our (?:son|daughter|kids?|children|child|baby|toddler|little one)"
    r"|(?:1[0-7]|[1-9])[- ]?(?:yo|y/o|years?[- ]old|yr[- ]old)|school run|teenager"
)

BUILTIN_TOPICS: dict[str, re.Pattern[str]] = {
    "politics": _rx(
        r"politic(?:s|al|ians?)|trump|maga|brexit|tor(?:y|ies)|labour party|lib ?dems?"
        r"|democrats?|republicans?|gop|liberals?|leftists?|left[- ]wing|right[- ]wing"
        r"|socialis[mt]|communis[mt]|fascis[mt]|elections?|vote (?:for|against|leave|remain)"
        r"|voters?|ballot|prime minister|president (?:trump|obama|biden)|obama|hillary"
        r"|clinton|biden|boris|theresa may|corbyn|farage|parliament|congress|senate"
        r"|immigra(?:tion|nts?)|refugees?|border wall|deport(?:ed|ation)?|abortion"
        r"|pro[- ]?life|pro[- ]?choice|gun control|nra|impeach(?:ed|ment)?|antifa|woke"
    ),
    "religion": _rx(
        r"religio(?:n|us)|church|mosque|synagogue|islam(?:ic)?|muslims?|christians?|jews?"
        r"|jewish|hindu|atheis[mt]|blasphem(?:y|ous)"
    ),
}
"""Topics a profile may list in ``sensitive_topics`` that no single phrase would catch."""

# --- hostility -------------------------------------------------------------------------------
THREAT = _rx(
    r"i(?:'ll| will|'m going to| am going to| gonna) (?:kill|hurt|find|get|stab|shoot|beat)"
    r" (?:you|u|ya)|watch your back|i know where you live|burn (?:it|you|the place) down"
    r"|(?:bomb|shoot up) (?:the|your|you)|you(?:'re| are) dead|you(?:'ll| will) regret"
    r"|come (?:down|round) there and"
)
_TARGET = (
    r"(?:you|u|ya|you lot|you guys|you people|y'?all|ur staff|your (?:staff|team|company"
    r"|employees|drivers|agents|reps|workers|support|people|ceo|management))"
)
_INSULT = (
    r"(?:(?:fucking |bloody |absolute |complete |total |utter |useless |lazy |incompetent "
    r"|stupid |brainless |pathetic )*(?:idiots?|morons?|scum(?:bags?)?|cunts?|twats?|pricks?"
    r"|wankers?|retards?|clowns|losers|imbeciles|dickheads?|bastards?|assholes?|arseholes?"
    r"|pieces? of shit|trash|garbage|thieves|crooks|liars|jokers|muppets))"
)
ABUSE = _rx(
    _TARGET + r"(?: \w+){0,3}? (?:are|r|is|'re|re|bunch of|lot of)?(?: an?| all| such| just)?"
    r" " + _INSULT + r"|absolute scum|piece of shit|fuck (?:you|u|off|ya)|f\*+ck (?:you|off)"
    r"|go to hell|kill yourself|kys|die in a (?:fire|hole)|screw you|stfu"
    r"|are (?:you|u) (?:retarded|stupid|thick|dumb|deaf|blind|an idiot|a moron)"
    r"|(?:dumb|stupid|fucking) (?:fucking )?(?:cunts?|idiots?|morons?|bitch(?:es)?)"
)
PROFANITY = _rx(r"fuck\w*|shit\w*|crap|bullshit|bloody|damn|wtf|arse|ass(?:hole)?|bastards?")
"""Plain swearing: read as offensive language only when the classifier is not there."""
INSULT = _rx(
    r"idiots?|morons?|scum(?:bags?)?|cunts?|twats?|retard(?:s|ed)?|dickheads?|wankers?"
    r"|pricks?|imbeciles?|piece ?o(?:f|\s)? ?shit|pieceoshit|parasites?|filth|clowns|muppets"
    r"|numpties|halfwits|cretins"
)
"""An insult word: abuse once the post is aimed at someone (second person, or written to us)."""

# --- spam, scams and promotion ---------------------------------------------------------------
SPAM = _rx(
    r"follow ?back|f4f|follow for follow|followback|gain (?:\d+k? )?followers"
    r"|\d+k? (?:real )?(?:followers|likes|views|subscribers)(?: (?:a|per) day)?"
    r"|buy (?:followers|likes|views)|cheap(?: followers)?!{2,}|dm (?:me|us) (?:for|to) (?:buy|get"
    r"|order|\d)|link in (?:my )?bio|check my (?:profile|bio)|earn \$?£?\d+|make money (?:fast"
    r"|online|from home)|work from home|100% free|double your|crypto giveaway|airdrop"
    r"|free (?:followers|likes|iphone|gift ?cards?|robux|v-?bucks)|whatsapp (?:me|us) (?:on|at)"
    r"|use (?:my|the) (?:referral |promo |discount )?code|referral (?:code|link)|promo code"
    r"|discount code|sign up (?:with|using|through) my (?:link|code)|my referral"
    r"|follow (?:me|us|my page|my account)|share my (?:music|songs?|playlists?|tracks?|page)"
    r"|my new (?:single|song|track|mixtape|album|ep|video)|check out my (?:new |latest )?"
    r"(?:single|song|track|mixtape|playlists?|music|channel|video|page|profile|store|shop)"
    r"|sub(?:scribe)? to my|(?:got|get|getting) (?:an? |my )?\w+ (?:for )?free (?:lol|here|at)"
)
PROMOTION = _rx(
    r"giveaway|win (?:a|an|the|free)|enter to win|retweet to win|rt to win|\d+% off|sale now"
    r"|limited time|shop now|buy now|order now|pre-?order|deal of the day|coupon|sponsored|#ad"
)

# --- escalation ------------------------------------------------------------------------------
PRESS = _rx(
    r"(?:request|ask|asking|looking) for (?:a |an )?comment|for comment|on the record"
    r"|press (?:office|enquiry|inquiry|team)|media (?:enquiry|inquiry|request)"
    r"|(?:for|writing) (?:a|an) (?:story|article|piece|feature|report) (?:on|about)"
    r"|statement (?:on|about|regarding)|(?:an )?interview (?:request|with you)"
    r"|spokes(?:person|man|woman)|our readers|deadline (?:is|today|tomorrow)"
)
LEGAL = _rx(
    r"lawyers?|attorneys?|solicitors?|legal action|sue (?:you|u|them|the company)|suing"
    r"|take (?:you|u|this|them) to court|see you in court|small claims|class action"
    r"|ombudsman|trading standards|consumer rights|data breach|gdpr|data protection"
    r"|privacy (?:violation|breach)|discriminat(?:ed|ion|ing)"
    r"|(?:report(?:ing|ed)?|complain(?:ing|ed)?|file a complaint) (?:you |this |them )?(?:to|with)"
    r" (?:the )?(?:ftc|fcc|fca|faa|bbb|cfpb|ico|ofcom|ofgem|ofwat|cma|asa|dot|regulators?"
    r"|attorney general|police|authorities|better business bureau)"
    r"|(?:ftc|fcc|fca|faa|cfpb|ofcom|ofgem|ofwat|cma|regulators?|attorney general)"
    r"(?: \w+){0,4} (?:investigate|investigation|look into|fine|action)"
    r"|investigate (?:you|them|this company|these people)"
)
SAFETY = _rx(
    r"(?:almost|nearly|could have|could've) (?:hit|killed|run over|crashed)|ran (?:me )?over"
    r"|(?:car|bus|train|road|traffic) (?:crash|accident|collision)|injur(?:ed|y|ies)"
    r"|hurt (?:me|my|himself|herself)|assault(?:ed)?|sexual(?:ly)? harass(?:ed|ment)"
    r"|harass(?:ed|ing|ment)|unsafe|dangerous(?:ly)?|reckless(?:ly)?|drunk (?:driver|driving)"
    r"|(?:driver|pilot) (?:was )?drunk|sped (?:down|through|off|away)|speeding|ran a red"
    r"|caught (?:on )?fire|burst into flames|on fire|exploded|explosion|smoke (?:coming|pouring)"
    r"|gas leak|electric shock|electrocuted|food poisoning|allergic reaction|anaphyla\w+"
    r"|ambulance|choking hazard|fire hazard|carbon monoxide|followed me home|stalk(?:ed|ing)"
    r"|threatened (?:me|us|my)|kidnap\w*"
)
PHISHING = _rx(r"phishing|phish|spoofed (?:email|text|site)|fake (?:email|text|site|login)")
"""Someone impersonating us to steal from people: the security team, money named or not."""
ACCOUNT_SECURITY = _rx(
    r"hack(?:ed|er|ers)|compromised|unauthori[sz]ed|stolen|fraud(?:ulent(?:ly)?)?|scam(?:med)?"
    r"|identity theft|phishing|someone (?:used|accessed|logged into|changed|cancell?ed) my"
)
MONEY = _rx(
    r"charg(?:ed|es|ing)|money|\$ ?\d|£\d|€\d|\d+ ?(?:dollars|bucks|pounds|euros|usd|gbp)|bank"
    r"|card|payments?|refunds?|paid|pay(?:ing)?|purchases?|billing|bills?|transactions?"
    r"|subscriptions?|premium"
)
DATA_BREACH = _rx(
    r"(?:data|information|info|details|passwords?) (?:has |have )?(?:been |was |were |got )?"
    r"(?:stolen|leaked|breached|hacked|exposed)|vulnerabilit(?:y|ies)|security (?:flaw|hole"
    r"|breach|issue)|uploaded fraudulently|fraudulently"
)

# --- what the post is ------------------------------------------------------------------------
QUESTION = re.compile(
    r"\?|^\s*(?:@\S+\s+)*(?:who|what|when|where|why|how|which|can|could|would|will|is|are|do"
    r"|does|did|should|any(?:one|body)|has|have)\b",
    re.IGNORECASE,
)
REQUEST = _rx(
    r"(?:can|could|would|will) (?:you|u|someone|anyone|somebody) (?:please )?(?:help|fix|tell"
    r"|explain|check|look|sort|confirm|advise|reset|restore|unlock|refund|cancel|send|let)"
    r"|please (?:help|fix|advise|explain|confirm|respond|reply|get back|look into|sort|check"
    r"|restore|reset|refund|cancel|unlock|dm|contact|call)|help(?: me)? (?:please|pls|plz)"
    r"|need (?:some )?help|help!|any (?:help|update|news|idea|ideas|advice)|how (?:do|can|should)"
    r" (?:i|we)|what (?:do|should|can) i|is there (?:a|any) way|dm(?:ed)? (?:you|u)"
    r"|get back to me|waiting (?:for|on) (?:a |your )?(?:reply|response|answer|refund|call)"
    r"|(?:can|could|may|do|should|would|will) (?:i|we) (?:still |just |please )?\w+"
    r"|is it possible|i (?:need|want|would like) (?:to|a|an|my|help)|let me know|dm me"
    r"|tell me|any way to|how to|wondering (?:if|whether|how|why)|h+e+l+p+"
    r"|(?:please|pls|plz) (?!(?:no|god)\b)\w+"
)
PROBLEM = _rx(
    r"not working|doesn'?t work|won'?t (?:work|load|open|let|play|connect|start|turn on|sync"
    r"|update|download|charge)|stopped working|isn'?t working|keeps? (?:crashing|freezing"
    r"|logging|skipping|pausing|stopping|buffering|dropping|saying|telling|asking|failing)"
    r"|crash(?:es|ed|ing)|freez(?:es|ing)|glitch(?:es|y|ing)?|bugs?|broken|error(?: code)?"
    r"|can'?t (?:log|sign|access|get|find|play|download|open|use|connect|see|hear|add|remove"
    r"|cancel|change|update|seem)|cannot|unable to|still (?:waiting|no|not|nothing|haven'?t)"
    r"|never (?:arrived|came|received|got)|hasn'?t (?:arrived|come)|no (?:reply|response"
    r"|answer|refund|signal|service|internet|wifi)|haven'?t (?:received|heard|got)"
    r"|(?:charged|billed) (?:me |us )?(?:twice|again|double|for)|double charged|overcharged"
    r"|refund|cancel(?:l?ed)? my|missing|lost my|wrong (?:order|item|size|address|charge)"
    r"|delayed|late again|worst|terrible|awful|horrible|appalling|disgusting|ridiculous"
    r"|useless|rubbish|pathetic|shocking|unacceptable|disappointed|disappointing|fed up"
    r"|sick of|tired of|lost (?:me|a) (?:as a )?customer|cancel(?:l?ing)? my (?:subscription"
    r"|account|membership|contract)|switching to|outage|down (?:again|for)|suspended|locked out"
    r"|disabled my|banned|deleted my|issues? with|problems? with|trouble with|complaint"
    r"|hacked|compromised"
    r"|fix (?:this|it|your|their|the)|sort (?:this|it) out|poor service|customer service is"
    r"|non-?functioning|not functioning"
    r"|didn'?t (?:work|receive|get|arrive|come|load|go through|help|fix)|not (?:receiving"
    r"|getting|loading|able|showing|playing|connecting|syncing|responding)|doesn'?t (?:help"
    r"|load|show|play|let|recogni[sz]e|sync)|don'?t (?:help|work|own|have access)|nothing works"
    r"|(?:still|now) (?:says|shows|jumps|skips|broken|having|getting|stuck|gone)|now (?:it'?s|its)"
    r" gone|unfortunately|ruin(?:ed|ing|s)?|lost (?:all )?(?:my|our)|deleted (?:all )?my"
    r"|nothing'?s? (?:is )?(?:resolved|fixed|happened|changed)|hurry up|is doing nothing"
    r"|gouging|scam(?:med)?|rip(?:ped)? off|waste of (?:money|time)|gotten money out of"
    r"|(?:won'?t|doesn'?t|can'?t|didn'?t) (?:even )?\w+ (?:my|the|it|anything)"
    r"|(?:there'?s|there is) no (?:way|option)|no option to|not having an option|why can'?t"
    r"|wish (?:you|there was)|please add|feature request|bring back"
)
USE = _rx(
    _ME + r" (?:\w+ ){0,2}(?:order(?:ed)?|bought|paid|purchased|subscribed|booked|downloaded"
    r"|installed|upgraded|updated|use|used|using|pay|ordered|rented|flew|flying|rode|ride"
    r"|stayed|tried)|my (?:order|account|subscription|premium|plan|membership|bill|booking"
    r"|delivery|parcel|package|refund|card|payment|purchase|password|login|email|phone|iphone"
    r"|ipad|mac|macbook|laptop|watch|airpods|device|app|channel|console|game|flight|ticket"
    r"|reservation|seat|router|internet|wi-?fi|connection|service|data|files|photos|playlists?"
    r"|music|library|songs|videos?|driver|ride|trip|car|room|stay|profile|username|number"
    r"|contract|line|sim|points|rewards|bag|luggage|suitcase|item|stuff)"
)
FIRST_PERSON = _rx(_ME + r"|we|our|us")
SECOND_PERSON = _rx(r"you|your|yours|u|ur|y'?all|you guys|you lot")
PRAISE = _rx(
    r"love|loving|loved|great|awesome|amazing|brilliant|fantastic|excellent|superb|perfect"
    r"|wonderful|best|well done|congrat(?:s|ulations)|kudos|impressed|impressive|beautiful"
    r"|stunning|cool|nice|happy|delighted|proud|legends?|heroes|hero|top notch|shout ?out"
    r"|recommend|five stars|5 stars|can'?t wait|excited|yay|woo+|💯|❤️?|♥️?|😍|🥰|🙌|👏|🎉|😊|🔥"
)
THANKS = _rx(
    r"thanks?|thank (?:you|u|ya|y'?all)|thx|ty|tysm|cheers|much appreciated|appreciate (?:it"
    r"|you|the|your|that|this)|grateful|🙏"
)
WARM = _rx(
    r"thank (?:you|u) so much|thanks so much|thanks a lot|thanks a million|many thanks"
    r"|really appreciate|much appreciated|you(?:'re| are) (?:the best|amazing|a star|awesome"
    r"|great|legends?|stars)|brilliant|amazing|fantastic|perfect|excellent|awesome|wonderful"
    r"|great (?:service|job|help|support|stuff)|(?:sorted|fixed|solved|resolved|working)"
    r"(?: now)?[,!. ]+(?:thank|cheers|thx)|(?:thank|cheers|thx)\w*[,!. ]+(?:it'?s |that )?"
    r"(?:sorted|fixed|solved|resolved|worked|working)|legends?|star|lifesaver|life saver"
    r"|❤️?|😍|🙏|🙌"
)
ACK = _rx(
    r"ok(?:ay)?|k|will do|got it|noted|sure|alright|fine|understood|i see|no worries|np|cool"
    r"|done|👍"
)
RESOLVED = _rx(
    r"(?:it'?s|its|all|that'?s|problem'?s?|issue'?s?|everything'?s?) (?:\w+ ){0,3}(?:sorted|fixed"
    r"|solved|resolved|working (?:now|again|fine))|(?:sorted|fixed|solved|resolved|working)"
    r" (?:now|itself)|solved itself|no longer need|never ?mind|nvm|forget it|not gonna worry"
    r"|don'?t worry about it|i'?ll (?:just )?(?:go ahead|stick with|give up)|gave up|give up"
    r"|will (?:do|try)|have done|i will\b"
)
GIVE_UP = _rx(
    r"gave up|give up|giving up|forget it|never ?mind|nvm|not gonna worry|don'?t worry about it"
    r"|thanks? anyway|thanks? for trying|i'?ll (?:just )?(?:go ahead|use|download|stick with"
    r"|switch|try (?:something|another|elsewhere))|switch(?:ing)? to|no point"
    r"|not (?:really )?(?:any|much) point"
)
"""Someone who stops asking without being helped: nothing to thank them for."""
HEADLINE_WORDS = _rx(
    r"breaking|report(?:s|ed)?|reportedly|announces?|announced|launch(?:es|ed)|unveils?"
    r"|unveiled|says|said|according to|via|exclusive|update|rumou?rs?|leak(?:s|ed)?|study"
    r"|analysts?|shares|stock|revenue|earnings|q[1-4]|quarter|ceo|lawsuit|judge|ruling"
    r"|officials?|watch:|video:|read:|live:"
)
