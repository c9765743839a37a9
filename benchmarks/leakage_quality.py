"""Leakage detection quality: aiposture beside three baselines, on a generated benchmark.

Run alone with ``.venv/bin/python -m benchmarks.leakage_quality`` (writes
``benchmarks/results/leakage_quality.json``), or call :func:`run`.

What is measured (see :mod:`benchmarks.leakage_corpus` for the data):

* The training corpus is indexed once. Thresholds are fitted with
  :meth:`LeakageIndex.calibrate` (target precision 0.95) on labelled pairs of the ``tune``
  split only (each leaking output with its source record, each non-leak with the three
  records nearest to it, the hardest) plus the STS-B pairs scored 4 or more
  (``../shared/data/stsb_pairs_dev.jsonl``, read in place) as more paraphrase evidence;
  the headline figures are then measured end to end on the ``valid`` split, whose outputs
  come from record templates the tuning never saw.
* Per kind (verbatim, near-verbatim, paraphrase): precision, recall and F1 of "this
  output leaks", the kind's outputs being the positives and all non-leaks the negatives;
  ROC-AUC of the score, per kind and overall; how often the leak type is the right one;
  and whether the top match names the source record.
* Baselines, in the same run, each with its threshold tuned on the ``tune`` split
  separately for each kind (an advantage aiposture does not get: it has one set of
  thresholds): exact substring search (the longest run of whitespace tokens the output
  shares with any record, case and punctuation as they are), rapidfuzz ``partial_ratio``
  (best over the 25 records most similar by TF-IDF, as scoring all 2,400 records per
  output takes about 2 s each here), and brute-force cosine between the embeddings of
  whole outputs and whole records (no chunking; the model truncates at 256 tokens).
* STS-B: Spearman correlation of aiposture's paraphrase score (and of plain cosine) with
  the human similarity scores, and precision/recall of the paraphrase rule for label 1.
"""

from __future__ import annotations

import json
import os
import platform
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.leakage_corpus import KINDS, Corpus, Output, generate, norm_words

RESULTS = Path(__file__).parent / "results"
STSB = Path(__file__).resolve().parents[2] / "shared" / "data" / "stsb_pairs_dev.jsonl"
LEAK_KINDS = ("verbatim", "near-verbatim", "paraphrase")
PARTIAL_RATIO_CANDIDATES = 25
TARGET_PRECISION = 0.95


# --- metrics -----------------------------------------------------------------------------------


def prf(pred: Sequence[bool], truth: Sequence[bool]) -> dict[str, float]:
    """Precision, recall and F1."""
    p = np.asarray(pred, bool)
    t = np.asarray(truth, bool)
    tp = float((p & t).sum())
    fp = float((p & ~t).sum())
    fn = float((~p & t).sum())
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4)}


def auc(scores: Sequence[float], truth: Sequence[bool]) -> float:
    """ROC-AUC (ties count half)."""
    from sklearn.metrics import roc_auc_score

    t = np.asarray(truth, bool)
    if t.all() or not t.any():
        return float("nan")
    return round(float(roc_auc_score(t, np.asarray(scores, float))), 4)


def best_threshold(scores: Sequence[float], truth: Sequence[bool]) -> float:
    """The threshold (predict ``score >= t``) with the best F1 on these scores."""
    s = np.asarray(scores, float)
    t = np.asarray(truth, bool)
    best, best_t = -1.0, float("inf")
    for cand in np.unique(s):
        f1 = prf(s >= cand, t)["f1"]
        if f1 > best:
            best, best_t = f1, float(cand)
    return best_t


def per_kind(
    outputs: Sequence[Output],
    detected: Sequence[bool],
    scores: Sequence[float],
) -> dict[str, Any]:
    """Detection figures of each leak kind against all non-leaks, and overall ROC-AUC."""
    kinds = np.array([o.kind for o in outputs])
    neg = kinds == "none"
    det = np.asarray(detected, bool)
    sc = np.asarray(scores, float)
    out: dict[str, Any] = {}
    for kind in LEAK_KINDS:
        sel = (kinds == kind) | neg
        truth = kinds[sel] == kind
        out[kind] = {**prf(det[sel], truth), "roc_auc": auc(sc[sel], truth)}
    out["all"] = {**prf(det, ~neg), "roc_auc": auc(sc, ~neg)}
    out["false_positive_rate"] = round(float(det[neg].mean()), 4) if neg.any() else 0.0
    return out


def tuned_baseline(
    name: str,
    scores_tune: Sequence[float],
    tune: Sequence[Output],
    scores_valid: Sequence[float],
    valid: Sequence[Output],
) -> dict[str, Any]:
    """A baseline's figures on ``valid`` with thresholds tuned per kind on ``tune``."""
    kt = np.array([o.kind for o in tune])
    kv = np.array([o.kind for o in valid])
    st, sv = np.asarray(scores_tune, float), np.asarray(scores_valid, float)
    res: dict[str, Any] = {"name": name, "thresholds": {}}
    for kind in LEAK_KINDS:
        sel_t = (kt == kind) | (kt == "none")
        th = best_threshold(st[sel_t], kt[sel_t] == kind)
        res["thresholds"][kind] = round(th, 4)
        sel_v = (kv == kind) | (kv == "none")
        truth = kv[sel_v] == kind
        res[kind] = {**prf(sv[sel_v] >= th, truth), "roc_auc": auc(sv[sel_v], truth)}
    th_all = best_threshold(st, kt != "none")
    res["thresholds"]["all"] = round(th_all, 4)
    res["all"] = {**prf(sv >= th_all, kv != "none"), "roc_auc": auc(sv, kv != "none")}
    return res


# --- baselines -----------------------------------------------------------------------------------


def exact_substring_scores(
    records: Sequence[str], outputs: Sequence[str], k_max: int = 64
) -> list[int]:
    """Longest run of whitespace tokens each output shares verbatim with any record.

    Tokens are compared exactly (case and punctuation as they are); runs are found by
    hashing every k-token window of the corpus and of the outputs, for k = 1, 2, ...
    """
    vocab: dict[str, int] = {}

    def ids(text: str) -> list[int]:
        return [vocab.setdefault(t, len(vocab)) for t in text.split()]

    def joined(texts: Sequence[str], first_sep: int) -> np.ndarray:
        seq: list[int] = []
        for n, text in enumerate(texts):
            seq.extend(ids(text))
            seq.append(first_sep + n)  # a separator no other text holds
        return np.array(seq, dtype=np.uint64)

    corpus = joined(records, 1 << 40)
    outs = joined(outputs, 1 << 50)
    owner = np.repeat(np.arange(len(outputs)), [len(o.split()) + 1 for o in outputs])
    mult = np.uint64(0x9E3779B97F4A7C15)
    best = np.zeros(len(outputs), dtype=np.int64)
    h_c = np.zeros(len(corpus), np.uint64)
    h_o = np.zeros(len(outs), np.uint64)
    for k in range(1, k_max + 1):
        # the hash of the k tokens starting at each position (the last k-1 are left over)
        h_c = h_c[: len(corpus) - k + 1] * mult + corpus[k - 1 :] + np.uint64(1)
        h_o = h_o[: len(outs) - k + 1] * mult + outs[k - 1 :] + np.uint64(1)
        hit = np.isin(h_o, np.unique(h_c))
        if not hit.any():
            break
        best[np.unique(owner[: len(h_o)][hit])] = k
    return best.tolist()


def partial_ratio_scores(records: Sequence[str], outputs: Sequence[str]) -> tuple[list[float], Any]:
    """Best rapidfuzz ``partial_ratio`` over the records most similar by TF-IDF."""
    from rapidfuzz import fuzz, utils
    from sklearn.feature_extraction.text import TfidfVectorizer

    vec = TfidfVectorizer().fit(records)
    sims = (vec.transform(outputs) @ vec.transform(records).T).toarray()
    top = np.argsort(-sims, axis=1)[:, :PARTIAL_RATIO_CANDIDATES]
    recs = [utils.default_process(r) for r in records]
    scores = []
    for i, o in enumerate(outputs):
        po = utils.default_process(o)
        scores.append(max(fuzz.partial_ratio(po, recs[j]) for j in top[i]) / 100.0)
    return scores, top


def cosine_scores(emb_records: np.ndarray, emb_outputs: np.ndarray) -> list[float]:
    """Highest cosine between each whole output and any whole record."""
    best = np.full(len(emb_outputs), -1.0)
    for s in range(0, len(emb_outputs), 256):
        block = emb_outputs[s : s + 256] @ emb_records.T
        best[s : s + 256] = block.max(axis=1)
    return best.tolist()


# --- the run -------------------------------------------------------------------------------------


def _caching_embedder() -> Any:
    """The default embedder, remembering every text it embeds in this run.

    The same texts come back in several stages (record chunks in calibration pairs, short
    outputs whole for the cosine baseline); each is embedded once.
    """
    from aiposture.embeddings.embedder import Embedder, get_embedder

    base = get_embedder()

    class CachingEmbedder(Embedder):
        def __init__(self) -> None:
            super().__init__(base.folder, precision=base.precision, device=base.device)
            self.cache: dict[str, np.ndarray] = {}
            self.embedded = 0

        def encode(
            self, texts: Sequence[str], *, progress: bool = False, batch_size: int | None = None
        ) -> Any:
            items = list(texts)
            missing = [t for t in dict.fromkeys(items) if t not in self.cache]
            if missing:
                vecs = super().encode(missing, progress=progress, batch_size=batch_size)
                self.cache.update(zip(missing, vecs, strict=True))
                self.embedded += len(missing)
            if not items:
                return np.zeros((0, self.dimension), np.float32)
            return np.stack([self.cache[t] for t in items])

    return CachingEmbedder()


def _stsb() -> list[dict[str, Any]]:
    if not STSB.exists():
        return []
    with open(STSB, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def _evaluate_aiposture(
    index: Any, outs: Sequence[Output], rec_text: dict[str, str]
) -> dict[str, Any]:
    t0 = time.perf_counter()
    report = index.check([o.text for o in outs])
    seconds = time.perf_counter() - t0
    detected = [r.leak_type.value != "none" for r in report.results]
    scores = [r.score for r in report.results]
    res = per_kind(outs, detected, scores)
    confusion: dict[str, Counter[str]] = {k: Counter() for k in KINDS}
    attribution: dict[str, list[bool]] = {k: [] for k in LEAK_KINDS}
    spans: list[bool] = []
    same_words: list[bool] = []
    for o, r in zip(outs, report.results, strict=True):
        confusion[o.kind][r.leak_type.value] += 1
        if o.kind != "none" and r.matches:
            top = r.matches[0]
            same = top.record_id == o.record_id or rec_text.get(top.record_id) == rec_text.get(
                o.record_id or ""
            )
            attribution[o.kind].append(same)
            if top.leak_type.value == "verbatim":
                same_words.append(
                    norm_words(o.text[slice(*top.output_span)])
                    == norm_words(rec_text[top.record_id][slice(*top.record_span)])
                )
            if o.kind == "verbatim" and r.leak_type.value == "verbatim" and o.output_span:
                s, e = top.output_span
                ts, te = o.output_span
                inter = max(0, min(e, te) - max(s, ts))
                spans.append(inter / max(1, max(e, te) - min(s, ts)) >= 0.5)
    typed = {k: round(confusion[k][k] / max(1, sum(confusion[k].values())), 4) for k in KINDS}
    res["type_accuracy"] = typed
    res["confusion"] = {k: dict(v) for k, v in confusion.items()}
    res["attribution"] = {
        k: round(float(np.mean(v)), 4) if v else None for k, v in attribution.items()
    }
    res["verbatim_span_iou_0_5"] = round(float(np.mean(spans)), 4) if spans else None
    res["verbatim_spans_same_words"] = round(float(np.mean(same_words)), 4) if same_words else None
    res["check_seconds"] = round(seconds, 2)
    res["outputs_per_second"] = round(len(outs) / seconds, 1)
    by_sub: dict[str, dict[str, Any]] = {}
    for o, d in zip(outs, detected, strict=True):
        b = by_sub.setdefault(f"{o.kind}/{o.subkind}", {"n": 0, "detected": 0})
        b["n"] += 1
        b["detected"] += int(d)
    res["detected_by_subkind"] = by_sub
    return res


def _calibration_pairs(
    index: Any, tune: Sequence[Output], rec_text: dict[str, str], nearest: int = 3
) -> list[tuple[str, str, str]]:
    """(output, record, label): each leak with its source, each non-leak with the records
    nearest to it (the hardest negatives: same template, same topic)."""
    pairs: list[tuple[str, str, str]] = []
    negatives = [o for o in tune if o.kind == "none"]
    if negatives:
        vecs = index.embedder.encode([o.text for o in negatives])
        _scores, keys = index._vectors.search(vecs, 4 * nearest)
        for o, row in zip(negatives, keys, strict=True):
            seen: list[str] = []
            for key in row.tolist():
                if key < 0:
                    continue
                rid = index._ck_rec[index._chunk_row(int(key))]
                if rid not in seen:
                    seen.append(rid)
                if len(seen) == nearest:
                    break
            pairs.extend((o.text, rec_text[rid], "none") for rid in seen)
    for o in tune:
        if o.kind != "none" and o.record_id:
            pairs.append((o.text, rec_text[o.record_id], o.kind))
    return pairs


def run(
    *,
    n_records: int = 2400,
    per_kind: int = 120,
    seed: int = 20261126,
    progress: bool = False,
) -> dict[str, Any]:
    """Run the whole benchmark; returns the results (also as JSON-able data)."""
    from scipy.stats import spearmanr

    from aiposture.embeddings.leakage import LeakageIndex, classify_scores

    timings: dict[str, float] = {}
    t = time.perf_counter()
    corpus: Corpus = generate(n_records, per_kind, seed=seed)
    tune, valid = corpus.split("tune"), corpus.split("valid")
    rec_text = {r.id: r.text for r in corpus.records}
    timings["generate"] = time.perf_counter() - t

    emb = _caching_embedder()
    t = time.perf_counter()
    index = LeakageIndex.build(
        [(r.id, r.text, {"dataset": r.domain}) for r in corpus.records],
        embedder=emb,
        progress=progress,
    )
    timings["build"] = time.perf_counter() - t

    # --- calibration on the tune split (+ STS-B paraphrase evidence) ---------------------------
    t = time.perf_counter()
    pairs = _calibration_pairs(index, tune, rec_text)
    stsb = _stsb()
    # STS-B pairs scored 4 or more: more paraphrase evidence, of another kind of text
    stsb_pairs = [(r["text_a"], r["text_b"], "paraphrase") for r in stsb if r["score"] >= 4.0]
    defaults = index.thresholds
    fitted = index.calibrate(
        pairs + stsb_pairs,
        target_precision=TARGET_PRECISION,
        kinds=["verbatim", "near-verbatim", "paraphrase"],
        progress=progress,
    )
    timings["calibrate"] = time.perf_counter() - t

    # --- aiposture on both splits ----------------------------------------------------------
    t = time.perf_counter()
    ours_valid = _evaluate_aiposture(index, valid, rec_text)
    ours_tune = _evaluate_aiposture(index, tune, rec_text)
    timings["check"] = time.perf_counter() - t

    # --- STS-B ---------------------------------------------------------------------------------
    t = time.perf_counter()
    stsb_res: dict[str, Any] = {"pairs": len(stsb)}
    if stsb:
        feats = index.pair_features([(r["text_a"], r["text_b"]) for r in stsb])
        para_scores, cos, rule = [], [], []
        for fs in feats:
            best = max(
                (classify_scores(f, index.thresholds)["paraphrase"] for f in fs), default=0.0
            )
            para_scores.append(best)
            cos.append(max((f.sim for f in fs), default=0.0))
            rule.append(best >= 0.5)
        gold = [r["score"] for r in stsb]
        label = [r["label"] == 1 for r in stsb]
        cos_arr, lab_arr = np.array(cos), np.array(label)
        best_cos = max(
            (prf(cos_arr >= t, lab_arr)["f1"], round(float(t), 3))
            for t in np.arange(0.5, 0.99, 0.01)
        )
        stsb_res |= {
            "cosine_threshold_best_f1": {"threshold": best_cos[1], "f1": best_cos[0]},
            "paraphrase_rule_thresholds": {
                "similarity": index.thresholds.paraphrase_similarity,
                "content": index.thresholds.paraphrase_content,
            },
            "spearman_paraphrase_score": round(float(spearmanr(para_scores, gold).statistic), 4),
            "spearman_cosine": round(float(spearmanr(cos, gold).statistic), 4),
            "paraphrase_rule_label_1": prf(rule, label),
            "roc_auc_paraphrase_score": auc(para_scores, label),
        }
    timings["stsb"] = time.perf_counter() - t

    # --- baselines -----------------------------------------------------------------------------
    records = [r.text for r in corpus.records]
    t = time.perf_counter()
    ex_t = exact_substring_scores(records, [o.text for o in tune])
    ex_v = exact_substring_scores(records, [o.text for o in valid])
    timings["baseline_exact"] = time.perf_counter() - t
    t = time.perf_counter()
    pr_t, _ = partial_ratio_scores(records, [o.text for o in tune])
    pr_v, top_v = partial_ratio_scores(records, [o.text for o in valid])
    rec_pos = {r.id: i for i, r in enumerate(corpus.records)}
    pre_recall = [
        rec_pos[o.record_id] in set(top_v[i].tolist()) for i, o in enumerate(valid) if o.record_id
    ]
    timings["baseline_partial_ratio"] = time.perf_counter() - t
    t = time.perf_counter()
    emb_r = emb.encode(records)
    cos_t = cosine_scores(emb_r, emb.encode([o.text for o in tune]))
    cos_v = cosine_scores(emb_r, emb.encode([o.text for o in valid]))
    timings["baseline_cosine"] = time.perf_counter() - t
    baselines = [
        tuned_baseline("exact substring (longest common token run)", ex_t, tune, ex_v, valid),
        tuned_baseline(
            f"rapidfuzz partial_ratio (top {PARTIAL_RATIO_CANDIDATES} TF-IDF records)",
            pr_t,
            tune,
            pr_v,
            valid,
        ),
        tuned_baseline(
            "brute-force cosine, whole outputs vs whole records", cos_t, tune, cos_v, valid
        ),
    ]
    baselines[1]["prefilter_recall_of_source"] = round(float(np.mean(pre_recall)), 4)

    beats = {
        kind: all(ours_valid[kind]["f1"] > b[kind]["f1"] for b in baselines) for kind in LEAK_KINDS
    }
    counts = Counter((o.split, o.kind) for o in corpus.outputs)
    return {
        "name": "leakage_quality",
        "corpus": {
            "records": len(corpus.records),
            "chunks": index.chunks,
            "outputs": {f"{s}/{k}": n for (s, k), n in sorted(counts.items())},
            "seed": seed,
        },
        "thresholds": {
            "defaults": defaults.model_dump(mode="json"),
            "fitted_on_tune_and_stsb": fitted.model_dump(mode="json"),
            "target_precision": TARGET_PRECISION,
            "calibration_pairs": {"tune": len(pairs), "stsb_score_4_or_more": len(stsb_pairs)},
        },
        "texts_embedded": emb.embedded,
        "aiposture_valid": ours_valid,
        "aiposture_tune": ours_tune,
        "baselines_valid": baselines,
        "beats_every_baseline_on_f1": beats,
        "stsb": stsb_res,
        "timings_s": {k: round(v, 2) for k, v in timings.items()},
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "model": emb.name,
            "precision": emb.precision.value,
        },
    }


def _table(res: dict[str, Any]) -> str:
    lines = ["| detector | " + " | ".join(f"{k} P / R / F1" for k in LEAK_KINDS) + " | ROC-AUC |"]
    lines.append("| --- |" + " --- |" * (len(LEAK_KINDS) + 1))

    def row(name: str, r: dict[str, Any]) -> str:
        cells = [
            f"{r[k]['precision']:.3f} / {r[k]['recall']:.3f} / **{r[k]['f1']:.3f}**"
            for k in LEAK_KINDS
        ]
        return f"| {name} | " + " | ".join(cells) + f" | {r['all']['roc_auc']:.3f} |"

    lines.append(row("aiposture", res["aiposture_valid"]))
    for b in res["baselines_valid"]:
        lines.append(row(b["name"], b))
    return "\n".join(lines)


def main() -> None:
    """Run and write ``benchmarks/results/leakage_quality.json``."""
    res = run(progress=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "leakage_quality.json").write_text(json.dumps(res, indent=2) + "\n")
    print(json.dumps(res, indent=2))
    print(_table(res))


if __name__ == "__main__":
    main()
