"""The Leakage panel and the view of one leakage report.

:class:`LeakagePanel` checks a pasted or uploaded model output against a leakage
index through ``posture.leakage.check``; :class:`LeakageReportView` shows a
:class:`~aiposture.embeddings.report.LeakageReport`: each leaking output with its
leaked spans marked, beside the training records they repeat. Outputs and training
records are untrusted: every piece of them is escaped before it reaches an ``HTML``
widget.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiposture.errors import AIPostureError
from aiposture.models import LeakType, OutputCheck, escape
from aiposture.widgets._base import VBox, ipywidgets

if TYPE_CHECKING:
    from aiposture.embeddings.report import LeakageReport
    from aiposture.posture import Posture

__all__ = ["MAX_UPLOAD_BYTES", "LeakagePanel", "LeakageReportView", "highlighted"]

w = ipywidgets()

#: The largest file the panel accepts for a check.
MAX_UPLOAD_BYTES = 2_000_000
#: Leaking outputs shown at most (the rest are counted).
MAX_OUTPUTS = 50
#: Matches listed per output at most.
MAX_MATCHES = 8
#: Characters of context kept around leaked spans in long outputs.
CONTEXT = 240

_MARK = {
    LeakType.VERBATIM: "rgba(229,57,53,.35)",
    LeakType.NEAR_VERBATIM: "rgba(251,140,0,.35)",
    LeakType.PARAPHRASE: "rgba(253,216,53,.45)",
}
_STYLE = (
    "<style>"
    ".aip-lkv{font-family:var(--jp-ui-font-family,system-ui,sans-serif);font-size:12px;"
    "color:var(--jp-ui-font-color1,inherit);}"
    ".aip-lkv .k{opacity:.7;}"
    ".aip-lkv table{border-collapse:collapse;}"
    ".aip-lkv th,.aip-lkv td{padding:1px 6px;text-align:left;vertical-align:top;"
    "border-bottom:1px solid var(--jp-border-color2,rgba(127,127,127,.25));}"
    ".aip-lkv .lk-text{white-space:pre-wrap;line-height:1.45;max-height:18em;overflow:auto;}"
    ".aip-lkv mark{color:inherit;border-radius:2px;padding:0 1px;}"
    "</style>"
)


def _mark(kind: LeakType) -> str:
    return f"background:{_MARK.get(kind, 'rgba(127,127,127,.3)')}"


def _merged(result: OutputCheck) -> list[tuple[int, int, LeakType]]:
    """The output spans of the matches, overlapping ones merged (keeping the worst type)."""
    spans = sorted(
        {(m.output_span[0], m.output_span[1], m.leak_type) for m in result.matches},
        key=lambda s: (s[0], -s[1]),
    )
    out: list[tuple[int, int, LeakType]] = []
    for start, end, kind in spans:
        if end <= start:
            continue
        if out and start < out[-1][1]:
            s0, e0, k0 = out[-1]
            out[-1] = (s0, max(e0, end), k0 if k0.rank >= kind.rank else kind)
        else:
            out.append((start, end, kind))
    return out


def highlighted(text: str, result: OutputCheck) -> str:
    """``text`` as escaped HTML with the leaked spans of ``result`` in ``<mark>``.

    Long stretches without a leak are shortened to :data:`CONTEXT` characters around
    the spans.
    """
    spans = _merged(result)
    if not spans:
        return escape(text[: 2 * CONTEXT]) + (" …" if len(text) > 2 * CONTEXT else "")
    parts: list[str] = []
    at = max(0, spans[0][0] - CONTEXT)
    if at > 0:
        parts.append("… ")
    for start, end, kind in spans:
        start, end = max(start, at), min(end, len(text))
        if start - at > 2 * CONTEXT:
            parts.append(escape(text[at : at + CONTEXT]) + " … ")
            at = start - CONTEXT
        parts.append(escape(text[at:start]))
        parts.append(
            f"<mark class='lk-{escape(kind.value)}' style='{_mark(kind)}'>"
            f"{escape(text[start:end])}</mark>"
        )
        at = max(at, end)
    stop = min(len(text), at + CONTEXT)
    parts.append(escape(text[at:stop]))
    if stop < len(text):
        parts.append(" …")
    return "".join(parts)


def _matches_html(result: OutputCheck) -> str:
    rows = "".join(
        f"<tr><td><code>{escape(m.record_id)}</code></td>"
        f"<td><mark style='{_mark(m.leak_type)}'>{escape(m.leak_type.value)}</mark></td>"
        f"<td>{m.score:.2f}</td><td>{escape(m.record_excerpt)}</td></tr>"
        for m in result.matches[:MAX_MATCHES]
    )
    more = len(result.matches) - MAX_MATCHES
    extra = f"<div class='k'>+{more} more matches</div>" if more > 0 else ""
    return (
        f"{_STYLE}<div class='aip-lkv'><table><tr><th>record</th><th>leak</th><th>score</th>"
        f"<th>training record excerpt</th></tr>{rows}</table>{extra}</div>"
    )


def _output_html(result: OutputCheck, text: str) -> str:
    return (
        f"{_STYLE}<div class='aip-lkv'><div><code>{escape(result.id)}</code> "
        f"<b>{escape(result.leak_type.value)}</b> "
        f"<span class='k'>score {result.score:.2f}</span></div>"
        f"<div class='lk-text'>{highlighted(text, result)}</div></div>"
    )


class LeakageReportView(VBox):  # type: ignore[misc]
    """A leakage report: a summary, then each leaking output beside its training records.

    Each leaking output is a row (``aiposture-leakage-output``): on the left the output
    with its leaked spans marked, on the right the matched training records (record id,
    leak type, score, excerpt). Also what ``report.widget()`` returns.

    Args:
        report: The report to show; ``None`` shows an empty view until :meth:`show`.
    """

    def __init__(self, report: LeakageReport | None = None) -> None:
        self.summary = w.HTML()
        self.summary.add_class("aiposture-leakage-summary")
        super().__init__([self.summary], layout=w.Layout(width="100%"))
        self.add_class("aiposture-leakage-result")
        self.report: LeakageReport | None = None
        self.rows: list[Any] = []
        self.show(report)

    def show(self, report: LeakageReport | None) -> None:
        """Replace what is shown with ``report`` (or clear the view for ``None``)."""
        self.report = report
        self.rows = []
        if report is None:
            self.summary.value = ""
            self.children = [self.summary]
            return
        s = report.summary
        counts = ", ".join(
            f"{escape(kind)} {n}" for kind, n in s["by_type"].items() if n and kind != "none"
        )
        leaking = [(r, t) for r, t in zip(report.results, report.texts, strict=True) if r.matches]
        head = (
            f"{_STYLE}<div class='aip-lkv'><b>{s['outputs']} output(s), {s['leaking']} leaking"
            f"</b>{': ' + counts if counts else ''}"
        )
        if not leaking:
            head += "<div class='k'>No output repeats the training data.</div>"
        elif len(leaking) > MAX_OUTPUTS:
            head += (
                f"<div class='k'>showing {MAX_OUTPUTS} of {len(leaking)} leaking outputs; "
                "use report.to_pandas() for all</div>"
            )
        self.summary.value = head + "</div>"
        for result, text in leaking[:MAX_OUTPUTS]:
            left = w.HTML(_output_html(result, text), layout=w.Layout(width="50%"))
            right = w.HTML(_matches_html(result), layout=w.Layout(width="50%"))
            row = w.HBox([left, right], layout=w.Layout(width="100%"))
            row.add_class("aiposture-leakage-output")
            self.rows.append(row)
        self.children = [self.summary, *self.rows]


def _index_choices(
    configured: Mapping[str, Path], extra: Iterable[str | os.PathLike[str]]
) -> list[tuple[str, str]]:
    """Dropdown options ``(label, folder)``: configured indexes (by model), then ``extra``."""
    out: list[tuple[str, str]] = []
    seen: set[str] = set()
    for model, folder in configured.items():
        path = os.fspath(folder)
        if path not in seen:
            seen.add(path)
            out.append((f"{model}: {path}", path))
    for more in extra:
        path = os.fspath(more)
        if path not in seen:
            seen.add(path)
            out.append((path, path))
    return out


class LeakagePanel(VBox):  # type: ignore[misc]
    """Check a model output against a leakage index and see the leaked spans.

    Pick an index (the configured ``[monitor] leakage_indexes`` and ``indexes``) or type
    another folder, paste the output or upload a UTF-8 text file, and press *Check*.

    Args:
        posture: The posture whose ``leakage`` service checks.
        indexes: More index folders to offer.
    """

    def __init__(self, posture: Posture, indexes: Sequence[str | os.PathLike[str]] = ()) -> None:
        self.posture = posture
        self._extra = [os.fspath(i) for i in indexes]
        choices = _index_choices(posture.settings.leakage_index_paths(), self._extra)
        self.index = w.Dropdown(
            options=choices,
            value=choices[0][1] if choices else None,
            description="index",
            layout=w.Layout(width="60%"),
        )
        self.index.add_class("aiposture-leakage-index")
        self.folder = w.Text(placeholder="or type an index folder", layout=w.Layout(width="40%"))
        self.folder.add_class("aiposture-leakage-folder")
        self.text = w.Textarea(
            placeholder="paste a model output here, or upload a text file",
            layout=w.Layout(width="100%", height="10em"),
        )
        self.text.add_class("aiposture-leakage-text")
        self.upload = w.FileUpload(accept=".txt,.md,.json,.jsonl,.csv,text/*", multiple=False)
        self.upload.add_class("aiposture-leakage-file")
        self.upload.observe(self._on_upload, names="value")
        self.check_button = w.Button(description="Check", button_style="primary", icon="search")
        self.check_button.add_class("aiposture-leakage-check")
        self.check_button.on_click(lambda _b: self.check())
        self.message = w.HTML()
        self.message.add_class("aiposture-leakage-message")
        self.result = LeakageReportView()
        super().__init__(
            [
                w.HBox([self.index, self.folder]),
                self.text,
                w.HBox([self.upload, self.check_button]),
                self.message,
                self.result,
            ]
        )
        self.add_class("aiposture-leakage")

    def refresh(self) -> None:
        """Reload the index choices from the settings, keeping the chosen index if offered."""
        choices = _index_choices(self.posture.settings.leakage_index_paths(), self._extra)
        current = self.index.value
        self.index.options = choices
        values = [v for _label, v in choices]
        self.index.value = current if current in values else (values[0] if values else None)

    @property
    def report(self) -> LeakageReport | None:
        """The report of the last successful check."""
        return self.result.report

    def _say(self, text: str, *, error: bool = False) -> None:
        colour = "color:#d32f2f;" if error else "opacity:.8;"
        self.message.value = f"<span style='{colour}'>{escape(text)}</span>" if text else ""

    def _on_upload(self, change: dict[str, Any]) -> None:
        files = change.get("new") or ()
        if not files:
            return
        self.load_file(files[0])

    def load_file(self, upload: Mapping[str, Any]) -> bool:
        """Put the text of one uploaded file (a FileUpload value entry) in the text box.

        Returns:
            Whether the file was read; otherwise the message says why not.
        """
        name = str(upload.get("name") or "the file")
        content = upload.get("content")
        data = bytes(content) if content is not None else b""
        size = max(len(data), int(upload.get("size") or 0))
        if size > MAX_UPLOAD_BYTES:
            self._say(
                f"{name} is {size:,} bytes; the largest file checked here is "
                f"{MAX_UPLOAD_BYTES:,} bytes (use posture.leakage.check or the CLI)",
                error=True,
            )
            return False
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            self._say(
                f"{name} is not UTF-8 text (byte {exc.start} cannot be decoded); "
                "upload a UTF-8 text file",
                error=True,
            )
            return False
        self.text.value = text
        self._say(f"loaded {name} ({len(text):,} characters)")
        return True

    def selected_index(self) -> str | None:
        """The index folder to check against: the typed folder, else the Dropdown's."""
        typed = str(self.folder.value).strip()
        if typed:
            return typed
        value: object = self.index.value
        return str(value) if value else None

    def check(self) -> LeakageReport | None:
        """Check the text against the selected index and show the report.

        Returns:
            The report, or ``None`` when the check could not run (the message says why).
        """
        text = self.text.value
        if not text.strip():
            self._say("paste a model output or upload a text file first", error=True)
            return None
        folder = self.selected_index()
        if folder is None:
            self._say("choose an index, or type the folder of one", error=True)
            return None
        path = Path(folder).expanduser()
        if not path.is_dir():
            self._say(f"no leakage index folder at {folder}", error=True)
            return None
        self._say("checking…")
        try:
            report = self.posture.leakage.check(text, index=path)
        except (AIPostureError, OSError, ValueError) as exc:
            self._say(f"cannot check against {folder}: {exc}", error=True)
            return None
        self.result.show(report)
        s = report.summary
        self._say(f"checked against {folder}: {s['leaking']} of {s['outputs']} output(s) leak")
        return report
