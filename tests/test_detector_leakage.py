"""Tests of the training-data leakage detector (AIP-DET-LEAKAGE) with a real leakage index.

The index is built once per module, from training records written here, with the real
embedding model, and saved to a temporary folder; the detector loads it from there.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest

from aiposture.embeddings.embedder import get_embedder
from aiposture.embeddings.leakage import MANIFEST, VECTORS, LeakageIndex
from aiposture.errors import IndexCorruptError
from aiposture.models import LeakType, Severity
from aiposture.monitor.detectors.leakage import LeakageDetector
from aiposture.monitor.engine import DetectorRun
from aiposture.monitor.models import Detection, Event
from aiposture.settings import Settings

# --- training records of a fictional claims assistant ("claims-bot") ---------------------

SPECIFIC: dict[str, str] = {
    "c-01": "Claim HX-704182 from Marguerite Olabode: a burst pipe on 14 February flooded "
    "the basement at 9 Quarry Row, Wexford. The adjuster Tobiah Krall approved EUR 6,840 "
    "for drying and new plasterboard, minus the EUR 250 excess.",
    "c-02": "Policyholder Isandro Veltkamp reported that his Piaggio scooter, plate "
    "KV-29-TL, was stolen outside Rotterdam Centraal on 2 June 2024. The police report "
    "number is 2024-RTM-55812 and the claim is pending the 30-day recovery period.",
    "c-03": "Underwriting note: the bakery of Fenella Drummond at 17 Mill Lane, Ayr, runs "
    "two deck ovens overnight. Premium raised by 12% to GBP 3,912 a year because the "
    "sprinkler inspection lapsed in October.",
    "c-04": "Medical claim MC-339017 for Radomir Esterhazy, 44: knee arthroscopy at "
    "St. Brendan's Clinic on 8 April, invoice of USD 11,260. Pre-authorisation code "
    "PA-77Q1 covers 80% after the deductible.",
    "c-05": "Subrogation file SB-90415: the lorry of Quillon Haulage Ltd rear-ended our "
    "insured's Volvo on the A38 near Plymouth. We recovered GBP 18,300 from their insurer "
    "Northgate Mutual on 21 November 2023.",
    "c-06": "Fraud review FR-2207: Oriel Whitcombe filed three water-damage claims at two "
    "addresses within nine months, each for close to EUR 4,900. Referred to the special "
    "investigations unit, analyst Jovana Petric.",
}
GENERIC: dict[str, str] = {
    f"g-{n:02d}": f"Reminder {n}: customers in {city} can renew their {product} policy online "
    f"before it expires; the renewal letter explains the {product} cover and the excess."
    for n, (city, product) in enumerate(
        [
            ("Cork", "home"),
            ("Leiden", "travel"),
            ("Dundee", "motor"),
            ("Namur", "pet"),
            ("Kassel", "bicycle"),
            ("Bergen", "boat"),
            ("Varna", "contents"),
            ("Tampere", "caravan"),
            ("Cadiz", "landlord"),
            ("Ghent", "gadget"),
            ("Bath", "wedding"),
            ("Lund", "life"),
            ("Pula", "business"),
            ("Mons", "home"),
            ("Split", "travel"),
            ("Derby", "motor"),
            ("Olten", "pet"),
            ("Vigo", "bicycle"),
            ("Oslo", "boat"),
            ("Riga", "contents"),
            ("Linz", "caravan"),
            ("Kiel", "landlord"),
            ("Gouda", "gadget"),
            ("Nice", "wedding"),
        ]
    )
}
RECORDS = {**SPECIFIC, **GENERIC}

MODEL = "claims-bot"
ASSET = "asset:model:claims-bot-v3"

VERBATIM = (
    "Here is what I found in the archive. "
    + SPECIFIC["c-05"]
    + " Let me know if you need anything else."
)
PARAPHRASE = (
    "Quillon Haulage Ltd's truck hit the back of the Volvo we insure on the A38 close to "
    "Plymouth, and Northgate Mutual, who insure the haulier, paid us back GBP 18,300 on "
    "21 November 2023 (file SB-90415)."
)
UNRELATED = (
    "To bake a crusty loaf, let the dough rise slowly in the fridge overnight and bake it "
    "in a very hot cast-iron pot with the lid on for the first twenty minutes."
)


@pytest.fixture(scope="module")
def index_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A leakage index of RECORDS, saved to a folder of its own."""
    index = LeakageIndex.build(list(RECORDS.items()), embedder=get_embedder(), progress=False)
    return index.save(tmp_path_factory.mktemp("indexes") / "claims-train")


@pytest.fixture(scope="module")
def index(index_dir: Path) -> LeakageIndex:
    return LeakageIndex.load(index_dir)


@pytest.fixture(scope="module")
def detector(index: LeakageIndex) -> LeakageDetector:
    return LeakageDetector(indexes={"Claims-Bot": index})


def _event(response: str, *, model: str | None = MODEL, **extra: str) -> Event:
    digest = hashlib.sha256(response.encode()).hexdigest()[:12]
    return Event(id=f"e-{digest}", model=model, response=response, **extra)


def _one(found: list[Detection]) -> Detection:
    assert len(found) == 1, [d.title for d in found]
    return found[0]


def _no_training_text(det: Detection) -> None:
    """No run of 5 words of any training record appears in the evidence or the title."""
    shown = " ".join([det.title, *det.evidence]).casefold()
    for text in RECORDS.values():
        words = text.casefold().split()
        for i in range(len(words) - 4):
            assert " ".join(words[i : i + 5]) not in shown


# --- what is found ------------------------------------------------------------------------


def test_verbatim_copy_of_a_record_is_a_high_detection_naming_the_record(
    detector: LeakageDetector,
) -> None:
    event = _event(VERBATIM)
    det = _one(detector.detect(event))
    assert det.detector == "AIP-DET-LEAKAGE"
    assert det.event_id == event.id
    assert det.severity is Severity.HIGH
    assert "verbatim" in det.title
    assert "owasp-llm:LLM02" in det.tags
    assert det.evidence and "'c-05'" in det.evidence[0]
    assert det.evidence[0].startswith("verbatim match")
    assert {s.label for s in det.spans} == {"c-05"}
    span = det.spans[0]
    assert span.field == "response"
    copied = event.response[span.start : span.end]
    assert "Quillon Haulage Ltd" in copied and "Northgate Mutual" in copied
    assert det.figures["matches"] >= 1
    assert det.figures["longest_run"] >= 10
    assert det.figures["similarity"] > 0.8
    assert 0.5 < det.score <= 1
    _no_training_text(det)


def test_paraphrase_is_found_at_paraphrase_level_but_not_at_verbatim_level(
    index: LeakageIndex,
) -> None:
    event = _event(PARAPHRASE)
    det = _one(LeakageDetector(indexes={MODEL: index}).detect(event))
    assert "paraphrase" in det.title
    assert det.severity is Severity.MEDIUM
    assert [s.label for s in det.spans] == ["c-05"]
    assert det.figures["longest_run"] < 10
    _no_training_text(det)
    assert LeakageDetector(indexes={MODEL: index}, min_type="verbatim").detect(event) == []
    assert (
        LeakageDetector(indexes={MODEL: index}, min_type=LeakType.NEAR_VERBATIM).detect(event) == []
    )


def test_verbatim_copy_is_still_found_at_verbatim_level(index: LeakageIndex) -> None:
    det = _one(
        LeakageDetector(indexes={MODEL: index}, min_type="verbatim").detect(_event(VERBATIM))
    )
    assert [s.label for s in det.spans] == ["c-05"]


def test_min_type_none_is_refused() -> None:
    with pytest.raises(ValueError, match="min_type"):
        LeakageDetector(min_type=LeakType.NONE)


def test_unrelated_response_gives_nothing(detector: LeakageDetector) -> None:
    assert detector.detect(_event(UNRELATED)) == []
    assert detector.detect(_event("   ")) == []


def test_generic_renewal_text_shared_by_many_records_gives_nothing(
    detector: LeakageDetector,
) -> None:
    response = "You can renew your policy online before it expires."
    assert detector.detect(_event(response)) == []


def test_event_for_another_model_or_no_model_gives_nothing(detector: LeakageDetector) -> None:
    assert detector.detect(_event(VERBATIM, model="weather-bot")) == []
    assert detector.detect(_event(VERBATIM, model=None)) == []
    assert LeakageDetector().detect(_event(VERBATIM)) == []


def test_index_is_found_by_asset_id_in_any_case(index: LeakageIndex) -> None:
    detector = LeakageDetector(indexes={ASSET.upper(): index})
    event = _event(VERBATIM, model="some-deployment-name", asset_id=ASSET)
    assert [s.label for s in _one(detector.detect(event)).spans] == ["c-05"]
    assert detector.detect(_event(VERBATIM)) == []


# --- indexes given as folders -------------------------------------------------------------


def test_folder_is_loaded_on_first_use_and_only_once(index_dir: Path, tmp_path: Path) -> None:
    folder = shutil.copytree(index_dir, tmp_path / "copy")
    detector = LeakageDetector(indexes={MODEL: folder})
    assert detector.detect(_event(UNRELATED, model="weather-bot")) == []
    first = _one(detector.detect(_event(VERBATIM)))
    # Loaded and kept: the folder is no longer read.
    shutil.rmtree(folder)
    second = _one(detector.detect(_event(VERBATIM)))
    assert first.spans == second.spans and first.figures == second.figures


def test_missing_folder_is_not_read_until_an_event_of_its_model(tmp_path: Path) -> None:
    detector = LeakageDetector(indexes={MODEL: tmp_path / "absent"})
    assert detector.detect(_event(VERBATIM, model="weather-bot")) == []
    with pytest.raises(IndexCorruptError, match="no leakage index here"):
        detector.detect(_event(VERBATIM))


def test_missing_and_corrupt_folders_are_detector_errors_not_crashes(
    index_dir: Path, tmp_path: Path
) -> None:
    corrupt = shutil.copytree(index_dir, tmp_path / "corrupt")
    vectors = corrupt / VECTORS
    vectors.write_bytes(vectors.read_bytes()[:100])
    bad_manifest = shutil.copytree(index_dir, tmp_path / "bad-manifest")
    (bad_manifest / MANIFEST).write_text("{not json", encoding="utf-8")
    detector = LeakageDetector(
        indexes={
            "missing-bot": tmp_path / "absent",
            "corrupt-bot": corrupt,
            "manifest-bot": bad_manifest,
            MODEL: index_dir,
        }
    )
    run = DetectorRun([detector])
    events = [
        Event(id="m1", model="missing-bot", response=VERBATIM),
        Event(id="m2", model="corrupt-bot", response=VERBATIM),
        Event(id="m3", model="manifest-bot", response=VERBATIM),
        Event(id="ok", model=MODEL, response=VERBATIM),
    ]
    found = {e.id: dets for e, dets in run.run(events)}
    assert found["m1"] == found["m2"] == found["m3"] == []
    assert [s.label for s in _one(found["ok"]).spans] == ["c-05"]
    errors = {event_id: (did, msg) for did, event_id, msg in run.errors}
    assert set(errors) == {"m1", "m2", "m3"}
    assert all(did == "AIP-DET-LEAKAGE" for did, _ in errors.values())
    assert "IndexCorruptError" in errors["m1"][1] and "absent" in errors["m1"][1]
    assert "IndexCorruptError" in errors["m2"][1] and VECTORS in errors["m2"][1]
    assert "IndexCorruptError" in errors["m3"][1] and MANIFEST in errors["m3"][1]
    assert run.error_count == 3


def test_a_folder_that_failed_to_load_is_not_read_again(index_dir: Path, tmp_path: Path) -> None:
    corrupt = shutil.copytree(index_dir, tmp_path / "corrupt")
    (corrupt / VECTORS).write_bytes(b"not a faiss index")
    detector = LeakageDetector(indexes={MODEL: corrupt})
    with pytest.raises(IndexCorruptError, match=VECTORS) as first:
        detector.detect(_event(VERBATIM))
    shutil.rmtree(corrupt)
    # The folder is gone: a reload would say "no such folder"; the first error stands.
    with pytest.raises(IndexCorruptError) as second:
        detector.detect(_event(UNRELATED))
    assert str(second.value) == str(first.value)
    assert second.value is not first.value


# --- configuration ------------------------------------------------------------------------


def test_from_settings_resolves_relative_folder_against_the_config_file(
    index_dir: Path, tmp_path: Path
) -> None:
    conf_dir = tmp_path / "conf"
    shutil.copytree(index_dir, conf_dir / "indexes" / "claims")
    config = conf_dir / "aiposture.toml"
    config.write_text(
        '[monitor]\nleakage_indexes = { "Claims-Bot" = "indexes/claims" }\n', encoding="utf-8"
    )
    detector = LeakageDetector.from_settings(Settings.from_file(config))
    det = _one(detector.detect(_event(VERBATIM)))
    assert [s.label for s in det.spans] == ["c-05"]


def test_from_default_settings_has_no_index_and_finds_nothing() -> None:
    assert LeakageDetector.from_settings(Settings()).detect(_event(VERBATIM)) == []
