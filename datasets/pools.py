"""Word pools shared by the generators: fictitious person names.

Names are drawn as first + last (+ optional middle) combinations without replacement, so
base and inject populations never share a full name, and no name is a prefix of another.
"""

from __future__ import annotations

import random

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


def person_names(rng: random.Random, n: int, middle: bool = False) -> list[str]:
    """`n` distinct full names; with `middle`, three-part names like the bioS data."""
    pool = [(f, l) for f in FIRST_NAMES for l in LAST_NAMES]
    if n > len(pool):
        raise ValueError(f"at most {len(pool)} distinct names, asked for {n}")
    picks = rng.sample(pool, n)
    if middle:
        return [f"{f} {rng.choice(MIDDLE_NAMES)} {l}" for f, l in picks]
    return [f"{f} {l}" for f, l in picks]
