"""The result of a leakage check: per output, its leak type, score and matches.

:class:`LeakageReport` renders the same results four ways: ``to_dict()`` (the JSON document
scripts rely on), ``to_pandas()`` (one row per match), ``to_sarif()`` (SARIF 2.1.0 for code
scanning dashboards) and ``_repr_html_()`` (the notebook view, leaked spans highlighted).
Every text shown comes from model outputs and training data and is untrusted: the HTML view
escapes all of it, and no rendering carries more of a training record than a short excerpt.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from aiposture.models import LeakageMatch, LeakType, OutputCheck, escape

if TYPE_CHECKING:
    import pandas as pd

    from aiposture.widgets.leakage import LeakageReportView

__all__ = ["LEAK_RULES", "LeakageReport", "excerpt"]

#: SARIF rule id, name, level and description of each leak type.
LEAK_RULES: dict[LeakType, tuple[str, str, str, str]] = {
    LeakType.VERBATIM: (
        "AIP-LEAK-001",
        "TrainingDataVerbatim",
        "error",
        "A model output repeats a training record word for word.",
    ),
    LeakType.NEAR_VERBATIM: (
        "AIP-LEAK-002",
        "TrainingDataNearVerbatim",
        "error",
        "A model output repeats a training record with small edits (typos, changed or "
        "reordered words).",
    ),
    LeakType.PARAPHRASE: (
        "AIP-LEAK-003",
        "TrainingDataParaphrase",
        "warning",
        "A model output restates the specific content of a training record in other words.",
    ),
}
_RULE_ORDER = [LeakType.VERBATIM, LeakType.NEAR_VERBATIM, LeakType.PARAPHRASE]
_EXCERPT = 160
_HTML_OUTPUTS = 50
_HTML_CONTEXT = 240


def excerpt(text: str, start: int = 0, end: int | None = None, limit: int = _EXCERPT) -> str:
    """``text[start:end]`` on one line, shortened to about ``limit`` characters."""
    end = len(text) if end is None else end
    piece = " ".join(text[start:end].split())
    if len(piece) <= limit:
        return piece
    half = (limit - 5) // 2
    return f"{piece[:half].rstrip()} ... {piece[-half:].lstrip()}"


def _r(x: float) -> float:
    return round(float(x), 4)


class LeakageReport:
    """The verdicts of one :meth:`LeakageIndex.check` call.

    Attributes:
        results: One :class:`~aiposture.models.OutputCheck` per output, in input order.
        texts: The outputs' texts (kept for display), aligned with ``results``.
        info: Facts about the index used (model, counts, thresholds) for the summary.
    """

    def __init__(
        self,
        results: Sequence[OutputCheck],
        texts: Sequence[str],
        info: dict[str, Any] | None = None,
    ) -> None:
        if len(results) != len(texts):
            raise ValueError(f"{len(results)} results for {len(texts)} texts")
        self.results: list[OutputCheck] = list(results)
        self.texts: list[str] = list(texts)
        self.info: dict[str, Any] = dict(info or {})

    # --- container protocol ---------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.results)

    def __iter__(self) -> Iterator[OutputCheck]:
        return iter(self.results)

    def __getitem__(self, i: int) -> OutputCheck:
        return self.results[i]

    def __repr__(self) -> str:
        s = self.summary
        return f"LeakageReport({s['outputs']} outputs, {s['leaking']} leaking, worst={s['worst']})"

    # --- queries --------------------------------------------------------------------------

    @property
    def worst(self) -> LeakType:
        """The most severe leak type over all outputs (``none`` when nothing leaks)."""
        return max((r.leak_type for r in self.results), key=lambda t: t.rank, default=LeakType.NONE)

    def leaks(self, min_type: LeakType | str = LeakType.PARAPHRASE) -> list[OutputCheck]:
        """The outputs whose leak type is ``min_type`` or more severe."""
        floor = LeakType(min_type).rank
        if floor == 0:
            floor = 1
        return [r for r in self.results if r.leak_type.rank >= floor]

    @property
    def summary(self) -> dict[str, Any]:
        """Counts per leak type, the worst type and the highest score."""
        by_type = Counter(r.leak_type.value for r in self.results)
        return {
            "outputs": len(self.results),
            "leaking": sum(1 for r in self.results if r.leak_type is not LeakType.NONE),
            "by_type": {t.value: by_type.get(t.value, 0) for t in reversed(list(LeakType))},
            "worst": self.worst.value,
            "max_score": _r(max((r.score for r in self.results), default=0.0)),
            **{k: v for k, v in self.info.items() if k in ("index", "thresholds")},
        }

    # --- renderings -----------------------------------------------------------------------

    @staticmethod
    def _match_dict(m: LeakageMatch) -> dict[str, Any]:
        return {
            "record_id": m.record_id,
            "similarity": _r(m.similarity),
            "lexical_overlap": _r(m.lexical_overlap),
            "output_span": [m.output_span[0], m.output_span[1]],
            "record_span": [m.record_span[0], m.record_span[1]],
            "leak_type": m.leak_type.value,
            "score": _r(m.score),
            "chunk_index": m.chunk_index,
            "longest_run": m.longest_run,
            "char_similarity": _r(m.char_similarity),
            "content_overlap": _r(m.content_overlap),
            "record_excerpt": m.record_excerpt,
            "metadata": m.metadata,
        }

    def to_dict(self) -> dict[str, Any]:
        """The JSON document of ``aiposture leakage check --format json``.

        Shape: ``{"outputs": [{"id", "leak_type", "score", "matches": [{"record_id",
        "similarity", "lexical_overlap", "output_span": [start, end], "record_span": [start,
        end], ...}], ...}], "summary": {...}}``; spans are character offsets, end exclusive.
        Keys beyond these are extra information scripts may ignore.
        """
        return {
            "outputs": [
                {
                    "id": r.id,
                    "leak_type": r.leak_type.value,
                    "score": _r(r.score),
                    "matches": [self._match_dict(m) for m in r.matches],
                    "text_length": r.text_length,
                }
                for r in self.results
            ],
            "summary": self.summary,
        }

    def to_pandas(self) -> pd.DataFrame:
        """One row per match; an output without any match gets one row with empty match fields.

        Columns: ``output_id``, ``output_leak_type``, ``output_score``, then the match's
        ``record_id``, ``leak_type``, ``score``, ``similarity``, ``lexical_overlap``,
        ``content_overlap``, ``char_similarity``, ``longest_run``, ``chunk_index``,
        ``output_start``, ``output_end``, ``record_start``, ``record_end``,
        ``record_excerpt``, ``output_excerpt``.
        """
        import pandas as pd

        rows: list[dict[str, Any]] = []
        for r, text in zip(self.results, self.texts, strict=True):
            head = {
                "output_id": r.id,
                "output_leak_type": r.leak_type.value,
                "output_score": r.score,
            }
            if not r.matches:
                rows.append(head)
                continue
            for m in r.matches:
                rows.append(
                    {
                        **head,
                        "record_id": m.record_id,
                        "leak_type": m.leak_type.value,
                        "score": m.score,
                        "similarity": m.similarity,
                        "lexical_overlap": m.lexical_overlap,
                        "content_overlap": m.content_overlap,
                        "char_similarity": m.char_similarity,
                        "longest_run": m.longest_run,
                        "chunk_index": m.chunk_index,
                        "output_start": m.output_span[0],
                        "output_end": m.output_span[1],
                        "record_start": m.record_span[0],
                        "record_end": m.record_span[1],
                        "record_excerpt": m.record_excerpt,
                        "output_excerpt": excerpt(text, *m.output_span),
                    }
                )
        columns = [
            "output_id", "output_leak_type", "output_score", "record_id", "leak_type", "score",
            "similarity", "lexical_overlap", "content_overlap", "char_similarity",
            "longest_run", "chunk_index", "output_start", "output_end", "record_start",
            "record_end", "record_excerpt", "output_excerpt",
        ]  # fmt: skip
        frame = pd.DataFrame(rows, columns=columns)
        for col in ("longest_run", "chunk_index", "output_start", "output_end",
                    "record_start", "record_end"):  # fmt: skip
            frame[col] = frame[col].astype("Int64")
        return frame

    def to_sarif(self) -> dict[str, Any]:
        """A SARIF 2.1.0 log: one result per leaking output, its rule the output's leak type.

        The location is the output (its id as the artifact URI) and the character region of
        its strongest match; the message names the training record and quotes at most a
        short excerpt of it.
        """
        from aiposture import __version__

        rules = []
        for t in _RULE_ORDER:
            rule_id, name, level, text = LEAK_RULES[t]
            rules.append(
                {
                    "id": rule_id,
                    "name": name,
                    "shortDescription": {"text": text},
                    "fullDescription": {"text": text},
                    "defaultConfiguration": {"level": level},
                    "properties": {"leak_type": t.value, "tags": ["security", "privacy"]},
                }
            )
        results = []
        for r in self.results:
            if r.leak_type is LeakType.NONE or not r.matches:
                continue
            rule_id, _name, level, _text = LEAK_RULES[r.leak_type]
            top = next((m for m in r.matches if m.leak_type is r.leak_type), r.matches[0])
            records = sorted({m.record_id for m in r.matches})
            message = (
                f"Output {r.id!r} leaks training record {top.record_id!r} "
                f"({r.leak_type.value}, score {r.score:.2f}, similarity {top.similarity:.2f}, "
                f"lexical overlap {top.lexical_overlap:.2f})"
            )
            if len(records) > 1:
                message += f" and {len(records) - 1} more record(s)"
            if top.record_excerpt:
                message += f': "{excerpt(top.record_excerpt, limit=100)}"'
            s, e = top.output_span
            digest = hashlib.sha256(
                f"{r.id}|{r.leak_type.value}|{'|'.join(records)}".encode()
            ).hexdigest()
            results.append(
                {
                    "ruleId": rule_id,
                    "ruleIndex": _RULE_ORDER.index(r.leak_type),
                    "level": level,
                    "message": {"text": message},
                    "locations": [
                        {
                            "physicalLocation": {
                                "artifactLocation": {"uri": quote(r.id, safe="/:@-._~")},
                                "region": {"charOffset": s, "charLength": max(0, e - s)},
                            },
                            "logicalLocations": [{"name": r.id, "kind": "object"}],
                        }
                    ],
                    "partialFingerprints": {"aipostureLeak/v1": digest},
                    "properties": {
                        "leak_type": r.leak_type.value,
                        "score": _r(r.score),
                        "records": records,
                        "matches": [
                            {
                                "record_id": m.record_id,
                                "leak_type": m.leak_type.value,
                                "output_span": list(m.output_span),
                                "record_span": list(m.record_span),
                                "similarity": _r(m.similarity),
                                "lexical_overlap": _r(m.lexical_overlap),
                            }
                            for m in r.matches
                        ],
                    },
                }
            )
        return {
            "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
            "version": "2.1.0",
            "runs": [
                {
                    "tool": {
                        "driver": {
                            "name": "aiposture",
                            "informationUri": "https://github.com/aiposture/aiposture",
                            "version": __version__,
                            "semanticVersion": __version__,
                            "rules": rules,
                        }
                    },
                    "columnKind": "unicodeCodePoints",
                    "results": results,
                    "properties": {"summary": self.summary},
                }
            ],
        }

    def widget(self) -> LeakageReportView:
        """An ipywidgets view: each leaking output, leaked spans marked, beside the
        training records it repeats (needs ``ipywidgets``)."""
        from aiposture.widgets.leakage import LeakageReportView

        return LeakageReportView(self)

    def _repr_html_(self) -> str:
        """The notebook view: a summary, then each leaking output with its spans marked."""
        s = self.summary
        counts = " · ".join(
            f"<span class='lk-{t}'>{escape(t)}</span> {n}"
            for t, n in s["by_type"].items()
            if n and t != "none"
        )
        head = (
            f"<div class='aip-lk-head'><b>LeakageReport</b> {s['outputs']} output(s), "
            f"{s['leaking']} leaking{': ' + counts if counts else ''}</div>"
        )
        blocks = []
        leaking = [(r, t) for r, t in zip(self.results, self.texts, strict=True) if r.matches]
        for r, text in leaking[:_HTML_OUTPUTS]:
            blocks.append(self._output_html(r, text))
        more = ""
        if len(leaking) > _HTML_OUTPUTS:
            more = (
                f"<div class='k'>+{len(leaking) - _HTML_OUTPUTS} more leaking outputs: use "
                ".to_pandas()</div>"
            )
        if not leaking:
            blocks.append("<div class='k'>No output repeats the training data.</div>")
        return f"{_STYLE}<div class='aip aip-lk'>{head}{''.join(blocks)}{more}</div>"

    @staticmethod
    def _output_html(r: OutputCheck, text: str) -> str:
        spans = sorted(
            {(m.output_span, m.leak_type) for m in r.matches}, key=lambda x: (x[0][0], -x[0][1])
        )
        merged: list[tuple[int, int, LeakType]] = []
        for (st, en), t in spans:
            if merged and st < merged[-1][1]:
                ps, pe, pt = merged[-1]
                merged[-1] = (ps, max(pe, en), pt if pt.rank >= t.rank else t)
            else:
                merged.append((st, en, t))
        lo = max(0, merged[0][0] - _HTML_CONTEXT) if merged else 0
        hi = min(len(text), merged[-1][1] + _HTML_CONTEXT) if merged else 0
        parts = ["… " if lo > 0 else ""]
        at = lo
        for st, en, t in merged:
            if st - at > 2 * _HTML_CONTEXT:  # long stretch between two leaks: elide
                parts.append(escape(text[at : at + _HTML_CONTEXT]) + " … ")
                at = st - _HTML_CONTEXT
            parts.append(escape(text[at:st]))
            parts.append(f"<mark class='lk-{t.value}'>{escape(text[st:en])}</mark>")
            at = en
        parts.append(escape(text[at:hi]))
        if hi < len(text):
            parts.append(" …")
        rows = "".join(
            f"<tr><td><span class='lk-{m.leak_type.value}'>{escape(m.leak_type.value)}</span>"
            f"</td><td><code>{escape(m.record_id)}</code></td><td>{m.score:.2f}</td>"
            f"<td>{m.similarity:.2f}</td><td>{m.lexical_overlap:.2f}</td>"
            f"<td class='lk-rec'>{escape(m.record_excerpt)}</td></tr>"
            for m in r.matches[:8]
        )
        extra = (
            f"<div class='k'>+{len(r.matches) - 8} more matches</div>" if len(r.matches) > 8 else ""
        )
        return (
            f"<div class='aip-lk-out'><div><code>{escape(r.id)}</code> "
            f"<span class='lk-{r.leak_type.value}'>{escape(r.leak_type.value)}</span> "
            f"score {r.score:.2f}</div>"
            f"<div class='lk-text'>{''.join(parts)}</div>"
            "<table><tr><th>leak</th><th>record</th><th>score</th><th>similarity</th>"
            f"<th>lexical</th><th>record excerpt</th></tr>{rows}</table>{extra}</div>"
        )


_STYLE = (
    "<style>"
    ".aip-lk{font-family:var(--jp-ui-font-family,system-ui,sans-serif);font-size:12px;"
    "color:var(--jp-ui-font-color1,inherit);}"
    ".aip-lk table{border-collapse:collapse;margin:2px 0 8px 0;}"
    ".aip-lk th,.aip-lk td{padding:1px 6px;text-align:left;vertical-align:top;"
    "border-bottom:1px solid var(--jp-border-color2,rgba(127,127,127,.25));}"
    ".aip-lk .k{opacity:.7;}"
    ".aip-lk-out{border-left:3px solid rgba(127,127,127,.4);padding:2px 8px;margin:6px 0;}"
    ".aip-lk .lk-text{white-space:pre-wrap;max-height:12em;overflow:auto;margin:3px 0;"
    "line-height:1.45;}"
    ".aip-lk .lk-rec{opacity:.85;max-width:36em;}"
    ".aip-lk mark{color:inherit;border-radius:2px;padding:0 1px;}"
    ".aip-lk mark.lk-verbatim{background:rgba(229,57,53,.35);}"
    ".aip-lk mark.lk-near-verbatim{background:rgba(251,140,0,.35);}"
    ".aip-lk mark.lk-paraphrase{background:rgba(253,216,53,.35);}"
    ".aip-lk span.lk-verbatim{color:#e53935;font-weight:600;}"
    ".aip-lk span.lk-near-verbatim{color:#fb8c00;font-weight:600;}"
    ".aip-lk span.lk-paraphrase{color:#c49000;font-weight:600;}"
    "</style>"
)
