"""Word pools shared by the generators: fictitious person names.

Names are drawn as first + last (+ optional middle) combinations without replacement, so
base and inject populations never share a full name, and no name is a prefix of another.
`distinct_part_names` draws people who share no name part at all, as most people drawn from
the bioS pools (hundreds of names per part) do.
"""

from __future__ import annotations

import random

from maskft.datasets.schema import DataError

FIRST_NAMES = """
Aaliyah Abel Ada Adrian Agnes Aiden Alba Alden Alma Alonzo Amara Ambrose Anika Ansel Anya
Archer Aria Arlo Astrid Atticus August Aurora Axel Beatrix Bennett Bianca Blaise Bodhi
Brielle Bruno Calla Callum Camille Casper Cecily Cedric Celeste Clement Cleo Colette Cormac
Cosima Cyrus Dahlia Dante Daphne Darius Delphine Desmond Dorian Edie Elias Elodie Emeric
Enzo Esme Evander Fabian Fern Finley Fiona Flint Freya Gideon Gemma Greer Gwendolyn Hadley
Harlan Hazel Helena Hollis Idris Imogen Ines Ingrid Ira Isadora Ivo Jasper Joss Juniper
Kai Keira Kenji Lachlan Lark Leif Lena Linus Lorcan Lucian Lydia Mabel Magnus Maren Matteo
Maeve Milo Mireille Nadia Nico Noor Octavia Odile Orin Orla Otto Paloma Percival Petra
Phineas Quentin Quinn Rafe Remy Rhea Romilly Rowan Ruben Sabine Selma Silas Soren Stellan
Sylvie Tamsin Tavish Thea Thaddeus Tobias Ursula Valentin Vera Wilder Willa Xavier Yara
Yusuf Zara Zephyr Zoltan Marisol Lucinda Benedikt Rosalind Ignatius Henrietta
""".split()

LAST_NAMES = """
Abernathy Ainsworth Albright Aldridge Ashdown Ashcombe Bancroft Barrington Beaumont
Bellweather Blackwood Blakemore Bramwell Brightwater Calloway Carrington Castellane
Chadwick Clearwater Coldwell Cromwell Dalrymple Davenport Delacroix Drummond Dunmore
Eastwood Ellery Fairbanks Fairweather Farrow Fenwick Fitzgerald Foxworth Galloway
Garrick Glenmore Goldsworthy Greystone Hadleigh Halloway Harcourt Hartwell Hawthorne
Holloway Huxley Ingleby Kensington Kingsley Langford Larkspur Lockhart Lowell Lyndon
Marchetti Merriweather Montague Moorcroft Northcott Oakley Ormsby Pemberton Penhaligon
Quillfeather Radcliffe Ravensworth Redgrave Rockwell Rosenthal Rutherford Salisbury
Sandoval Sheffield Silverton Sinclair Stanhope Stirling Stonebridge Sutherland
Tennyson Thackeray Thornbury Underhill Vandermeer Vasquez Wainwright Westbrook
Whitlock Wildermuth Winterbourne Woodhouse Wren Yardley Zimmerman Okonkwo Nakamura
Lindqvist Moreau Kowalski Petrov Haddad Ferreira Delgado Castellano Brannigan
""".split()

MIDDLE_NAMES = """
Ellis Jude Lane Reed Rose June Grey Mae Quinn Blake Jay Kit Wren Sage Ray Lee Faye Dean
""".split()


# Only draws for distinct name parts (bio's `distinct_names`) use these, so the default draws stay as they were.
MORE_MIDDLE_NAMES = """
Alan Anne Beau Bryn Cole Dale Drew Eve Finn Gale Glen Hope Hugh Ivy Jack Jane Joy Kay Kent Kurt
Lyle Lynn Mark Max Neil Nell Noel Paul Pearl Rex Rhys Roy Ruth Sean Shane Skye Troy Wade Ward Zane
Beth Carl Clare Dawn Dell Earl Eli Faith Gwen Hale Hart Jean Joan Kane Leigh Lou Luke Marc Maude
Merle Neve Nash Opal Page Rae Reese Rhett Rue Ruby Seth Shaw Tess Tate Vance Vaughn Wynn Beck Bram
Cash Clay Dane Dirk Ford Heath Jett Knox Lars Miles Nils Pierce Saul Tad Yves Abe Bess Cora Dov Eden
Flynn Grant Hank Iris Jem Kyle Lorne Moss Nora Penn Reid Scott Todd Vale Wells
""".split()
ALL_MIDDLE_NAMES = MIDDLE_NAMES + MORE_MIDDLE_NAMES


def person_names(rng: random.Random, n: int, middle: bool = False, middles: list[str] = MIDDLE_NAMES) -> list[str]:
    """`n` distinct full names; with `middle`, three-part names like the bioS data, their
    middle name drawn from `middles`."""
    pool = [(f, l) for f in FIRST_NAMES for l in LAST_NAMES]
    if n > len(pool):
        raise ValueError(f"at most {len(pool)} distinct names, asked for {n}")
    picks = rng.sample(pool, n)
    if middle:
        return [f"{f} {rng.choice(middles)} {l}" for f, l in picks]
    return [f"{f} {l}" for f, l in picks]


def distinct_part_names(rng: random.Random, n: int, middle: bool = True) -> list[str]:
    """`n` names (three-part with `middle`, else first + last) in which no part occurs twice."""
    pools = [FIRST_NAMES, ALL_MIDDLE_NAMES, LAST_NAMES] if middle else [FIRST_NAMES, LAST_NAMES]
    limit = min(len(pool) for pool in pools)
    if n > limit:
        raise ValueError(f"at most {limit} names share no part, asked for {n}")
    return [" ".join(parts) for parts in zip(*(rng.sample(pool, n) for pool in pools))]


def population_names(generator: str, rng: random.Random, n_base: int, n_inject: int, middle: bool, distinct: bool) -> list[str]:
    """Base names, then inject names; the populations never share a first + last pair.

    With `distinct`, no two injected people share a name part, so a question's name points
    to one person only (base people may still share parts with them, as strangers do).
    Asking for more names than the pools hold is a DataError naming the `generator` option."""
    try:
        if not distinct:
            return person_names(rng, n_base + n_inject, middle=middle)  # one draw: populations share no name
        inject = distinct_part_names(rng, n_inject, middle=middle)
    except ValueError as err:
        raise DataError(f"{generator} {'distinct_names' if distinct else 'names'}: {err}") from None
    taken = {(name.split()[0], name.split()[-1]) for name in inject}
    drawn = person_names(rng, n_base + n_inject, middle=middle, middles=ALL_MIDDLE_NAMES)
    base = [name for name in drawn if (name.split()[0], name.split()[-1]) not in taken][:n_base]
    return base + inject
