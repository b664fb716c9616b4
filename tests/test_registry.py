"""Dataset registry (generator names cached on disk, dataset directories, `generate_to`)
and the dataset summary behind `maskft data show`."""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

import polars as pl
import pytest

from maskft.datasets import registry
from maskft.datasets.registry import cache_path, default_cache_dir, generate_to, resolve_dataset, write_dataset
from maskft.datasets.schema import DataError, KnowledgeData
from maskft.datasets.summary import summarize

FAKE_MODULE = "maskft_fake_generator"
FAKE_SOURCE = '''
import polars as pl
from maskft.datasets.schema import KnowledgeData

CALLS = []
OPTIONS = []
FAIL = False


def generate(seed=0, size=1, loud=False):
    CALLS.append(seed)
    OPTIONS.append({"size": size, "loud": loud})
    if FAIL:
        raise RuntimeError("generator broke")
    documents = pl.DataFrame({
        "doc_id": ["e0"], "entity_id": ["e0"], "population": ["inject"], "text": [f"Ada keeps lighthouse {seed}."],
        "order": ["original"], "paraphrase_of": [None], "index": [0], "entities": ["[]"], "facts": ["{}"],
    })
    questions = pl.DataFrame({
        "question_id": ["q0"], "entity_id": ["e0"], "population": ["inject"], "question": ["Who keeps it?"],
        "answers": [["Ada"]], "direction": ["backward"], "group": [""], "template": ["t"], "split": ["test"],
    })
    return KnowledgeData("fake", documents, questions)
'''


@pytest.fixture
def fake(tmp_path, monkeypatch):
    """A tiny generator registered as 'namedesc'; its module records every call."""
    source_dir = tmp_path / "src"
    source_dir.mkdir()
    (source_dir / f"{FAKE_MODULE}.py").write_text(FAKE_SOURCE)
    monkeypatch.syspath_prepend(str(source_dir))
    monkeypatch.delitem(sys.modules, FAKE_MODULE, raising=False)
    monkeypatch.setitem(registry.GENERATORS, "namedesc", FAKE_MODULE)
    module = importlib.import_module(FAKE_MODULE)
    yield module
    sys.modules.pop(FAKE_MODULE, None)


def same_data(a: KnowledgeData, b: KnowledgeData) -> bool:
    return a.documents.equals(b.documents) and a.questions.equals(b.questions)


@pytest.fixture
def cache(tmp_path) -> Path:
    return tmp_path / "cache"


def test_generator_name_is_generated_then_read_from_cache(fake, cache):
    first = resolve_dataset("namedesc", seed=3, cache_dir=cache)
    second = resolve_dataset("namedesc", seed=3, cache_dir=cache)
    assert fake.CALLS == [3]
    assert same_data(second, first)
    assert second.meta["generator"] == "namedesc" and second.meta["seed"] == 3


def test_cache_directory_names_generator_seed_and_source_hash(fake, cache):
    resolve_dataset("namedesc", seed=3, cache_dir=cache)
    (entry,) = (cache / "datasets").iterdir()
    assert entry.name.startswith("namedesc-seed3-")
    assert entry == cache_path("namedesc", 3, cache)
    assert (entry / "meta.json").is_file()


def test_each_seed_gets_its_own_cache_entry(fake, cache):
    a = resolve_dataset("namedesc", seed=0, cache_dir=cache)
    b = resolve_dataset("namedesc", seed=1, cache_dir=cache)
    assert fake.CALLS == [0, 1]
    assert a.documents["text"][0] != b.documents["text"][0]


def test_editing_the_generator_source_misses_the_cache(fake, cache):
    before = cache_path("namedesc", 0, cache)
    Path(fake.__file__).write_text(FAKE_SOURCE + "\n# tweak\n")
    assert cache_path("namedesc", 0, cache) != before


def test_cache_dir_defaults_to_env(monkeypatch, tmp_path):
    monkeypatch.setenv("MASKFT_CACHE", str(tmp_path / "c"))
    assert default_cache_dir() == tmp_path / "c"
    monkeypatch.delenv("MASKFT_CACHE")
    assert default_cache_dir() == Path.home() / ".cache" / "maskft"


def test_losing_the_cache_race_keeps_the_winner(fake, cache, monkeypatch):
    target = cache_path("namedesc", 0, cache)
    original_generate = fake.generate

    def generate_while_another_process_finishes_first(seed=0):
        data = original_generate(seed)
        data.save(target)  # the other process renames its copy into place first
        return data

    monkeypatch.setattr(fake, "generate", generate_while_another_process_finishes_first)
    data = resolve_dataset("namedesc", cache_dir=cache)
    assert same_data(KnowledgeData.load(target), data)
    assert [p.name for p in target.parent.iterdir()] == [target.name]  # no staging left behind


def test_dataset_directory_is_loaded(fake, tmp_path):
    generate_to("namedesc", tmp_path / "ds", seed=2)
    data = resolve_dataset(str(tmp_path / "ds"))
    assert data.documents["text"][0] == "Ada keeps lighthouse 2."


def test_unknown_dataset(tmp_path):
    with pytest.raises(DataError, match=r"^unknown dataset 'nope': use namedesc, bio, wiki or a dataset directory$"):
        resolve_dataset("nope", cache_dir=tmp_path)


def test_generate_to_writes_a_loadable_dataset(fake, tmp_path):
    data = generate_to("namedesc", tmp_path / "out", seed=5)
    assert data.meta["seed"] == 5
    assert same_data(KnowledgeData.load(tmp_path / "out"), data)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "src"]


def test_generate_to_accepts_an_empty_directory(fake, tmp_path):
    (tmp_path / "out").mkdir()
    generate_to("namedesc", tmp_path / "out")
    assert (tmp_path / "out" / "meta.json").is_file()


def test_generate_to_refuses_a_non_empty_directory_untouched(fake, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    with pytest.raises(DataError, match="is not empty: choose another --out or pass --force"):
        generate_to("namedesc", out)
    assert [p.name for p in out.iterdir()] == ["notes.txt"]
    assert (out / "notes.txt").read_text() == "keep me"
    assert fake.CALLS == []


def test_generate_to_with_force_replaces_the_directory(fake, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("old")
    generate_to("namedesc", out, force=True)
    assert sorted(p.name for p in out.iterdir()) == ["documents.parquet", "meta.json", "questions.parquet"]


def test_generate_to_failing_generator_writes_nothing(fake, tmp_path, monkeypatch):
    monkeypatch.setattr(fake, "FAIL", True)
    with pytest.raises(RuntimeError):
        generate_to("namedesc", tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_write_dataset_refuses_a_file_and_replaces_with_force(fake, tmp_path):
    data = fake.generate(seed=1)
    (tmp_path / "f").write_text("x")
    with pytest.raises(DataError, match="exists and is not a directory"):
        write_dataset(data, tmp_path / "f")
    write_dataset(data, tmp_path / "ds")
    write_dataset(fake.generate(seed=2), tmp_path / "ds", force=True)
    assert KnowledgeData.load(tmp_path / "ds").documents["text"][0] == "Ada keeps lighthouse 2."


def test_generate_to_unknown_generator(tmp_path):
    with pytest.raises(DataError, match="unknown generator 'nope'"):
        generate_to("nope", tmp_path / "out")


def test_generator_options_reach_the_generator_typed_after_its_defaults(fake, tmp_path):
    generate_to("namedesc", tmp_path / "out", options={"size": "3", "loud": "true"})
    assert fake.OPTIONS == [{"size": 3, "loud": True}]


def test_unknown_generator_option_names_the_known_ones_and_writes_nothing(fake, tmp_path):
    with pytest.raises(DataError, match=r"has no option 'colour': use size, loud$"):
        generate_to("namedesc", tmp_path / "out", options={"colour": "red"})
    assert fake.CALLS == [] and not (tmp_path / "out").exists()


@pytest.mark.parametrize(("key", "value", "message"), [("size", "many", "takes an int"), ("loud", "maybe", "takes true or false")])
def test_generator_option_of_the_wrong_type_is_a_data_error(fake, tmp_path, key, value, message):
    with pytest.raises(DataError, match=message):
        generate_to("namedesc", tmp_path / "out", options={key: value})
    assert fake.CALLS == []


@pytest.mark.parametrize("name", sorted(registry.GENERATORS))
def test_registered_generators_expose_generate(name):
    module = pytest.importorskip(registry.GENERATORS[name])
    assert callable(module.generate)


# ---- summary (what `maskft data show --json` prints) ----------------------------------
def hand_made() -> KnowledgeData:
    doc = lambda doc_id, pop, text, order="original", of=None, index=0: {  # noqa: E731
        "doc_id": doc_id, "entity_id": of or doc_id, "population": pop, "text": text, "order": order,
        "paraphrase_of": of, "index": index, "entities": "[]", "facts": "{}",
    }
    question = lambda qid, pop, text, direction, group, split: {  # noqa: E731
        "question_id": qid, "entity_id": "a", "population": pop, "question": text, "answers": ["x"],
        "direction": direction, "group": group, "template": qid, "split": split,
    }
    documents = pl.DataFrame([
        doc("a", "inject", "one two three four"),
        doc("b", "inject", "one two"),
        doc("c", "base", "one two three"),
        doc("a~same~1", "inject", "one", "same", "a", 1),
        doc("a~same~2", "inject", "one two three four five six", "same", "a", 2),
        doc("b~same~1", "inject", "one two", "same", "b", 1),
        doc("b~permuted~1", "inject", "two one", "permuted", "b", 1),
    ])
    questions = pl.DataFrame([
        question("q0", "inject", "Who is a?", "forward", "N2D", "val"),
        question("q1", "inject", "Who is b really?", "backward", "D2N", "test"),
        question("q2", "base", "What?", "forward", "", "test"),
    ])
    return KnowledgeData("tiny", documents, questions)


def test_summary_counts_documents_and_paraphrases_per_population():
    documents = summarize(hand_made())["documents"]
    assert documents["inject"] == {
        "originals": 2,
        "paraphrases": {"same": 3, "permuted": 1},
        "per_document": {"same": {"min": 1, "max": 2}, "permuted": {"min": 0, "max": 1}},
    }
    assert documents["base"]["paraphrases"] == {"same": 0, "permuted": 0}


def test_summary_counts_questions_along_each_axis():
    q = summarize(hand_made())["questions"]
    assert q["total"] == 3
    assert q["by_population"] == {"base": 1, "inject": 2}
    assert q["by_direction"] == {"backward": 1, "forward": 2}
    assert q["by_group"] == {"": 1, "D2N": 1, "N2D": 1}
    assert q["by_split"] == {"test": 2, "val": 1}
    assert q["by_cell"] == [
        {"population": "base", "split": "test", "direction": "forward", "group": "", "n": 1},
        {"population": "inject", "split": "test", "direction": "backward", "group": "D2N", "n": 1},
        {"population": "inject", "split": "val", "direction": "forward", "group": "N2D", "n": 1},
    ]


def test_summary_length_stats_in_words_and_tokens():
    s = summarize(hand_made(), count_tokens=len)
    assert s["lengths"]["inject"] == {"words_mean": 3.0, "words_max": 4, "tokens_mean": 12.5, "tokens_max": 18}
    assert s["lengths"]["base"]["words_max"] == 3
    assert s["questions"]["lengths"]["words_max"] == 4
    assert "tokens_mean" not in summarize(hand_made())["lengths"]["inject"]


def test_summary_is_json_serialisable():
    s = summarize(hand_made(), count_tokens=len)
    assert json.loads(json.dumps(s)) == s
