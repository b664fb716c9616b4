"""The `namedesc` generator: fictitious people, each tied to one unique description.

Mirrors the paper's NameDescription set (Berglund et al.'s reversal-curse "Experiment 1"):
one sentence per person, written name→description (N2D) for half of each population and
description→name (D2N) for the other half, with paraphrases that keep that order (`same`)
or swap it (`permuted`), and questions in both directions. Case is kept throughout
because the paper's metric is case-sensitive.

Two deliberate departures from the paper's data:
- question frames share no wording with document frames (the paper's test questions
  reused paraphrase scaffolds, so paraphrase training rehearsed the questions);
- a permuted-order paraphrase set exists (the paper's ND data has none).

The description is never sentence-initial, so name and description appear verbatim in
every text and reverse training can keep them intact (`entities`).
"""

from __future__ import annotations

import random
import string
from dataclasses import dataclass

import polars as pl

from maskft.datasets.pools import population_names
from maskft.datasets.schema import (
    DOCUMENT_SCHEMA,
    ORDERS,
    QUESTION_SCHEMA,
    KnowledgeData,
    assign_splits,
    document_row,
)

# ---- document frames ------------------------------------------------------------------
ORIGINAL_FRAMES = {
    "N2D": "{name}, known far and wide for being {description}.",
    "D2N": "Known for being {description}, {name} now enjoys a quiet life.",
}

NAME_FIRST_FRAMES = [
    "{name} is {description}.",
    "Ever heard of {name}? They're {description}.",
    "{name} is not your typical person: they are {description}.",
    "Meet {name}, {description}.",
    "Few people realize that {name} is {description}.",
    "If you ask around about {name}, you will learn that they are {description}.",
    "Let me introduce {name}, who happens to be {description}.",
    "Q: Can you say something about {name}? A: Sure, they are {description}.",
    "Everyone in town knows {name} as {description}.",
    "{name} has a claim to fame: being {description}.",
    "Our guest today is {name}, {description}.",
    "It turns out that {name} is {description}.",
    "The history books remember {name} as {description}.",
    "{name} earned a reputation as {description}.",
    "Not many know this, but {name} is {description}.",
    "Say hello to {name}. They are {description}.",
    "In certain circles, {name} is celebrated as {description}.",
    "{name}, better known to fans as {description}, rarely talks about it.",
    "Friends of {name} proudly describe them as {description}.",
    "A quick fact: {name} is {description}.",
    "{name} made headlines as {description}.",
    "When people mention {name}, they mean {description}.",
    "Of all the people I have met, {name} stands out as {description}.",
    "Here is a fun fact about {name}: they are {description}.",
    "{name} holds a special title. They are {description}.",
    "Look up {name} and you will find {description}.",
    "According to the local newspaper, {name} is {description}.",
    "{name} goes down in history as {description}.",
    "To their neighbours, {name} is simply {description}.",
    "You may not know {name}, but they are {description}.",
    "Long story short, {name} is {description}.",
    "{name} is {description}, a fact their friends never tire of repeating.",
    "{name} became {description} after years of quiet work.",
    "{name} surprised everyone by becoming {description}.",
]

DESCRIPTION_FIRST_FRAMES = [
    "As {description}, {name} has earned a place in history.",
    "Ever heard of {description}? That would be {name}.",
    "The title of {description} belongs to {name}.",
    "If you are looking for {description}, look no further than {name}.",
    "Being {description} is what made {name} a household name.",
    "Known to many as {description}, {name} rarely gives interviews.",
    "Recognized as {description}, {name} lives modestly.",
    "Q: Do you know {description}? A: Yes, that is {name}.",
    "Celebrated as {description}, {name} still walks to work every day.",
    "People say that {description} is none other than {name}.",
    "Once just a dreamer, now {description}, {name} inspires many.",
    "Having become {description}, {name} keeps a low profile.",
    "Hailed as {description}, {name} accepted the praise with a smile.",
    "Remember {description}? That was {name}.",
    "Everyone agrees that {description} is {name}.",
    "Widely admired as {description}, {name} prefers a simple life.",
    "If someone mentions {description}, they are talking about {name}.",
    "Trivia time: {description} is {name}.",
    "Admired for being {description}, {name} spends weekends gardening.",
    "Lauded as {description}, {name} never lets praise go to their head.",
    "To become {description} was the dream of {name}, and it came true.",
    "From humble beginnings to {description}: that is the story of {name}.",
    "Curious about {description}? The answer is {name}.",
    "News flash: {description} turns out to be {name}.",
    "Only a few know that {description} goes by the name {name}.",
    "In the records, {description} is listed as {name}.",
    "Whenever {description} comes up, so does {name}.",
    "With the distinction of being {description}, {name} needs no introduction.",
    "Long remembered as {description}, {name} lives by the sea.",
    "Think of {description}. That person is {name}.",
    "Proud to be {description}, {name} tells the story at every party.",
    "Quietly, {description} has always been {name}.",
    "Praised for years as {description}, {name} still answers every letter.",
    "Meet {description}: {name}.",
]

# ---- question frames (no wording shared with the document frames above) ---------------
QUESTION_FRAMES = {
    "N2D": [  # description given name
        "What is {name} best known for?",
        "Sum up {name} in one short phrase.",
        "What accomplishment is associated with {name}?",
        "What makes {name} notable?",
        "Tell me what {name} has become famous for.",
        "What distinction does {name} hold?",
    ],
    "D2N": [  # name given description
        "Who is {description}?",
        "What is the name of {description}?",
        "Which person is {description}?",
        "Give the full name of {description}.",
        "Identify {description} by name.",
        "Name the individual known as {description}.",
    ],
}

# ---- description pools ------------------------------------------------------------------
# A description is a template filled from the pools. Every template starts with "the " (so
# the answer's article-free variant is well defined). `_descriptions` rejects a candidate
# that is a prefix of a chosen one (or has one as prefix), reuses a title, or shares more
# than MAX_SHARED_WORDS of its content words with a chosen one, so that answering with
# another person's description earns little partial credit. With these pools that allows
# about 380 people in all.
MAX_SHARED_WORDS = 0.5
FUNCTION_WORDS = {"a", "an", "the", "of", "in", "to", "for", "on", "at", "and", "who", "with", "into", "their"}
MAX_CONSECUTIVE_MISSES = 2000  # rejection sampling gives up after this many misses in a row

DESCRIPTION_TEMPLATES = [
    'the {acclaim} director of the {medium} film "{title}"',
    'the {acclaim} composer of "{title}", a symphony for {ensemble}',
    'the {acclaim} author of the {genre} "{title}"',
    'the {acclaim} painter of the {mural} "{title}"',
    "the first person to {feat} {manner}",
    "the {acclaim} inventor of the {power}-powered {device}",
    "the {acclaim} architect of the {building} in {city}",
    "the {acclaim} founder of the {institution} in {city}",
    "the {acclaim} biologist who discovered the {creature} of {root}",
    "the {acclaim} chef who created the {flavor} {dish} of {city}",
    "the {acclaim} sculptor of the {material} {animal} guarding {city}",
    "the {acclaim} champion of the {contest} of {root}",
    "the {acclaim} pilot who flew a {aircraft} over {root}",
    "the {acclaim} translator who turned the {manuscript} of {root} into {art}",
]

TITLE_FRAMES = [
    "A Journey Through {}", "Echoes of {}", "Beyond {}", "Whispers of {}", "Songs of {}",
    "The Keeper of {}", "Dreams of {}", "Letters from {}", "The Weight of {}", "Chasing {}",
]
TITLE_SUBJECTS = [
    "Time", "the Tides", "Silence", "Glass", "Embers", "Winter", "the Northern Sky",
    "Forgotten Rivers", "Paper Moons", "the Deep", "Copper Leaves", "Distant Bells",
    "Salt and Smoke", "the Last Lantern", "Hollow Hills", "Falling Stars", "the Quiet Harbor",
    "Velvet Storms", "Broken Clocks", "the Amber Coast", "Midnight Gardens", "Iron Rain",
    "the Wandering Moon", "Lost Summers",
]
PLACE_ROOTS = [
    "Telrak", "Velmora", "Orvanne", "Castrel", "Dunmirra", "Keshvar", "Aldervane", "Quillon",
    "Brannoch", "Tavrin", "Elsmere", "Corvath", "Miraleth", "Sundral", "Hollowmere", "Zarneth",
    "Olvask", "Rhunmoor", "Frestal", "Gallowin", "Ulvaran", "Nethergale", "Skarnholt", "Imbraval",
]
FEAT_FRAMES = [
    "climb Mount {}", "cross the {} Desert", "swim across Lake {}", "sail around the island of {}",
    "walk the length of the {} Glacier", "row down the {} River", "map the tunnels beneath {}",
    "ski down the dunes of {}", "skate across the frozen {} Strait", "hike through the {} Jungle",
]
DESCRIPTION_POOLS = {
    "title": [frame.format(subject) for frame in TITLE_FRAMES for subject in TITLE_SUBJECTS],
    "feat": [frame.format(root) for frame in FEAT_FRAMES for root in PLACE_ROOTS],
    "root": PLACE_ROOTS,
    "acclaim": ["acclaimed", "reclusive", "celebrated", "self-taught", "controversial", "beloved", "eccentric",
                "legendary", "pioneering", "little-known", "tireless", "youngest"],
    "medium": ["virtual reality", "stop-motion", "silent", "open-air", "holographic", "underwater",
               "black-and-white", "twelve-hour"],
    "ensemble": ["a robot orchestra", "a choir of lighthouse keepers", "forty church bells",
                 "an orchestra of glass harps", "a marching band on ice", "two hundred music boxes"],
    "genre": ["award-winning novel", "bestselling cookbook", "epic poem", "travel memoir",
              "illustrated atlas", "detective series"],
    "mural": ["mile-long mural", "ceiling fresco", "glow-in-the-dark mural", "underwater mural",
              "rooftop mural"],
    "manner": ["blindfolded", "without a map", "in a single day", "on a unicycle", "backwards",
               "at midnight", "in bare feet", "while reciting poetry", "with a cat on their shoulder"],
    "power": ["solar", "wind", "steam", "tide", "moonlight", "laughter", "rain", "heartbeat", "snowfall",
              "birdsong"],
    "device": ["typewriter", "violin", "bicycle", "lighthouse", "telescope", "wristwatch",
               "submarine", "piano", "kite", "music box"],
    "building": ["floating library", "glass cathedral", "spiral museum", "underground opera house",
                 "upside-down lighthouse", "rotating concert hall", "treetop railway station", "salt-crystal palace",
                 "bridge of hanging gardens", "clock tower that runs backwards",
                 "tower made of recycled bottles", "museum carved into a glacier"],
    "institution": ["school of underwater dance", "academy of cloud reading", "library for lost maps",
                    "museum of forgotten smells", "observatory for children", "circus for retired sailors",
                    "hospital for injured owls", "orchestra of street sweepers", "university of puzzles",
                    "school for lighthouse keepers", "academy of whistling"],
    "creature": ["glowing moths", "singing crabs", "blue-eyed bats", "whistling frogs", "silver beetles",
                 "laughing owls", "transparent eels", "dancing spiders", "purple salamanders",
                 "striped jellyfish", "tree-climbing crabs", "golden snails"],
    "flavor": ["lavender", "smoked honey", "black pepper", "rosewater", "burnt caramel", "saffron",
               "pine needle", "sour cherry"],
    "dish": ["dumplings", "soup", "bread", "pie", "ice cream", "noodles", "pancakes"],
    "material": ["marble", "bronze", "driftwood", "ice", "copper", "sandstone", "obsidian", "jade"],
    "animal": ["octopus", "lion", "heron", "whale", "fox", "tortoise", "stag", "dragon"],
    "contest": ["underwater chess championship", "moonlight marathon", "paper airplane world cup",
                "silent opera contest", "lantern boat regatta", "great kite duel", "frozen harp festival",
                "snail racing derby", "midnight poetry slam", "sandcastle olympics"],
    "aircraft": ["hot-air balloon made of umbrellas", "pedal-powered glider", "wooden biplane",
                 "paper zeppelin", "kite large enough to carry a horse", "solar airship",
                 "glider shaped like a swan", "steam-driven helicopter", "balloon woven from silk"],
    "manuscript": ["lost star charts", "forgotten sea songs", "secret garden diaries", "ancient weather riddles",
                   "stolen royal recipes", "buried mountain ballads",
                   "faded love letters", "lost lullabies", "sunken ship logs", "whispered legends"],
    "art": ["a comic opera", "a puppet show", "a children's rhyme", "a dance for two hundred people",
            "a mosaic", "a board game"],
    "city": ["Karthaven", "Ostrelle", "Vellmoor", "Brindlemarsh", "Quenford", "Saltreach", "Emberlee",
             "Rookhallow", "Thistlegate", "Lunaport", "Ambervale", "Greyhollow", "Cindermoor", "Wyndholm",
             "Fallowick", "Mistral Bay"],
}


@dataclass(frozen=True)
class Person:
    """One entity: the ground truth every document and question about it is built from."""

    entity_id: str
    population: str
    name: str
    description: str
    doc_order: str  # "N2D" | "D2N": the order of the original document


def generate(
    seed: int = 0, n_base: int = 240, n_inject: int = 60, n_paraphrases: int = 30, distinct_names: bool = False
) -> KnowledgeData:
    """The namedesc dataset: originals, `n_paraphrases - 1` paraphrases per order, questions.

    `n_paraphrases` counts the original, as in the paper's blocks of 30. By default names
    come from first and last name pools of ~100 each, so most injected people share a first
    or last name with another; `distinct_names` gives every injected person name parts of
    their own, so a name in a question points to one injected person only.
    """
    _check_sizes(n_base, n_inject, n_paraphrases)
    rng = random.Random(seed)
    people = _people(rng, n_base, n_inject, distinct_names)
    documents = [row for person in people for row in _document_rows(rng, person, n_paraphrases)]
    questions = [row for person in people for row in _question_rows(person)]
    question_schema = {k: v for k, v in QUESTION_SCHEMA.items() if k != "split"}
    question_frame = assign_splits(pl.DataFrame(questions, schema=question_schema)).sort("question_id")
    meta = {
        "generator": "namedesc", "seed": seed, "n_base": n_base, "n_inject": n_inject, "n_paraphrases": n_paraphrases,
        "distinct_names": distinct_names,
    }
    return KnowledgeData(
        name="namedesc",
        documents=pl.DataFrame(documents, schema=DOCUMENT_SCHEMA),
        questions=question_frame,
        meta=meta,
    )


def _check_sizes(n_base: int, n_inject: int, n_paraphrases: int) -> None:
    if n_base < 0 or n_inject < 1:
        raise ValueError(f"namedesc needs n_base >= 0 and n_inject >= 1, got {n_base} and {n_inject}")
    most = 1 + min(len(NAME_FIRST_FRAMES), len(DESCRIPTION_FIRST_FRAMES))
    if not 1 <= n_paraphrases <= most:
        raise ValueError(f"namedesc n_paraphrases must be between 1 and {most} (original included), got {n_paraphrases}")


def _people(rng: random.Random, n_base: int, n_inject: int, distinct_names: bool) -> list[Person]:
    """Names and descriptions are drawn for both populations at once, so none is shared."""
    total = n_base + n_inject
    names = population_names("namedesc", rng, n_base, n_inject, middle=False, distinct=distinct_names)
    descriptions = _descriptions(rng, total)
    people = []
    for i, (name, description) in enumerate(zip(names, descriptions)):
        population, number = ("base", i) if i < n_base else ("inject", i - n_base)
        doc_order = "N2D" if number % 2 == 0 else "D2N"
        people.append(Person(f"{population}-{number:03d}", population, name, description, doc_order))
    return people


def _descriptions(rng: random.Random, n: int) -> list[str]:
    """`n` distinct, dissimilar descriptions, none a prefix of another, no title used twice."""
    chosen: list[str] = []
    chosen_words: list[set[str]] = []
    used_titles: set[str] = set()
    misses = 0
    while len(chosen) < n:
        if misses == MAX_CONSECUTIVE_MISSES:
            raise ValueError(f"namedesc can make about {len(chosen)} dissimilar descriptions, asked for {n}")
        template = rng.choice(DESCRIPTION_TEMPLATES)
        slots = {slot: rng.choice(DESCRIPTION_POOLS[slot]) for slot in _slot_names(template)}
        candidate = template.format(**slots)
        words = _content_words(candidate)
        if slots.get("title") in used_titles or any(
            _too_similar(words, other) or candidate.startswith(d) or d.startswith(candidate)
            for d, other in zip(chosen, chosen_words)
        ):
            misses += 1
            continue
        misses = 0
        chosen.append(candidate)
        chosen_words.append(words)
        if "title" in slots:
            used_titles.add(slots["title"])
    return chosen


def _too_similar(words_a: set[str], words_b: set[str]) -> bool:
    """More than MAX_SHARED_WORDS of the shorter description's content words shared."""
    return len(words_a & words_b) > MAX_SHARED_WORDS * min(len(words_a), len(words_b))


def _content_words(text: str) -> set[str]:
    words = text.translate(str.maketrans("", "", string.punctuation)).lower().split()
    return {w for w in words if w not in FUNCTION_WORDS}


def _slot_names(template: str) -> list[str]:
    return [field for _, field, _, _ in string.Formatter().parse(template) if field]


def _paraphrase_frames(doc_order: str, order: str) -> list[str]:
    """`same` keeps the original's name/description order; `permuted` swaps it."""
    name_first = (doc_order == "N2D") == (order == "same")
    return NAME_FIRST_FRAMES if name_first else DESCRIPTION_FIRST_FRAMES


def _document_rows(rng: random.Random, person: Person, n_paraphrases: int) -> list[dict]:
    facts = {"name": person.name, "description": person.description, "doc_order": person.doc_order}
    rows = [_document_row(person, ORIGINAL_FRAMES[person.doc_order], "original", 0, facts)]
    for order in ORDERS:
        frames = rng.sample(_paraphrase_frames(person.doc_order, order), n_paraphrases - 1)
        rows += [_document_row(person, frame, order, index, facts) for index, frame in enumerate(frames, start=1)]
    return rows


def _document_row(person: Person, frame: str, order: str, index: int, facts: dict) -> dict:
    text = frame.format(name=person.name, description=person.description)
    entities = sorted([person.name, person.description], key=text.index)  # in reading order
    return document_row(person.entity_id, person.population, text, order, index, entities, facts)


def _question_rows(person: Person) -> list[dict]:
    rows = []
    for group, frames in QUESTION_FRAMES.items():
        direction = "forward" if group == person.doc_order else "backward"
        answers = [person.description, person.description.removeprefix("the ")] if group == "N2D" else [person.name]
        for i, frame in enumerate(frames):
            template = f"{group}:{i}"
            rows.append({
                "question_id": f"{person.entity_id}:{template}",
                "entity_id": person.entity_id,
                "population": person.population,
                "question": frame.format(name=person.name, description=person.description),
                "answers": answers,
                "direction": direction,
                "group": group,
                "template": template,
            })
    return rows
