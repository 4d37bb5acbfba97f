"""`populace cards`: one JSON card per persona, streamed from a personas Parquet file."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from populace.cli import main
from populace.errors import PersonasError
from populace.library.cards import study_of_personas, write_cards
from populace.study.provenance import provenance
from populace.library.render import CardRenderer
from populace.library.templates import load_template
from populace.personas import write_parquet_stream

from tests.library._study import three_kinds_study, write_personas_file

STUDY = three_kinds_study()
DRAWS, N = 3, 5000


@pytest.fixture()
def personas(tmp_path: Path) -> tuple[Path, dict[str, np.ndarray]]:
    path = tmp_path / "P.parquet"
    return path, write_personas_file(path, STUDY, draws=DRAWS, n=N)


def test_every_persona_gets_its_card_in_file_order(personas, tmp_path: Path) -> None:
    path, codes = personas
    out, rows = write_cards(path, tmp_path / "cards.jsonl")
    assert rows == DRAWS * N
    lines = out.read_text(encoding="utf-8").splitlines()
    assert len(lines) == DRAWS * N
    tpl = load_template(None, STUDY)
    prov = {k: p.to_dict() for k, p in provenance(STUDY).items()}
    for i in [0, 1, N - 1, N, 2 * N + 17, DRAWS * N - 1]:
        card = json.loads(lines[i])
        d, j = divmod(i, N)
        labels = {a.name: a.levels[codes[a.name][d, j]] for a in STUDY.attributes}
        assert list(card) == ["persona_id", "draw", "attributes", "text", "provenance"]
        assert card["persona_id"] == i and card["draw"] == d
        assert card["attributes"] == labels
        assert card["text"] == tpl.render(labels)
        assert card["provenance"] == prov


def _cards(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_parquet_cards_hold_the_same_cards_with_the_provenance_once(personas, tmp_path: Path) -> None:
    from populace.library.cards import read_cards_metadata
    from populace.study.provenance import provenance_json

    path, _ = personas
    jsonl, _ = write_cards(path, tmp_path / "cards.jsonl")
    out, rows = write_cards(path, tmp_path / "cards.parquet")
    assert rows == DRAWS * N
    table = pq.read_table(out)
    assert table.column_names == ["persona_id", "draw", *STUDY.names, "text"]
    assert all(pa.types.is_dictionary(table.schema.field(c).type) for c in [*STUDY.names, "text"])
    frame = table.to_pandas()
    cards = _cards(jsonl)
    assert frame["persona_id"].tolist() == [c["persona_id"] for c in cards]
    assert frame["draw"].tolist() == [c["draw"] for c in cards]
    assert frame["text"].astype(str).tolist() == [c["text"] for c in cards]
    for a in STUDY.names:
        assert frame[a].astype(str).tolist() == [c["attributes"][a] for c in cards]
    meta = read_cards_metadata(out)
    assert meta["provenance"] == json.loads(provenance_json(STUDY)) and meta["study"] == STUDY.name
    # The provenance is stored once and the texts once per batch: far smaller than the lines.
    assert out.stat().st_size < 0.1 * jsonl.stat().st_size
    with pytest.raises(PersonasError, match="not a populace card file"):
        read_cards_metadata(path)


def test_every_persona_format_gives_the_same_cards(personas, tmp_path: Path) -> None:
    """A file from populace.to_parquet (a Dataset whose attrs hold the study as JSON) and a
    folder partitioned by draw, as `populace generate --partition-by draw` writes it, give
    the cards of the one streamed file (the folder: each draw's persona_ids count on)."""
    from populace.personas import persona_dataset, to_parquet
    from populace.study.serialize import study_to_dict

    path, codes = personas
    expect = _cards(write_cards(path, tmp_path / "file.jsonl")[0])
    ds = persona_dataset(codes, STUDY, attrs={"study": json.dumps(study_to_dict(STUDY))})
    to_parquet(ds, tmp_path / "ds.parquet")
    assert _cards(write_cards(tmp_path / "ds.parquet", tmp_path / "ds.jsonl")[0]) == expect
    for d in range(DRAWS):
        write_parquet_stream([(d, {k: v[d] for k, v in codes.items()})], STUDY, tmp_path / "parts" / f"draw={d}" / "part-00000.parquet",
                             attrs={"study": json.dumps(study_to_dict(STUDY))}, partition_columns=("draw",))
    assert study_of_personas(tmp_path / "parts").names == STUDY.names
    assert _cards(write_cards(tmp_path / "parts", tmp_path / "parts.jsonl")[0]) == expect


def test_provenance_of_each_kind_in_the_cards(personas, tmp_path: Path) -> None:
    path, _ = personas
    out, _ = write_cards(path, tmp_path / "cards.jsonl")
    card = json.loads(out.read_text().splitlines()[0])
    assert card["provenance"] == {
        "age": {"kind": "census-pinned", "tables": ["census_age__sex.csv"]},
        "sex": {"kind": "census-pinned", "tables": ["census_age__sex.csv"]},
        "party": {"kind": "census-margin", "tables": ["census party"]},
        "church": {"kind": "survey-only", "tables": []},
    }


def test_the_study_travels_in_the_personas_file(personas) -> None:
    path, _ = personas
    back = study_of_personas(path)
    assert back.names == STUDY.names and back.attribute("age").phrases == (("65+", "retired age"),)


def test_a_user_template_renders_every_card(personas, tmp_path: Path) -> None:
    path, codes = personas
    tpl = tmp_path / "t.j2"
    tpl.write_text('+++\n[phrases.sex]\nf = "a woman"\nm = "a man"\n+++\n{{ phrase.sex }} aged {{ age }} ({{ attributes.party }})\n')
    out, _ = write_cards(path, tmp_path / "cards.jsonl", template=tpl)
    texts = [json.loads(line)["text"] for line in out.read_text().splitlines()]
    sex, age, party = (np.asarray(STUDY.attribute(k).levels)[codes[k].reshape(-1)] for k in ("sex", "age", "party"))
    word = {"f": "a woman", "m": "a man"}
    assert texts == [f"{word[s]} aged {a} ({p})" for s, a, p in zip(sex, age, party, strict=True)]


def test_the_cache_starting_over_changes_no_line() -> None:
    rng = np.random.default_rng(3)
    codes = np.column_stack([rng.integers(0, a.n_levels, 4000) for a in STUDY.attributes])
    draw, pid = np.zeros(4000, np.int64), np.arange(4000)
    small = CardRenderer(STUDY, load_template(None, STUDY), max_cached=5)  # 54 combinations: clears often
    big = CardRenderer(STUDY, load_template(None, STUDY))
    for part in np.array_split(np.arange(4000), 7):
        assert bytes(small.lines(codes[part], draw[part], pid[part])) == bytes(big.lines(codes[part], draw[part], pid[part]))
    tpl = load_template(None, STUDY)
    lines = bytes(big.lines(codes, draw, pid)).decode().splitlines()
    for r in (0, 999, 3999):
        expect = {"persona_id": r, "draw": 0, "attributes": {a.name: a.levels[c] for a, c in zip(STUDY.attributes, codes[r])}}
        expect["text"] = tpl.render(expect["attributes"])
        expect["provenance"] = {k: p.to_dict() for k, p in provenance(STUDY).items()}
        assert json.loads(lines[r]) == expect


def test_a_file_without_a_study_is_a_clean_error(tmp_path: Path) -> None:
    path = tmp_path / "bare.parquet"
    write_parquet_stream([(0, {a.name: np.zeros(3, int) for a in STUDY.attributes})], STUDY, path)
    with pytest.raises(PersonasError, match="carries no populace study.*populace generate"):
        write_cards(path, tmp_path / "c.jsonl")
    (tmp_path / "junk.parquet").write_text("not parquet")
    with pytest.raises(PersonasError, match="not a readable Parquet file"):
        write_cards(tmp_path / "junk.parquet", tmp_path / "c.jsonl")
    assert not (tmp_path / "c.jsonl").exists()


def test_plain_string_columns_give_the_same_cards(personas, tmp_path: Path) -> None:
    path, _ = personas
    frame = pd.read_parquet(path).astype({a: str for a in STUDY.names})
    plain = tmp_path / "plain.parquet"
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False).replace_schema_metadata(pq.read_schema(path).metadata), plain)
    a, _ = write_cards(path, tmp_path / "a.jsonl")
    b, _ = write_cards(plain, tmp_path / "b.jsonl")
    assert a.read_bytes() == b.read_bytes()


def test_a_label_that_is_not_a_level_names_the_column(personas, tmp_path: Path) -> None:
    path, _ = personas
    frame = pd.read_parquet(path)
    frame["party"] = frame["party"].astype(str)  # plain strings: the other path of batch_codes
    frame.loc[len(frame) - 1, "party"] = "green"
    bad = pa.Table.from_pandas(frame, preserve_index=False)
    bad_path = tmp_path / "bad.parquet"
    pq.write_table(bad.replace_schema_metadata(pq.read_schema(path).metadata), bad_path)
    with pytest.raises(PersonasError, match=r"bad.parquet, column 'party': .*not a level of party"):
        write_cards(bad_path, tmp_path / "c.jsonl")
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".c.jsonl")] == []  # no temp file left


def test_cli_writes_cards_and_refuses_an_unsafe_template(personas, tmp_path: Path, capsys) -> None:
    path, _ = personas
    assert main(["cards", str(path), "--out", str(tmp_path / "c.jsonl")]) == 0
    assert f"wrote {DRAWS * N:,} cards" in capsys.readouterr().out
    evil = tmp_path / "evil.j2"
    evil.write_text("{{ cycler.__init__.__globals__ }}")
    assert main(["cards", str(path), "--out", str(tmp_path / "d.jsonl"), "--template", str(evil)]) == 2
    err = capsys.readouterr().err
    assert f"populace: error: {evil}, line 1: " in err and "Traceback" not in err
    assert not (tmp_path / "d.jsonl").exists()
