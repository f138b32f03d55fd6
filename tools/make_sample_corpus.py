"""Write townsquare's own sample corpus: four days of talk around a fictional council.

The demo, the docs and the stream tests need conversations that exercise every
branch of the product (questions answered and not, praise, complaints, a
journalist, councillors, partners, staff, an influencer, chatter that is none of
the council's business, grief and illness to leave alone, abuse and spam), and
they must be ours to publish. So the threads are written here as scripts, and
only the things nobody should hand-type are generated: platform-shaped ids
derived from the timestamps, author ids, reply timings, metrics, and the
mentions/hashtags/links, which come from :mod:`processors.text` so the corpus
and the pipeline agree on what a mention is.

Everything is deterministic (a seeded ``random.Random`` and SHA-256, never
``hash()``), so ``python tools/make_sample_corpus.py`` reproduces the committed
``streams/sample/corpus.jsonl`` byte for byte and a test holds it to that.

    python tools/make_sample_corpus.py            # rewrite the corpus
    python tools/make_sample_corpus.py --check    # exit 1 if the file is stale
    python tools/make_sample_corpus.py --summary  # counts by platform and kind
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import sys
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as a script from anywhere, not only as a module
    sys.path.insert(0, str(REPO))

from processors.text import find_hashtags, find_links, find_mentions, unique  # noqa: E402
from schemas.models import CanonicalPost  # noqa: E402

OUT = REPO / "streams" / "sample" / "corpus.jsonl"
SEED = 20260309
FIRST_DAY = datetime(2026, 3, 9, tzinfo=UTC)  # a Monday; UK clocks are on GMT, so local = UTC
PLATFORMS = ("x", "mastodon", "bluesky")

# --------------------------------------------------------------------------- cast


@dataclass(frozen=True)
class Person:
    """Someone who posts, with one handle per platform they use.

    Mastodon handles are full ``name@instance`` accounts; Bluesky handles are
    domains. ``followers`` is for the first platform listed; other platforms
    get a smaller audience, as cross-posters usually do.
    """

    name: str
    bio: str
    followers: int
    x: str | None = None
    mastodon: str | None = None
    bluesky: str | None = None
    verified: bool = False

    def handle(self, platform: str) -> str:
        handle: str | None = getattr(self, platform)
        if handle is None:
            raise KeyError(f"{self.name} has no {platform} account")
        return handle


COUNCIL_BIO = (
    "Official account of Harbourside Borough Council. Monitored Mon-Fri 8:30-17:00. "
    "Report a problem: harbourside.gov.example/report"
)

CAST: dict[str, Person] = {
    # --- the council's own accounts
    "council": Person(
        "Harbourside Borough Council",
        COUNCIL_BIO,
        18400,
        x="HarboursideBC",
        mastodon="HarboursideBC@harbour.social.example",
        bluesky="council.harbourside.example",
        verified=True,
    ),
    "libs": Person(
        "Harbourside Libraries",
        "Six libraries, one card. Part of Harbourside Borough Council. Quayside Library "
        "is open again after its refurb!",
        4300,
        x="HarboursideLibs",
        bluesky="libraries.harbourside.example",
        verified=True,
    ),
    # --- staff on their personal accounts
    "amara": Person(
        "Amara Okafor",
        "Waste & recycling officer at Harbourside Borough Council. Views my own. "
        "amara.okafor@harbourside.gov.example",
        610,
        x="AmaraOk_Waste",
    ),
    "gwen": Person(
        "Gwen Pryce",
        "Librarian at Quayside Library. Picture books, sea shanties, strong tea.",
        890,
        mastodon="gwen_reads@harbour.social.example",
    ),
    "tom": Person(
        "Tom Reyes",
        "Highways engineer, Harbourside Borough Council. Drains are more interesting "
        "than you think.",
        340,
        bluesky="tomreyes.harbourside.gov.example",
    ),
    # --- elected officials
    "mbeki": Person(
        "Cllr Joanne Mbeki",
        "Councillor for Quayside ward and cabinet member for environment, Harbourside "
        "Borough Council. Surgery every 2nd Saturday.",
        5200,
        x="CllrJoMbeki",
        verified=True,
    ),
    "sandhu": Person(
        "Cllr Ravi Sandhu",
        "Opposition councillor for Marsh End ward. Drains, buses, fairness.",
        2100,
        bluesky="ravisandhu.bsky.example",
    ),
    "ferris": Person(
        "Cllr Bea Ferris",
        "Green councillor, Tidewater ward. Trees, bikes, and asking awkward questions.",
        1300,
        mastodon="cllr_ferris@harbour.social.example",
    ),
    "mp": Person(
        "Priya Hollis MP",
        "Member of Parliament for Harbourside and Saltmarsh. Casework: "
        "priya.hollis.mp@parliament.example",
        31200,
        x="PriyaHollisMP",
        verified=True,
    ),
    # --- media
    "kate": Person(
        "Kate Linden",
        "Local democracy reporter at the Harbourside Echo. Council, courts, planning. "
        "Tips: kate.linden@harbourside-echo.example",
        6200,
        x="KateLindenNews",
        verified=True,
    ),
    "echo": Person(
        "Harbourside Echo",
        "News for Harbourside, Saltmarsh and the bay since 1881.",
        22800,
        x="HarboursideEcho",
        verified=True,
    ),
    "sam": Person(
        "Sam Achebe",
        "Breakfast presenter on Bay FM 104.2. Weekdays 6-10. Tea, traffic, local news.",
        8700,
        x="SamOnBayFM",
    ),
    # --- partners and a neighbouring council
    "harbourlink": Person(
        "HarbourLink Buses",
        "Bus services across Harbourside and the bay. Service updates 6am-10pm.",
        9100,
        x="HarbourLinkBus",
        bluesky="harbourlink.bsky.example",
        verified=True,
    ),
    "libtrust": Person(
        "Harbourside Library Trust",
        "Charity supporting Harbourside's libraries: reading garden, author visits, "
        "the maker space.",
        1500,
        x="HbsLibTrust",
    ),
    "cleantide": Person(
        "CleanTide Recycling",
        "Waste and recycling collections for Harbourside Borough Council and others.",
        2600,
        x="CleanTideUK",
    ),
    "leisure": Person(
        "Tidewater Leisure",
        "Pools, gyms and courts run by Tidewater Leisure Trust for Harbourside.",
        1900,
        bluesky="tidewaterleisure.bsky.example",
    ),
    "saltmarsh": Person(
        "Saltmarsh District Council",
        "Official account of Saltmarsh District Council.",
        11800,
        x="SaltmarshDC",
        verified=True,
    ),
    # --- influencers
    "lila": Person(
        "Lila Moreno | Harbour Eats",
        "Eating my way round the bay so you don't have to. Cafés, bakeries, chips. "
        "Collabs: lila@harboureats.example",
        84300,
        x="HarbourEats",
        verified=True,
    ),
    "ned": Person(
        "Ned Tallis",
        "Photographer. Coast paths, sunrises, the occasional heron. Prints: nedtallis.example",
        52600,
        bluesky="coastwalker.bsky.example",
    ),
    # --- residents on X
    "dev": Person(
        "Dev Patel", "Marsh End born and bred. Engineering student. Gym, FIFA.", 412, x="DevPatel88"
    ),
    "mags": Person(
        "Maggie Hurst",
        "Retired nurse. Heron Close. Grandchildren, garden, gin.",
        238,
        x="mags_on_marsh",
    ),
    "carl": Person(
        "Carl Tiler", "Plumber. Harbourside. Saltmarsh Rovers till I die.", 657, x="Carl_Tiler"
    ),
    "gary": Person("Gary", "van man. opinions. no DMs", 1204, x="gary_the_van"),
    "toni": Person(
        "Toni Russo",
        "Home baker, part-time dog walker, full-time nosy neighbour.",
        1890,
        x="ToniBakes",
    ),
    "rosie": Person(
        "Rosie Quinn", "Quayside. Runner. Always litter-picking.", 733, x="RosieQuayside"
    ),
    "ade": Person(
        "Ade Ogun", "Teacher. Marsh End. Cycling when the roads allow.", 1045, x="Ade_Ogun"
    ),
    "sunil": Person(
        "Sunil Rao", "Runs before work. Works before running. Harbourside.", 520, x="sunilrunner"
    ),
    "jamie": Person(
        "Jamie Brennan",
        "Dad of one, husband of one, owner of too many bikes.",
        389,
        x="jbrennan_hbs",
    ),
    "becca": Person(
        "Becca Lowe", "Illustrator. Harbourside. Commissions open.", 2950, x="beccasdoodles"
    ),
    "mo": Person("Mo Haddad", "Taxi driver. 20 years on these roads.", 176, x="the_real_mo"),
    "owl": Person(
        "The Owl & Anchor",
        "Pub on Quayside Road. Quiz every Thursday. Dogs welcome.",
        3400,
        x="OwlAndAnchorHbs",
    ),
    "watcher": Person(
        "Harbour Watcher",
        "Holding Harbourside's cabinet to account. Not affiliated.",
        2700,
        x="HarbourWatcher",
    ),
    "angry": Person("angry of harbourside", "", 41, x="angryofharbourside"),
    "suspect": Person("usual suspect", "", 88, x="usual_suspect_77"),
    "moonbag": Person(
        "MoonBag Drops 🚀", "Daily airdrops 🚀 follow for alpha", 15, x="moonbag_drops"
    ),
    "harbtoken": Person("HARB Token Official", "$HARB to the moon 🌕", 9, x="HARB_token_drop"),
    "followback": Person("Jess 💕", "I follow back 100% 💕 DM for promo", 33, x="FollowBackQueen"),
    "bulky": Person("Owen Price", "Harbourside. Decluttering, slowly.", 95, x="owenp_hbs"),
    # --- residents on Mastodon
    "ellis": Person(
        "Ellis",
        "Reader, walker, tea drinker. he/him. Quayside.",
        312,
        mastodon="ellis@harbour.social.example",
    ),
    "rowan": Person(
        "Rowan",
        "Software person, new to Harbourside. Learning the bin days.",
        198,
        mastodon="rowan@mstdn.example",
    ),
    "hanna": Person(
        "Hanna K.",
        "Baker of cakes, keeper of cats. Harbourside.",
        455,
        mastodon="hanna_k@harbour.social.example",
    ),
    "pj": Person(
        "PJ Wright",
        "Retired town planner. Reads planning applications for fun.",
        1210,
        mastodon="pjwright@toot.test",
    ),
    "marisol": Person(
        "Marisol",
        "Florist at Quayside market. Plants > people (mostly).",
        640,
        mastodon="marisol@harbour.social.example",
    ),
    "birds": Person(
        "Birds of the Bay",
        "Birdwatching around Harbourside bay. Gerald fan club.",
        2300,
        mastodon="birdsofthebay@mstdn.example",
    ),
    "gardener": Person(
        "Old Mill Gardener",
        "Allotment 14, Old Mill. Beans and grief and beans.",
        167,
        mastodon="oldmillgardener@harbour.social.example",
    ),
    "kasia": Person(
        "Kasia", "Nurse. Harbourside. Polish/English.", 143, mastodon="kasia@harbour.social.example"
    ),
    "grumble": Person("grumblebee", "", 12, mastodon="grumblebee@toot.test"),
    "thea": Person(
        "Thea Marr",
        "Harbourside. Knitting, fishing stories, sea swimming.",
        221,
        mastodon="thea@mstdn.example",
    ),
    # --- residents on Bluesky
    "mira": Person(
        "Mira K", "Cyclist, commuter, pothole cartographer.", 860, bluesky="mirak.bsky.example"
    ),
    "joel": Person(
        "Joel Wyn", "Marsh End. Dad. Quiz night regular.", 402, bluesky="joelwyn.bsky.example"
    ),
    "fern": Person(
        "Fern", "Fern & Tide ceramics. Harbourside.", 1730, bluesky="fernandtide.bsky.example"
    ),
    "sasha": Person(
        "Sasha Quill",
        "Writer. Dog: Biscuit. Park: Tidewater.",
        1120,
        bluesky="sashaquill.bsky.example",
    ),
    "benji": Person(
        "Benji H", "Coffee, climbing, Harbourside.", 507, bluesky="benji-h.bsky.example"
    ),
    "priti": Person(
        "Priti", "Parent, project manager, perpetually tired.", 288, bluesky="priti.bsky.example"
    ),
    "oscar": Person(
        "Oscar Makes",
        "Tinkerer. 3D printing, Arduino, bad puns.",
        640,
        bluesky="oscarmakes.bsky.example",
    ),
    "lou": Person(
        "Lou Wren",
        "Grandma of three. Marsh End. New to all this.",
        54,
        bluesky="louwren.bsky.example",
    ),
    "growth": Person(
        "Grow Fast ✨", "✨ followers ✨ link in bio", 3, bluesky="growfast.bsky.example"
    ),
    "deals": Person("Deals 4 U", "💸💸💸", 7, bluesky="deals4u.bsky.example"),
}

# --------------------------------------------------------------------------- scripts


@dataclass(frozen=True)
class Step:
    """One post of a thread script.

    ``to`` is the index of the post it replies to within the thread (default:
    the previous post); ``after`` the minutes after that post (default: drawn
    from the seeded generator). ``flag`` marks what the post is an example of
    (sensitive, abusive, spam) for the summary; it is not written to the corpus.
    """

    who: str
    text: str
    to: int | None = None
    after: int | None = None
    lang: str = "en"
    flag: str | None = None


@dataclass(frozen=True)
class Thread:
    platform: str
    start: str  # "D<day> HH:MM", day 1 = Monday 9 March 2026
    steps: tuple[Step, ...]
    tags: frozenset[str] = field(default_factory=frozenset)


def T(platform: str, start: str, tags: str, *steps: Step) -> Thread:
    return Thread(platform, start, steps, frozenset(tags.split()))


def S(
    who: str,
    text: str,
    to: int | None = None,
    after: int | None = None,
    lang: str = "en",
    flag: str | None = None,
) -> Step:
    return Step(who, text, to, after, lang, flag)


# Replies on X and Mastodon get the parent author's handle prefixed, as the apps
# do, unless the text already starts with a mention; Bluesky replies do not.
# The scripts are laid out by hand (one post per call, text wrapped in place) so
# a thread reads like a thread; the formatter would put every argument on its own line.
# fmt: off
THREADS: tuple[Thread, ...] = (
    # ------------------------------------------------------------------ Monday
    T("x", "D1 07:12", "question answered",
      S("dev", "@HarboursideBC bins on Marsh Lane weren't collected this morning, lorry drove "
               "straight past. Is it coming back today? #MarshEnd"),
      S("council", "Sorry about that Dev. A parked van blocked the crew's access on Marsh Lane; "
                   "they're coming back before 3pm today. If your bin is still out tomorrow, "
                   "report it at https://harbourside.gov.example/report/missed-bin ^AO", after=48),
      S("dev", "Cheers, will leave it out 👍", after=20),
      S("mags", "same on Heron Close. Third time since Christmas tbh", to=0, after=35),
      S("dev", "mad isn't it. at least they answered this time"),
      S("council", "Heron Close is on the crew's return list too, Maggie. Sorry for the repeat "
                   "misses. ^AO", to=3, after=30),
    ),
    T("x", "D1 08:03", "question awaiting",
      S("mags", "@HarboursideBC is garden waste starting again this month? Website still says "
                "'winter pause' and it's March. Paid for my #GreenBinClub sticker in January 🤷‍♀️"),
      S("carl", "I heard 23rd March but don't quote me", after=25),
      S("mags", "ta Carl. Would be nice to hear it from them though @HarboursideBC"),
    ),
    T("mastodon", "D1 08:30", "question answered",
      S("ellis", "@HarboursideBC@harbour.social.example what are Quayside Library's opening hours "
                 "now? The sign on the door says one thing and the website another. #libraries"),
      S("council", "Morning Ellis! Quayside Library is open Mon-Fri 9:00-18:00 and Sat 9:30-13:00. "
                   "We've asked for the door sign to be fixed today, thanks for flagging "
                   "it.", after=62),
      S("ellis", "Perfect, thank you! Any chance Sunday opening comes back?"),
      S("council", "Not this year, sorry. The Warm Spaces room at Tidewater Community Hub is open "
                   "Sundays 11:00-16:00 if you need somewhere quiet to read.", after=40),
      S("ellis", "Good to know 🙂"),
    ),
    T("bluesky", "D1 09:15", "complaint awaiting",
      S("mira", "The pothole at the Fenwick Road / Salt Street junction has now eaten two of my "
                "bike tyres. Reported it in January. @council.harbourside.example is anyone "
                "actually looking at these reports? #potholes #Harbourside"),
      S("joel", "that one is vicious. I go round by the bakery now", after=12),
      S("mira", "@joelwyn.bsky.example you can't go round it in the dark, that's the problem"),
      S("fern", "There's a new one by the bus stop on Salt Street too. Photo: "
                "https://pics.example/salt-street-pothole.jpg", to=0),
      S("benji", "add it to the map, someone made one: "
                 "https://potholemap.example/harbourside", to=0),
    ),
    T("x", "D1 09:40", "broadcast partner",
      S("council", "Resurfacing on Quayside Road starts Monday 16 March, 7pm-6am for two weeks. "
                   "Diversions signed via Mill Street. HarbourLink routes 4 and 12 will divert, "
                   "details from @HarbourLinkBus. Map: "
                   "https://harbourside.gov.example/roadworks/quayside #HarboursideRoads"),
      S("harbourlink", "Thanks @HarboursideBC. Routes 4 and 12 will use Mill Street during the "
                       "overnight works; stops QR3-QR6 closed. Full timetable: "
                       "https://harbourlink.example/diversions", after=30),
      S("gary", "7pm?? that's when the pubs are busy, genius planning as usual", to=0),
      S("owl", "we're on Quayside Road and honestly we'd rather nights than days 🍺"),
      S("gary", "fair enough"),
    ),
    T("x", "D1 10:05", "praise answered",
      S("rosie", "Huge shout-out to the crew who cleared the fly-tipping behind Tidewater Park "
                 "within a day of me reporting it. @HarboursideBC the Report It app actually "
                 "works! 👏👏 #Harbourside"),
      S("council", "Thanks Rosie, that's lovely to hear. We'll pass it on to the street cleansing "
                   "team 💚", after=70),
      S("rosie", "Please do! They were so friendly too"),
    ),
    T("mastodon", "D1 10:20", "chatter",
      S("hanna", "Anyone know if the Saturday market on Quayside is still on during the roadworks? "
                 "Asking for a very cake-dependent household."),
      S("rowan", "it's daytime so should be fine, the works are overnight", after=9),
      S("pj", "the brownie stall alone justifies the trip tbh", to=0),
      S("hanna", "noted. brownies are a legitimate civic amenity"),
      S("marisol", "Last week the flower stall had tulips for £3 a bunch 🌷", to=0),
      S("hanna", "sold!"),
    ),
    T("x", "D1 11:02", "media answered",
      S("kate", "@HarboursideBC Could your press office comment on reports that the Old Mill "
                "Recycling Centre moves to appointment-only from April? Deadline 4pm today. DMs "
                "open. #HarbourNews"),
      S("sunil", "appointment only?! How are tradespeople meant to plan around that", after=14),
      S("kate", "that's what I'm trying to find out. Will update"),
      S("council", "Hi Kate, our press office has just emailed you a statement.", to=0, after=230),
      S("kate", "Got it, thank you."),
    ),
    T("bluesky", "D1 11:30", "influencer answered",
      S("ned", "Sunrise over Harbourside breakwater this morning. Worth every second of the 5:40 "
               "alarm. 🌅 https://photos.example/ned/breakwater-sunrise"),
      S("benji", "stunning Ned", after=6),
      S("priti", "This is why I moved here", to=0),
      S("sasha", "Biscuit and I were on the beach and missed it by ten minutes. Next time.", to=0),
      S("council", "Gorgeous shot, Ned. Would you mind if we shared it on our channels, with "
                   "credit?", to=0, after=95),
      S("ned", "@council.harbourside.example go for it 👍"),
      S("council", "Thank you! Credit will go to you, of course."),
    ),
    T("x", "D1 12:15", "influencer complaint awaiting",
      S("lila", "Tried to visit three Quayside cafés for a review today and spent 25 minutes "
                "circling for parking. Pay machines on Dock Street all out of order, the app wants "
                "a 'zone code' that's nowhere on the signs. @HarboursideBC sort it out please, "
                "your independents deserve better 🙃 #ShopLocal #Harbourside"),
      S("toni", "THANK YOU. Been saying this for months", after=8),
      S("ade", "zone code is on the lamp post. Tiny sticker. Two metres up. Ridiculous", to=0),
      S("owl", "Our customers tell us the same every weekend", to=0),
      S("council", "Hi Lila, thanks for flagging. The Dock Street machines are being repaired "
                   "today and the zone code there is HB12. Clearer signs are going "
                   "up.", to=0, after=265),
      S("lila", "appreciated. When are the new signs going up exactly? @HarboursideBC", after=18),
    ),
    T("x", "D1 13:00", "abusive",
      S("angry", "@HarboursideBC you're all useless idiots. bins, roads, parking, everything. how "
                 "hard can it be", flag="abusive"),
      S("suspect", "they couldn't organise a bath", after=11, flag="abusive"),
      S("rosie", "the bin crews work their socks off. Take it up with whoever sets the budget, not "
                 "them", to=0),
    ),
    T("x", "D1 13:20", "spam",
      S("harbtoken", "@HarboursideBC 🚀🚀 CRYPTO GIVEAWAY 🚀🚀 Sending 5,000 $HARB tokens to the "
                     "first 500 wallets! Follow back + RT + drop your wallet ⬇️ "
                     "https://harb-token.test/claim #crypto #giveaway #airdrop", flag="spam"),
    ),
    T("mastodon", "D1 14:10", "employee",
      S("gwen", "Story time at Quayside Library this morning: 23 toddlers, one very patient "
                "tortoise puppet and a song about seagulls I will never get out of my head. Best "
                "job. #libraries #Harbourside"),
      S("marisol", "my two still sing the seagull song from last term!", after=22),
      S("gwen", "it's a menace 😂"),
      S("council", "Love this, Gwen 💙", to=0, after=50),
    ),
    T("bluesky", "D1 14:45", "partner",
      S("harbourlink", "Service update: from Monday 16 March routes 4 and 12 will divert via Mill "
                       "Street between 19:00 and 06:00 while @council.harbourside.example "
                       "resurfaces Quayside Road. https://harbourlink.example/diversions"),
      S("oscar", "does the 12 still stop at the hospital at night?", after=17),
      S("harbourlink", "Yes, the hospital stops are unaffected."),
      S("oscar", "great, thanks"),
      S("council", "Thanks for spreading the word 🙏", to=0, after=40),
    ),
    T("x", "D1 15:30", "complaint step_back",
      S("carl", "@HarboursideBC street light outside 14 Kestrel Way has been flickering for weeks, "
                "like living in a disco. #streetlights"),
      S("council", "Thanks Carl, could you send us the column number? It's on a small plate on the "
                   "post. We'll get an engineer out. ^JM", after=55),
      S("council", "Hi Carl, just checking whether you found the column number? Or report it at "
                   "https://harbourside.gov.example/report/streetlight and it goes straight to the "
                   "team.", to=1, after=1410),
    ),
    T("mastodon", "D1 16:05", "complaint answered",
      S("pj", "Why is the @HarboursideBC@harbour.social.example planning portal down AGAIN? "
              "Comments on the Quayside Yard scheme close soon. Convenient. #planning"),
      S("council", "Sorry, the portal had an outage this afternoon and it's back now. You can also "
                   "email comments to planning@harbourside.gov.example.", after=35),
      S("pj", "Back up, comment submitted. Thanks for the quick answer."),
      S("rowan", "what's the Quayside Yard scheme?", to=0),
      S("pj", "140 flats on the old boatyard. Some good, some not. Worth a read: "
              "https://harbourside.gov.example/planning/26-0311"),
    ),
    T("bluesky", "D1 17:20", "chatter",
      S("sasha", "Tidewater Park at golden hour: three dogs, one heron, zero phones. Recommend."),
      S("benji", "the heron is a local celebrity, he has a name", after=7),
      S("sasha", "go on then"),
      S("benji", "Gerald. obviously"),
      S("priti", "Gerald has been there since at least 2019, he's older than my mortgage", to=0),
    ),
    T("x", "D1 18:10", "sensitive",
      S("jamie", "Third night on the children's ward at Harbourside General with our little one. "
                 "She's on fluids and finally asleep. Thank you to everyone who's messaged. Not "
                 "much else to say tonight.", flag="sensitive"),
      S("ade", "Thinking of you all, Jamie ❤️", after=15),
      S("rosie", "Sending love. Shout if you need anything dropping round.", to=0),
      S("jamie", "Thank you both. She's asked for toast, which the nurses say is a very good "
                 "sign.", to=0, after=640, flag="sensitive"),
    ),
    T("mastodon", "D1 19:30", "sensitive",
      S("gardener", "Visited Mum at Harbourside Cemetery this afternoon, first time since the "
                    "funeral. Someone had left daffodils on the bench near her plot. I don't know "
                    "who you are, but thank you. It helped.", flag="sensitive"),
      S("ellis", "that's such a kind thing. Take care of yourself 💛", after=25),
      S("hanna", "Sending you a hug.", to=0),
    ),
    T("bluesky", "D1 20:30", "question employee awaiting",
      S("joel", "Why are there temporary traffic lights on Mill Street with nobody working there? "
                "Been 4 days. @council.harbourside.example"),
      S("tom", "It's a utility company job rather than ours, I'm afraid, but I've nudged them. "
               "Should be gone by Wednesday.", after=44),
      S("joel", "thanks Tom!"),
    ),
    T("mastodon", "D1 21:15", "chatter",
      S("birds", "Barn owl over the Marsh End fields at dusk. Ten seconds of pure magic. #birds "
                 "#Harbourside"),
      S("rowan", "jealous. I've lived here a year and never seen one", after=19),
      S("birds", "go along the footpath past the allotments about half an hour before dark. Stand "
                 "still. Be patient."),
      S("gardener", "She nests in the old barn behind allotment 20. Please don't tell everyone "
                    "🤫", to=0),
      S("birds", "secret's safe"),
    ),
    # ------------------------------------------------------------------ Tuesday
    T("x", "D2 06:40", "question answered awaiting",
      S("sunil", "@HarboursideBC Fenwick Road underpass is flooded again, about knee deep. Is it "
                 "closed? There's no sign and cars are still trying it #flooding "
                 "#HarboursideFlood"),
      S("ade", "saw a Fiesta stalled in there at 6am 😬", after=8),
      S("sunil", "someone's going to get hurt. @HarboursideBC please close it"),
      S("council", "We've closed the Fenwick Road underpass. Barriers are on site and Highways are "
                   "pumping it out. Please use Mill Street. Updates: "
                   "https://harbourside.gov.example/flooding", to=0, after=40),
      S("sunil", "Thank you. Any idea when it'll reopen? I need it to get to work"),
    ),
    T("bluesky", "D2 07:15", "broadcast answered",
      S("council", "Heavy rain overnight. Closed: Fenwick Road underpass, Marsh Lane between Heron "
                   "Close and the ford. Sandbags at the Old Mill depot until 18:00. Please don't "
                   "drive through flood water. #FloodReadyHarbourside"),
      S("mira", "thanks for posting this early 🙏", after=5),
      S("joel", "is the sandbag collection for anyone or only people who got a letter?", to=0),
      S("council", "Anyone on a flood-risk street can collect up to 6. Bring something with your "
                   "address on it.", after=25),
      S("joel", "👍"),
      S("fern", "Marsh Lane ford has properly gone, the ducks are having a great day "
                "https://pics.example/marsh-ford.jpg", to=0),
    ),
    T("bluesky", "D2 08:20", "employee",
      S("tom", "Out with the pump crew on Fenwick Road since 5am. If you see the team please don't "
               "drive round the barriers, they're there for a reason. Coffee appreciated, patience "
               "more so ☕ #FloodReadyHarbourside"),
      S("priti", "you lot are heroes honestly", after=14),
      S("tom", "just the job! but thank you"),
      S("benji", "dropped two flat whites at the barrier, hope they got to the right people", to=0),
      S("tom", "they did, and they were gone in 30 seconds 😄"),
    ),
    T("x", "D2 08:45", "media answered",
      S("sam", "Morning @HarboursideBC! We'd love someone from the council on @BayFM1042 breakfast "
               "at 8:40 tomorrow to talk flooding and what residents can do. Can you make it? "
               "#BayBreakfast"),
      S("council", "Morning Sam, thanks for the invite. Our press office is emailing you now to "
                   "set it up.", after=30),
      S("sam", "Brilliant, see you tomorrow"),
    ),
    T("x", "D2 09:10", "abusive",
      S("suspect", "@HarboursideBC flooded AGAIN. same roads every year. absolute clowns running "
                   "this town, the lot of you should be sacked", flag="abusive"),
      S("carl", "they closed it within the hour mate, calm down", after=21),
      S("suspect", "clowns", flag="abusive"),
    ),
    T("mastodon", "D2 09:30", "question answered non_english",
      S("kasia", "@HarboursideBC@harbour.social.example Dzień dobry! Czy kalendarz odbioru śmieci "
                 "jest dostępny po polsku? Nowy kalendarz jest dla mnie trochę "
                 "niejasny.", lang="pl"),
      S("council", "Dzień dobry Kasia! Yes, the collection calendar is available in Polish here: "
                   "https://harbourside.gov.example/bins/calendar/pl. You can also call 0300 555 "
                   "0140 and ask for an interpreter.", after=70),
      S("kasia", "Dziękuję bardzo! 🙏", lang="pl"),
    ),
    T("x", "D2 10:00", "official",
      S("mbeki", "Spent the morning with Highways at the Fenwick Road underpass. The pumps cleared "
                 "it by 9:30 but this is the fourth time this winter. I've asked officers for a "
                 "full report on drainage options for the next cabinet. #QuaysideWard"),
      S("sunil", "thank you, genuinely. It needs a proper fix not just pumping", after=18),
      S("mbeki", "agreed. I'll share the report when it's published."),
      S("gary", "heard that before", to=0),
    ),
    T("bluesky", "D2 10:40", "official politics awaiting",
      S("sandhu", "Marsh End has flooded four times since November and the drainage budget was cut "
                  "18% last year. Residents deserve better than sandbags. I'll be raising it at "
                  "full council on Thursday. @council.harbourside.example", flag="sensitive"),
      S("joel", "will the meeting be streamed?", after=13),
      S("sandhu", "Yes, 6:30pm Thursday on the council website."),
      S("fern", "Good. Someone needs to ask.", to=0),
    ),
    T("x", "D2 11:15", "spam",
      S("followback", "Want 10K REAL followers?? 💯 Follow back + DM 'GROW' 📈 #FollowBack "
                      "#GrowYourBrand https://growfast.test/now", flag="spam"),
    ),
    T("x", "D2 11:50", "question answered employee",
      S("toni", "@HarboursideBC does the Old Mill Recycling Centre take old paint tins? Clearing "
                "out the shed."),
      S("amara", "Hi Toni! Yes: empty or dried-out tins go in the metal skip, liquid paint goes to "
                 "the hazardous waste bay (ask the staff). Max 10 tins a visit 🙂", after=20),
      S("council", "Thanks Amara! Toni, the full list of what Old Mill accepts is here: "
                   "https://harbourside.gov.example/recycling/old-mill", to=0, after=45),
      S("toni", "Brilliant, thank you both!"),
    ),
    T("bluesky", "D2 12:30", "question awaiting",
      S("benji", "@council.harbourside.example got my council tax bill and it's gone up 8.9%?? I "
                 "thought the cap was 5%. Is there a mistake or am I missing something"),
      S("priti", "I think the police and fire bits go on top? not sure", after=16),
      S("benji", "even so it seems steep. would love an actual breakdown"),
    ),
    T("x", "D2 13:00", "complaint answered",
      S("mags", "Three weeks and the fly-tipped mattress on Heron Close is STILL THERE. IT IS "
                "GROWING MOSS. @HarboursideBC #flytipping"),
      S("council", "Sorry Maggie, that's far too long. We've raised it as urgent with street "
                   "cleansing for collection by Thursday. Ref SC-44817. ^DW", after=80),
      S("mags", "We'll see 🙄"),
    ),
    T("mastodon", "D2 14:00", "chatter",
      S("rowan", "Is there a list of Harbourside accounts on here? Want to follow more neighbours "
                 "and fewer billionaires."),
      S("ellis", "most people use the #Harbourside hashtag, and harbour.social.example is pretty "
                 "much all locals", after=11),
      S("pj", "follow @birdsofthebay@mstdn.example for the best heron content", to=0),
      S("birds", "I'm blushing. Gerald says hi."),
      S("rowan", "followed. Gerald's fame is deserved", to=0),
    ),
    T("x", "D2 15:20", "competitor awaiting",
      S("gary", "Saltmarsh does weekly bin collections and their council tax is LOWER. Explain "
                "that @HarboursideBC. @SaltmarshDC are you taking applications 😂"),
      S("carl", "pretty sure Saltmarsh went fortnightly in 2024", after=31),
      S("saltmarsh", "Ha! Ours are fortnightly too, we promise 😄", to=0, after=90),
      S("gary", "details details"),
    ),
    T("bluesky", "D2 16:10", "question partner",
      S("sasha", "Is Tidewater Leisure Centre pool open again after the boiler fault? "
                 "@tidewaterleisure.bsky.example @council.harbourside.example"),
      S("leisure", "Yes! The main pool reopened this morning. Learner pool back Friday. Sorry for "
                   "the disruption 🏊", after=30),
      S("sasha", "yay, thank you"),
    ),
    T("x", "D2 17:00", "praise answered",
      S("ade", "Have to say it: the flood response this morning was quick. Barriers up, pumps on, "
               "clear updates. Well done @HarboursideBC and the Highways crews 👏 "
               "#FloodReadyHarbourside"),
      S("council", "Thank you Ade, we'll pass that on. The crews have had a long day 💙", after=25),
      S("sunil", "agreed, credit where due", to=0),
    ),
    T("mastodon", "D2 18:30", "sensitive",
      S("marisol", "Quiet on here from me for a while. Got a diagnosis at Harbourside General "
                   "today that I need time to sit with. Be kind to each other. "
                   "🌱", flag="sensitive"),
      S("hanna", "thinking of you. Here whenever you want to talk 💛", after=12),
      S("gwen", "sending love. The library armchair is always yours.", to=0),
    ),
    T("bluesky", "D2 19:45", "sensitive",
      S("priti", "Our son's EHCP review has been postponed for the third time and he's now been "
                 "out of school for six weeks. I'm trying to stay calm but I am so tired. If any "
                 "Harbourside parents have been through this, I'd love to talk.", flag="sensitive"),
      S("joel", "Been there. Message me any time, happy to share what worked for us.", after=20),
      S("fern", "The parent carer forum at Tidewater Hub meets Tuesdays, they helped us loads "
                "💛", to=0),
      S("priti", "Thank you both, that means a lot.", to=0, flag="sensitive"),
    ),
    T("x", "D2 20:00", "question awaiting",
      S("bulky", "@HarboursideBC when's the next bulky waste collection slot? Booking page says "
                 "'no slots available' for the next 6 weeks. Have a sofa living in my hallway"),
    ),
    T("x", "D2 21:10", "chatter",
      S("dev", "who's watching Saltmarsh Rovers v Harbourside Town Saturday? need a lift to the "
               "ground"),
      S("carl", "I'm driving, room for two. Rovers all day though so you'll have to "
                "behave", after=23),
      S("dev", "can't promise anything 😂"),
      S("mo", "I'm on shift Saturday, stadium taxi rank is chaos after, leave early", to=0),
    ),
    # ---------------------------------------------------------------- Wednesday
    T("x", "D3 07:30", "broadcast partner",
      S("libs", "Quayside Library reopens TODAY after the refurb 📚 New children's corner, study "
                "pods you can book, and the café is back. Doors at 9:00, come and say hello! "
                "#libraries #Harbourside"),
      S("rosie", "Ooh can't wait to see it", after=4),
      S("libtrust", "Congratulations to the whole team! The Trust's reading garden opens in May "
                    "🌿", to=0, after=20),
      S("libs", "thank you, we couldn't have done it without you 💙"),
      S("becca", "Will the kids' corner mural be finished by then? Asking as the person painting "
                 "it 😅", to=0),
      S("libs", "it looks brilliant as it is, Becca, and there's no rush at all"),
    ),
    T("x", "D3 08:10", "question answered",
      S("dev", "@HarboursideLibs how do I book one of the study pods? Got exams in May"),
      S("libs", "Hi Dev! Book up to 3 hours a day with your library card at "
                "https://harbourside.gov.example/libraries/pods. Good luck with the "
                "exams!", after=35),
      S("dev", "Booked, cheers 👌"),
    ),
    T("bluesky", "D3 08:45", "question awaiting",
      S("oscar", "@libraries.harbourside.example does the new maker space at Quayside have a 3D "
                 "printer yet or is that still 'coming soon'?"),
      S("benji", "following this, my kid wants to print dinosaurs", after=33),
    ),
    T("x", "D3 09:20", "media awaiting",
      S("echo", "NEW: Harbourside Borough Council confirms appointment-only visits at Old Mill "
                "Recycling Centre from 6 April. Residents will have to book online or by phone. "
                "https://harbourside-echo.example/news/old-mill-booking #HarbourNews"),
      S("gary", "so now I need an appointment to throw away rubbish. brilliant", after=9),
      S("toni", "what about people without internet?", to=0),
      S("kate", "Council says phone bookings will be available. I've asked @HarboursideBC how many "
                "slots a day and will update when I hear.", after=27),
    ),
    T("mastodon", "D3 10:30", "complaint awaiting",
      S("pj", "@HarboursideBC@harbour.social.example my council tax letter is addressed to someone "
              "who moved out in 2019 and the single person discount has vanished. I've emailed "
              "twice. Who do I actually talk to?"),
      S("rowan", "had the same last year, the phone line was the only thing that worked", after=26),
      S("pj", "45 minutes of hold music it is, then"),
    ),
    T("x", "D3 11:00", "official partner",
      S("mp", "Met @HarboursideBC's leader and @HarbourLinkBus today about the night bus gap on "
              "the Marsh End estate. Productive. More to come on funding from the combined "
              "authority. #MarshEnd"),
      S("mags", "the 12 stopping at 11pm is a nightmare for shift workers, please push on "
                "this", after=19),
      S("mp", "hearing that loud and clear"),
      S("harbourlink", "Thanks for hosting. We're keen to trial a later 12 if the funding is "
                       "there", to=0, after=35),
      S("council", "Thanks @PriyaHollisMP, a useful session. We'll share next steps on the Marsh "
                   "End night bus when we have them.", to=0, after=120),
    ),
    T("x", "D3 11:40", "spam",
      S("moonbag", "🚨 FREE CRYPTO 🚨 Harbourside residents claim your 0.5 ETH airdrop NOW before "
                   "it ends!!! follow back + retweet ➡️ https://eth-claim.test/hbs #Harbourside "
                   "#crypto", flag="spam"),
      S("carl", "reported and blocked. go away", after=6),
    ),
    T("bluesky", "D3 12:20", "spam",
      S("growth", "✨ Free followers for @council.harbourside.example and everyone reading! Grow "
                  "1000 followers/day, link in bio ✨ #growth #followers", flag="spam"),
    ),
    T("mastodon", "D3 13:00", "question answered",
      S("birds", "@HarboursideBC@harbour.social.example the Tidewater Park pond fence is down on "
                 "the north side and there are nesting coots right by the path. Could someone fix "
                 "it before a dog finds them?"),
      S("council", "Thanks for letting us know. Parks have logged it and will be out tomorrow "
                   "morning with temporary fencing 🦆", after=60),
      S("birds", "Thank you!! The coots thank you too."),
      S("council", "Update: the temporary fence is up on the north side. Thanks again for the "
                   "heads-up.", after=1290),
      S("birds", "Just walked past, looks great 👌"),
    ),
    T("x", "D3 13:45", "complaint step_back",
      S("becca", "@HarboursideBC why does it take 6 weeks to get a replacement recycling box? "
                 "Ordered one in January"),
      S("council", "Sorry for the wait, Becca. Can you DM us your order reference and postcode so "
                   "we can chase it?", after=90),
      S("council", "Hi Becca, we haven't had a DM yet. If it's easier, call 0300 555 0140 and "
                   "quote 'recycling box delay'. ^AO", to=1, after=1445),
    ),
    T("bluesky", "D3 14:30", "complaint step_back",
      S("lou", "the bench by Marsh End playground has been smashed for a month. its the only seat "
               "for us grandparents 😕 @council.harbourside.example"),
      S("council", "Thanks Lou, we've reported it to Parks. Could you tell us which end of the "
                   "playground it's at, so they bring the right parts?", after=120),
      S("council", "Hi Lou, Parks are visiting on Friday. If you can tell us which bench it is "
                   "we'll make sure it's on their list.", to=1, after=1180),
    ),
    T("x", "D3 15:00", "broadcast step_back",
      S("council", "Have your say on the future of Harbourside's parks 🌳 Our 10-minute survey is "
                   "open until 31 March: https://harbourside.gov.example/consult/parks "
                   "#HaveYourSay"),
      S("council", "Reminder: it's 10 minutes, and there's a prize draw for a £50 voucher at a "
                   "Quayside café of your choice ☕ https://harbourside.gov.example/consult/parks "
                   "#HaveYourSay", after=240),
    ),
    T("mastodon", "D3 15:40", "chatter employee",
      S("ellis", "Quayside Library refurb is lovely. The study pods have little lamps. LITTLE "
                 "LAMPS. #libraries"),
      S("hanna", "the lamps are what sold me too", after=14),
      S("gwen", "we fought hard for those lamps 😄", to=0),
      S("ellis", "worth every penny"),
    ),
    T("x", "D3 16:30", "question awaiting",
      S("mo", "@HarboursideBC applied for a residents parking permit online 3 weeks ago, money "
              "taken, no permit, got a £35 ticket yesterday. What do i do??"),
      S("toni", "appeal it, happened to my brother and they cancelled it", after=22),
      S("mo", "cheers, will do. still want the permit though @HarboursideBC"),
    ),
    T("x", "D3 17:10", "influencer praise answered",
      S("lila", "Quayside Library's new café does a £2.50 cardamom bun and you can read while you "
                "eat it. Council tax at work, Harbourside 😄 @HarboursideLibs #ShopLocal"),
      S("libs", "We're blushing! Enjoy the bun, Lila 📚☕", after=40),
      S("rosie", "going tomorrow", to=0),
      S("dev", "the bun is elite, can confirm", to=0),
    ),
    T("x", "D3 18:00", "politics",
      S("watcher", "The cabinet's budget is a disgrace. They'd rather fund vanity projects on the "
                   "Quayside than fix Marsh End drains. Vote them out in May. "
                   "#HarbourBudget", flag="sensitive"),
      S("carl", "the Quayside money is a government grant, it can't be spent on drains. that's not "
                "how it works", after=40),
      S("watcher", "convenient excuse", flag="sensitive"),
      S("mbeki", "Happy to walk you through the grant rules over a coffee any time. Door's "
                 "open.", to=0, after=65),
    ),
    T("mastodon", "D3 19:00", "question answered",
      S("rowan", "@HarboursideBC@harbour.social.example do pizza boxes go in recycling or general "
                 "waste? Asking before my housemates start a war."),
      S("council", "Clean pizza boxes go in recycling; greasy ones in general waste (or tear off "
                   "the clean lid!). Settle the war peacefully 🍕", after=50),
      S("rowan", "Peace has been restored. Thank you 😂"),
      S("pj", "I've been doing this wrong for a decade", to=2),
    ),
    T("bluesky", "D3 20:10", "chatter",
      S("joel", "Quiz night at The Owl & Anchor tomorrow. Team name suggestions please, last week "
                "we were 'Les Quizérables' and came 9th"),
      S("priti", "Gerald's Heron Club", after=8),
      S("sasha", "Pothole Appreciation Society", to=0),
      S("joel", "sasha wins"),
      S("benji", "Pothole Appreciation Society is a strong name and a lifestyle", to=0),
    ),
    T("x", "D3 21:00", "spam",
      S("followback", "@HarboursideLibs follow back?? 🥺 I follow everyone back 💕 #FollowBack "
                      "#F4F", flag="spam"),
    ),
    # ----------------------------------------------------------------- Thursday
    T("x", "D4 07:05", "question awaiting",
      S("ade", "@HarboursideBC is the full council meeting tonight open to the public or only "
               "streamed? Want to hear the drainage debate. #MarshEnd"),
    ),
    T("x", "D4 07:40", "partner",
      S("harbourlink", "Reminder: Quayside Road resurfacing starts Monday. Night services 4 and 12 "
                       "divert via Mill Street, 19:00-06:00. Plan ahead: "
                       "https://harbourlink.example/diversions #HarboursideRoads"),
      S("council", "Thanks for the reminder @HarbourLinkBus 🚌 More on the works: "
                   "https://harbourside.gov.example/roadworks/quayside", after=15),
      S("mags", "will the 12 still go past Heron Close?", to=0),
      S("harbourlink", "Yes, Heron Close isn't affected 👍"),
    ),
    T("bluesky", "D4 08:15", "complaint answered",
      S("fern", "My neighbour is on assisted bin collection (she's 91) and it's been missed two "
                "weeks running. She can't drag it out herself. @council.harbourside.example please "
                "can someone check?"),
      S("council", "Thank you for flagging this, and sorry. We've re-added her address to the "
                   "assisted list and the crew will collect today. If it's missed again, call 0300 "
                   "555 0140 and ask for the waste supervisor.", after=40),
      S("fern", "Thank you. Collected at 11, she's very pleased.", after=200),
      S("council", "Glad to hear it 💚"),
    ),
    T("x", "D4 09:00", "employee partner",
      S("amara", "Nice start to the day: a Year 4 class at St Brigid's taught me how to sort "
                 "recycling better than most adults. Their teacher is a legend. #RecycleRight "
                 "#Harbourside"),
      S("council", "Brilliant work Amara and the St Brigid's recyclers ♻️", after=60),
      S("cleantide", "love this! Happy to send some sorting posters for the class", to=0),
      S("amara", "yes please! DM'd"),
    ),
    T("mastodon", "D4 09:45", "abusive",
      S("grumble", "@HarboursideBC@harbour.social.example your staff are lazy idiots who can't "
                   "even empty a bin. Do your damn jobs.", flag="abusive"),
      S("ellis", "the bin crews are out in the rain at 6am. Maybe don't.", after=17),
    ),
    T("x", "D4 10:20", "question answered awaiting",
      S("toni", "@HarboursideBC there's a planning notice on the old boatyard fence saying "
                "comments close Friday, but the portal says 27 March. Which is it? #QuaysideYard"),
      S("council", "Hi Toni, the portal date (27 March) is correct. The site notice was printed "
                   "with an error and is being replaced today. Sorry for the confusion.", after=75),
      S("toni", "Thanks. Do people who commented early need to do it again?"),
    ),
    T("bluesky", "D4 11:00", "influencer complaint answered",
      S("ned", "Walked the whole Harbourside coast path today. Gorgeous, apart from the stretch "
               "past the Old Mill where the path is basically a bog and the boardwalk has two "
               "planks missing. @council.harbourside.example is this on anyone's list? Would hate "
               "for someone to twist an ankle."),
      S("benji", "those planks have been missing since the autumn", after=10),
      S("mira", "it's a proper hazard with a pushchair", to=0),
      S("council", "Thanks Ned, it is: the boardwalk repair is booked for the week of 23 March, "
                   "and warning signs go up tomorrow.", to=0, after=110),
      S("ned", "Great, thanks for the quick answer 👍"),
    ),
    T("x", "D4 11:45", "media awaiting",
      S("kate", "Ahead of tonight's full council: @HarboursideBC can you confirm whether the Marsh "
                "End drainage report will be published before the vote? Writing this up this "
                "afternoon. #HarbourNews"),
    ),
    T("mastodon", "D4 12:30", "official awaiting",
      S("ferris", "Tonight at full council I'll propose that the "
                  "@HarboursideBC@harbour.social.example parks survey runs to mid-April so schools "
                  "can take part. Short, sensible, cheap. #HaveYourSay"),
      S("hanna", "seconded from the public gallery 👏", after=24),
    ),
    T("x", "D4 13:10", "praise sensitive answered",
      S("jamie", "Our daughter came home yesterday 💛 First stop today was the new children's "
                 "corner at Quayside Library, and the staff made her a 'welcome back' bookmark. "
                 "Thank you @HarboursideLibs, you made her week.", flag="sensitive"),
      S("libs", "That's made our week too. Welcome back to her! 📚", after=45),
    ),
    T("bluesky", "D4 14:00", "question awaiting",
      S("sasha", "@council.harbourside.example are the public toilets at Tidewater Park ever going "
                 "to reopen? They've been 'temporarily closed' since October"),
      S("priti", "asking the real questions", after=5),
    ),
    T("x", "D4 14:40", "complaint partner awaiting",
      S("gary", "BIN LORRY JUST REVERSED INTO MY WALL ON MARSH LANE AND DROVE OFF. WHO IS PAYING "
                "FOR THIS @HarboursideBC @CleanTideUK"),
      S("cleantide", "We're really sorry to hear this. Please email claims@cleantide.example with "
                     "photos and the time and we'll look into it with the crew today.", after=35),
      S("gary", "photos sent. not holding my breath"),
    ),
    T("mastodon", "D4 15:20", "chatter",
      S("pj", "Read the whole Quayside Yard planning application so you don't have to. Short "
              "version: 140 flats, 20% affordable, a small public square, no extra parking. 🧵 "
              "#QuaysideYard #planning"),
      S("pj", "The square looks nice in the drawings but it's in shadow from noon all winter. "
              "Daylight study on p.212.", after=3),
      S("rowan", "thank you for your service", to=0),
      S("kasia", "20% affordable is low, no? Saltmarsh asked for 30% on their harbour "
                 "scheme", to=1),
      S("pj", "yes, the viability report argues it down. Worth saying so in a comment before 27 "
              "March."),
    ),
    T("x", "D4 16:00", "question answered",
      S("sunil", "@HarboursideBC can I switch my council tax to 12 monthly payments instead of "
                 "10?"),
      S("council", "Yes Sunil, you can request 12 instalments here: "
                   "https://harbourside.gov.example/counciltax/instalments. It takes effect from "
                   "next month's payment.", after=30),
      S("sunil", "Done. Easier than expected 👍"),
    ),
    T("bluesky", "D4 16:45", "spam",
      S("deals", "🔥 Harbourside! Earn £500 a day from home with this one trick. DM me 'INFO' 💸 "
                 "https://easy-money.test/hbs", flag="spam"),
    ),
    T("x", "D4 17:30", "broadcast question answered",
      S("council", "Full council meets tonight at 6:30pm. Watch live: "
                   "https://harbourside.gov.example/meetings/live. On the agenda: Marsh End "
                   "drainage and the parks survey. #HarbourCouncil"),
      S("ade", "thanks, so it IS open to the public? Can I just turn up?", after=12),
      S("council", "Yes, the public gallery is open. Doors at 6pm, first come first "
                   "served.", after=20),
      S("ade", "👍 see you there"),
    ),
    T("mastodon", "D4 18:00", "sensitive",
      S("thea", "It would have been Dad's 80th today. Took his flask of tea down to the harbour "
                "wall where he used to fish and sat with it for an hour. Harbourside hasn't been "
                "the same without him grumbling about the gulls.", flag="sensitive"),
      S("birds", "The gulls miss him too, I bet. Sending love.", after=30),
      S("thea", "That made me laugh. Thank you."),
    ),
    T("x", "D4 19:40", "official media awaiting",
      S("mbeki", "Full council has just agreed to publish the Marsh End drainage report next week "
                 "and to fund a feasibility study. Thank you to everyone who wrote in. #MarshEnd "
                 "#HarbourCouncil"),
      S("sunil", "🙌 great news", after=6),
      S("gary", "feasibility study = more waiting", to=0),
      S("kate", "can you share the cost of the study? @HarboursideBC too, please. Writing it up "
                "now.", to=0),
    ),
    T("bluesky", "D4 20:30", "official politics",
      S("sandhu", "A feasibility study is a start, but Marsh End needs money in the ground, not "
                  "more reports. I'll keep pushing. Thank you to the residents who came "
                  "tonight.", flag="sensitive"),
      S("joel", "thanks for raising it", after=9),
    ),
    T("x", "D4 21:00", "chatter",
      S("owl", "Quiz night results: 1st place 'Pothole Appreciation Society' 🏆 A team name that "
               "speaks to the town. See you next Thursday! #Harbourside"),
      S("rosie", "brilliant name 😂", after=15),
      S("dev", "robbed. we were one point off", to=0),
    ),
    # ------------------------------------------------------------ more threads
    T("x", "D1 07:50", "chatter",
      S("rosie", "Fog so thick on the bay this morning I ran the whole seafront without seeing the "
                 "sea. Eerie and lovely. #Harbourside"),
      S("sunil", "same, I heard the foghorn and nearly turned back", after=10),
      S("rosie", "the foghorn is the soundtrack of my childhood"),
      S("jamie", "my bike lights were useless, had to walk the last bit", to=0),
    ),
    T("bluesky", "D1 12:50", "question employee answered",
      S("mira", "Is the Mill Street cycle lane consultation still open? Can't find it anywhere on "
                "the council site. @council.harbourside.example"),
      S("tom", "It closed on Friday, sorry, but the results go to the highways committee in April "
               "and the papers will be public.", after=28),
      S("council", "Thanks Tom. Mira, the committee papers will be here when they're published: "
                   "https://harbourside.gov.example/meetings/highways", to=0, after=65),
      S("mira", "thanks both. missed it by three days, typical"),
      S("joel", "the cycle lane would be great if it didn't stop dead at the roundabout", to=0),
    ),
    T("mastodon", "D2 12:00", "question answered",
      S("rowan", "@HarboursideBC@harbour.social.example are there any public EV chargers near "
                 "Quayside? The map on your website shows two on Dock Street but I can only find "
                 "one and it's broken."),
      S("council", "Thanks Rowan. The second Dock Street charger was removed for the resurfacing "
                   "and comes back in April. We've reported the broken one to the operator this "
                   "morning.", after=85),
      S("rowan", "thanks! any others nearby in the meantime?"),
      S("council", "Mill Street car park has four, and they were all working at 9am "
                   "today.", after=30),
      S("rowan", "perfect 🙏"),
    ),
    T("x", "D2 16:40", "question answered",
      S("jamie", "@HarboursideBC what's the deadline for primary school in-year transfer "
                 "applications? Website has two different dates"),
      S("council", "Hi Jamie, in-year transfers can be made at any time; the 15 April date on the "
                   "site is for reception places starting in September. Sorry for the confusion, "
                   "we're fixing that page.", after=55),
      S("jamie", "that clears it up, thanks"),
    ),
    T("x", "D3 12:30", "question answered",
      S("rosie", "@HarboursideBC any chance of more dog bins on the Tidewater Park riverside path? "
                 "The one by the bridge is always overflowing by Saturday afternoon 🐕"),
      S("toni", "+1, the riverside path is dog central", after=14),
      S("council", "Good shout, Rosie. Parks will add an extra bin by the bridge and move that "
                   "path onto a twice-weekly empty from next week.", to=0, after=95),
      S("rosie", "You're on a roll this week! Thank you 👏"),
    ),
    T("x", "D3 14:15", "influencer chatter",
      S("lila", "Harbourside bakery ranking, because you asked (you didn't): 1. the cinnamon swirl "
                "at Fern's market stall, 2. Quayside Library café's cardamom bun, 3. any pie from "
                "the Owl & Anchor. Fight me. #HarbourEats"),
      S("toni", "no mention of my lemon drizzle, I'm devastated", after=7),
      S("lila", "send me a slice and we'll talk"),
      S("owl", "We'll take third. Pie of the day is steak and ale 🥧", to=0),
      S("becca", "the cinnamon swirl is correct", to=0),
      S("dev", "where's the chippy?? rigged list", to=0),
    ),
    T("mastodon", "D4 10:50", "question awaiting",
      S("hanna", "@HarboursideBC@harbour.social.example do you still give out free food waste "
                 "caddy liners? The library used to have rolls of them but the new one doesn't "
                 "seem to."),
      S("ellis", "I got some from Tidewater Hub last month, maybe try there?", after=35),
      S("hanna", "will do, thanks! Would still be nice to know officially"),
    ),
    T("bluesky", "D4 12:45", "praise answered",
      S("fern", "Bin crew on our road this morning were out in sideways rain, singing, and put "
                "every bin back where it came from. Whoever they are: legends. "
                "@council.harbourside.example"),
      S("council", "We'll make sure they hear this, thank you 💚", after=50),
      S("lou", "they do that on ours too, lovely lads", to=0),
    ),
    T("x", "D4 15:10", "media answered",
      S("echo", "Pothole reports in Harbourside are up 40% on last winter, figures released to the "
                "Echo show. Council says an extra £300k has gone into repairs. "
                "https://harbourside-echo.example/news/pothole-figures #HarbourNews"),
      S("carl", "40% and that's only the ones people bothered reporting", after=15),
      S("mo", "my suspension could have told you that for free", to=0),
      S("council", "Thanks @HarboursideEcho. Report any pothole at "
                   "https://harbourside.gov.example/report/pothole and we aim to make dangerous "
                   "ones safe within 24 hours.", to=0, after=70),
      S("mo", "24 hours?? the one on Salt Street has been there since January", after=20),
    ),
)
# fmt: on

# --------------------------------------------------------------------------- ids

_TID_ALPHABET = "234567abcdefghijklmnopqrstuvwxyz"  # Bluesky's sortable base32
_PLC_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"  # did:plc identifiers
_X_EPOCH_MS = 1288834974657  # X snowflake epoch
_AUDIENCE_SHARE = {"x": 1.0, "bluesky": 0.35, "mastodon": 0.2}


def _digest(*parts: str) -> int:
    return int.from_bytes(hashlib.sha256("|".join(parts).encode()).digest(), "big")


def _base32(value: int, alphabet: str, length: int) -> str:
    chars = []
    for _ in range(length):
        chars.append(alphabet[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def _did(handle: str) -> str:
    return "did:plc:" + _base32(_digest("did", handle), _PLC_ALPHABET, 24)


def author_id(platform: str, handle: str) -> str:
    """Stable, platform-shaped author ids: numeric on X and Mastodon, a DID on Bluesky."""
    if platform == "bluesky":
        return f"bluesky:{_did(handle)}"
    if platform == "mastodon":
        return f"mastodon:{109_000_000_000_000_000 + _digest(platform, handle) % 10**15}"
    return f"x:{10**17 + _digest(platform, handle) % (9 * 10**17)}"


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def native_post_id(platform: str, handle: str, moment: datetime, rng: random.Random) -> str:
    """Ids that sort by time, as each platform's do, so the corpus looks like a capture."""
    if platform == "x":
        snowflake = ((_ms(moment) - _X_EPOCH_MS) << 22) | (rng.randrange(1 << 22))
        return str(snowflake)
    if platform == "mastodon":
        return str((_ms(moment) << 16) | rng.randrange(1 << 16))
    micros = _ms(moment) * 1000 + rng.randrange(1000)
    return _base32((micros << 10) | rng.randrange(1 << 10), _TID_ALPHABET, 13)


def post_id_and_url(platform: str, handle: str, native: str) -> tuple[str, str]:
    if platform == "x":
        return f"x:{native}", f"https://x.example/{handle}/status/{native}"
    if platform == "mastodon":
        name, instance = handle.split("@", 1)
        return f"mastodon:{native}", f"https://{instance}/@{name}/{native}"
    uri = f"at://{_did(handle)}/app.bsky.feed.post/{native}"
    return f"bluesky:{uri}", f"https://bsky.example/profile/{handle}/post/{native}"


# --------------------------------------------------------------------------- build


def _author(who: str, platform: str) -> dict[str, Any]:
    person = CAST[who]
    handle = person.handle(platform)
    first = next(p for p in ("x", "mastodon", "bluesky") if getattr(person, p) is not None)
    share = 1.0 if platform == first else _AUDIENCE_SHARE[platform]
    return {
        "id": author_id(platform, handle),
        "handle": handle,
        "display_name": person.name,
        "bio": person.bio,
        "followers": int(person.followers * share),
        "following": 40 + _digest("following", platform, handle) % 900,
        "verified": person.verified,
        "is_org_account": False,
    }


def _start(spec: str, rng: random.Random) -> datetime:
    day, clock = spec.split()
    hours, minutes = (int(part) for part in clock.split(":"))
    offset = timedelta(days=int(day[1:]) - 1, hours=hours, minutes=minutes)
    return FIRST_DAY + offset + timedelta(seconds=rng.randrange(60))


def _delay(step: Step, rng: random.Random) -> timedelta:
    if step.after is not None:
        minutes = step.after
    elif step.who in ("council", "libs"):
        minutes = rng.randint(20, 150)  # staffed accounts answer within office routines
    else:
        minutes = rng.randint(2, 75)
    return timedelta(minutes=minutes, seconds=rng.randrange(60))


def _with_reply_prefix(platform: str, text: str, author: str, parent_handle: str) -> str:
    """X and Mastodon clients start a reply with the parent author's handle."""
    if platform == "bluesky" or text.startswith("@") or author == parent_handle:
        return text
    return f"@{parent_handle} {text}"


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Built:
    """A post as written to the corpus, plus what the script said it exemplifies."""

    record: dict[str, Any]
    created: datetime
    flag: str | None


def build(rng: random.Random | None = None) -> list[Built]:
    """Every post of every thread, in file order (created_at, then id)."""
    rng = rng or random.Random(SEED)
    built: list[Built] = []
    for thread in THREADS:
        platform = thread.platform
        posts: list[Built] = []
        for index, step in enumerate(thread.steps):
            author = _author(step.who, platform)
            parent = None if index == 0 else posts[index - 1 if step.to is None else step.to]
            if parent is None:
                created = _start(thread.start, rng)
                text = step.text
            else:
                created = parent.created + _delay(step, rng)
                parent_author = parent.record["author"]
                text = _with_reply_prefix(
                    platform, step.text, author["handle"], parent_author["handle"]
                )
            native = native_post_id(platform, author["handle"], created, rng)
            post_id, url = post_id_and_url(platform, author["handle"], native)
            record: dict[str, Any] = {
                "kind": "post",
                "id": post_id,
                "platform": platform,
                "url": url,
                "created_at": _iso(created),
                "lang": step.lang,
                "text": text,
                "author": author,
                "conversation_id": posts[0].record["id"] if posts else post_id,
                "in_reply_to": None
                if parent is None
                else {"post_id": parent.record["id"], "author_id": parent.record["author"]["id"]},
                "mentions": unique([span.value for span in find_mentions(text)]),
                "hashtags": unique([span.value for span in find_hashtags(text)]),
                "links": unique([span.value for span in find_links(text)]),
                "metrics": {},
            }
            posts.append(Built(record, created, step.flag))
        built.extend(posts)
    _fill_metrics(built, rng)
    built.sort(key=lambda b: (b.created, b.record["id"]))
    return built


def _fill_metrics(built: list[Built], rng: random.Random) -> None:
    """Reply counts are the replies in the corpus; likes and shares scale with reach."""
    replies = Counter(
        b.record["in_reply_to"]["post_id"] for b in built if b.record["in_reply_to"] is not None
    )
    for b in built:
        followers = b.record["author"]["followers"]
        is_root = b.record["in_reply_to"] is None
        if b.flag in ("spam", "abusive"):
            likes = rng.randint(0, 2)
        else:
            reach = 2 + followers**0.5 * (0.6 if is_root else 0.1)
            likes = rng.randint(0, int(reach))
        shares = rng.randint(0, likes // 4) if is_root else rng.randint(0, likes // 10)
        b.record["metrics"] = {"likes": likes, "shares": shares, "replies": replies[b.record["id"]]}


def render(built: list[Built] | None = None) -> str:
    """The corpus file's exact text: one JSON object per line, validated against the model."""
    lines = []
    for b in build() if built is None else built:
        CanonicalPost.model_validate(b.record)
        lines.append(json.dumps(b.record, ensure_ascii=False))
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- summary


def own_handles() -> set[str]:
    """Handles of the council's own accounts, as the council profile lists them."""
    from processors.profile import load_profile

    profile = REPO / "streams" / "sample" / "profile-council.yaml"
    return load_profile(profile).own_handles()


def awaiting_conversations(records: list[dict[str, Any]], own: set[str]) -> set[str]:
    """Conversations where someone addressed the council after its last post there.

    "Addressed" means mentioned an own handle or replied to an own post; this is
    the plain reading of "awaiting our reply", before any judgement about
    whether a reply would be welcome (spam and abuse are still counted).
    """
    own_ids = {r["author"]["id"] for r in records if r["author"]["handle"].lower() in own}
    waiting: dict[str, bool] = {}
    for r in records:  # file order is time order
        conversation = r["conversation_id"]
        if r["author"]["id"] in own_ids:
            waiting[conversation] = False
            continue
        mentions_us = any(m.lower() in own for m in r["mentions"])
        replies_to_us = (r["in_reply_to"] or {}).get("author_id") in own_ids
        if mentions_us or replies_to_us:
            waiting[conversation] = True
    return {c for c, w in waiting.items() if w}


def summary(built: list[Built]) -> dict[str, int]:
    records = [b.record for b in built]
    own = own_handles()
    conversations = {r["conversation_id"] for r in records}
    with_own = {r["conversation_id"] for r in records if r["author"]["handle"].lower() in own}
    awaiting = awaiting_conversations(records, own)
    junk = {
        b.record["conversation_id"]
        for b in built
        if b.record["in_reply_to"] is None and b.flag in ("spam", "abusive")
    }
    counts: dict[str, int] = {
        "posts": len(records),
        "threads": len(conversations),
        "threads_with_own_post": len(with_own),
        "threads_awaiting_reply": len(awaiting),
        "threads_awaiting_reply_excluding_spam_abuse": len(awaiting - junk),
    }
    for platform in PLATFORMS:
        counts[f"posts_{platform}"] = sum(1 for r in records if r["platform"] == platform)
    for flag in ("sensitive", "abusive", "spam"):
        counts[f"posts_{flag}"] = sum(1 for b in built if b.flag == flag)
    for tag, n in sorted(Counter(t for thread in THREADS for t in thread.tags).items()):
        counts[f"threads_tagged_{tag}"] = n
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="fail if the file is out of date")
    parser.add_argument("--summary", action="store_true", help="print counts, write nothing")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    built = build()
    if args.summary:
        for key, value in summary(built).items():
            print(f"{key:48} {value}")
        return 0
    text = render(built)
    if args.check:
        current = args.out.read_bytes().decode("utf-8") if args.out.exists() else ""
        if current != text:
            print(f"{args.out} is stale; run: python tools/make_sample_corpus.py", file=sys.stderr)
            return 1
        return 0
    args.out.write_text(text, encoding="utf-8", newline="")
    print(f"wrote {len(built)} posts to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
