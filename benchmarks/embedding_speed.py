"""Embedding speed: the model's throughput against what this CPU's matrix units allow.

In one run, on the same machine:

1. the CPU's matrix-multiply rate (torch, 2048x2048 float32 products; bfloat16
   products too, native or emulated);
2. the default model's embedding throughput (texts/s, tokens/s) on ~2,000
   generated texts of ~120 tokens, at the precision :func:`detect_precision`
   picks;
3. the model's FLOPs per token, counted from its layers, and so the fraction
   of the matrix-multiply rate the embedding reaches;
4. the same for bfloat16 forced, on a small sample, to show why it is (or is
   not) chosen on this CPU, with its cosine to the float32 embeddings;
5. throughput by chunk window (64, 128, 254 tokens with a quarter overlap),
   and the time to tokenise and chunk 10 MB of text, for the chunking defaults;
6. the latency of embedding one ~200-token text (what checking one output costs
   before any search).

The machine may be shared: each round of embedding is paired with a matrix
product measured just before it, and the best and median figures are kept.

Run alone: ``.venv/bin/python -m benchmarks.embedding_speed``.
"""

from __future__ import annotations

import json
import os
import platform
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as the embedder sets it before torch loads

RESULTS = Path(__file__).parent / "results"

_WORDS_TEXT = (
    "the of and to in a is that for it as was with be by on not this are or from "
    "at which but have an they you were her she there one all we their has been "
    "would customer account invoice payment order shipment address patient record "
    "diagnosis treatment doctor hospital insurance claim policy contract employee "
    "salary manager department report quarterly revenue forecast budget meeting "
    "schedule project deadline review approval request support ticket issue "
    "resolved escalated refund transaction balance transfer card number private "
    "confidential internal training model dataset output response question answer "
    "summary document section paragraph london paris berlin tokyo river mountain "
    "garden kitchen violin orbit protein unbelievably misconfiguration "
    "cryptographic tokenization reimbursement extraordinarily uncharacteristic "
    "pharmaceutical administrative reconciliation"
)

_WORDS = _WORDS_TEXT.split()


def _sentence(rng: random.Random) -> str:
    words = [rng.choice(_WORDS) for _ in range(rng.randint(6, 18))]
    if rng.random() < 0.3:
        words.insert(rng.randrange(len(words)), str(rng.randint(10, 99_999)))
    if rng.random() < 0.2:
        words.insert(rng.randrange(len(words)), rng.choice(["Smith,", "(urgent)", "#4421", "A-17"]))
    return " ".join(words).capitalize() + "."


def generate_texts(
    count: int, tokens: int, count_tokens: Callable[[str], int], seed: int = 7
) -> list[str]:
    """Generate ``count`` English-like texts of about ``tokens`` tokens each (deterministic)."""
    rng = random.Random(seed)
    texts: list[str] = []
    for _ in range(count):
        target = rng.randint(int(tokens * 0.85), int(tokens * 1.15))
        sentences: list[str] = []
        while count_tokens(" ".join(sentences)) < target:
            sentences.append(_sentence(rng))
        texts.append(" ".join(sentences))
    return texts


def _timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _matmul_rate(op: Callable[[], object], flops: float, repeats: int) -> float:
    """Best GFLOP/s of ``repeats`` calls of ``op`` after one warm-up."""
    op()
    return max(flops / _timed(op) / 1e9 for _ in range(repeats))


def _machine_rates() -> dict[str, Any]:
    import torch
    import torch.nn.functional as F

    n = 2048
    a, b = torch.randn(n, n), torch.randn(n, n)
    fp32 = _matmul_rate(lambda: a @ b, 2 * n**3, 6)
    small = 512
    a16 = torch.randn(small, small).bfloat16()
    b16 = torch.randn(small, small).bfloat16()
    bf16_matmul = _matmul_rate(lambda: a16 @ b16, 2 * small**3, 2)
    # autocast sends linear layers to oneDNN, which is what bfloat16 inference runs
    m = 1024
    x, w = torch.randn(m, m).bfloat16(), torch.randn(m, m).bfloat16()
    bf16_linear = _matmul_rate(lambda: F.linear(x, w), 2 * m**3, 2)
    return {
        "float32_gflops": round(fp32, 1),
        "float32_op": f"{n}x{n} @ {n}x{n}, best of 6",
        "bfloat16_matmul_gflops": round(bf16_matmul, 2),
        "bfloat16_matmul_op": f"{small}x{small} @ {small}x{small} (torch.matmul), best of 2",
        "bfloat16_linear_gflops": round(bf16_linear, 2),
        "bfloat16_linear_op": f"F.linear {m}x{m} by {m}x{m} (oneDNN, as under autocast), best of 2",
        "bfloat16_gflops": round(max(bf16_matmul, bf16_linear), 2),
    }


def _probe_fp32() -> float:
    import torch

    n = 1024
    a, b = torch.randn(n, n), torch.randn(n, n)
    return _matmul_rate(lambda: a @ b, 2 * n**3, 3)


def _probe_bf16() -> float:
    import torch
    import torch.nn.functional as F

    m = 1024
    x, w = torch.randn(m, m).bfloat16(), torch.randn(m, m).bfloat16()
    return _matmul_rate(lambda: F.linear(x, w), 2 * m**3, 1)


def model_flops(embedder: Any) -> dict[str, Any]:
    """Count the model's FLOPs per token from its layers.

    Each weight of a linear layer costs one multiply and one add per token
    (2 FLOPs); self-attention adds, per layer and token, ``2*seq*hidden`` for
    the scores ``QK^T`` and ``2*seq*hidden`` for weighting ``V``. Embedding
    lookups, layer norms, softmax, GELU and pooling are not counted (they are
    not matrix products); the BERT pooler is not counted (sentence-transformers
    mean-pools and discards it).
    """
    import torch

    transformer = embedder._loaded().model[0].auto_model
    encoder = transformer.encoder
    linear = sum(
        module.weight.numel() for module in encoder.modules() if isinstance(module, torch.nn.Linear)
    )
    config = transformer.config
    hidden, layers = int(config.hidden_size), int(config.num_hidden_layers)
    inter = int(config.intermediate_size)
    per_layer = 4 * hidden * hidden + 2 * hidden * inter
    return {
        "hidden": hidden,
        "layers": layers,
        "intermediate": inter,
        "linear_weights": linear,
        "linear_flops_per_token": 2 * linear,
        "attention_flops_per_token_per_seq_token": 4 * hidden * layers,
        "arithmetic": (
            f"linear weights per layer = 4*{hidden}^2 (Q,K,V,O) + 2*{hidden}*{inter} (FFN) "
            f"= {per_layer:,}; x {layers} layers = {per_layer * layers:,} "
            f"(counted from the model: {linear:,}); linear FLOPs/token = 2 x {linear:,} "
            f"= {2 * linear:,}; attention FLOPs/token = 2*2*seq*{hidden} per layer x {layers} "
            f"= {4 * hidden * layers:,} x seq; at seq 120: "
            f"{2 * linear + 4 * hidden * layers * 120:,} FLOPs/token"
        ),
    }


def _text_flops(lengths: list[int], flops: dict[str, Any]) -> float:
    """FLOPs to embed texts of these token lengths (special tokens included), padding excluded."""
    linear = flops["linear_flops_per_token"]
    attention = flops["attention_flops_per_token_per_seq_token"]
    return float(sum(n * linear + attention * n * n for n in lengths))


def _model_lengths(embedder: Any, texts: list[str]) -> list[int]:
    limit = embedder.max_tokens
    return [min(embedder.count_tokens(t) + 2, limit) for t in texts]


def _throughput(
    embedder: Any, texts: list[str], flops: dict[str, Any], rounds: int
) -> dict[str, Any]:
    """Embed ``texts`` in rounds, each paired with a float32 matmul probe just before it."""
    lengths = _model_lengths(embedder, texts)
    size = -(-len(texts) // rounds)
    per_round: list[dict[str, float]] = []
    total_s = 0.0
    for first in range(0, len(texts), size):
        part, part_lengths = texts[first : first + size], lengths[first : first + size]
        probe = _probe_fp32()
        seconds = _timed(lambda part=part: embedder.encode(part))  # type: ignore[misc]
        total_s += seconds
        gflops = _text_flops(part_lengths, flops) / seconds / 1e9
        per_round.append(
            {
                "texts_per_s": len(part) / seconds,
                "tokens_per_s": sum(part_lengths) / seconds,
                "gflops": gflops,
                "matmul_gflops_before": probe,
                "fraction_of_probe": gflops / probe,
            }
        )
    tokens = sum(lengths)
    best = max(per_round, key=lambda r: r["gflops"])
    return {
        "texts": len(texts),
        "tokens": tokens,
        "mean_tokens_per_text": round(tokens / len(texts), 1),
        "seconds": round(total_s, 2),
        "texts_per_s": round(len(texts) / total_s, 1),
        "tokens_per_s": round(tokens / total_s),
        "gflops": round(_text_flops(lengths, flops) / total_s / 1e9, 1),
        "best_round": {k: round(v, 3 if k == "fraction_of_probe" else 1) for k, v in best.items()},
        "rounds": len(per_round),
        "median_fraction_of_paired_matmul": round(
            statistics.median(r["fraction_of_probe"] for r in per_round), 3
        ),
        "matmul_probe_gflops": [round(r["matmul_gflops_before"], 1) for r in per_round],
    }


def _window_sweep(
    embedder: Any, document: str, flops: dict[str, Any], passes: int = 2
) -> list[dict[str, Any]]:
    """Embed one document chunked at each window, ``passes`` times in turn; keep each best."""
    from aiposture.embeddings.chunking import ChunkParams, chunk_text

    offsets = embedder.token_offsets(document)
    windows = (64, 128, embedder.max_tokens - 2)
    best: dict[int, dict[str, Any]] = {}
    for _ in range(passes):
        for window in windows:
            params = ChunkParams(window=window, overlap=window // 4)
            chunks = chunk_text("doc", document, offsets, params)
            texts = [c.text for c in chunks]
            lengths = _model_lengths(embedder, texts)
            probe = _probe_fp32()
            seconds = _timed(lambda texts=texts: embedder.encode(texts))  # type: ignore[misc]
            gflops = _text_flops(lengths, flops) / seconds / 1e9
            row = {
                "window": window,
                "overlap": params.overlap,
                "chunks": len(chunks),
                "seconds": round(seconds, 2),
                "chunks_per_s": round(len(chunks) / seconds, 1),
                "embedded_tokens_per_s": round(sum(lengths) / seconds),
                "document_tokens_per_s": round(len(offsets) / seconds),
                "gflops": round(gflops, 1),
                "fraction_of_paired_matmul": round(gflops / probe, 3),
            }
            if window not in best or seconds < best[window]["seconds"]:
                best[window] = row
    return [best[w] for w in windows]


def _latency(embedder: Any, text: str, runs: int) -> dict[str, Any]:
    """Latency of embedding one text, as a leakage check of one output does."""
    embedder.encode([text])
    times = sorted(_timed(lambda: embedder.encode([text])) for _ in range(runs))
    return {
        "tokens": embedder.count_tokens(text),
        "runs": runs,
        "p50_ms": round(1000 * times[len(times) // 2], 1),
        "p99_ms": round(1000 * times[min(len(times) - 1, int(len(times) * 0.99))], 1),
        "min_ms": round(1000 * times[0], 1),
    }


def _chunking_speed(embedder: Any, megabytes: float) -> dict[str, Any]:
    from aiposture.embeddings.chunking import ChunkParams, chunk_text

    rng = random.Random(3)
    parts: list[str] = []
    size = 0
    while size < megabytes * 1e6:
        sentence = _sentence(rng)
        parts.append(sentence)
        size += len(sentence) + 1
    text = " ".join(parts)
    start = time.perf_counter()
    offsets = embedder.token_offsets(text)
    tokenised = time.perf_counter() - start
    chunks = chunk_text("big", text, offsets, ChunkParams())
    total = time.perf_counter() - start
    return {
        "megabytes": round(len(text) / 1e6, 2),
        "tokens": len(offsets),
        "chunks": len(chunks),
        "tokenise_s": round(tokenised, 2),
        "chunk_s": round(total - tokenised, 2),
        "total_s": round(total, 2),
        "mb_per_s": round(len(text) / 1e6 / total, 2),
    }


def run(
    *, texts: int = 2000, bf16_texts: int = 24, rounds: int = 8, chunk_mb: float = 10.0
) -> dict[str, Any]:
    """Measure embedding speed against the machine's matmul rate; return the figures.

    Args:
        texts: Generated ~120-token texts embedded at the chosen precision.
        bf16_texts: Of those, how many to embed with bfloat16 forced.
        rounds: Rounds the texts are embedded in, each after a matmul probe.
        chunk_mb: Megabytes of text to tokenise and chunk for the chunking figure.

    Returns:
        A JSON-serialisable dict of figures (see the module docstring).
    """
    import numpy as np
    import torch

    from aiposture.embeddings.embedder import (
        Embedder,
        Precision,
        cpu_features,
        detect_precision,
        get_embedder,
    )

    started = time.perf_counter()
    flags = cpu_features()
    chosen = detect_precision("cpu")
    load_start = time.perf_counter()
    embedder = get_embedder(precision=chosen, device="cpu")
    embedder.encode(["warm up the model"])
    load_s = time.perf_counter() - load_start
    flops = model_flops(embedder)
    machine = _machine_rates()

    sample = generate_texts(texts, 112, embedder.count_tokens)
    main = _throughput(embedder, sample, flops, rounds)
    best_matmul = max(machine["float32_gflops"], *main["matmul_probe_gflops"])
    main["fraction_of_best_matmul"] = {
        "best_round": round(main["best_round"]["gflops"] / best_matmul, 3),
        "whole_run": round(main["gflops"] / best_matmul, 3),
    }

    bf16 = Embedder(precision=Precision.BFLOAT16, device="cpu")
    few = sample[:bf16_texts]
    few_lengths = _model_lengths(bf16, few)
    few_flops = _text_flops(few_lengths, flops)
    # the same texts at float32 and at bfloat16, back to back, each beside its matmul probe
    fp32_probe = _probe_fp32()
    fp32_s = _timed(lambda: embedder.encode(few))
    bf16_probes = [_probe_bf16()]
    bf16_s = _timed(lambda: bf16.encode(few))
    bf16_probes.append(_probe_bf16())
    low, full = bf16.encode(few[:8]), embedder.encode(few[:8])
    cosines = (low * full).sum(axis=1)
    bf16_gflops = few_flops / bf16_s / 1e9
    bf16_rate = max(machine["bfloat16_gflops"], *bf16_probes)
    forced = {
        "texts": len(few),
        "seconds": round(bf16_s, 2),
        "texts_per_s": round(len(few) / bf16_s, 2),
        "tokens_per_s": round(sum(few_lengths) / bf16_s),
        "gflops": round(bf16_gflops, 2),
        "bfloat16_linear_probe_gflops": [round(r, 2) for r in bf16_probes],
        "fraction_of_bfloat16_matmul": round(bf16_gflops / bf16_rate, 3),
        "same_texts_float32": {
            "seconds": round(fp32_s, 2),
            "tokens_per_s": round(sum(few_lengths) / fp32_s),
            "gflops": round(few_flops / fp32_s / 1e9, 1),
            "fraction_of_paired_matmul": round(few_flops / fp32_s / 1e9 / fp32_probe, 3),
        },
        "speed_vs_float32": round(fp32_s / bf16_s, 3),
        "cosine_to_float32_min": round(float(cosines.min()), 6),
        "cosine_to_float32_mean": round(float(cosines.mean()), 6),
    }

    document = " ".join(generate_texts(100, 112, embedder.count_tokens, seed=11))
    sweep = _window_sweep(embedder, document, flops)
    by_window = {row["window"]: row["document_tokens_per_s"] for row in sweep}
    fastest = max(by_window, key=lambda w: by_window[w])
    recommended = 128 if by_window[128] >= 0.8 * by_window[fastest] else fastest
    chunking = _chunking_speed(embedder, chunk_mb)
    one_text = " ".join(generate_texts(1, 200, embedder.count_tokens, seed=5))
    latency = _latency(embedder, one_text, 30)

    native = sorted(flags & {"avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile"})
    return {
        "name": "embedding_speed",
        "model": embedder.name,
        "device": embedder.device,
        "torch_threads": torch.get_num_threads(),
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", ""),
        "cpu_flags_relevant": native,
        "chosen_precision": chosen.value,
        "model_load_s": round(load_s, 2),
        "machine_matmul": machine,
        "flops_per_token": flops,
        "embedding": {"precision": chosen.value, **main},
        "bfloat16_forced": forced,
        "one_text_latency": latency,
        "chunk_windows": sweep,
        "chunking_10mb": chunking,
        "recommended_chunking": {
            "window": recommended,
            "overlap": recommended // 4,
            "why": (
                "all-MiniLM-L6-v2 was trained on sequences of at most 128 tokens, so "
                "longer windows dilute a leaked passage in a chunk embedding the model "
                "never learnt to summarise; a quarter overlap keeps any span of up to "
                "32 tokens (about 25 words) whole in some chunk; the sweep shows what "
                "the window costs in document tokens per second"
            ),
            "document_tokens_per_s_by_window": by_window,
        },
        "total_s": round(time.perf_counter() - started, 1),
        "notes": (
            "figures from a sample: throughput on generated texts, not the 1M corpus; the "
            "machine may be shared, so each embedding round is paired with a matmul probe "
            "measured just before it"
        ),
        "numpy": np.__version__,
        "torch": torch.__version__,
    }


def main() -> None:
    """Run the benchmark alone, print its figures and write them to results/."""
    result = run()
    result["machine"] = {
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "when": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "embedding_speed.json").write_text(json.dumps(result, indent=2) + "\n")
    json.dump(result, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
