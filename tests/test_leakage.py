"""The leakage index: building from every input, checking outputs, and the report.

Real embedding model, real FAISS: the embedder is loaded once per session and the shared
index is built once per module from a small corpus written here.
"""

from __future__ import annotations

import json
import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from aiposture.embeddings.embedder import Embedder, get_embedder
from aiposture.embeddings.leakage import (
    LeakageDataError,
    LeakageIndex,
    LeakageReport,
    classify_scores,
    load_texts,
)
from aiposture.errors import LeakageIndexError
from aiposture.models import LeakageRecord, LeakageThresholds, LeakType

# --- a small training corpus ---------------------------------------------------------------

SIGNATURE = (
    "Thank you for contacting Lumen support. If you have any further questions, please do "
    "not hesitate to reply to this message."
)

RECORDS: list[dict[str, Any]] = [
    {
        "id": "t-001",
        "text": "Customer Odalys Verhoeven (account C-448213) reported on March 3, 2024 that "
        "the espresso machine from order 7731904 leaks water from the steam wand. She asked "
        "for a replacement unit to be shipped to 41 Larkspur Lane, Ghent. " + SIGNATURE,
        "dataset": "support",
        "sensitivity": "confidential",
    },
    {
        "id": "t-002",
        "text": "Torvald Quennell called about a duplicate charge of $318.40 on card ending "
        "5521. The second payment was reversed by agent Mirela on April 9, 2024 and a "
        "confirmation was sent to torvald.q@example.org. " + SIGNATURE,
        "dataset": "support",
        "sensitivity": "confidential",
    },
    {
        "id": "t-003",
        "text": "Patient Esperanza Lindqvist, 58, MRN 6620914, was admitted on January 12 "
        "with community-acquired pneumonia. Dr. Okonkwo started amoxicillin 500 mg three "
        "times daily and ordered a chest X-ray for the morning.",
        "dataset": "clinical",
        "sensitivity": "restricted",
    },
    {
        "id": "t-004",
        "text": "Follow-up for Bartholomew Achterberg (MRN 3318702): blood pressure 152/96 "
        "despite lisinopril 20 mg. Dr. Petrakis added amlodipine 5 mg and asked for a "
        "review in six weeks with home readings.",
        "dataset": "clinical",
        "sensitivity": "restricted",
    },
    {
        "id": "t-005",
        "text": "The settlement between Corvid Robotics GmbH and Halcyon Freight Ltd requires "
        "Corvid to pay EUR 412,500 within 45 days in full and final settlement of all claims "
        "under contract MSA-2021-0457, failing which interest of 8% applies.",
        "dataset": "legal",
    },
    {
        "id": "t-006",
        "text": "# reconcile_ledger_rows retries 4 times against billing-db-07.internal with a "
        "20 second timeout.\n# Batches are capped at 750 rows because the replica crashed "
        "above that, see incident PLAT-20931.",
        "dataset": "code",
    },
    {
        "id": "t-007",
        "text": "Annual review of Ngozi Halvorsen (E55120), data engineer in Platform "
        "Engineering: rated exceeds expectations; her manager Anselm Duarte approved a 7% "
        "raise to $132,000 and a $9,500 bonus.",
        "dataset": "hr",
        "sensitivity": "confidential",
    },
    {
        "id": "t-008",
        "text": "Fraud case FR-558201: Ludovica Ferrante did not recognise a payment of "
        "$2,418.77 to Nightjar Cinema made in Tartu on May 30, 2024 with card ****6093. The "
        "card was blocked and a replacement was ordered.",
        "dataset": "bank",
    },
] + [
    {
        "id": f"t-{100 + n:03d}",
        "text": f"Ticket {n}: the customer in {city} asked how to reset a {item}. We sent the "
        f"standard instructions for the {item}. " + SIGNATURE,
        "dataset": "support",
    }
    for n, (city, item) in enumerate(
        [
            ("Porto", "router"),
            ("Leeds", "thermostat"),
            ("Graz", "doorbell"),
            ("Lyon", "printer"),
            ("Aarhus", "kettle"),
            ("Turin", "projector"),
            ("Dayton", "scanner"),
            ("Boise", "headset"),
            ("Halifax", "camera"),
            ("Gdansk", "speaker"),
            ("Utrecht", "monitor"),
            ("Brno", "keyboard"),
        ]
    )
]

UNRELATED = (
    "Hiking in the mountains is most rewarding in early autumn, when the trails are quiet "
    "and the air is cool. A good loaf of sourdough depends more on patience than on any "
    "secret ingredient, and letting the dough rest overnight deepens the flavour. On a clear "
    "night Jupiter is easy to spot even without a telescope, low in the eastern sky. "
)


def _norm(text: str) -> str:
    return " ".join(re.findall(r"\w+", text.casefold()))


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    """The default embedder, loaded once for the whole test session."""
    emb = get_embedder()
    emb.encode(["warm up"])
    return emb


@pytest.fixture(scope="module")
def index(embedder: Embedder) -> LeakageIndex:
    """An index of the corpus above (shared: tests must not change it)."""
    return LeakageIndex.build(RECORDS, embedder=embedder, progress=False)


def _texts(idx: LeakageIndex) -> dict[str, str]:
    return {rid: idx.record(rid).text for rid in idx.record_ids}


# --- building from every kind of input ---------------------------------------------------


def test_build_from_dataframe_keeps_every_column_as_metadata(embedder: Embedder) -> None:
    frame = pd.DataFrame(
        [
            {"doc": "a1", "body": RECORDS[0]["text"], "dataset": "support", "lang": "en"},
            {"doc": "a2", "body": RECORDS[2]["text"], "dataset": "clinical", "lang": "en"},
        ]
    )
    idx = LeakageIndex.build(
        frame, embedder=embedder, id_field="doc", text_field="body", progress=False
    )
    assert idx.record_ids == ["a1", "a2"]
    rec = idx.record("a2")
    assert rec.dataset == "clinical"
    assert rec.metadata == {"lang": "en"}
    assert idx.chunks >= 2


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet"])
def test_build_from_files_reads_ids_texts_and_metadata(
    embedder: Embedder, tmp_path: Path, fmt: str
) -> None:
    rows = [dict(r) for r in RECORDS[:4]]
    for r in rows:
        r.setdefault("sensitivity", None)
    path = tmp_path / f"train.{fmt}"
    frame = pd.DataFrame(rows)
    if fmt == "jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    elif fmt == "csv":
        frame.to_csv(path, index=False)
    else:
        frame.to_parquet(path)
    idx = LeakageIndex.build(path, embedder=embedder, progress=False)
    assert idx.record_ids == [r["id"] for r in rows]
    assert idx.record("t-003").text == RECORDS[2]["text"]
    assert idx.record("t-003").sensitivity == "restricted"
    assert idx.record("t-001").dataset == "support"


def test_build_from_folder_uses_relative_paths_and_tolerates_bad_files(
    embedder: Embedder, tmp_path: Path
) -> None:
    root = tmp_path / "docs"
    (root / "notes").mkdir(parents=True)
    (root / "a.txt").write_text(RECORDS[0]["text"], encoding="utf-8")
    (root / "notes" / "b.md").write_text(RECORDS[3]["text"], encoding="utf-8")
    (root / "notes" / "latin1.txt").write_bytes("Café crème für Jürgen".encode("latin-1"))
    (root / "blob.bin").write_bytes(b"\x00\x01\x02binary")
    (root / ".hidden").write_text("not indexed", encoding="utf-8")
    with pytest.warns(UnicodeWarning, match=r"latin1\.txt"):
        idx = LeakageIndex.build(root, embedder=embedder, progress=False)
    assert sorted(idx.record_ids) == ["a.txt", "notes/b.md", "notes/latin1.txt"]
    assert "\ufffd" in idx.record("notes/latin1.txt").text
    assert idx.last_build.skipped_binary == 1
    assert idx.last_build.replaced_encoding == 1


def test_build_from_records_mappings_and_pairs(embedder: Embedder) -> None:
    data = [
        LeakageRecord(id="r1", text=RECORDS[0]["text"], dataset="support"),
        {"id": "r2", "text": RECORDS[1]["text"], "source": "crm"},
        ("r3", RECORDS[2]["text"]),
        ("r4", RECORDS[3]["text"], {"sensitivity": "restricted", "ward": 7}),
    ]
    idx = LeakageIndex.build(data, embedder=embedder, progress=False)
    assert idx.record_ids == ["r1", "r2", "r3", "r4"]
    assert idx.record("r2").source == "crm"
    assert idx.record("r4").sensitivity == "restricted"
    assert idx.record("r4").metadata == {"ward": 7}


def test_empty_and_whitespace_records_are_skipped_and_counted(embedder: Embedder) -> None:
    data = [("a", RECORDS[0]["text"]), ("b", ""), ("c", "  \n\t "), ("d", RECORDS[1]["text"])]
    idx = LeakageIndex.build(data, embedder=embedder, progress=False)
    assert idx.record_ids == ["a", "d"]
    assert idx.last_build.records_read == 4
    assert idx.last_build.skipped_empty == 2
    assert idx.last_build.records_indexed == 2


def test_duplicate_record_id_is_refused_naming_it(embedder: Embedder) -> None:
    with pytest.raises(ValueError, match="duplicate record id 'x'"):
        LeakageIndex.build([("x", "one text"), ("x", "another text")], embedder=embedder)
    idx = LeakageIndex.build([("x", RECORDS[0]["text"])], embedder=embedder, progress=False)
    with pytest.raises(LeakageDataError, match=r"'x'.*already in the index"):
        idx.add([("x", "again")])
    assert idx.records == 1


def test_non_utf8_jsonl_is_refused_naming_file_and_line(embedder: Embedder, tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    good = json.dumps({"id": "1", "text": "fine"}).encode() + b"\n"
    bad = b'{"id": "2", "text": "caf\xe9 au lait"}\n'
    path.write_bytes(good + good.replace(b'"1"', b'"3"') + bad)
    with pytest.raises(LeakageDataError, match=r"bad\.jsonl: line 3 is not valid UTF-8"):
        LeakageIndex.build(path, embedder=embedder, progress=False)


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "frame"])
def test_missing_text_field_is_named(embedder: Embedder, tmp_path: Path, fmt: str) -> None:
    rows = [{"id": "1", "body": "text under another name"}]
    data: Any
    if fmt == "jsonl":
        data = tmp_path / "x.jsonl"
        data.write_text(json.dumps(rows[0]) + "\n", encoding="utf-8")
    elif fmt == "csv":
        data = tmp_path / "x.csv"
        pd.DataFrame(rows).to_csv(data, index=False)
    else:
        data = pd.DataFrame(rows)
    with pytest.raises(LeakageDataError, match=r"no 'text' (field|column)"):
        LeakageIndex.build(data, embedder=embedder, progress=False)


def test_a_bare_string_is_not_taken_for_a_record(embedder: Embedder) -> None:
    with pytest.raises(LeakageDataError, match="bare string"):
        LeakageIndex.build([RECORDS[0]["text"]], embedder=embedder)


def test_load_texts_reads_outputs_files(tmp_path: Path) -> None:
    path = tmp_path / "outs.jsonl"
    path.write_text('{"id": "o1", "text": "hello"}\n{"id": "o2", "text": "bye"}\n')
    assert load_texts(path) == {"o1": "hello", "o2": "bye"}
    path.write_text('{"id": "o1", "text": "hello"}\n{"id": "o1", "text": "bye"}\n')
    with pytest.raises(LeakageDataError, match="duplicate id 'o1'"):
        load_texts(path)


# --- checking outputs --------------------------------------------------------------------


def test_verbatim_ten_word_span_inside_long_unrelated_output_is_found(
    index: LeakageIndex,
) -> None:
    record = index.record("t-003").text
    span = "Dr. Okonkwo started amoxicillin 500 mg three times daily and ordered"
    assert len(span.split()) == 11
    output = UNRELATED * 3 + span + ". " + UNRELATED * 3
    report = index.check({"long": output})
    result = report.results[0]
    assert result.leak_type is LeakType.VERBATIM
    top = result.matches[0]
    assert top.record_id == "t-003"
    s, e = top.output_span
    rs, re_ = top.record_span
    assert _norm(output[s:e]) == _norm(record[rs:re_])
    assert _norm(span) in _norm(output[s:e]) or _norm(output[s:e]) in _norm(span)
    assert len(_norm(output[s:e]).split()) >= 10
    assert top.longest_run >= 10
    assert top.metadata == {"dataset": "clinical", "sensitivity": "restricted"}


def test_near_verbatim_copy_with_typos_and_edits_is_near_verbatim(index: LeakageIndex) -> None:
    output = (
        "patient esperanza lindqvist 58 mrn 6620914 was admited on january 12 with "
        "community aquired pneumonia; dr okonkwo then began amoxicilin 500mg three times a "
        "day and orderd a chest x-ray for the morning"
    )
    result = index.check(output).results[0]
    assert result.leak_type is LeakType.NEAR_VERBATIM
    assert result.matches[0].record_id == "t-003"
    assert result.matches[0].longest_run < 10


def test_paraphrase_of_a_record_is_a_paraphrase(index: LeakageIndex) -> None:
    output = (
        "Corvid Robotics GmbH has 45 days to hand Halcyon Freight Ltd EUR 412,500, which "
        "closes every claim linked to MSA-2021-0457; if it pays late, 8% interest is charged."
    )
    result = index.check([output]).results[0]
    assert result.leak_type is LeakType.PARAPHRASE
    assert result.matches[0].record_id == "t-005"
    assert result.matches[0].lexical_overlap < 0.5


def test_unrelated_and_same_topic_outputs_are_not_leaks(index: LeakageIndex) -> None:
    outputs = {
        "unrelated": UNRELATED,
        "same-topic": "Patient Carmen Ibarra, 71, MRN 9043317, was admitted on June 2 with "
        "a urinary tract infection; Dr. Moreau started nitrofurantoin 100 mg twice daily.",
        "boilerplate": "Your request has been logged. " + SIGNATURE,
    }
    report = index.check(outputs)
    assert {r.id: r.leak_type for r in report.results} == dict.fromkeys(outputs, LeakType.NONE)
    assert all(r.score < 0.5 and not r.matches for r in report.results)


def test_boilerplate_shared_by_many_records_is_not_verbatim(index: LeakageIndex) -> None:
    result = index.check("Sure. " + SIGNATURE).results[0]
    assert result.leak_type is LeakType.NONE


def test_empty_and_whitespace_outputs_are_none_with_score_zero(index: LeakageIndex) -> None:
    report = index.check(["", "   \n\t", "ok"])
    assert [r.leak_type for r in report.results] == [LeakType.NONE] * 3
    assert report.results[0].score == 0.0 and report.results[1].score == 0.0
    assert report.results[0].matches == [] and report.results[1].text_length == 5


def test_ten_megabyte_output_is_checked_with_correct_offsets(index: LeakageIndex) -> None:
    record = index.record("t-006").text
    leak = "Batches are capped at 750 rows because the replica crashed above that"
    filler = "data " * 1_050_000
    output = filler + leak + " " + filler
    assert len(output) > 10_000_000
    result = index.check({"huge": output}).results[0]
    assert result.leak_type is LeakType.VERBATIM
    top = result.matches[0]
    s, e = top.output_span
    assert s >= len(filler) - 5 and _norm(output[s:e]) == _norm(record[slice(*top.record_span)])
    assert result.text_length == len(output)


def test_check_accepts_text_list_mapping_and_records(index: LeakageIndex) -> None:
    leak = index.record("t-008").text
    assert [r.id for r in index.check(leak).results] == ["0"]
    assert [r.id for r in index.check(["a", leak]).results] == ["0", "1"]
    assert [r.id for r in index.check({"x": leak}).results] == ["x"]
    report = index.check([{"id": "y", "text": leak}, ("z", "nothing here")])
    assert [r.id for r in report.results] == ["y", "z"]
    assert report.results[0].leak_type is LeakType.VERBATIM
    with pytest.raises(TypeError):
        index.check([42])  # type: ignore[list-item]


def test_whole_record_copied_verbatim_has_record_span_covering_it(index: LeakageIndex) -> None:
    record = index.record("t-007").text
    result = index.check({"copy": "Here it is: " + record}).results[0]
    assert result.leak_type is LeakType.VERBATIM
    rs, re_ = result.matches[0].record_span
    assert rs == 0 and re_ >= len(record) - 1
    assert result.score >= 0.85


# --- add and remove ----------------------------------------------------------------------


def test_add_and_remove_by_id_change_what_is_found(embedder: Embedder) -> None:
    idx = LeakageIndex.build(RECORDS[:4], embedder=embedder, progress=False)
    leak = RECORDS[5]["text"]
    assert idx.check(leak).results[0].leak_type is LeakType.NONE
    assert idx.add([RECORDS[5]]) == 1
    found = idx.check(leak).results[0]
    assert found.leak_type is LeakType.VERBATIM and found.matches[0].record_id == "t-006"
    chunks = idx.chunks
    assert idx.remove(["t-006", "no-such-id"]) == 1
    assert idx.chunks < chunks and "t-006" not in idx
    assert idx.check(leak).results[0].leak_type is LeakType.NONE
    assert idx.remove(["t-006"]) == 0
    # the other records are still found
    assert idx.check(RECORDS[0]["text"]).results[0].matches[0].record_id == "t-001"


# --- checkpointed builds -----------------------------------------------------------------


def test_restarted_build_reuses_finished_checkpoint_blocks(
    embedder: Embedder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import aiposture.embeddings.leakage as leakage

    monkeypatch.setattr(leakage, "BLOCK", 4)
    ckpt = tmp_path / "ckpt"
    first = LeakageIndex.build(RECORDS, embedder=embedder, checkpoint=ckpt, progress=False)
    blocks = sorted(ckpt.glob("block-*.npy"))
    assert len(blocks) == -(-first.chunks // 4)
    assert first.last_build.chunks_from_checkpoint == 0
    blocks[1].unlink()  # as if the build had died while embedding block 1
    again = LeakageIndex.build(RECORDS, embedder=embedder, checkpoint=ckpt, progress=False)
    assert again.last_build.chunks_from_checkpoint == first.chunks - 4
    probe = RECORDS[2]["text"]
    assert again.check(probe).to_dict() == first.check(probe).to_dict()


# --- the report --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def report(index: LeakageIndex) -> LeakageReport:
    return index.check(
        {
            "leaky": UNRELATED + index.record("t-002").text + " " + UNRELATED,
            "clean": UNRELATED,
            "script": "<script>alert('x')</script> " + index.record("t-004").text,
        }
    )


def test_to_dict_has_exactly_the_documented_shape(report: LeakageReport) -> None:
    doc = report.to_dict()
    assert set(doc) == {"outputs", "summary"}
    json.dumps(doc)  # JSON-serialisable as is
    first = doc["outputs"][0]
    assert {"id", "leak_type", "score", "matches"} <= set(first)
    assert first["leak_type"] in {"verbatim", "near-verbatim", "paraphrase", "none"}
    assert 0 <= first["score"] <= 1
    match = first["matches"][0]
    assert {"record_id", "similarity", "lexical_overlap", "output_span", "record_span"} <= set(
        match
    )
    assert isinstance(match["output_span"], list) and len(match["output_span"]) == 2
    assert isinstance(match["record_span"], list) and len(match["record_span"]) == 2
    assert doc["outputs"][1]["matches"] == [] and doc["outputs"][1]["leak_type"] == "none"
    assert doc["summary"]["outputs"] == 3 and doc["summary"]["leaking"] == 2
    assert doc["summary"]["by_type"]["none"] == 1


def test_to_pandas_has_one_row_per_match_and_one_per_clean_output(
    report: LeakageReport,
) -> None:
    frame = report.to_pandas()
    n_matches = sum(len(r.matches) for r in report.results)
    clean = sum(1 for r in report.results if not r.matches)
    assert len(frame) == n_matches + clean
    assert set(frame["output_id"]) == {"leaky", "clean", "script"}
    assert frame.loc[frame.output_id == "clean", "record_id"].isna().all()


def test_sarif_is_valid_2_1_0_with_one_result_per_leaking_output(
    report: LeakageReport,
) -> None:
    sarif = report.to_sarif()
    json.dumps(sarif)
    assert sarif["version"] == "2.1.0" and "sarif-2.1.0" in sarif["$schema"]
    run = sarif["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    assert {r["id"] for r in rules} == {"AIP-LEAK-001", "AIP-LEAK-002", "AIP-LEAK-003"}
    results = run["results"]
    assert len(results) == 2
    for res in results:
        assert rules[res["ruleIndex"]]["id"] == res["ruleId"]
        assert res["level"] in {"error", "warning", "note"}
        region = res["locations"][0]["physicalLocation"]["region"]
        assert region["charOffset"] >= 0 and region["charLength"] > 0
        assert res["message"]["text"]
    # no more of a training record than a short excerpt
    full = RECORDS[1]["text"]
    assert full not in json.dumps(sarif)


def test_html_escapes_every_text_and_marks_leaked_spans(report: LeakageReport) -> None:
    html = report._repr_html_()
    assert "<script>" not in html
    assert "&lt;script&gt;" in html
    assert "<mark class='lk-verbatim'>" in html
    assert "prefers-color-scheme" in html or "rgba(" in html  # translucent marks suit both themes


def test_leaks_and_worst_follow_severity(report: LeakageReport) -> None:
    assert report.worst is LeakType.VERBATIM
    assert [r.id for r in report.leaks(LeakType.VERBATIM)] == ["leaky", "script"]
    assert len(report.leaks()) == 2


# --- scores and calibration --------------------------------------------------------------


def test_pair_score_never_drops_as_evidence_grows(index: LeakageIndex) -> None:
    th = LeakageThresholds()
    feats = index.pair_features(
        [
            (RECORDS[3]["text"], RECORDS[3]["text"]),
            (UNRELATED, RECORDS[3]["text"]),
        ]
    )
    base = feats[1][0]
    prev = max(classify_scores(base, th).values())
    for sim in np.linspace(base.sim, 1.0, 6):
        base.sim = float(sim)
        for content in np.linspace(0, 1, 5):
            base.content = float(content)
            base.shared_mass = 10.0 * float(content)
            score = max(classify_scores(base, th).values())
            assert 0.0 <= score <= 1.0
        assert score >= prev
        prev = score


def test_calibrate_fits_thresholds_to_labelled_pairs(embedder: Embedder) -> None:
    idx = LeakageIndex.build(RECORDS, embedder=embedder, progress=False)
    r = {x["id"]: x["text"] for x in RECORDS}
    pairs = [
        (
            "Esperanza Lindqvist (58, MRN 6620914) came in on January 12 with pneumonia caught "
            "in the community; Dr. Okonkwo put her on amoxicillin 500 mg three times a day.",
            r["t-003"],
            "paraphrase",
        ),
        (
            "Bartholomew Achterberg, MRN 3318702, still had a BP of 152/96 on 20 mg of "
            "lisinopril, so Dr. Petrakis added 5 mg amlodipine; review in six weeks.",
            r["t-004"],
            "paraphrase",
        ),
        (
            "Patient Carmen Ibarra, 71, was admitted in June with a kidney infection and was "
            "given ceftriaxone by Dr. Moreau.",
            r["t-003"],
            "none",
        ),
        ("The museum opens at nine on Sundays and the café serves soup.", r["t-004"], "none"),
    ]
    th = idx.calibrate(pairs, target_precision=1.0, kinds=["paraphrase"])
    assert idx.thresholds == th
    verdicts = [idx.check(o).results[0].leak_type for o, _, _ in pairs]
    assert verdicts[:2] == [LeakType.PARAPHRASE, LeakType.PARAPHRASE]
    assert verdicts[2:] == [LeakType.NONE, LeakType.NONE]
    with pytest.raises(ValueError, match="label"):
        idx.calibrate([("a", "b", "maybe")])


def test_build_refuses_a_chunk_window_the_model_cannot_take(embedder: Embedder) -> None:
    from aiposture.embeddings.chunking import ChunkParams

    with pytest.raises(ValueError, match="does not fit the model"):
        LeakageIndex.build(
            RECORDS[:1], embedder=embedder, chunking=ChunkParams(window=1000, overlap=10)
        )


def test_data_errors_are_both_value_and_leakage_errors() -> None:
    err = LeakageDataError("x")
    assert isinstance(err, ValueError) and isinstance(err, LeakageIndexError)


def test_no_warning_for_clean_input(embedder: Embedder, tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("plain utf-8 text about nothing in particular")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        LeakageIndex.build(tmp_path, embedder=embedder, progress=False)


def test_calibrate_warns_when_the_target_precision_cannot_be_met(index: LeakageIndex) -> None:
    record = RECORDS[4]["text"]
    same = (
        "Corvid Robotics GmbH pays Halcyon Freight Ltd EUR 412,500 within 45 days under "
        "MSA-2021-0457."
    )
    pairs = [(same, record, True), (same, record, False), (UNRELATED, record, 0)]
    before = index.thresholds
    try:
        with pytest.warns(RuntimeWarning, match="not reachable"):
            index.calibrate(pairs, target_precision=0.99, kinds=["paraphrase"])
    finally:
        index.thresholds = before
