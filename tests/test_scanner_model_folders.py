"""The model-folder scanner: Hugging Face hub caches and local model folders.

The estate is built on disk the way ``huggingface_hub`` lays out its cache: content in
``blobs/`` named by hash, ``snapshots/<commit>/`` holding relative symlinks into the
blobs, ``refs/<branch>`` holding the commit, ``.no_exist`` markers and ``.locks``.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from aiposture.discovery import observe
from aiposture.discovery.base import Target, TargetError, TargetKind
from aiposture.discovery.engine import Discovery
from aiposture.discovery.hfcache import (
    hub_ref_from_path,
    parse_model_card,
    read_front_matter,
    repo_from_folder_name,
)
from aiposture.discovery.registry import ScannerRegistry
from aiposture.discovery.scanners.model_folders import ModelFolderScanner
from aiposture.discovery.scanners.python_code import PythonCodeScanner
from aiposture.models import Asset, AssetKind, EvidenceKind, RelationKind, ScanRun
from aiposture.store import Store, open_store

SENTIMENT_REV = "1" * 40
# the old revision is scanned first (and the first sighting in a batch wins): it must
# not set the model's facts
CHAT_OLD = "a" * 39 + "1"
CHAT_NEW = "b" * 39 + "2"
TICKETS_REV = "c" * 40
SPACE_REV = "d" * 40


# --- building the estate ------------------------------------------------------------------


def _hub_repo(
    cache: Path, folder: str, revisions: dict[str, dict[str, bytes]], refs: dict[str, str]
) -> Path:
    """A cached repository: each file's bytes in blobs/, snapshot entries as symlinks."""
    repo = cache / folder
    blobs = repo / "blobs"
    blobs.mkdir(parents=True, exist_ok=True)
    for commit, files in revisions.items():
        for rel, data in files.items():
            digest = hashlib.sha256(data).hexdigest()
            (blobs / digest).write_bytes(data)
            link = repo / "snapshots" / commit / rel
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(os.path.relpath(blobs / digest, link.parent))
    for name, commit in refs.items():
        ref = repo / "refs" / name
        ref.parent.mkdir(parents=True, exist_ok=True)
        ref.write_text(commit, encoding="ascii")  # no newline, as huggingface_hub writes it
    return repo


def _card(meta: str, body: str = "# Model\n\nSome words about the model.\n") -> bytes:
    return f"---\n{meta.strip()}\n---\n\n{body}".encode()


def _config(**fields: object) -> bytes:
    return json.dumps(fields, indent=2).encode()


SENTIMENT_CARD = _card(
    """
language:
- en
license: mit
library_name: transformers
pipeline_tag: text-classification
tags:
- sentiment
datasets:
- stanfordnlp/imdb
base_model: distilbert/distilbert-base-uncased
model-index:
- name: sentiment-small
  results:
  - task:
      type: text-classification
    dataset:
      type: stanfordnlp/sst2
      name: SST-2
    metrics:
    - type: accuracy
      value: 0.91
"""
)
SENTIMENT_CONFIG = _config(
    _name_or_path="distilbert/distilbert-base-uncased",
    architectures=["DistilBertForSequenceClassification"],
    model_type="distilbert",
    torch_dtype="float32",
    transformers_version="4.44.2",
)
CHAT_CONFIG = _config(
    architectures=["LlamaForCausalLM"],
    model_type="llama",
    torch_dtype="bfloat16",
    transformers_version="4.46.0",
)
CHAT_OLD_CARD = _card("license: mit\ndatasets:\n- tatsu-lab/alpaca\n")
CHAT_NEW_CARD = _card(
    "license: apache-2.0\ndatasets:\n- tatsu-lab/alpaca\n- HuggingFaceH4/ultrachat_200k\n"
    "pipeline_tag: text-generation\n"
)
TICKETS_CARD = _card(
    "license: cc-by-4.0\npretty_name: Support tickets\ntask_categories:\n- text-classification\n"
)


@dataclass
class Estate:
    root: Path
    cache: Path
    sentiment: Path
    chat: Path
    tickets: Path
    finetuned: Path
    unlicensed: Path
    broken_card: Path
    broken_config: Path
    plain_docs: Path
    webapp: Path
    app: Path


def build_estate(root: Path) -> Estate:
    cache = root / "home" / ".cache" / "huggingface" / "hub"
    sentiment = _hub_repo(
        cache,
        "models--acme-ai--sentiment-small",
        {
            SENTIMENT_REV: {
                "config.json": SENTIMENT_CONFIG,
                "README.md": SENTIMENT_CARD,
                "model.safetensors": b"\x08\x00\x00\x00\x00\x00\x00\x00{}      ",
                # a sentence-transformers style component: not the repository's config
                "1_Pooling/config.json": _config(word_embedding_dimension=768),
            }
        },
        {"main": SENTIMENT_REV},
    )
    chat = _hub_repo(
        cache,
        "models--acme-ai--tiny-chat",
        {
            CHAT_OLD: {"config.json": CHAT_CONFIG, "README.md": CHAT_OLD_CARD},
            # the same config bytes: one blob shared by both revisions
            CHAT_NEW: {"config.json": CHAT_CONFIG, "README.md": CHAT_NEW_CARD},
        },
        {"main": CHAT_NEW, "pr/1": CHAT_OLD},
    )
    # transformers leaves empty markers for files the Hub does not have
    marker = chat / ".no_exist" / CHAT_NEW / "adapter_config.json"
    marker.parent.mkdir(parents=True)
    marker.write_bytes(b"")
    (chat / ".no_exist" / CHAT_NEW / "README.md").write_bytes(b"")
    locks = cache / ".locks" / "models--acme-ai--tiny-chat"
    locks.mkdir(parents=True)
    (locks / ("e" * 64 + ".lock")).write_bytes(b"")
    tickets = _hub_repo(
        cache,
        "datasets--acme-ai--support-tickets",
        {TICKETS_REV: {"README.md": TICKETS_CARD, "data/train.parquet": b"PAR1\x00\x00PAR1"}},
        {"main": TICKETS_REV},
    )
    _hub_repo(
        cache,
        "spaces--acme-ai--demo",
        {SPACE_REV: {"README.md": _card("title: Demo\nsdk: gradio\nlicense: mit")}},
        {"main": SPACE_REV},
    )

    projects = root / "projects"
    finetuned = projects / "support-bot" / "models" / "support-lora"
    finetuned.mkdir(parents=True)
    (finetuned / "config.json").write_bytes(
        _config(
            _name_or_path="acme-ai/tiny-chat",
            architectures=["LlamaForCausalLM"],
            model_type="llama",
            torch_dtype="float16",
        )
    )
    (finetuned / "adapter_config.json").write_bytes(
        _config(
            base_model_name_or_path="acme-ai/tiny-chat",
            revision=CHAT_NEW,
            peft_type="LORA",
            task_type="CAUSAL_LM",
            r=16,
            lora_alpha=32,
            target_modules=["q_proj", "v_proj"],
        )
    )
    (finetuned / "adapter_model.safetensors").write_bytes(b"\x02\x00\x00\x00\x00\x00\x00\x00{}")
    (finetuned / "README.md").write_bytes(
        _card(
            """
library_name: peft
license: apache-2.0
base_model: acme-ai/tiny-chat
base_model_relation: adapter
datasets:
  - acme-ai/support-tickets
  - tatsu-lab/alpaca
tags: [lora, support]
""",
            "# support-lora\n\nA LoRA adapter for the support bot.\n",
        )
    )

    unlicensed = projects / "support-bot" / "models" / "classifier"
    unlicensed.mkdir(parents=True)
    (unlicensed / "config.json").write_bytes(
        _config(architectures=["BertForSequenceClassification"], model_type="bert")
    )
    (unlicensed / "model_card.md").write_bytes(
        _card("language: en\npipeline_tag: text-classification\n")
    )

    broken_card = projects / "broken-card"
    broken_card.mkdir()
    (broken_card / "model.safetensors").write_bytes(b"\x02\x00\x00\x00\x00\x00\x00\x00{}")
    (broken_card / "README.md").write_bytes(
        b"---\nlicense: mit\ndatasets:\n  - one\n - two\n---\n# Broken\n"
    )

    broken_config = projects / "broken-config"
    broken_config.mkdir()
    (broken_config / "pytorch_model.bin").write_bytes(b"\x80\x02}q\x00.")
    (broken_config / "config.json").write_bytes(
        b'{\n  "architectures": ["GPT2LMHeadModel"],\n  "model_type": "gpt2",\n  "n_embd": 7'
    )

    # a project's plain README beside a stray checkpoint: a model folder, not a model card
    trainer = projects / "trainer"
    trainer.mkdir()
    (trainer / "README.md").write_bytes(b"# Trainer\n\nTrains the classifier.\n")
    (trainer / "best_model.pt").write_bytes(b"PK\x03\x04")

    # a README with front matter in a folder that holds no model
    plain_docs = projects / "handbook"
    plain_docs.mkdir()
    (plain_docs / "README.md").write_bytes(
        _card("title: Handbook\nlicense: mit\ndatasets:\n- acme-ai/secret-dataset\n")
    )
    # another tool's config.json (and a broken one) beside a README: not a model
    webapp = projects / "webapp"
    webapp.mkdir()
    (webapp / "config.json").write_bytes(_config(port=8080, debug=True))
    (webapp / "README.md").write_bytes(b"# Web app\n\nRun it with npm start.\n")
    settings = projects / "webapp" / "settings"
    settings.mkdir()
    (settings / "config.json").write_bytes(b'{"theme": "dark", // comment\n}')

    app = projects / "support-bot"
    (app / "requirements.txt").write_text("transformers==4.46.0\n", encoding="utf-8")
    (app / "classify.py").write_text(
        "from transformers import AutoModelForSequenceClassification\n\n"
        'model = AutoModelForSequenceClassification.from_pretrained("acme-ai/sentiment-small")\n',
        encoding="utf-8",
    )
    return Estate(
        root=root,
        cache=cache,
        sentiment=sentiment,
        chat=chat,
        tickets=tickets,
        finetuned=finetuned,
        unlicensed=unlicensed,
        broken_card=broken_card,
        broken_config=broken_config,
        plain_docs=plain_docs,
        webapp=webapp,
        app=app,
    )


@pytest.fixture
def estate(tmp_path: Path) -> Estate:
    return build_estate(tmp_path / "estate")


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Store]:
    s = open_store(f"sqlite:///{tmp_path / 'posture.db'}")
    try:
        yield s
    finally:
        s.close()


def scan(store: Store, root: Path, *scanners: type) -> ScanRun:
    reg = ScannerRegistry()
    for cls in scanners or (ModelFolderScanner,):
        reg.register(cls)
    return Discovery(store, registry=reg).run([root], progress=False)


def by_key(store: Store) -> dict[str, Asset]:
    return {a.key: a for a in store.assets()}


def hub_model(repo_id: str) -> str:
    return observe.model(repo_id, "huggingface").id


def hub_dataset(repo_id: str) -> str:
    return observe.hub_dataset(repo_id).id


def relation_pairs(store: Store, kind: RelationKind) -> set[tuple[str, str]]:
    names = {a.id: a.name for a in store.assets()}
    return {(names[r.source_id], names[r.target_id]) for r in store.relations() if r.kind is kind}


# --- the cache layout ---------------------------------------------------------------------


def test_cache_folder_names_map_to_repo_types_and_ids() -> None:
    assert repo_from_folder_name("models--meta-llama--Llama-3.1-8B") == (
        "model",
        "meta-llama/Llama-3.1-8B",
    )
    assert repo_from_folder_name("models--bert-base-cased") == ("model", "bert-base-cased")
    assert repo_from_folder_name("datasets--rajpurkar--squad") == ("dataset", "rajpurkar/squad")
    assert repo_from_folder_name("spaces--org--demo") == ("space", "org/demo")
    assert repo_from_folder_name("models--a--b--c") is None
    assert repo_from_folder_name("models--") is None
    assert repo_from_folder_name("checkpoints--x") is None


def test_hub_ref_names_repo_revision_and_branches_of_snapshot_files(estate: Estate) -> None:
    ref = hub_ref_from_path(estate.chat / "snapshots" / CHAT_OLD / "README.md")
    assert ref is not None
    assert (ref.repo_type, ref.repo_id, ref.revision) == ("model", "acme-ai/tiny-chat", CHAT_OLD)
    assert ref.branches == ("pr/1",)
    assert ref.snapshot == estate.chat / "snapshots" / CHAT_OLD
    assert ref.file == "README.md"

    main = hub_ref_from_path(estate.chat / "refs" / "main")
    assert main is not None and main.ref == "main" and main.revision == CHAT_NEW
    assert main.branches == ("main",)

    component = hub_ref_from_path(
        estate.sentiment / "snapshots" / SENTIMENT_REV / "1_Pooling" / "config.json"
    )
    assert component is not None and component.file == "1_Pooling/config.json"

    blob = next((estate.chat / "blobs").iterdir())
    assert hub_ref_from_path(blob) is None
    assert hub_ref_from_path(estate.chat / ".no_exist" / CHAT_NEW / "README.md") is None
    assert hub_ref_from_path(estate.finetuned / "config.json") is None


def test_scanner_accepts_top_of_snapshot_files_and_refs_but_not_blobs_or_markers(
    estate: Estate,
) -> None:
    s = ModelFolderScanner()
    snap = estate.sentiment / "snapshots" / SENTIMENT_REV
    assert s.accepts(snap / "config.json")
    assert s.accepts(snap / "README.md")
    assert s.accepts(estate.chat / "refs" / "pr" / "1")
    assert not s.accepts(snap / "model.safetensors")
    assert not s.accepts(snap / "1_Pooling" / "config.json")
    for blob in (estate.chat / "blobs").iterdir():
        assert not s.accepts(blob)
    assert not s.accepts(estate.chat / ".no_exist" / CHAT_NEW / "adapter_config.json")
    assert not s.accepts(estate.chat / ".no_exist" / CHAT_NEW / "README.md")
    assert not s.accepts(estate.tickets / "snapshots" / TICKETS_REV / "data" / "train.parquet")
    assert s.accepts(estate.finetuned / "adapter_config.json")
    assert s.accepts(estate.unlicensed / "model_card.md")
    assert not s.accepts(estate.finetuned / "adapter_model.safetensors")


# --- model cards --------------------------------------------------------------------------


def test_model_card_front_matter_fields_are_read() -> None:
    card = parse_model_card(SENTIMENT_CARD.decode())
    assert card.has_front_matter
    assert card.declared_license == "mit"
    assert card.datasets == ("stanfordnlp/imdb",)
    assert card.base_models == ("distilbert/distilbert-base-uncased",)
    assert card.pipeline_tag == "text-classification"
    assert card.library_name == "transformers"
    assert card.language == ("en",)
    assert card.model_name == "sentiment-small"
    assert card.eval_datasets == ("stanfordnlp/sst2",)
    assert card.lines["datasets"] == 9
    assert card.lines["license"] == 4


def test_other_licence_is_named_by_license_name_and_unknown_counts_as_none() -> None:
    other = parse_model_card("---\nlicense: other\nlicense_name: yi-license\n---\n")
    assert other.declared_license == "yi-license"
    merged = parse_model_card("---\nbase_model:\n- org/a\n- org/b\nlicense: unknown\n---\n")
    assert merged.base_models == ("org/a", "org/b")
    assert merged.declared_license is None
    assert not parse_model_card("# Just a heading\n\n---\n\ntext\n").has_front_matter


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("---\nlicense: mit\ndatasets:\n  - a\n - b\n---\n", 5, "invalid YAML"),
        ("\n\n---\nlicense: mit\ntags: [a, b\n---\n", 5, "invalid YAML"),
        ("---\nlicense: mit\n", 1, "never closed"),
        ("---\n- just\n- a list\n---\n", 2, "not a mapping"),
        ("---\nx: !!python/object/apply:os.system ['true']\n---\n", 2, "invalid YAML"),
        ("---\ndate: 2024-13-45\n---\n", 2, "invalid YAML"),
    ],
)
def test_bad_front_matter_is_a_target_error_naming_file_and_line(
    text: str, line: int, words: str
) -> None:
    with pytest.raises(TargetError) as err:
        read_front_matter(text, "README.md")
    assert err.value.line == line
    assert "README.md" in err.value.reason and words in err.value.reason


def test_oversized_front_matter_is_refused() -> None:
    text = "---\n" + "k: " + "x" * 300_000 + "\n---\n"
    with pytest.raises(TargetError, match="over 256 KB"):
        read_front_matter(text, "README.md")


# --- the whole estate ----------------------------------------------------------------------


def test_every_cached_model_and_dataset_is_found_once_with_its_revisions(
    estate: Estate, db: Store
) -> None:
    scan(db, estate.root)
    assets = by_key(db)
    models = [a for a in assets.values() if a.kind is AssetKind.MODEL]
    hub = {a.name: a for a in models if a.attributes.get("source") == "hf-cache"}
    assert set(hub) == {"acme-ai/sentiment-small", "acme-ai/tiny-chat"}
    # a snapshot is not also reported as a local model folder
    local = [a for a in models if a.provider == "local"]
    assert {a.name for a in local} == {"support-lora", "classifier", "trainer"}
    assert not any(str(estate.cache) in loc for a in local for loc in a.locations)

    sentiment = hub["acme-ai/sentiment-small"]
    assert sentiment.id == hub_model("acme-ai/sentiment-small")
    assert sentiment.provider == "huggingface"
    assert sentiment.version == SENTIMENT_REV
    assert sentiment.attributes["revision"] == SENTIMENT_REV
    assert sentiment.attributes["refs"] == {"main": SENTIMENT_REV}
    assert sentiment.attributes["license"] == "mit"
    assert sentiment.attributes["datasets"] == ["stanfordnlp/imdb"]
    assert sentiment.attributes["base_model"] == ["distilbert/distilbert-base-uncased"]
    assert sentiment.attributes["architecture"] == "DistilBertForSequenceClassification"
    assert sentiment.attributes["model_type"] == "distilbert"
    assert sentiment.attributes["pipeline_tag"] == "text-classification"
    assert sentiment.attributes["library"] == "transformers"
    # the pooling component's config did not overwrite the repository's
    assert "word_embedding_dimension" not in json.dumps(sentiment.attributes)
    assert sentiment.locations == [str(estate.sentiment / "snapshots" / SENTIMENT_REV)]
    kinds = {(e.kind, Path(e.path or "").name) for e in sentiment.evidence}
    assert (EvidenceKind.CONFIG, "config.json") in kinds
    assert (EvidenceKind.DOCUMENTATION, "README.md") in kinds
    assert (EvidenceKind.CONFIG, "main") in kinds

    chat = hub["acme-ai/tiny-chat"]
    assert chat.version == CHAT_NEW
    assert chat.attributes["revision"] == CHAT_NEW
    assert chat.attributes["revisions"] == [
        {
            "commit": CHAT_OLD,
            "refs": ["pr/1"],
            "path": str(estate.chat / "snapshots" / CHAT_OLD),
        },
        {
            "commit": CHAT_NEW,
            "refs": ["main"],
            "path": str(estate.chat / "snapshots" / CHAT_NEW),
        },
    ]
    # facts of the current revision, never the older snapshot's
    assert chat.attributes["license"] == "apache-2.0"
    assert chat.attributes["datasets"] == ["tatsu-lab/alpaca", "HuggingFaceH4/ultrachat_200k"]
    assert set(chat.locations) == {
        str(estate.chat / "snapshots" / CHAT_OLD),
        str(estate.chat / "snapshots" / CHAT_NEW),
    }

    tickets = assets[observe.hub_dataset("acme-ai/support-tickets").key]
    assert tickets.kind is AssetKind.DATASET
    assert tickets.id == hub_dataset("acme-ai/support-tickets")
    assert tickets.attributes["source"] == "hf-cache"
    assert tickets.attributes["license"] == "cc-by-4.0"
    assert tickets.attributes["revision"] == TICKETS_REV

    # spaces, blobs, markers and locks report nothing
    assert not any("demo" in a.name for a in assets.values())
    paths = {e.path for a in assets.values() for e in a.evidence}
    assert not any("/blobs/" in p or ".no_exist" in p or ".locks" in p for p in paths if p)


def test_cards_relate_models_to_training_datasets_and_base_models(
    estate: Estate, db: Store
) -> None:
    scan(db, estate.root)
    trained = relation_pairs(db, RelationKind.TRAINED_ON)
    assert trained == {
        ("acme-ai/sentiment-small", "stanfordnlp/imdb"),
        ("acme-ai/tiny-chat", "tatsu-lab/alpaca"),
        ("acme-ai/tiny-chat", "HuggingFaceH4/ultrachat_200k"),
        ("support-lora", "acme-ai/support-tickets"),
        ("support-lora", "tatsu-lab/alpaca"),
    }
    derived = relation_pairs(db, RelationKind.DERIVED_FROM)
    assert derived == {
        ("acme-ai/sentiment-small", "distilbert/distilbert-base-uncased"),
        ("support-lora", "acme-ai/tiny-chat"),
    }
    # the named datasets and base models are Hub assets, the cached ones the same assets
    ids = {a.id for a in db.assets()}
    assert hub_dataset("acme-ai/support-tickets") in ids
    assert hub_model("distilbert/distilbert-base-uncased") in ids
    lora = observe.local_model(str(estate.finetuned))
    rels = [r for r in db.relations() if r.source_id == lora.id]
    assert {r.target_id for r in rels} >= {
        hub_model("acme-ai/tiny-chat"),
        hub_dataset("acme-ai/support-tickets"),
    }
    ev = next(r for r in rels if r.kind is RelationKind.TRAINED_ON).evidence[0]
    assert ev.kind is EvidenceKind.DOCUMENTATION and ev.key == "datasets" and ev.line == 6


def test_local_fine_tuned_folder_is_a_local_model_with_card_adapter_and_config(
    estate: Estate, db: Store
) -> None:
    scan(db, estate.root)
    lora = db.asset(observe.local_model(str(estate.finetuned)).id)
    assert lora.name == "support-lora"
    assert lora.provider == "local"
    assert lora.key == f"model|local|{str(estate.finetuned).casefold()}"
    assert lora.locations == [str(estate.finetuned)]
    a = lora.attributes
    assert a["source"] == "local-folder"
    assert a["license"] == "apache-2.0"
    assert a["datasets"] == ["acme-ai/support-tickets", "tatsu-lab/alpaca"]
    assert a["base_model"] == ["acme-ai/tiny-chat"]
    assert a["base_model_relation"] == "adapter"
    assert a["name_or_path"] == "acme-ai/tiny-chat"
    assert a["peft"] == {
        "peft_type": "LORA",
        "task_type": "CAUSAL_LM",
        "base_model": "acme-ai/tiny-chat",
        "base_revision": CHAT_NEW,
    }
    assert a["architecture"] == "LlamaForCausalLM"
    scanned = {Path(e.path or "").name for e in lora.evidence}
    assert scanned == {"README.md", "config.json", "adapter_config.json"}


def test_card_without_licence_gets_a_low_finding_and_licensed_models_none(
    estate: Estate, db: Store
) -> None:
    scan(db, estate.root)
    findings = db.findings()
    assert [(f.rule_id, f.severity.value) for f in findings] == [("AIP-MODEL-010", "low")]
    classifier = db.asset(findings[0].asset_id)
    assert classifier.locations == [str(estate.unlicensed)]
    assert classifier.attributes["license"] is None
    assert findings[0].evidence[0].path == str(estate.unlicensed / "model_card.md")
    # a plain project README beside a checkpoint: licence unknown, but no finding
    trainer = db.asset(observe.local_model(str(estate.root / "projects" / "trainer")).id)
    assert trainer.attributes["license"] is None


def test_folders_without_a_model_yield_nothing(estate: Estate, db: Store) -> None:
    run = scan(db, estate.root)
    located = [loc for a in db.assets() for loc in a.locations]
    for folder in (estate.plain_docs, estate.webapp, estate.webapp / "settings"):
        assert str(folder) not in located
    assert hub_dataset("acme-ai/secret-dataset") not in {a.id for a in db.assets()}
    # the other tool's broken config.json is not this scanner's error
    assert not [e for e in run.errors if "webapp" in e.path]
    s = ModelFolderScanner()
    readme = estate.plain_docs / "README.md"
    assert list(s.scan(_target(readme, estate.root))) == []


def test_broken_card_and_truncated_config_are_recorded_errors_with_file_and_line(
    estate: Estate, db: Store
) -> None:
    run = scan(db, estate.root)
    errors = {Path(e.path).relative_to(estate.root).as_posix(): e for e in run.errors}
    assert set(errors) == {"projects/broken-card/README.md", "projects/broken-config/config.json"}
    card = errors["projects/broken-card/README.md"]
    assert card.scanner == "model_folders" and card.line == 5
    assert "README.md" in card.reason and "invalid YAML front matter at line 5" in card.reason
    config = errors["projects/broken-config/config.json"]
    assert config.line == 4
    assert "config.json: invalid JSON at line 4" in config.reason
    assert run.counts.files_failed == 2


def test_model_loaded_in_code_and_cached_model_are_one_asset(estate: Estate, db: Store) -> None:
    scan(db, estate.root, PythonCodeScanner, ModelFolderScanner)
    same = [a for a in db.assets() if a.name.lower() == "acme-ai/sentiment-small"]
    assert len(same) == 1
    model = same[0]
    assert {e.scanner for e in model.evidence} == {"python_code", "model_folders"}
    assert model.attributes["license"] == "mit"
    assert model.attributes["revision"] == SENTIMENT_REV
    users = [r for r in db.relations(asset_id=model.id) if r.kind is RelationKind.USES_MODEL]
    assert len(users) == 1
    assert db.asset(users[0].source_id).kind is AssetKind.APPLICATION


def test_moving_main_to_another_commit_updates_the_revision_on_rescan(
    estate: Estate, db: Store
) -> None:
    scan(db, estate.root)
    (estate.chat / "refs" / "main").write_text(CHAT_OLD, encoding="ascii")
    os.utime(estate.chat / "refs" / "main", ns=(1, 1))
    run = scan(db, estate.root)
    assert {Path(e.path).parent.name for e in run.errors} == {"broken-card", "broken-config"}
    chat = db.asset(hub_model("acme-ai/tiny-chat"))
    assert chat.attributes["revision"] == CHAT_OLD
    assert chat.attributes["refs"] == {"main": CHAT_OLD, "pr/1": CHAT_OLD}
    assert run.counts.assets_new == 0


def test_a_ref_file_without_a_commit_is_a_recorded_error(estate: Estate, db: Store) -> None:
    (estate.sentiment / "refs" / "v1.0").write_text("not-a-commit\n", encoding="ascii")
    run = scan(db, estate.root)
    bad = [e for e in run.errors if e.path.endswith("refs/v1.0")]
    assert len(bad) == 1 and "not a 40-hex commit hash" in bad[0].reason
    # the model is still found from its other files
    assert db.asset(hub_model("acme-ai/sentiment-small")).attributes["refs"] == {
        "main": SENTIMENT_REV
    }


def _target(path: Path, root: Path) -> Target:
    return Target(
        kind=TargetKind.FILE,
        source=str(path),
        path=path,
        root=root,
        data=path.read_bytes(),
        project=root,
    )


def test_adapter_on_a_local_base_folder_derives_from_a_local_model(tmp_path: Path) -> None:
    base = tmp_path / "base-model"
    base.mkdir()
    (base / "config.json").write_bytes(_config(model_type="llama"))
    adapter = tmp_path / "adapter"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_bytes(
        _config(base_model_name_or_path=str(base), peft_type="LORA")
    )
    out = list(ModelFolderScanner().scan(_target(adapter / "adapter_config.json", tmp_path)))
    rels = [o for o in out if not isinstance(o, Asset)]
    assert len(rels) == 1
    assert rels[0].target_id == observe.local_model(str(base)).id  # type: ignore[union-attr]


def test_training_output_paths_are_not_taken_for_hub_ids(tmp_path: Path) -> None:
    folder = tmp_path / "final"
    folder.mkdir()
    (folder / "config.json").write_bytes(
        _config(_name_or_path="outputs/checkpoint-500", model_type="bert")
    )
    out = list(ModelFolderScanner().scan(_target(folder / "config.json", tmp_path)))
    assert [o.name for o in out if isinstance(o, Asset)] == ["final"]
    assert len(out) == 1


def test_long_card_is_read_from_its_head_and_an_endless_front_matter_is_refused(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "big-card-model"
    folder.mkdir()
    (folder / "model.safetensors").write_bytes(b"\x02\x00\x00\x00\x00\x00\x00\x00{}")
    prose = ("Lorem ipsum dolor sit amet, consectetur adipiscing elit. é\n" * 20_000).encode()
    (folder / "README.md").write_bytes(_card("license: bsd-3-clause\n") + prose)
    assert (folder / "README.md").stat().st_size > 1_000_000
    out = list(ModelFolderScanner().scan(_target(folder / "README.md", tmp_path)))
    model = next(o for o in out if isinstance(o, Asset))
    assert model.attributes["license"] == "bsd-3-clause"

    (folder / "README.md").write_bytes(b"---\n" + b"tags:\n" + b"- filler-tag\n" * 40_000)
    with pytest.raises(TargetError, match=r"README\.md: front matter opened at line 1 is over"):
        list(ModelFolderScanner().scan(_target(folder / "README.md", tmp_path)))


def test_diffusers_pipeline_folder_is_one_model_and_its_components_are_not_models(
    tmp_path: Path, db: Store
) -> None:
    pipe = tmp_path / "sdxl-finetune"
    (pipe / "unet").mkdir(parents=True)
    (pipe / "vae").mkdir()
    (pipe / "model_index.json").write_bytes(
        _config(
            _class_name="StableDiffusionXLPipeline",
            _diffusers_version="0.30.0",
            unet=["diffusers", "UNet2DConditionModel"],
            vae=["diffusers", "AutoencoderKL"],
            scheduler=["diffusers", "EulerDiscreteScheduler"],
        )
    )
    for comp, cls in (("unet", "UNet2DConditionModel"), ("vae", "AutoencoderKL")):
        (pipe / comp / "config.json").write_bytes(
            _config(_class_name=cls, _diffusers_version="0.30.0")
        )
        (pipe / comp / "diffusion_pytorch_model.safetensors").write_bytes(b"\x02\x00" + b"\x00" * 6)
    scan(db, tmp_path)
    models = [a for a in db.assets() if a.kind is AssetKind.MODEL]
    assert [m.name for m in models] == ["sdxl-finetune"]
    attrs = models[0].attributes
    assert attrs["diffusers_pipeline"] == "StableDiffusionXLPipeline"
    assert attrs["diffusers_components"]["unet"] == "diffusers.UNet2DConditionModel"


def test_sentence_transformers_folder_records_its_modules(tmp_path: Path, db: Store) -> None:
    st = tmp_path / "embedder"
    (st / "1_Pooling").mkdir(parents=True)
    (st / "modules.json").write_bytes(
        json.dumps(
            [
                {
                    "idx": 0,
                    "name": "0",
                    "path": "",
                    "type": "sentence_transformers.models.Transformer",
                },
                {
                    "idx": 1,
                    "name": "1",
                    "path": "1_Pooling",
                    "type": "sentence_transformers.models.Pooling",
                },
            ]
        ).encode()
    )
    (st / "config_sentence_transformers.json").write_bytes(
        _config(__version__={"sentence_transformers": "3.0.1", "transformers": "4.41.2"})
    )
    (st / "config.json").write_bytes(
        _config(
            _name_or_path="BAAI/bge-small-en-v1.5", architectures=["BertModel"], model_type="bert"
        )
    )
    (st / "1_Pooling" / "config.json").write_bytes(_config(word_embedding_dimension=384))
    (st / "model.safetensors").write_bytes(b"\x02\x00" + b"\x00" * 6)
    run = scan(db, tmp_path)
    assert not run.errors
    models = {a.name: a for a in db.assets() if a.kind is AssetKind.MODEL}
    assert set(models) == {"embedder", "BAAI/bge-small-en-v1.5"}
    attrs = models["embedder"].attributes
    assert attrs["sentence_transformers_modules"] == [
        "sentence_transformers.models.Transformer",
        "sentence_transformers.models.Pooling",
    ]
    assert attrs["sentence_transformers_versions"]["sentence_transformers"] == "3.0.1"
    assert relation_pairs(db, RelationKind.DERIVED_FROM) == {("embedder", "BAAI/bge-small-en-v1.5")}
