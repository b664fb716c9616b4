"""bench/confusions.py: a wrong answer is sorted by whose fact it is (no training)."""

import polars as pl

from maskft.bench.confusions import classify, entity_facts, main, mark_holding

QUESTIONS = pl.DataFrame({
    "question_id": ["a:D2N:0", "b:D2N:0", "c:D2N:0", "a:N2D:0"],
    "entity_id": ["a", "b", "c", "a"],
    "population": ["inject", "inject", "base", "inject"],
    "group": ["D2N", "D2N", "D2N", "N2D"],
    "answers": [["Quinn Kingsley"], ["Orla Abernathy"], ["Gideon Haddad"], ["the painter of the mural"]],
})


def predictions(*answers: tuple[str, float]) -> pl.DataFrame:
    return pl.DataFrame({
        "question_id": ["a:D2N:0"] * len(answers),
        "group": ["D2N"] * len(answers),
        "prediction": [p for p, _ in answers],
        "accuracy": [a for _, a in answers],
    })


def test_wrong_answers_are_sorted_by_whose_answer_they_are():
    frame = predictions(
        ("Quinn Kingsley.", 1.0),  # right: not a wrong answer at all
        ("Orla Abernathy.", 0.0),  # another inject entity's name
        ("Gideon Haddad", 0.0),  # a base entity's name
        ("Orla", 0.0),  # part of a name is nobody's answer
        ("the painter of the mural", 0.0),  # an answer of another question group does not count
    )

    assert classify(frame, QUESTIONS)["wrong_kind"].to_list() == [None, "inject", "base", "neither", "neither"]


def test_the_asked_entitys_own_answer_is_not_a_confusion():
    frame = predictions(("Quinn Kingsley", 0.4))  # wrong by threshold, but it is its own fact

    assert classify(frame, QUESTIONS)["wrong_kind"].to_list() == ["neither"]


def test_a_missing_study_directory_is_one_error_line_and_exit_2(tmp_path, capsys):
    assert main([str(tmp_path / "nowhere")]) == 2
    assert capsys.readouterr().err.strip().startswith("error: no study directory")


def test_a_study_without_results_is_one_error_line_and_exit_2(tmp_path, capsys):
    assert main([str(tmp_path)]) == 2
    assert capsys.readouterr().err.strip().startswith("error: no finished evaluation point")


def test_an_answer_names_the_asked_entity_only_with_its_full_name():
    rows = pl.DataFrame({
        "entity_id": ["a", "a", "a", "z"],
        "prediction": ["Quinn Kingsley was born in May.", "Quinn was born in May.", "Orla Abernathy was born.", "anything"],
    })
    names = {"a": "Quinn Kingsley", "b": "Orla Abernathy"}

    assert mark_holding(rows, names, "named")["named"].to_list() == [True, False, False, None]


def test_an_answer_describes_the_asked_entity_only_with_its_whole_description():
    rows = pl.DataFrame({
        "entity_id": ["a", "a", "a"],
        "prediction": [
            "Known for being the reclusive inventor of the laughter-powered bicycle, Quinn Kingsley now enjoys a quiet life.",
            "Known for being the reclusive inventor of the steam-powered violin, Orla Abernathy now enjoys a quiet life.",
            "Quinn Kingsley, known far and wide for being the reclusive inventor of the bicycle.",
        ],
    })
    descriptions = {"a": "the reclusive inventor of the laughter-powered bicycle"}

    assert mark_holding(rows, descriptions, "described")["described"].to_list() == [True, False, False]


def test_entity_facts_come_from_the_originals_facts():
    documents = pl.DataFrame({
        "entity_id": ["a", "a", "w"],
        "order": ["original", "same", "original"],
        "facts": ['{"name": "Quinn Kingsley", "description": "a painter"}', '{"name": "paraphrase"}', '{"kind": "museum"}'],
    })

    assert entity_facts(documents, "name") == {"a": "Quinn Kingsley"}
    assert entity_facts(documents, "description") == {"a": "a painter"}
