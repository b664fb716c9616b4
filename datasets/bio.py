"""The `bio` generator: bioS-style six-sentence biographies of fictitious people.

Mirrors the paper's Biography set (Allen-Zhu & Li's bioS, as replicated by Zheng et al.'s
"Spurious Forgetting"): one sentence per attribute in the fixed order birth date, birth
city, university, major, employer, employer city; the full name only in the first
sentence, pronouns after. Paraphrases either keep that order with new wording (`same`)
or shuffle the sentences (`permuted`, the repo's change_order file): whichever sentence
comes first names the person, so no paraphrase puts attributes before the name (with
`permuted_name_last`, every permuted paraphrase names the person in a closing sentence
instead, as namedesc's permuted set puts the description first). Forward questions ask
one attribute given the name; backward questions ask the name given three attributes that
single out one person of the whole dataset, so the gold answer is never ambiguous.

Departures from the paper's data, on purpose:
- question frames share no wording with sentence frames, so paraphrase training does not
  rehearse the questions;
- as in bioS, an employer's city is fixed by the employer, so a backward triple never
  holds both (it would carry two attributes' worth of information, not three).
"""

from __future__ import annotations

import itertools
import json
import random
from collections import Counter
from dataclasses import dataclass

import polars as pl

from maskft.datasets.pools import population_names
from maskft.datasets.schema import (
    DOCUMENT_SCHEMA,
    QUESTION_SCHEMA,
    DataError,
    KnowledgeData,
    assign_splits,
    document_row,
)

ATTRIBUTES = ("birth_date", "birth_city", "university", "major", "employer", "employer_city")
BACKWARD_PER_PERSON = 3

# ---- attribute pools ------------------------------------------------------------------
# No value contains a period (sentences split on ". "), and none is a substring of another
# value of a different attribute, so every value is found verbatim in its own sentence.
CITIES = (
    "Elk Grove, CA", "Sacramento, CA", "San Diego, CA", "Fresno, CA", "Pasadena, CA",
    "Santa Rosa, CA", "Portland, OR", "Eugene, OR", "Seattle, WA", "Spokane, WA",
    "Tacoma, WA", "Boise, ID", "Salt Lake City, UT", "Provo, UT", "Denver, CO",
    "Boulder, CO", "Colorado Springs, CO", "Phoenix, AZ", "Tucson, AZ", "Flagstaff, AZ",
    "Albuquerque, NM", "Santa Fe, NM", "Las Vegas, NV", "Reno, NV", "Austin, TX",
    "Houston, TX", "Dallas, TX", "El Paso, TX", "San Antonio, TX", "Tulsa, OK",
    "Omaha, NE", "Wichita, KS", "Kansas City, MO", "Des Moines, IA", "Minneapolis, MN",
    "Duluth, MN", "Madison, WI", "Milwaukee, WI", "Chicago, IL", "Peoria, IL",
    "Indianapolis, IN", "Bloomington, IN", "Columbus, OH", "Cleveland, OH", "Cincinnati, OH",
    "Detroit, MI", "Ann Arbor, MI", "Grand Rapids, MI", "Louisville, KY", "Nashville, TN",
    "Memphis, TN", "Knoxville, TN", "Atlanta, GA", "Savannah, GA", "Charlotte, NC",
    "Raleigh, NC", "Asheville, NC", "Charleston, SC", "Richmond, VA", "Norfolk, VA",
    "Baltimore, MD", "Philadelphia, PA", "Pittsburgh, PA", "Newark, NJ", "Buffalo, NY",
    "Albany, NY", "Rochester, NY", "New Haven, CT", "Hartford, CT", "Providence, RI",
    "Boston, MA", "Worcester, MA", "Burlington, VT", "Portland, ME", "Miami, FL",
    "Tampa, FL", "Orlando, FL", "Tallahassee, FL", "Birmingham, AL", "New Orleans, LA",
    "Honolulu, HI", "Anchorage, AK",
)

UNIVERSITIES = (
    "Massachusetts Institute of Technology", "Stanford University", "Harvard University",
    "Yale University", "Princeton University", "Columbia University", "Cornell University",
    "Brown University", "Dartmouth College", "Duke University", "Rice University",
    "Emory University", "Vanderbilt University", "Tufts University", "Boston University",
    "Northeastern University", "Georgetown University", "Johns Hopkins University",
    "Carnegie Mellon University", "Northwestern University", "University of Chicago",
    "University of Michigan", "University of Virginia", "University of Washington",
    "University of Florida", "University of Texas at Austin", "Purdue University",
    "Ohio State University", "Pennsylvania State University", "Rutgers University",
    "University of Minnesota", "University of Arizona", "Arizona State University",
    "University of Oregon", "University of Utah", "University of Colorado Boulder",
    "Georgia Institute of Technology", "California Institute of Technology",
    "University of Notre Dame", "Wake Forest University", "Tulane University",
    "Syracuse University", "Case Western Reserve University", "Brandeis University",
    "Lehigh University", "Baylor University", "Clemson University",
)

MAJORS = (
    "Computer Science", "Mechanical Engineering", "Electrical Engineering",
    "Civil Engineering", "Chemical Engineering", "Biomedical Engineering", "Mathematics",
    "Statistics", "Physics", "Chemistry", "Biology", "Neuroscience", "Psychology",
    "Sociology", "Anthropology", "Economics", "Political Science", "History", "Philosophy",
    "Linguistics", "English Literature", "Comparative Literature", "Fine Arts",
    "Architecture", "Music Theory", "Journalism", "Communications", "Marketing", "Finance",
    "Accounting", "Business Administration", "Nursing", "Public Health",
    "Environmental Science", "Geology", "Astronomy", "Materials Science", "Urban Planning",
    "International Relations", "Graphic Design",
)

COMPANIES = (
    "Northwind Analytics", "Bluepeak Systems", "Ironbridge Logistics", "Silverline Media",
    "Cobalt Ridge Energy", "Harborview Health", "Quantix Labs", "Redwood Circuitry",
    "Summit Forge", "Evergreen Biotech", "Lumen Freight", "Brightpath Software",
    "Crescent Pharmaceuticals", "Pinecrest Foods", "Vantage Robotics",
    "Granite Peak Insurance", "Starling Aerospace", "Maplewood Financial",
    "Tidewater Shipping", "Copperleaf Networks", "Orchid Cosmetics", "Falconer Security",
    "Meridian Textiles", "Highland Motors", "Sapphire Telecom", "Driftwood Games",
    "Keystone Materials", "Aster Semiconductors", "Foxglove Publishing",
    "Willowbrook Hospitality", "Ember Solar", "Nimbus Cloudworks", "Parallax Optics",
    "Arcadia Pictures", "Cornerstone Consulting", "Polaris Instruments", "Riverbend Paper",
    "Oakmont Construction", "Zenith Batteries", "Horizon Airways", "Saltmarsh Seafood",
    "Glacier Water Company", "Clearview Eyewear", "Ridgeline Outdoor Gear", "Kestrel Drones",
    "Monarch Bank", "Halcyon Therapeutics", "Beacon Hill Capital", "Tessellate Design",
    "Verdant Agritech", "Obsidian Data", "Prairie Rail", "Cascade Hydro", "Lodestar Mining",
)

MONTHS = (
    "January", "February", "March", "April", "May", "June", "July", "August", "September",
    "October", "November", "December",
)
BIRTH_YEARS = range(1950, 2001)
# Pronouns follow the first name where it is clearly gendered; other names get a coin flip.
FEMININE_FIRST_NAMES = frozenset("""
Aaliyah Ada Agnes Alba Alma Amara Anika Anya Aria Astrid Aurora Beatrix Bianca Brielle Calla
Camille Cecily Celeste Cleo Colette Cosima Dahlia Daphne Delphine Edie Elodie Esme Fern Fiona
Freya Gemma Greer Gwendolyn Hadley Hazel Helena Henrietta Imogen Ines Ingrid Isadora Juniper
Keira Lark Lena Lucinda Lydia Mabel Maeve Maren Marisol Mireille Nadia Octavia Odile Orla
Paloma Petra Rhea Romilly Rosalind Sabine Selma Sylvie Tamsin Thea Ursula Vera Willa Yara Zara
""".split())
MASCULINE_FIRST_NAMES = frozenset("""
Abel Adrian Aiden Alden Alonzo Ambrose Ansel Archer Arlo Atticus August Axel Benedikt Bennett
Blaise Bodhi Bruno Callum Casper Cedric Clement Cormac Cyrus Dante Darius Desmond Dorian Elias
Emeric Enzo Evander Fabian Flint Gideon Harlan Hollis Idris Ignatius Ira Ivo Jasper Kenji
Lachlan Leif Linus Lorcan Lucian Magnus Matteo Milo Nico Orin Otto Percival Phineas Quentin Rafe
Ruben Silas Soren Stellan Tavish Thaddeus Tobias Valentin Wilder Xavier Yusuf Zephyr Zoltan
""".split())
PRONOUNS = {"male": {"s": "he", "p": "his", "o": "him"}, "female": {"s": "she", "p": "her", "o": "her"}}

# ---- sentence frames ------------------------------------------------------------------
# {S}/{P}: the person as subject/possessive, the full name in the sentence that names them
# and a pronoun elsewhere; {s}/{p}/{o}: always a pronoun. The sentence start is capitalised.
SENTENCE_FRAMES = {
    "birth_date": (
        "{S} was born on {value}.",
        "{S} celebrates {p} special day on {value}.",
        "{S} came into the world on {value}.",
        "{P} birthday falls on {value}.",
        "On {value}, {S} drew {p} first breath.",
        "{S} first opened {p} eyes on {value}.",
        "{S} marks {p} birthday every year on {value}.",
        "The calendar shows that {S} arrived on {value}.",
    ),
    "birth_city": (
        "{S} was born in {value}.",
        "{P} life journey started in {value}.",
        "{S} spent {p} early years in {value}.",
        "{S} hails from {value}.",
        "{P} hometown is {value}.",
        "{S} grew up in {value}.",
        "{P} story began in {value}.",
        "{value} is the place where {S} entered life.",
    ),
    "university": (
        "{S} received mentorship and guidance from faculty members at {value}.",
        "{S} studied at {value}.",
        "{S} graduated from {value}.",
        "{S} completed {p} education at {value}.",
        "{S} earned {p} degree at {value}.",
        "{P} academic path led {o} to {value}.",
        "{S} attended {value}.",
        "{S} spent {p} college years at {value}.",
    ),
    "major": (
        "{S} completed {p} coursework in {value}.",
        "{S} majored in {value}.",
        "{S} focused {p} studies on {value}.",
        "{P} academic focus was {value}.",
        "{S} specialized in {value}.",
        "{value} was the subject {S} chose to pursue.",
        "{S} pursued a degree in {value}.",
        "{S} devoted {p} university years to {value}.",
    ),
    "employer": (
        "{S} worked for {value}.",
        "{S} had a job at {value}.",
        "{S} was employed by {value}.",
        "{S} built {p} career at {value}.",
        "{P} professional life was spent at {value}.",
        "{S} took a position at {value}.",
        "{S} joined the staff of {value}.",
        "{value} was where {S} earned a living.",
    ),
    "employer_city": (
        "{S} worked in {value}.",
        "{S} was based in {value}.",
        "{P} job took {o} to {value}.",
        "{S} commuted to an office in {value}.",
        "{P} workplace was located in {value}.",
        "{S} made a living in {value}.",
        "{S} spent {p} working days in {value}.",
        "{P} office was in {value}.",
    ),
}

# Closing sentences of `permuted_name_last` paraphrases, which name the person only at the end.
NAMING_FRAMES = (
    "{s} is {name}.",
    "This was the life of {name}.",
    "So goes the story of {name}.",
    "These are the facts of {name}'s life.",
)

# ---- question frames (no wording shared with the sentence frames above) ----------------
FORWARD_FRAMES = {
    "birth_date": (
        "What is the birth date of {name}?",
        "On what date was {name} born?",
        "Which date marks the birth of {name}?",
        "When is the birthday of {name}?",
    ),
    "birth_city": (
        "In which city was {name} born?",
        "What is the birthplace of {name}?",
        "Which city is {name} originally from?",
        "Where does {name} come from?",
    ),
    "university": (
        "Which university did {name} attend?",
        "What is the alma mater of {name}?",
        "At which university did {name} earn a degree?",
        "Where did {name} go to college?",
    ),
    "major": (
        "What was the major of {name}?",
        "Which field did {name} study?",
        "What subject did {name} major in?",
        "In what discipline did {name} specialize?",
    ),
    "employer": (
        "Which company employed {name}?",
        "Who was the employer of {name}?",
        "For which company did {name} work?",
        "What organization did {name} work for?",
    ),
    "employer_city": (
        "In which city did {name} work?",
        "What is the city of {name}'s employment?",
        "In which city was {name} employed?",
        "Name the city where {name} held a job.",
    ),
}
# How a backward question states an attribute: "<label> <value>".
ATTRIBUTE_LABELS = {
    "birth_date": "birth date",
    "birth_city": "birthplace",
    "university": "alma mater",
    "major": "major",
    "employer": "employer",
    "employer_city": "city of employment",
}
BACKWARD_FRAMES = (
    "Give me the full name of the person who has the following attributes: 1) {a}, 2) {b}, 3) {c}?",
    "What is the full name of the person with {a}, {b}, and {c}?",
    "Which person has {a}; {b}; {c}? Give the full name.",
    "Identify by full name the individual whose profile lists {a}, {b} and {c}.",
    "Full name wanted: the person with {a}, {b}, {c}. Who is it?",
    "Who matches these three details: {a}; {b}; {c}?",
)
# Triples holding both employer and employer city say only two things (see module doc).
CANDIDATE_TRIPLES = tuple(
    t for t in itertools.combinations(ATTRIBUTES, 3) if not {"employer", "employer_city"} <= set(t)
)
# Same-order paraphrases that reword every sentence of the original.
MAX_PARAPHRASES = (min(len(f) for f in SENTENCE_FRAMES.values()) - 1) ** len(ATTRIBUTES)
_RESAMPLE_ROUNDS = 50


@dataclass(frozen=True)
class Person:
    entity_id: str
    population: str
    name: str
    gender: str
    birth_date: str
    birth_city: str
    university: str
    major: str
    employer: str
    employer_city: str

    def value(self, attribute: str) -> str:
        return getattr(self, attribute)

    def facts(self) -> dict:
        return {"name": self.name, "gender": self.gender, **{a: self.value(a) for a in ATTRIBUTES}}


def generate(
    seed: int = 0,
    n_base: int = 240,
    n_inject: int = 100,
    n_paraphrases: int = 10,
    distinct_names: bool = False,
    permuted_name_last: bool = False,
) -> KnowledgeData:
    """Biographies, `n_paraphrases - 1` same-order and permuted paraphrases each, and questions.

    `n_paraphrases` counts the original, as the paper's paraphrase blocks (and namedesc,
    wiki) do. By default names come from small pools, so most injected people share a
    first, middle or last name with another; `distinct_names` gives every injected person
    name parts of their own (and draws middle names from a larger pool for everyone), which
    is closer to the bioS data, whose pools hold hundreds of names per part.
    `permuted_name_last` moves the name of every permuted paraphrase to a closing sentence,
    the only way a document states attributes before the name they belong to; it draws no
    extra random numbers, so everything but the permuted texts stays as without it.
    """
    if n_base < 0 or n_inject < 1:
        raise ValueError(f"bio needs n_base >= 0 and n_inject >= 1, got {n_base} and {n_inject}")
    if not 1 <= n_paraphrases <= MAX_PARAPHRASES + 1:
        raise ValueError(f"bio supports n_paraphrases 1..{MAX_PARAPHRASES + 1} (original included), got {n_paraphrases}")
    rng = random.Random(seed)
    people, triples = _identifiable_people(rng, n_base, n_inject, distinct_names)
    documents = [row for person in people for row in _documents(rng, person, n_paraphrases - 1, permuted_name_last)]
    questions = []
    for population in ("base", "inject"):
        group = [p for p in people if p.population == population]
        questions += _forward_questions(rng, group) + _backward_questions(rng, group, triples)
    return KnowledgeData(
        name="bio",
        documents=pl.DataFrame(documents, schema=DOCUMENT_SCHEMA),
        questions=assign_splits(pl.DataFrame(questions, schema=QUESTION_SCHEMA)),
        meta={
            "generator": "bio", "seed": seed, "n_base": n_base, "n_inject": n_inject, "n_paraphrases": n_paraphrases,
            "distinct_names": distinct_names, "permuted_name_last": permuted_name_last,
        },
    )


# ---- people ---------------------------------------------------------------------------
def _identifiable_people(
    rng: random.Random, n_base: int, n_inject: int, distinct_names: bool = False
) -> tuple[list[Person], dict[str, list[tuple]]]:
    """People plus, per entity, the candidate triples no one else shares.

    Whoever has fewer than BACKWARD_PER_PERSON such triples gets new attributes (keeping
    their name) until everyone has enough; collisions are rare, so this ends in a round or two.
    """
    company_city = {company: rng.choice(CITIES) for company in COMPANIES}
    names = population_names("bio", rng, n_base, n_inject, middle=True, distinct=distinct_names)
    people = [
        _sample_person(rng, company_city, f"bio-{pop}-{i:04d}", pop, name)
        for pop, offset, count in (("base", 0, n_base), ("inject", n_base, n_inject))
        for i, name in enumerate(names[offset : offset + count])
    ]
    for _ in range(_RESAMPLE_ROUNDS):
        counts = Counter(_triple_key(p, t) for p in people for t in CANDIDATE_TRIPLES)
        unique = {p.entity_id: [t for t in CANDIDATE_TRIPLES if counts[_triple_key(p, t)] == 1] for p in people}
        short = [i for i, p in enumerate(people) if len(unique[p.entity_id]) < BACKWARD_PER_PERSON]
        if not short:
            return people, unique
        for i in short:
            p = people[i]
            people[i] = _sample_person(rng, company_city, p.entity_id, p.population, p.name)
    raise DataError(f"bio could not make {len(people)} people identifiable by attribute triples; use fewer")


def _sample_person(rng: random.Random, company_city: dict[str, str], entity_id: str, population: str, name: str) -> Person:
    month = rng.randrange(12)
    days_in_month = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)[month]
    employer = rng.choice(COMPANIES)
    return Person(
        entity_id=entity_id,
        population=population,
        name=name,
        gender=_gender(rng, name),
        birth_date=f"{MONTHS[month]} {rng.randint(1, days_in_month)}, {rng.choice(BIRTH_YEARS)}",
        birth_city=rng.choice(CITIES),
        university=rng.choice(UNIVERSITIES),
        major=rng.choice(MAJORS),
        employer=employer,
        employer_city=company_city[employer],
    )


def _gender(rng: random.Random, name: str) -> str:
    first = name.split()[0]
    if first in FEMININE_FIRST_NAMES:
        return "female"
    if first in MASCULINE_FIRST_NAMES:
        return "male"
    return rng.choice(("female", "male"))


def _triple_key(person: Person, triple: tuple[str, ...]) -> tuple:
    return triple, tuple(person.value(a) for a in triple)


# ---- documents ------------------------------------------------------------------------
def _biography(person: Person, order: tuple[str, ...], frames: dict[str, int], closing: int | None = None) -> str:
    """Sentences in `order`, each from its chosen frame; only the first one names the person,
    or, given a `closing` naming frame, none does and that sentence ends the biography."""
    pronoun = PRONOUNS[person.gender]
    sentences = []
    for position, attribute in enumerate(order):
        named = position == 0 and closing is None
        subject = {"S": person.name, "P": f"{person.name}'s"} if named else {"S": pronoun["s"], "P": pronoun["p"]}
        text = SENTENCE_FRAMES[attribute][frames[attribute]].format(value=person.value(attribute), **subject, **pronoun)
        sentences.append(text[0].upper() + text[1:])
    if closing is not None:
        text = NAMING_FRAMES[closing].format(name=person.name, **pronoun)
        sentences.append(text[0].upper() + text[1:])
    return " ".join(sentences)


def _documents(rng: random.Random, person: Person, n_paraphrases: int, name_last: bool = False) -> list[dict]:
    """The original, then same-order paraphrases (every sentence reworded), then permuted ones."""
    original_frames = {a: rng.randrange(len(SENTENCE_FRAMES[a])) for a in ATTRIBUTES}
    original = _biography(person, ATTRIBUTES, original_frames)
    seen = {original}

    def distinct(make) -> str:
        while (text := make()) in seen:
            pass
        seen.add(text)
        return text

    def reworded() -> str:
        frames = {a: rng.choice([f for f in range(len(SENTENCE_FRAMES[a])) if f != original_frames[a]]) for a in ATTRIBUTES}
        return _biography(person, ATTRIBUTES, frames)

    def reordered(index: int) -> str:
        while (order := tuple(rng.sample(ATTRIBUTES, len(ATTRIBUTES)))) == ATTRIBUTES:
            pass
        closing = index % len(NAMING_FRAMES) if name_last else None
        return _biography(person, order, {a: rng.randrange(len(SENTENCE_FRAMES[a])) for a in ATTRIBUTES}, closing)

    texts = [("original", 0, original)]
    texts += [("same", i, distinct(reworded)) for i in range(1, n_paraphrases + 1)]
    texts += [("permuted", i, distinct(lambda: reordered(i))) for i in range(1, n_paraphrases + 1)]
    entities = list(dict.fromkeys([person.name, *(person.value(a) for a in ATTRIBUTES)]))
    facts = json.dumps(person.facts())
    return [
        document_row(person.entity_id, person.population, text, order, index, entities, facts)
        for order, index, text in texts
    ]


# ---- questions ------------------------------------------------------------------------
def _rotating_frames(rng: random.Random, n_people: int, per_person: int, n_frames: int) -> list[list[int]]:
    """Frame ids for each person's questions: every frame used about equally (so each split
    has questions as soon as there are a few people), a person's own frames all different."""
    start = rng.randrange(n_frames)
    flat = [(start + k) % n_frames for k in range(n_people * per_person)]
    blocks = [flat[i * per_person : (i + 1) * per_person] for i in range(n_people)]
    rng.shuffle(blocks)
    return blocks


def _question(person: Person, question_id: str, text: str, answer: str, direction: str, group: str, frame: int) -> dict:
    return {
        "question_id": question_id,
        "entity_id": person.entity_id,
        "population": person.population,
        "question": text,
        "answers": [answer],
        "direction": direction,
        "group": group,
        "template": f"{group}:{frame}",
        "split": None,
    }


def _forward_questions(rng: random.Random, people: list[Person]) -> list[dict]:
    rows = []
    for attribute in ATTRIBUTES:
        frames = FORWARD_FRAMES[attribute]
        for person, (frame,) in zip(people, _rotating_frames(rng, len(people), 1, len(frames))):
            text = frames[frame].format(name=person.name)
            rows.append(_question(person, f"{person.entity_id}/forward/{attribute}", text, person.value(attribute), "forward", attribute, frame))
    return rows


def _backward_questions(rng: random.Random, people: list[Person], triples: dict[str, list[tuple]]) -> list[dict]:
    rows = []
    frame_blocks = _rotating_frames(rng, len(people), BACKWARD_PER_PERSON, len(BACKWARD_FRAMES))
    for person, frames in zip(people, frame_blocks):
        for k, (triple, frame) in enumerate(zip(rng.sample(triples[person.entity_id], BACKWARD_PER_PERSON), frames)):
            a, b, c = (f"{ATTRIBUTE_LABELS[attr]} {person.value(attr)}" for attr in triple)
            text = BACKWARD_FRAMES[frame].format(a=a, b=b, c=c)
            rows.append(_question(person, f"{person.entity_id}/backward/{k}", text, person.name, "backward", "name", frame))
    return rows
