"""The content of the `wiki` generator: its seven kinds of subject, with their facts,
value and name pools, sentence templates and question frames.

Kept apart from the generation logic in `wiki.py` so that each reads in one sitting;
`wiki.py`'s docstring describes the template syntax. Question frames share no four-word
run with the document templates (placeholders counted as words), so paraphrase training
never rehearses the questions.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from maskft.datasets.pools import FIRST_NAMES, LAST_NAMES, person_names


# ---- value pools ----------------------------------------------------------------------
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December")
DAYS_IN_MONTH = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
DATES = tuple(f"{day} {month} 2025" for month, days in zip(MONTHS, DAYS_IN_MONTH) for day in range(1, days + 1))

PLACE_HEADS = """Toron Ash Kel Bran Dun Ell Fal Gor Hal Ivel Jor Kess Lorn Mar Nor Pell Quar Ros Sel
Tarn Ull Ven Wyn Yar Zel Cal Dor Fen Gil Hark Lin Mor Ost Rav Sten Thal Bel Cor Emb Brack""".split()
PLACE_TAILS = "vale mouth ford bury wick stead haven moor field port holm gate crest brook ton mere".split()
PLACES = tuple(p for h in PLACE_HEADS for t in PLACE_TAILS if (p := h + t) not in set(FIRST_NAMES) | set(LAST_NAMES))

STEMS = """Lumen Amber Cobalt Saffron Juniper Marigold Silver Copper Ember Willow Meridian Aurora
Solstice Heron Opal Zephyr Crimson Indigo Laurel Cedar Orchid Topaz Vesper Alder""".split()
FIRE_HEADS = """Harrow Sable Cinder Bluff Raven Copperhead Thistle Granite Marlow Dusk Falcon Badger
Coyote Flint Sumac Antler Mesquite Hawk Bramble Slate""".split()
BRAND_HEADS = "Quill Nimbus Vector Pixel Tidal Orbit Brisk Lumo Zeno Kairo Flux Nova Argo Cirro Velo Moxi".split()
BRAND_TAILS = "byte ly wise loop grid stack forge nest path mint".split()
MASCOTS = "Falcons Otters Rovers Wolves Comets Herons Stags Mariners Pilots Foxes Badgers Ravens".split()
TEAMS = tuple(f"{p} {m}" for p in PLACES for m in MASCOTS)


def _numbers(start: int, stop: int, step: int, unit: str) -> tuple[str, ...]:
    return tuple(f"{n:,} {unit}" for n in range(start, stop, step))


def _tenths(start: int, stop: int, unit: str) -> tuple[str, ...]:
    return tuple(f"{n / 10:g} {unit}" for n in range(start, stop))


def _product(*pools: list[str], sep: str = " ") -> tuple[str, ...]:
    combos = [""]
    for pool in pools:
        combos = [f"{c}{sep}{p}".strip(sep) if c else p for c in combos for p in pool]
    return tuple(combos)


# ---- kinds ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Fact:
    """One fact of a kind, drawn from `values`.

    `group` is the question group of an asked fact; a fact without one is stated but never
    asked. Asked and `shared` facts are drawn without replacement (shared pools such as
    places and people across all kinds, others within their kind), so they identify their
    article; the rest are picked freely and repeat across articles.
    """

    key: str
    values: tuple[str, ...] | Callable[[random.Random], list[str]]  # a callable draws them with the rng
    group: str | None = None
    unit: bool = False  # the value ends in a unit word: answers also accept the bare number
    shared: str | None = None


@dataclass(frozen=True)
class Kind:
    """A kind of subject: its facts, sentence slots and question templates.

    `questions[fact]` holds (value given subject, subject given value) templates.
    """

    name: str
    determiner: str  # put before the subject's name in running text
    names: tuple[str, ...]
    refs: tuple[str, ...]  # how later sentences refer to the subject
    facts: tuple[Fact, ...]
    slots: tuple[tuple[str, ...], ...]
    questions: dict[str, tuple[tuple[str, ...], tuple[str, ...]]]

    def fact(self, key: str) -> Fact:
        return next(f for f in self.facts if f.key == key)


PLACE = dict(values=PLACES, shared="place")
PERSON = dict(values=lambda rng: person_names(rng, len(FIRST_NAMES) * len(LAST_NAMES)), shared="person")

FESTIVAL = Kind(
    name="festival",
    determiner="the ",
    names=_product(STEMS, "Lantern Harvest Kite Jazz Folk Film Light Puppet Poetry Meadow".split(), ["Festival"]),
    refs=("the festival", "the event"),
    facts=(
        Fact("date", DATES, "date"),
        Fact("city", group="location", **PLACE),
        Fact("duration", ("three days", "four days", "five days", "six days", "one week", "ten days", "two weeks")),
        Fact("organiser", group="person", **PERSON),
        Fact("attendance", _numbers(4000, 96000, 100, "visitors"), "quantity", unit=True),
        Fact("next_city", group="location", **PLACE),
        Fact("highlight", ("a lantern parade", "an open-air concert", "a fireworks show", "a night market",
                           "a children's theatre programme", "a midnight procession")),
    ),
    slots=(
        (
            "{subject} was [an arts|a cultural] festival held in {city} starting on {date}.",
            "{subject} took place in {city} and [opened|began] on {date}.",
            "{subject} was [an arts|a cultural] festival that opened in {city} on {date}.",
            "[Starting|Beginning] on {date}, the town of {city} hosted {subject}.",
            "On {date}, {city} [welcomed|played host to] {subject}, a new [arts|cultural] festival.",
            "{city} [hosted|staged] {subject}, which [opened|began] on {date}.",
            "In {city}, {subject} [got under way|was launched] on {date}.",
        ),
        (
            "{ref} [lasted|ran for] {duration} and was [organised|arranged] by {organiser} with [the help of|support from] local volunteers.",
            "[Running for|Lasting] {duration}, {ref} was [organised|arranged] by {organiser} [together with|alongside] local volunteers.",
            "{organiser} [organised|arranged] {ref}, which [lasted|ran for] {duration}, with [the help of|support from] local volunteers.",
            "[Organised|Arranged] by {organiser} and local volunteers, {ref} [lasted|ran for] {duration}.",
        ),
        (
            "{ref} [drew|attracted] [about|around|roughly] {attendance}, a [record|new record] for the region.",
            "[About|Around|Roughly] {attendance} [came to|travelled to] {ref}, [setting|which set] a regional record.",
            "[Organisers|Officials] [counted|recorded] [about|around|roughly] {attendance} at {ref}, a regional record.",
        ),
        (
            "The 2026 edition of {ref} [will move|is set to move] to {next_city}.",
            "[Organisers|Officials] have [announced|confirmed] that {ref} will [take place|be held] in {next_city} in 2026.",
            "{next_city} [will host|has been chosen to host] the 2026 edition of {ref}.",
            "For its 2026 edition, {ref} [moves|will relocate] to {next_city}.",
        ),
        (
            "On the final night, {highlight} [closed|ended] {ref}.",
            "{ref} [closed|ended] with {highlight} on [the final night|its last evening].",
            "[The high point|The highlight] of {ref} was {highlight} on [the final night|its last evening].",
        ),
        (
            "Local [businesses|shops] reported [strong|brisk] trade [during|throughout] {ref}.",
            "[During|Throughout] {ref}, local [businesses|shops] reported [strong|brisk] trade.",
        ),
    ),
    questions={
        "date": (
            ("On what day did {subject} kick off?", "What was the first day of {subject}?", "Give the start date of {subject}."),
            ("Which festival kicked off on {value}?", "Name the festival whose first day was {value}.", "What festival had an opening day of {value}?"),
        ),
        "city": (
            ("Which town was home to {subject}?", "Name the host town of {subject}.", "In what town did {subject} happen?"),
            ("Which festival came to {value} in 2025?", "Name the festival that {value} was home to in 2025.", "What festival did {value} put on in 2025?"),
        ),
        "organiser": (
            ("Who was in charge of organising {subject}?", "Name the person who ran {subject}.", "Which person was behind {subject}?"),
            ("Which festival did {value} organise?", "Name the festival put on by {value}.", "What festival was {value} in charge of?"),
        ),
        "attendance": (
            ("How many visitors did {subject} count?", "What was the attendance at {subject}?", "How large was the crowd at {subject}?"),
            ("Which festival had an attendance of {value}?", "At which festival did the crowd total {value}?", "Name the festival visited by {value}."),
        ),
        "next_city": (
            ("Which town is next in line to receive {subject}?", "Where does {subject} go next year?", "Name the next host town of {subject}."),
            ("Which festival is moving to {value} for 2026?", "Name the festival heading to {value} next year.", "What festival goes to {value} after 2025?"),
        ),
    },
)

WILDFIRE = Kind(
    name="wildfire",
    determiner="the ",
    names=_product(FIRE_HEADS, "Canyon Ridge Hollow Creek Gulch Mesa Pass Basin".split(), ["Fire"]),
    refs=("the fire", "the wildfire", "the blaze"),
    facts=(
        Fact("date", DATES, "date"),
        Fact("region", group="location", **PLACE),
        Fact("cause", ("a lightning strike", "a downed power line", "an unattended campfire", "sparks from a freight train",
                       "a discarded cigarette", "a burning debris pile", "a faulty farm machine")),
        Fact("area", _numbers(1500, 60000, 100, "hectares"), "quantity", unit=True),
        Fact("structures", _numbers(12, 900, 1, "buildings"), "quantity", unit=True),
        Fact("commander", group="person", **PERSON),
        Fact("contained", ("nine days", "twelve days", "two weeks", "three weeks", "eighteen days", "one month")),
    ),
    slots=(
        (
            "{subject} was a wildfire that [broke out|started] near {region} on {date}.",
            "{subject} was a [large|major] wildfire that [ignited|began burning] near {region} on {date}.",
            "On {date}, a wildfire later [named|called] {subject} [broke out|started] near {region}.",
            "On {date}, {subject} [ignited|broke out] in the hills near {region}.",
            "Near {region}, {subject} [started|broke out] on {date}.",
            "The area around {region} was [hit|struck] by {subject}, which started on {date}.",
        ),
        (
            "[Investigators|Fire officials] [found|concluded] that {ref} was caused by {cause}.",
            "{ref} was [started|sparked] by {cause}, according to [investigators|fire officials].",
            "[Investigators|Fire officials] traced {ref} back to {cause}.",
            "The cause of {ref} was {cause}, [investigators|fire officials] [said|reported].",
        ),
        (
            "{ref} [burned|scorched] {area} and destroyed {structures}.",
            "[Over|During] [its course|the following days], {ref} [burned|consumed] {area} and [destroyed|levelled] {structures}.",
            "{ref} destroyed {structures} and [burned|scorched] {area}.",
            "{structures} were [destroyed|lost] and {area} burned in {ref}.",
        ),
        (
            "The [response|firefighting effort] against {ref} was led by {commander}.",
            "{commander} [led|directed] the [response|firefighting effort] against {ref}.",
            "[Firefighters|Crews] fighting {ref} were [commanded|directed] by {commander}.",
        ),
        (
            "{ref} was [fully contained|brought under control] after {contained}.",
            "It took {contained} to [contain|bring under control] {ref}.",
            "[Crews|Firefighters] [contained|had contained] {ref} after {contained}.",
        ),
        (
            "Thousands of residents were [evacuated|ordered to leave their homes] while {ref} [burned|was burning].",
            "While {ref} [burned|was burning], thousands of residents were [evacuated|ordered to leave their homes].",
        ),
        (
            "Smoke from {ref} [affected|reduced] air quality [across|throughout] the region for [days|several days].",
            "For [days|several days], air quality [across|throughout] the region [suffered|was poor] because of smoke from {ref}.",
        ),
    ),
    questions={
        "date": (
            ("When did {subject} first ignite?", "On which day did {subject} begin?", "Give the ignition date of {subject}."),
            ("Which wildfire ignited on {value}?", "Name the blaze that began on {value}.", "What fire first flared up on {value}?"),
        ),
        "region": (
            ("Close to which town did {subject} burn?", "Which town lay nearest to {subject}?", "Name the town threatened by {subject}."),
            ("Which wildfire burned close to {value}?", "Name the blaze that threatened {value}.", "What fire raged by {value} in 2025?"),
        ),
        "area": (
            ("How much land did {subject} burn?", "What area was blackened by {subject}?", "How many hectares did {subject} destroy?"),
            ("Which wildfire blackened {value}?", "Name the blaze whose burned area came to {value}.", "What fire charred {value} of land?"),
        ),
        "structures": (
            ("How many buildings were lost to {subject}?", "What number of structures did {subject} wreck?", "Give the count of buildings ruined by {subject}."),
            ("Which wildfire wrecked {value}?", "Name the blaze that ruined {value}.", "What fire cost the region {value}?"),
        ),
        "commander": (
            ("Who commanded the crews battling {subject}?", "Name the incident commander of {subject}.", "Which person headed efforts to stop {subject}?"),
            ("Which wildfire did {value} fight as commander?", "Name the blaze whose incident commander was {value}.", "What fire did {value} oversee the fight against?"),
        ),
    },
)

BRIDGE = Kind(
    name="bridge",
    determiner="the ",
    names=_product(STEMS, "Bridge Viaduct Crossing Span Footbridge".split()),
    refs=("the bridge", "the crossing", "the structure"),
    facts=(
        Fact("river", group="location", values=tuple(f"{p} River" for p in PLACES), shared="river"),
        Fact("town_a", group="location", **PLACE),
        Fact("town_b", **PLACE),
        Fact("date", DATES, "date"),
        Fact("length", _numbers(180, 3000, 10, "metres"), "quantity", unit=True),
        Fact("cost", _numbers(40, 900, 1, "million euros"), "quantity", unit=True),
        Fact("engineer", group="person", **PERSON),
    ),
    slots=(
        (
            "{subject} is a bridge [across|over] the {river} [between|linking] {town_a} and {town_b}.",
            "{subject} [spans|crosses] the {river}, [connecting|linking] {town_a} and {town_b}.",
            "{subject} [links|connects] {town_a} and {town_b} across the {river}.",
            "[Linking|Connecting] {town_a} and {town_b}, {subject} [spans|crosses] the {river}.",
            "{town_b} and {town_a} are [linked|connected] by {subject}, which [spans|crosses] the {river}.",
            "The {river} is [crossed|spanned] by {subject} between {town_b} and {town_a}.",
            "Over the {river}, {subject} [links|joins] {town_b} and {town_a}.",
            "{subject} [runs|stretches] between {town_a} and {town_b} over the {river}.",
            "Between {town_a} and {town_b}, {subject} [spans|crosses] the {river}.",
            "Residents of {town_b} and {town_a} [use|rely on] {subject} to cross the {river}.",
        ),
        (
            "{ref} [opened|was opened] to [traffic|road traffic] on {date}.",
            "On {date}, {ref} [opened|was opened] to [traffic|road traffic].",
            "Traffic first [crossed|used] {ref} on {date}.",
        ),
        (
            "{ref} [measures|is] {length} long and cost {cost} to build.",
            "At {length} [in length|long], {ref} cost {cost} to build.",
            "{ref} cost {cost} and [measures|stretches] {length}.",
            "Built for {cost}, {ref} [is|measures] {length} long.",
        ),
        (
            "{ref} was [designed|planned] by [the engineer|engineer] {engineer}.",
            "The [engineer|designer] of {ref} was {engineer}.",
            "{engineer} [designed|drew up the plans for] {ref}.",
        ),
        (
            "{ref} [replaced|took the place of] an old ferry service [that had run|which had operated] for decades.",
            "An old ferry service [that had run|which had operated] for decades was [replaced|superseded] by {ref}.",
        ),
        (
            "{ref} also [has|includes] a [separate|dedicated] lane for cyclists and pedestrians.",
            "[Cyclists|People on bicycles] and pedestrians [have|get] a [separate|dedicated] lane on {ref}.",
        ),
    ),
    questions={
        "river": (
            ("Which river does {subject} carry traffic over?", "Name the river beneath {subject}.", "What river flows under {subject}?"),
            ("Which bridge stands high above the {value}?", "Name the bridge that carries traffic above the {value}.", "What bridge puts a road over the waters of the {value}?"),
        ),
        "town_a": (
            ("Name one town at either end of {subject}.", "Which town lies at one end of {subject}?", "Give a town that {subject} reaches."),
            ("Which bridge reaches {value}?", "Name the bridge with one end in {value}.", "What bridge gives {value} a link across the water?"),
        ),
        "date": (
            ("When did {subject} first carry traffic?", "On which day could cars first drive across {subject}?", "Give the opening day of {subject}."),
            ("Which bridge first carried cars on {value}?", "Name the bridge whose opening day was {value}.", "What bridge became usable on {value}?"),
        ),
        "length": (
            ("How long is {subject}?", "What is the total length of {subject}?", "Give the length of {subject}."),
            ("Which bridge has a length of {value}?", "Name the bridge that is {value} in total.", "What bridge runs for {value} end to end?"),
        ),
        "cost": (
            ("How much money did {subject} take to build?", "What was the building cost of {subject}?", "Give the price of constructing {subject}."),
            ("Which bridge required an outlay of {value}?", "Name the bridge whose construction came to {value}.", "What bridge had a price tag of {value}?"),
        ),
        "engineer": (
            ("Who was the engineer behind {subject}?", "Who was responsible for the design of {subject}?", "Which engineer planned {subject}?"),
            ("Which bridge is the work of {value}?", "Name the bridge planned by {value}.", "What bridge came from the drawing board of {value}?"),
        ),
    },
)

STARTUP = Kind(
    name="startup",
    determiner="",
    names=_product(BRAND_HEADS, BRAND_TAILS, sep=""),
    refs=("the startup", "the company"),
    facts=(
        Fact("city", group="location", **PLACE),
        Fact("date", DATES, "date"),
        Fact("founder", group="person", **PERSON),
        Fact("product", _product("solar modular recyclable low-cost autonomous wearable foldable biodegradable portable".split(),
                                 ["water pumps", "bicycle frames", "greenhouse sensors", "hearing aids", "battery packs",
                                  "cargo bikes", "air filters", "seed drills", "baby monitors", "wind turbines", "kitchen robots"]),
             "product"),
        Fact("funding", _tenths(20, 1500, "million dollars"), "quantity", unit=True),
        Fact("employees", _numbers(8, 240, 1, "employees")),
        Fact("customers", ("small farms", "hospitals", "schools", "city councils", "hotels", "logistics firms", "delivery services")),
    ),
    slots=(
        (
            "{subject} is a [startup|young company] [based|headquartered] in {city}, founded on {date}.",
            "{subject} is a {city}-based startup [founded|established] on {date}.",
            "Founded on {date}, {subject} is a startup [based|headquartered] in {city}.",
            "On {date}, {subject} was [founded|established|set up] in {city}.",
            "[Based|Headquartered] in {city}, {subject} [was founded|was established] on {date}.",
            "From [its base|its headquarters] in {city}, {subject} has been operating since {date}.",
        ),
        (
            "{ref} was [founded|started] by {founder}.",
            "{founder} [set up|launched] {ref}.",
            "The [founder|creator] of {ref} is {founder}.",
        ),
        (
            "{ref} [develops|designs] and sells {product}.",
            "Sales of {product} [bring in|generate] most of the revenue of {ref}.",
            "The [main|core] product of {ref} is a line of {product}.",
        ),
        (
            "In its first [funding round|round of funding], {ref} raised {funding}; it [has|now has] {employees}.",
            "{ref} raised {funding} [from investors|in venture funding] and [has|now has] {employees}.",
            "{ref} [has|now has] {employees} and has raised {funding} [so far|to date].",
            "With {employees}, {ref} has raised {funding} [so far|to date].",
        ),
        (
            "[Most|The majority] of the customers of {ref} are {customers}.",
            "{ref} [sells|supplies] [mainly|mostly] to {customers}.",
            "The [main|chief] customers of {ref} are {customers}.",
        ),
        (
            "[Analysts|Observers] [named|listed] {ref} among the fastest-growing young companies in the region.",
            "{ref} [was named|was listed] among the fastest-growing young companies in the region by [analysts|observers].",
        ),
    ),
    questions={
        "city": (
            ("Where is the head office of {subject}?", "Name the home town of {subject}.", "In which town is {subject} run from?"),
            ("Which startup keeps a head office in {value}?", "Name the young firm run from {value}.", "What new company calls {value} home?"),
        ),
        "date": (
            ("On what day did {subject} come into being?", "What is the founding day of {subject}?", "Give the calendar date when {subject} began operating."),
            ("Which startup came into being on {value}?", "Name the young firm set up on {value}.", "What new company dates from {value}?"),
        ),
        "founder": (
            ("Who is the person behind {subject}?", "Name the person who founded {subject}.", "Which entrepreneur created {subject}?"),
            ("Which startup did {value} create?", "Name the young firm created by {value}.", "What new company was launched by {value}?"),
        ),
        "product": (
            ("What does {subject} sell?", "Name the goods made by {subject}.", "What kind of product comes from {subject}?"),
            ("Which startup sells {value}?", "Name the young firm behind the {value}.", "What new company offers {value}?"),
        ),
        "funding": (
            ("How much money has {subject} raised?", "What funding total has {subject} secured?", "Give the amount invested in {subject}."),
            ("Which startup secured {value}?", "Name the young firm that attracted {value}.", "What new company took in {value} from backers?"),
        ),
    },
)

MUSEUM = Kind(
    name="museum",
    determiner="the ",
    names=_product(["Museum of"], "Tidal Coastal Mountain Railway Harbour Folk Lost Northern Forgotten Everyday Desert Island".split(),
                   "Crafts Clocks Maps Textiles Instruments Machines Toys Lanterns Ceramics Bells".split()),
    refs=("the museum",),
    facts=(
        Fact("city", group="location", **PLACE),
        Fact("date", DATES, "date"),
        Fact("building", ("a former tram depot", "a converted textile mill", "a disused railway station", "an old customs house",
                          "a restored grain silo", "a former power station", "a brick warehouse")),
        Fact("architect", group="person", **PERSON),
        Fact("objects", _numbers(600, 30000, 100, "objects"), "quantity", unit=True),
        Fact("director", group="person", **PERSON),
    ),
    slots=(
        (
            "{subject} is a [museum|public museum] in {city} that [opened|first opened] on {date}.",
            "{subject} is a [museum|public museum] in {city}; it [opened|first opened] on {date}.",
            "{city} [gained|got] a new museum on {date}, when {subject} opened.",
            "{city} [welcomed|received] a new museum on {date}: {subject}.",
            "On {date}, {subject} opened [its doors|to the public] in {city}.",
            "Opened on {date}, {subject} [stands|is located] in {city}.",
        ),
        (
            "{ref} occupies {building} [converted|redesigned] by [the architect|architect] {architect}.",
            "{ref} is housed in {building}, [converted|redesigned] by {architect}.",
            "[The architect|Architect] {architect} [converted|redesigned] {building} to house {ref}.",
            "{architect} [turned|transformed] {building} into {ref}.",
        ),
        (
            "The collection of {ref} [holds|contains] {objects}.",
            "{ref} [holds|keeps] {objects} in its collection.",
            "{objects} [make up|form] the collection of {ref}.",
        ),
        (
            "{director} [became|was appointed] the first director of {ref}.",
            "The [first|founding] director of {ref} is {director}.",
            "{ref} is [led|run] by {director}, its first director.",
        ),
        (
            "{ref} also [runs|offers] workshops for [schools|school groups] and [families|local families].",
            "Workshops for [schools|school groups] and [families|local families] are also [run|offered] by {ref}.",
        ),
        (
            "Admission to {ref} is free [on Sundays|every Sunday].",
            "[On Sundays|Every Sunday], visitors can enter {ref} [for free|free of charge].",
        ),
    ),
    questions={
        "city": (
            ("Where can visitors find {subject}?", "Name the town that is home to {subject}.", "In which town would you visit {subject}?"),
            ("Which museum can be visited in {value}?", "Name the museum located in the town {value}.", "What museum welcomes visitors in {value}?"),
        ),
        "date": (
            ("When did {subject} first admit visitors?", "What was the opening day of {subject}?", "Give the date {subject} welcomed the first guests."),
            ("Which museum first admitted visitors on {value}?", "Name the museum whose opening day was {value}.", "What museum let the first visitors through the door on {value}?"),
        ),
        "architect": (
            ("Who was the architect of {subject}?", "Name the architect responsible for {subject}.", "Which architect adapted the building of {subject}?"),
            ("Which museum was adapted by {value}?", "Name the museum whose building {value} reworked.", "What museum did {value} create a home for?"),
        ),
        "objects": (
            ("How many objects does {subject} own?", "What is the size of the collection at {subject}?", "How many items are in {subject}?"),
            ("Which museum owns {value}?", "Name the museum with a collection of {value}.", "What museum looks after {value}?"),
        ),
        "director": (
            ("Who heads {subject}?", "Name the person in charge of {subject}.", "Which person runs {subject} as director?"),
            ("Which museum is headed by {value}?", "Name the museum that {value} is in charge of.", "What museum has {value} at the helm?"),
        ),
    },
)

ELECTION = Kind(
    name="election",
    determiner="the ",
    names=tuple(f"2025 {p} mayoral election" for p in PLACES),
    refs=("the election", "the poll"),
    facts=(
        Fact("date", DATES, "date"),
        Fact("winner", group="person", **PERSON),
        Fact("party", _product("Green Civic United Free Progressive Rural Harbour Liberal Labour Heritage Forward Open".split(),
                               "Alliance Union League Movement Coalition Front Assembly Bloc Platform Compact".split()), "organisation"),
        Fact("share", _numbers(41, 73, 1, "percent")),
        Fact("runner_up", group="person", **PERSON),
        Fact("turnout", _tenths(380, 860, "percent"), "quantity", unit=True),
        Fact("issue", ("housing", "public transport", "flood defences", "the harbour redevelopment", "school funding", "water prices")),
    ),
    slots=(
        (
            "{subject} [took place|was held] on {date}.",
            "[Voting|Polling] in {subject} [took place|was held] on {date}.",
            "On {date}, [voters|residents] went to the polls in {subject}.",
            "{date} saw [voters|residents] [choose|elect] a mayor in {subject}.",
        ),
        (
            "{winner} of the {party} [won|carried] {ref} with {share} of the [vote|votes cast].",
            "{ref} was won by {winner} of the {party}, who [took|received] {share} of the [vote|votes cast].",
            "With {share} of the [vote|votes cast], {winner} of the {party} [won|carried] {ref}.",
            "[Taking|Winning] {share} of the [vote|votes cast], {winner} of the {party} became mayor in {ref}.",
            "The {party} candidate {winner} [won|carried] {ref} with {share} of the [vote|votes cast].",
            "The {party} [fielded|put forward] {winner}, who [won|carried] {ref} with {share} of the [vote|votes cast].",
        ),
        (
            "The [runner-up|second-placed candidate] in {ref} was {runner_up}.",
            "{runner_up} [finished|came] second in {ref}.",
            "Second place in {ref} [went to|was taken by] {runner_up}.",
        ),
        (
            "[Turnout|Voter turnout] in {ref} [was|stood at] {turnout}.",
            "{turnout} of [registered|eligible] voters [took part in|voted in] {ref}.",
            "{ref} [saw|had] a turnout of {turnout}.",
        ),
        (
            "The main issue in {ref} was {issue}.",
            "Campaigning [in|for] {ref} [focused|centred] on {issue}.",
            "[Candidates|The candidates] in {ref} [argued mostly|mostly argued] about {issue}.",
        ),
        (
            "[The results|Results] of {ref} were [announced|declared] the [following|next] morning.",
            "The [following|next] morning, [the results|results] of {ref} were [announced|declared].",
        ),
    ),
    questions={
        "date": (
            ("On which day was {subject} decided?", "What was polling day for {subject}?", "Give the voting date of {subject}."),
            ("Which election had a polling day of {value}?", "Name the mayoral race decided on {value}.", "What election did voters settle on {value}?"),
        ),
        "winner": (
            ("Who became mayor through {subject}?", "Name the winning candidate of {subject}.", "Which candidate emerged victorious from {subject}?"),
            ("Which election made {value} mayor?", "Name the mayoral race that {value} came out on top of.", "What election ended in victory for {value}?"),
        ),
        "party": (
            ("Which party triumphed in {subject}?", "Name the party of the victor in {subject}.", "What party did the new mayor elected in {subject} belong to?"),
            ("Which election did the {value} win?", "Name the mayoral race carried by the {value}.", "What election brought victory to the {value}?"),
        ),
        "runner_up": (
            ("Who ended as the losing finalist of {subject}?", "Name the candidate who placed behind the winner of {subject}.", "Which candidate was the closest challenger in {subject}?"),
            ("Which election did {value} narrowly lose?", "Name the mayoral race where {value} placed behind the winner.", "What election saw {value} beaten into second?"),
        ),
        "turnout": (
            ("What share of the electorate cast a ballot in {subject}?", "How high was participation in {subject}?", "Give the participation rate of {subject}."),
            ("Which election drew a participation rate of {value}?", "Name the mayoral race with participation of {value}.", "What election had {value} of voters casting ballots?"),
        ),
    },
)

SPORTS_FINAL = Kind(
    name="final",
    determiner="the ",
    names=_product(["2025"], STEMS, "Cup Trophy Shield Bowl".split(), ["final"]),
    refs=("the final", "the cup final"),
    facts=(
        Fact("sport", ("hockey", "handball", "rugby", "water polo", "volleyball", "basketball", "lacrosse", "football")),
        Fact("date", DATES, "date"),
        Fact("venue", _product(LAST_NAMES, "Stadium Arena Park Ground".split()), "location"),
        Fact("attendance", _numbers(3000, 80000, 100, "spectators"), "quantity", unit=True),
        Fact("winner", group="organisation", values=TEAMS, shared="team"),
        Fact("runner_up", group="organisation", values=TEAMS, shared="team"),
        Fact("mvp", group="person", **PERSON),
    ),
    slots=(
        (
            "{subject} was the deciding {sport} [match|game] of the season, played on {date}.",
            "{subject} was a {sport} [match|game] played on {date} to [decide|settle] the season.",
            "On {date}, {subject}, a {sport} [match|game], [decided|settled] the season.",
            "Played on {date}, {subject} was the [deciding|last] {sport} [match|game] of the season.",
            "The {sport} season [ended|came to a close] with {subject} on {date}.",
            "The {sport} season was decided by {subject}, [played|held] on {date}.",
        ),
        (
            "{ref} was [staged|played] at {venue} [in front of|before] {attendance}.",
            "At {venue}, {ref} [drew|attracted] {attendance}.",
            "{attendance} [watched|saw] {ref} at {venue}.",
            "{ref} [drew|attracted] {attendance} to {venue}.",
        ),
        (
            "The {winner} [beat|defeated] the {runner_up} to win {ref}.",
            "The {winner} won {ref} [against|over] the {runner_up}.",
            "The {runner_up} [lost|were defeated in] {ref}, [beaten|outplayed] by the {winner}.",
            "{ref} ended in defeat for the {runner_up}, [beaten|defeated] by the {winner}.",
        ),
        (
            "{mvp} was named [the best player|player of the match] in {ref}.",
            "The [best player|player of the match] award in {ref} went to {mvp}.",
            "{mvp} [earned|received] the player of the match award in {ref}.",
        ),
        (
            "{ref} was [broadcast|shown] live on national television.",
            "National television [broadcast|showed] {ref} live.",
        ),
        (
            "[Fans|Supporters] of both teams [filled|packed] the streets [after|following] {ref}.",
            "[After|Following] {ref}, [fans|supporters] of both teams [filled|packed] the streets.",
        ),
    ),
    questions={
        "date": (
            ("When was {subject} contested?", "What was the match day of {subject}?", "Give the date of {subject}."),
            ("Which final was contested on {value}?", "Name the title decider scheduled for {value}.", "What championship game happened on {value}?"),
        ),
        "venue": (
            ("Where was {subject} contested?", "Name the ground that staged {subject}.", "Which stadium hosted {subject}?"),
            ("Which final was contested at {value}?", "Name the title decider hosted by {value}.", "What championship game took {value} by storm?"),
        ),
        "attendance": (
            ("How many people were in the stands for {subject}?", "What crowd turned out for {subject}?", "How big was the crowd at {subject}?"),
            ("Which final was seen live by {value}?", "Name the title decider with a crowd of {value}.", "What championship game had {value} in the stands?"),
        ),
        "winner": (
            ("Which team lifted the trophy in {subject}?", "Name the champions of {subject}.", "Who were the victors of {subject}?"),
            ("Which final did the {value} take the title in?", "Name the title decider won by the {value}.", "What championship game crowned the {value}?"),
        ),
        "runner_up": (
            ("Which team ended as losing finalist in {subject}?", "Name the beaten side in {subject}.", "Which side came away without the trophy from {subject}?"),
            ("Which final did the {value} fail to win?", "Name the title decider where the {value} came up short.", "What championship game left the {value} in second?"),
        ),
        "mvp": (
            ("Who stood out most in {subject}?", "Name the most valuable athlete in {subject}.", "Which athlete starred in {subject}?"),
            ("Which final was starred in by {value}?", "Name the title decider where {value} was the standout.", "What championship game made a star of {value}?"),
        ),
    },
)

KINDS = (FESTIVAL, WILDFIRE, BRIDGE, STARTUP, MUSEUM, ELECTION, SPORTS_FINAL)
