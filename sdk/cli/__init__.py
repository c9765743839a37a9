"""The ``aiposture`` command line: a thin adapter over :class:`aiposture.Posture`.

Exit codes (scripts and CI rely on them):

* 0: success;
* 1: the check failed (``--fail-on`` found findings at or above the threshold);
* 2: bad usage or bad input (unknown option, missing path, bad value);
* 3: aiposture could not do its work (the store cannot be opened, an export
  does not validate, ...).

Progress goes to stderr; results (tables, JSON) go to stdout.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from aiposture.cli.mcp import mcp_app
from aiposture.errors import (
    AIPostureError,
    ConfigError,
    LeakageIndexError,
    NotFoundError,
    ScanError,
)
from aiposture.models import (
    AssetKind,
    FindingStatus,
    Priority,
    RiskSnapshot,
    ScanRun,
    Severity,
)
from aiposture.monitor.models import Alert, AlertStatus

if TYPE_CHECKING:
    from aiposture.monitor.service import MonitorRun
    from aiposture.posture import Posture

__all__ = ["app", "main"]

app = typer.Typer(
    name="aiposture",
    help="AI Security Posture Management: discover, assess and monitor AI assets.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
export_app = typer.Typer(help="Export the inventory.", no_args_is_help=True)
audit_app = typer.Typer(help="The audit log.", no_args_is_help=True)
app.add_typer(export_app, name="export")
leakage_app = typer.Typer(
    help="Training-data leakage: index a training set, check model outputs.",
    no_args_is_help=True,
)
app.add_typer(audit_app, name="audit")
app.add_typer(leakage_app, name="leakage")
policy_app = typer.Typer(help="Policy as code: validate, check decisions.", no_args_is_help=True)
approvals_app = typer.Typer(
    help="Approval requests: list, request, approve, deny.", no_args_is_help=True
)
app.add_typer(policy_app, name="policy")
app.add_typer(approvals_app, name="approvals")
alerts_app = typer.Typer(
    help="Monitoring alerts: list, acknowledge, resolve, mark false positive.",
    no_args_is_help=True,
)
app.add_typer(alerts_app, name="alerts")
app.add_typer(mcp_app, name="mcp")

DbOption = Annotated[
    str | None,
    typer.Option(
        "--db",
        envvar="AIPOSTURE_DB",
        help="Store URL (sqlite:///path, a file path, or postgresql+psycopg://...).",
        show_envvar=True,
    ),
]


def _width() -> int | None:
    # rich assumes 80 columns when stdout is not a terminal; tables of paths need more
    if os.environ.get("COLUMNS") or sys.stdout.isatty():
        return None
    return 160


out = Console(width=_width())
err = Console(stderr=True)


class _Failed(Exception):
    """The check ran and failed (exit 1)."""


_config: dict[str, Path | None] = {"path": None}


@app.callback()
def _options(
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            envvar="AIPOSTURE_CONFIG",
            help="Configuration file (TOML); default ./aiposture.toml or "
            "~/.aiposture/config.toml when present.",
            show_envvar=True,
        ),
    ] = None,
) -> None:
    """AI Security Posture Management: discover, assess and monitor AI assets."""
    _config["path"] = config


def _posture(db: str | None) -> Posture:
    from aiposture.posture import Posture

    return Posture.open(db, config=_config["path"])


def _kind(value: str | None) -> AssetKind | None:
    if value is None:
        return None
    try:
        return AssetKind(value)
    except ValueError:
        raise ConfigError(
            f"unknown asset kind {value!r}; kinds are: {', '.join(k.value for k in AssetKind)}"
        ) from None


class FailOn(StrEnum):
    """Severity threshold for ``--fail-on``."""

    info = "info"
    low = "low"
    medium = "medium"
    high = "high"
    critical = "critical"


@app.command()
def scan(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(help="Folders or files to scan.", show_default=False),
    ] = None,
    logs: Annotated[
        list[Path] | None,
        typer.Option("--logs", help="Egress, proxy or DNS log files to scan (repeatable)."),
    ] = None,
    log_format: Annotated[
        str | None,
        typer.Option(
            "--log-format",
            help="Format of the logs: csv, jsonl, squid, zeek or w3c (default: detected).",
        ),
    ] = None,
    python_env: Annotated[
        bool, typer.Option("--python-env", help="Also scan the installed Python packages.")
    ] = False,
    user_locations: Annotated[
        bool,
        typer.Option(
            "--user-locations",
            help="Also scan your MCP client configurations (Claude, Cursor, VS Code, "
            "Windsurf, Continue, Claude Code) and your Hugging Face cache.",
        ),
    ] = False,
    scanner: Annotated[
        list[str] | None, typer.Option("--scanner", help="Run only this scanner (repeatable).")
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print the scan run as JSON.")] = False,
    progress: Annotated[bool, typer.Option(help="Show a progress bar on stderr.")] = True,
    fail_on: Annotated[
        FailOn | None,
        typer.Option(help="Exit 1 if open findings at or above this severity exist afterwards."),
    ] = None,
    db: DbOption = None,
) -> None:
    """Scan folders (and logs) for AI assets and update the inventory."""
    with _posture(db) as p:
        run = p.discover(
            paths or [],
            logs=logs or [],
            environment=python_env,
            scanners=scanner,
            progress=progress,
            user_locations=user_locations,
            log_format=log_format,
        )
        if json_out:
            out.print_json(run.model_dump_json())
        else:
            _print_run(run, p.assets.by_kind())
        if fail_on is not None:
            threshold = Severity(fail_on.value)
            bad = [
                f
                for f in p.findings
                if f.status.value in ("open", "acknowledged")
                and not f.stale
                and f.severity.rank >= threshold.rank
            ]
            if bad:
                err.print(f"{len(bad)} open finding(s) at or above {threshold.value}")
                raise _Failed


def _print_run(run: ScanRun, by_kind: dict[str, int]) -> None:
    c = run.counts
    table = Table(title=f"scan {run.id}", show_header=True, header_style="bold")
    table.add_column("what")
    table.add_column("count", justify="right")
    for label, value in [
        ("files seen", c.files_seen),
        ("files scanned", c.files_scanned),
        ("files unchanged", c.files_unchanged),
        ("files with errors", c.files_failed),
        ("bytes read", c.bytes_read),
        ("assets seen", c.assets_seen),
        ("assets new", c.assets_new),
        ("assets now stale", c.assets_stale),
        ("relations seen", c.relations_seen),
        ("findings seen", c.findings_seen),
        ("findings new", c.findings_new),
    ]:
        table.add_row(label, str(value))
    out.print(table)
    if by_kind:
        kinds = Table(title="inventory by kind")
        kinds.add_column("kind")
        kinds.add_column("assets", justify="right")
        for k, n in by_kind.items():
            kinds.add_row(k, str(n))
        out.print(kinds)
    if run.errors:
        errors = Table(title=f"{len(run.errors)} problem(s)", header_style="bold red")
        errors.add_column("path")
        errors.add_column("scanner")
        errors.add_column("reason")
        for e in run.errors[:50]:
            where = f"{e.path}:{e.line}" if e.line else e.path
            errors.add_row(where, e.scanner or "", e.reason)
        out.print(errors)
        if len(run.errors) > 50:
            out.print(f"... and {len(run.errors) - 50} more (use --json for all)")
    if run.warnings:
        warnings = Table(title=f"{len(run.warnings)} warning(s)", header_style="bold yellow")
        warnings.add_column("path")
        warnings.add_column("scanner")
        warnings.add_column("what")
        for w in run.warnings[:50]:
            warnings.add_row(w.path, w.scanner or "", w.reason)
        out.print(warnings)


@app.command()
def inventory(
    kind: Annotated[str | None, typer.Option(help="Only assets of this kind.")] = None,
    json_out: Annotated[
        bool, typer.Option("--json", help="Print a JSON array of assets with their findings.")
    ] = False,
    current: Annotated[bool, typer.Option("--current", help="Leave out stale assets.")] = False,
    db: DbOption = None,
) -> None:
    """List the inventory."""
    with _posture(db) as p:
        rows = p.inventory(kind=_kind(kind), include_stale=not current)
    if json_out:
        sys.stdout.write(json.dumps(rows, indent=2, ensure_ascii=False) + "\n")
        return
    table = Table(title=f"{len(rows)} asset(s)", header_style="bold")
    for col in ("kind", "name", "provider", "version", "findings", "stale", "id"):
        table.add_column(col)
    for r in rows:
        table.add_row(
            r["kind"],
            r["name"],
            r["provider"] or "",
            r["version"] or "",
            str(len(r["findings"])) if r["findings"] else "",
            "stale" if r["stale"] else "",
            r["id"],
        )
    out.print(table)


class FindingFormat(StrEnum):
    """Output format of ``findings``."""

    table = "table"
    json = "json"
    sarif = "sarif"


@app.command()
def findings(
    severity: Annotated[
        FailOn | None,
        typer.Option("--severity", "--min-severity", help="Only findings at or above this."),
    ] = None,
    framework: Annotated[
        str | None,
        typer.Option(
            help="Only findings mapped to a framework or item: owasp-llm, atlas, nist-ai-rmf, "
            "eu-ai-act, or an item such as owasp-llm:LLM03."
        ),
    ] = None,
    status: Annotated[
        list[str] | None,
        typer.Option(help="Only these statuses (repeatable; default: every status)."),
    ] = None,
    include_stale: Annotated[bool, typer.Option(help="Also findings no longer seen.")] = False,
    fmt: Annotated[
        FindingFormat, typer.Option("--format", help="table, json or sarif (2.1.0).")
    ] = FindingFormat.table,
    json_out: Annotated[bool, typer.Option("--json", help="Same as --format json.")] = False,
    fail_on: Annotated[
        FailOn | None,
        typer.Option(
            help="Exit 1 if open or acknowledged findings at or above this severity are listed."
        ),
    ] = None,
    db: DbOption = None,
) -> None:
    """List findings, worst first."""
    with _posture(db) as p:
        items = p.findings
        assets = list(p.assets)
    if not include_stale:
        items = items.where(lambda f: not f.stale)
    if severity is not None:
        items = items.at_least(severity.value)
    if framework is not None:
        items = items.for_framework(framework)
    if status:
        wanted = {FindingStatus(s).value for s in status}
        items = items.where(lambda f: f.status.value in wanted)
    if json_out:
        fmt = FindingFormat.json
    if fmt is FindingFormat.json:
        sys.stdout.write(json.dumps(items.to_list(), indent=2) + "\n")
    elif fmt is FindingFormat.sarif:
        from aiposture.export.sarif import to_sarif_json

        sys.stdout.write(to_sarif_json(list(items), assets) + "\n")
    else:
        table = Table(title=f"{len(items)} finding(s)", header_style="bold")
        for col in ("severity", "rule", "title", "where", "status"):
            table.add_column(col)
        for f in items:
            where = f.evidence[0].where if f.evidence else f.asset_id
            table.add_row(f.severity.value, f.rule_id, f.title, where, f.status.value)
        out.print(table)
    if fail_on is not None:
        bad = items.current().at_least(fail_on.value)
        if bad:
            err.print(f"{len(bad)} open finding(s) at or above {fail_on.value}")
            raise _Failed


@app.command()
def assess(
    top: Annotated[int, typer.Option(help="How many of the top risks to print.")] = 10,
    json_out: Annotated[bool, typer.Option("--json", help="Print the snapshot as JSON.")] = False,
    fail_on: Annotated[
        str | None,
        typer.Option(help="Exit 1 if an asset has this priority or higher (critical, high...)."),
    ] = None,
    db: DbOption = None,
) -> None:
    """Assess every asset, evaluate the rules and store a dated risk snapshot."""
    threshold = Priority(fail_on) if fail_on is not None else None
    with _posture(db) as p:
        snap = p.assess()
    if json_out:
        out.print_json(snap.model_dump_json())
    else:
        _print_snapshot(snap, top)
    if threshold is not None:
        bad = [r for r in snap.risks if r.priority.rank >= threshold.rank]
        if bad:
            err.print(f"{len(bad)} asset(s) at priority {threshold.value} or higher")
            raise _Failed


def _print_snapshot(snap: RiskSnapshot, top: int) -> None:
    counts = ", ".join(f"{k} {v}" for k, v in snap.by_priority().items())
    out.print(
        f"assessed {len(snap.risks)} asset(s) with {snap.rules_run} rules in "
        f"{snap.seconds:.2f} s: {counts}"
    )
    table = Table(title=f"top {min(top, len(snap.risks))} risks", header_style="bold")
    for col in ("priority", "score", "asset", "kind", "why"):
        table.add_column(col)
    for r in snap.risks[:top]:
        why = []
        for d in r.dimensions:
            parts = [x for x in d.reasons if x.points > 0]
            parts.sort(key=lambda x: -x.points)
            if parts:
                why.append(
                    f"{d.dimension.value} {d.score:g}: " + "; ".join(x.text for x in parts[:2])
                )
        table.add_row(
            r.priority.value, f"{r.score:.0f}", r.asset_name, r.asset_kind.value, "\n".join(why)
        )
    out.print(table)
    if snap.rule_errors:
        errors = Table(title=f"{len(snap.rule_errors)} rule error(s)", header_style="bold red")
        for col in ("rule", "asset", "error"):
            errors.add_column(col)
        for e in snap.rule_errors[:20]:
            errors.add_row(e.rule_id, e.asset_id or "", e.error)
        out.print(errors)


class ReportFormat(StrEnum):
    """Format of the posture report."""

    markdown = "markdown"
    html = "html"


@app.command()
def report(
    framework: Annotated[
        str | None,
        typer.Option(help="One framework: owasp-llm, atlas, nist-ai-rmf or eu-ai-act."),
    ] = None,
    fmt: Annotated[
        ReportFormat, typer.Option("--format", help="markdown or html.")
    ] = ReportFormat.markdown,
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="File to write (default: stdout).")
    ] = None,
    db: DbOption = None,
) -> None:
    """Write the posture report for auditors (from the latest assessment)."""
    with _posture(db) as p:
        text = p.report(framework, format=fmt.value)
    if output is None:
        sys.stdout.write(text + "\n")
    else:
        output.write_text(text, encoding="utf-8")
        err.print(f"wrote {output}")


@policy_app.command("validate")
def policy_validate(
    folder: Annotated[Path, typer.Argument(help="The policy folder.")],
) -> None:
    """Validate a policy folder; exit 2 naming the file and line of the first problem."""
    from aiposture.policy.loader import load_policy

    ps = load_policy(folder)
    out.print(
        f"{folder}: valid: {len(ps.cedar)} Cedar policies, {len(ps.data_usage.rules)} "
        f"data-usage rules, {len(ps.rate_limits)} rate limits, {len(ps.approvals)} approval "
        f"rules, {len(ps.principals)} principals"
    )


@policy_app.command("check")
def policy_check(
    principal: Annotated[str, typer.Option(help="Who (a principal of principals.yaml).")],
    action: Annotated[str, typer.Option(help="query, deploy, modify, train, export, approve.")],
    resource: Annotated[str, typer.Option(help="An asset id or unique name.")],
    json_out: Annotated[bool, typer.Option("--json", help="Print the decision as JSON.")] = False,
    db: DbOption = None,
) -> None:
    """Decide one request under the configured policy; exit 1 when it is denied."""
    with _posture(db) as p:
        decision = p.policy.check(principal, action, resource)
    if json_out:
        out.print_json(decision.model_dump_json())
    else:
        verdict = "[green]allow[/green]" if decision.allowed else "[red]deny[/red]"
        out.print(f"{verdict} {principal} {action} {resource}")
        for reason in decision.reasons:
            out.print(f"  {reason}", highlight=False)
    if not decision.allowed:
        raise _Failed


@approvals_app.command("list")
def approvals_list(
    status: Annotated[str | None, typer.Option(help="Only this status.")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    db: DbOption = None,
) -> None:
    """List approval requests, oldest first."""
    with _posture(db) as p:
        items = p.approvals.list(status)
    if json_out:
        sys.stdout.write(json.dumps([r.model_dump(mode="json") for r in items], indent=2) + "\n")
        return
    table = Table(title=f"{len(items)} request(s)", header_style="bold")
    for col in ("id", "status", "action", "resource", "requester", "approvals", "expires"):
        table.add_column(col)
    for r in items:
        table.add_row(
            r.id,
            r.status.value,
            r.action,
            r.resource,
            r.requester,
            f"{len(r.approvals)}/{r.required_approvals}",
            r.deadline().isoformat(timespec="minutes"),
        )
    out.print(table)


@approvals_app.command("request")
def approvals_request(
    action: Annotated[str, typer.Option(help="The gated action (deploy, train, ...).")],
    resource: Annotated[str, typer.Option(help="An asset id.")],
    requester: Annotated[str, typer.Option(help="Who asks.")],
    justification: Annotated[str, typer.Option(help="Why.")],
    db: DbOption = None,
) -> None:
    """Ask for approval; prints the request id."""
    with _posture(db) as p:
        r = p.approvals.request(action, resource, requester, justification)
    out.print(r.id)


@approvals_app.command("approve")
def approvals_approve(
    request_id: Annotated[str, typer.Argument(help="The request.")],
    reviewer: Annotated[str, typer.Option(help="Who approves.")],
    reason: Annotated[str, typer.Option(help="Why.")],
    db: DbOption = None,
) -> None:
    """Approve a request (separation of duties enforced; refusals exit 2 and are audited)."""
    with _posture(db) as p:
        r = p.approvals.approve(request_id, reviewer, reason)
    out.print(f"{r.id}: {r.status.value}")


@approvals_app.command("deny")
def approvals_deny(
    request_id: Annotated[str, typer.Argument(help="The request.")],
    reviewer: Annotated[str, typer.Option(help="Who denies.")],
    reason: Annotated[str, typer.Option(help="Why.")],
    db: DbOption = None,
) -> None:
    """Deny a request."""
    with _posture(db) as p:
        r = p.approvals.deny(request_id, reviewer, reason)
    out.print(f"{r.id}: {r.status.value}")


@app.command("scan-prompt")
def scan_prompt_cmd(
    text: Annotated[str | None, typer.Argument(help="A prompt to scan.")] = None,
    file: Annotated[
        Path | None,
        typer.Option("--file", help="JSONL with id and text fields, one prompt per line."),
    ] = None,
    threshold: Annotated[
        float, typer.Option(help="Exit 1 when a score reaches this (0 to 1).")
    ] = 0.5,
) -> None:
    """Score prompts for injection and jailbreak; print JSON (score 0-1 and label per input)."""
    from aiposture.monitor.detectors.injection import scan_prompt

    if (text is None) == (file is None):
        raise ConfigError("give a prompt or --file FILE (one of them)")
    if not 0 <= threshold <= 1:
        raise ConfigError(f"--threshold must be between 0 and 1, not {threshold}")
    inputs: list[tuple[str, str]] = []
    if text is not None:
        inputs.append(("0", text))
    else:
        assert file is not None
        try:
            lines = file.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot read {file}: {exc}") from None
        for n, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                inputs.append((str(row.get("id", n)), str(row["text"])))
            except (json.JSONDecodeError, KeyError, AttributeError):
                raise ConfigError(f"{file}:{n}: not a JSON object with a text field") from None
    results = []
    for rid, t in inputs:
        verdict = scan_prompt(t).as_dict()
        results.append({"id": rid, **verdict})
    sys.stdout.write(json.dumps({"results": results}, indent=2, ensure_ascii=False) + "\n")
    if any(r["score"] >= threshold for r in results):
        raise _Failed


@export_app.command("cyclonedx")
def export_cyclonedx(
    output: Annotated[
        Path, typer.Option("-o", "--output", help="File to write (use - for stdout).")
    ],
    include_stale: Annotated[bool, typer.Option(help="Include stale assets.")] = False,
    db: DbOption = None,
) -> None:
    """Write the inventory as a CycloneDX 1.6 JSON AI-BOM (validated against the schema)."""
    with _posture(db) as p:
        text = p.export_cyclonedx(include_stale=include_stale)
    if str(output) == "-":
        sys.stdout.write(text + "\n")
    else:
        output.write_text(text, encoding="utf-8")
        err.print(f"wrote {output}")


@audit_app.command("verify")
def audit_verify(db: DbOption = None) -> None:
    """Check the audit log's hash chain; exit 1 if it is broken."""
    with _posture(db) as p:
        report = p.verify_audit()
    out.print_json(report.model_dump_json())
    if not report.ok:
        raise _Failed


class LeakFormat(StrEnum):
    """Output format of ``leakage check``."""

    table = "table"
    json = "json"
    sarif = "sarif"


class LeakLevel(StrEnum):
    """Leak types, least to most severe, for ``--fail-on``."""

    paraphrase = "paraphrase"
    near_verbatim = "near-verbatim"
    verbatim = "verbatim"


_LEVELS = [LeakLevel.paraphrase, LeakLevel.near_verbatim, LeakLevel.verbatim]


@leakage_app.command("build")
def leakage_build(
    data: Annotated[
        list[Path],
        typer.Argument(help="Training data: JSONL, CSV, Parquet files or folders of text files."),
    ],
    index: Annotated[Path, typer.Option("--index", help="Folder to write the index to.")],
    id_field: Annotated[str, typer.Option(help="Name of the id field or column.")] = "id",
    text_field: Annotated[str, typer.Option(help="Name of the text field or column.")] = "text",
    dataset: Annotated[
        str | None, typer.Option(help="Dataset name for the inventory (default: file name).")
    ] = None,
    sensitivity: Annotated[
        str | None, typer.Option(help="public, internal, confidential or restricted.")
    ] = None,
    progress: Annotated[bool, typer.Option(help="Show progress bars on stderr.")] = True,
    db: DbOption = None,
) -> None:
    """Index training data so model outputs can be checked against it."""
    for d in data:
        if not d.exists():
            raise ConfigError(f"no such file or folder: {d}")
    with _posture(db) as p:
        idx = p.leakage.build(
            [str(d) for d in data],
            index,
            dataset=dataset,
            sensitivity=sensitivity,
            progress=progress,
            id_field=id_field,
            text_field=text_field,
        )
        counts = idx.manifest.get("counts", {})
    err.print(
        f"indexed {counts.get('records', '?')} records in {counts.get('chunks', '?')} chunks "
        f"-> {index}"
    )


@leakage_app.command("check")
def leakage_check(
    outputs: Annotated[
        list[Path],
        typer.Argument(help="Model outputs: JSONL/CSV/Parquet with id and text, or text files."),
    ],
    index: Annotated[Path, typer.Option("--index", help="Folder of the index to check against.")],
    fmt: Annotated[LeakFormat, typer.Option("--format", help="Output format.")] = LeakFormat.table,
    fail_on: Annotated[
        LeakLevel, typer.Option(help="Exit 1 when a leak of this type or worse is found.")
    ] = LeakLevel.paraphrase,
    model: Annotated[
        str | None,
        typer.Option(help="Model that wrote the outputs: leaks become findings on it."),
    ] = None,
    id_field: Annotated[str, typer.Option(help="Name of the id field or column.")] = "id",
    text_field: Annotated[str, typer.Option(help="Name of the text field or column.")] = "text",
    progress: Annotated[bool, typer.Option(help="Show a progress bar on stderr.")] = True,
    db: DbOption = None,
) -> None:
    """Check model outputs for training data; exit 1 on a leak at or above --fail-on."""
    from aiposture.embeddings.leakage import load_texts

    texts: dict[str, str] = {}
    for path in outputs:
        if not path.exists():
            raise ConfigError(f"no such file or folder: {path}")
        texts.update(load_texts(path, id_field=id_field, text_field=text_field))
    if model is not None:
        with _posture(db) as p:
            report = p.leakage.check(texts, index=index, model=model, progress=progress)
    else:
        from aiposture.embeddings.leakage import LeakageIndex

        report = LeakageIndex.load(index).check(texts, progress=progress)
    if fmt is LeakFormat.json:
        sys.stdout.write(json.dumps(report.to_dict(), indent=2, ensure_ascii=False) + "\n")
    elif fmt is LeakFormat.sarif:
        sys.stdout.write(json.dumps(report.to_sarif(), indent=2, ensure_ascii=False) + "\n")
    else:
        table = Table(title=f"{len(report.results)} output(s) checked", header_style="bold")
        for col in ("output", "leak", "score", "record", "output span", "record span"):
            table.add_column(col)
        for r in report.results:
            top = r.matches[0] if r.matches else None
            table.add_row(
                r.id,
                r.leak_type.value,
                f"{r.score:.2f}",
                top.record_id if top else "",
                str(list(top.output_span)) if top else "",
                str(list(top.record_span)) if top else "",
            )
        out.print(table)
    threshold = _LEVELS.index(fail_on)
    worst = [
        r for r in report.results if r.leak_type.value in {lv.value for lv in _LEVELS[threshold:]}
    ]
    if worst:
        err.print(f"{len(worst)} output(s) leak training data ({fail_on.value} or worse)")
        raise _Failed


class EventFormat(StrEnum):
    """Formats ``aiposture monitor`` reads."""

    jsonl = "jsonl"
    csv = "csv"
    otlp = "otlp"


@app.command("monitor")
def monitor_cmd(
    log: Annotated[
        Path | None, typer.Argument(help="A log (JSONL, CSV) or OTLP JSON trace file.")
    ] = None,
    format: Annotated[
        EventFormat | None,
        typer.Option("--format", help="Format of LOG or --follow (default: from the suffix)."),
    ] = None,
    follow: Annotated[
        Path | None, typer.Option("--follow", help="Follow a growing JSONL or CSV log.")
    ] = None,
    otlp_port: Annotated[
        int | None,
        typer.Option("--otlp-port", help="Receive OTLP/HTTP JSON traces on 127.0.0.1:PORT."),
    ] = None,
    mapping: Annotated[
        list[str] | None,
        typer.Option("--map", help="Field mapping FIELD=KEY (repeatable), e.g. principal=user."),
    ] = None,
    limit: Annotated[int | None, typer.Option(help="Stop after this many events.")] = None,
    fail_on: Annotated[
        FailOn | None,
        typer.Option("--fail-on", help="Exit 1 when an alert of this severity or worse opened."),
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
    db: DbOption = None,
) -> None:
    """Run the detectors over AI traffic, store the events and raise alerts.

    Batch mode reads LOG to its end; continuous mode (--follow, --otlp-port) runs until
    interrupted (Ctrl-C), printing throughput as it goes.
    """
    sources = [x for x in (log, follow, otlp_port) if x is not None]
    if len(sources) != 1:
        raise ConfigError("give exactly one source: LOG, --follow FILE or --otlp-port PORT")
    fields: dict[str, str] | None = None
    if mapping:
        fields = {}
        for item in mapping:
            key, sep, value = item.partition("=")
            if not sep or not key.strip() or not value.strip():
                raise ConfigError(f"--map {item!r} is not FIELD=KEY")
            fields[key.strip()] = value.strip()
    fmt = format.value if format is not None else None

    def report(run: MonitorRun) -> None:
        err.print(
            f"{run.events} events, {sum(run.detections.values())} detections, "
            f"{len(run.new_alerts)} new alerts, {run.events_per_second:.0f} events/s",
            highlight=False,
        )

    with _posture(db) as p:
        try:
            if log is not None:
                if not log.is_file():
                    raise ConfigError(f"no such log file: {log}")
                run = p.monitor.run(log, format=fmt, mapping=fields, limit=limit, progress=True)
            elif follow is not None:
                from aiposture.monitor.stream import follow as follow_file

                if fmt == "otlp":
                    raise ConfigError("--follow reads JSONL or CSV logs, not OTLP files")
                fmt = fmt or ("csv" if follow.suffix.lower() == ".csv" else "jsonl")
                events = follow_file(follow, format=fmt, mapping=fields)
                err.print(f"following {follow} (Ctrl-C to stop)", highlight=False)
                run = p.monitor.run(events, limit=limit, on_batch=report, max_wait=1.0)
            else:
                from aiposture.monitor.stream import OtlpReceiver

                assert otlp_port is not None
                with OtlpReceiver(port=otlp_port) as rx:
                    err.print(f"receiving OTLP/HTTP JSON on {rx.url} (Ctrl-C to stop)")
                    run = p.monitor.run(rx.events(), limit=limit, on_batch=report, max_wait=1.0)
        except KeyboardInterrupt:
            err.print("stopped", highlight=False)
            run = None
        new_ids = set(run.new_alerts) if run is not None else set()
        opened = [a for a in p.alerts if a.id in new_ids]
    if run is None:
        return
    summary = run.as_dict()
    if json_out:
        summary["alerts"] = [a.model_dump(mode="json") for a in opened]
        sys.stdout.write(json.dumps(summary, indent=2, default=str) + "\n")
    else:
        report(run)
        if run.skipped:
            err.print(f"skipped records: {run.skipped}", highlight=False)
        _alerts_table(opened)
    if fail_on is not None:
        rank = Severity(fail_on.value).rank
        if any(a.severity.rank >= rank for a in opened):
            raise _Failed


def _alerts_table(alerts: Sequence[Alert]) -> None:
    table = Table(title=f"{len(alerts)} alert(s)", header_style="bold")
    for col in ("severity", "status", "detector", "title", "principal", "model", "count", "id"):
        table.add_column(col)
    for a in alerts:
        table.add_row(
            a.severity.value,
            a.status.value,
            a.detector,
            a.title,
            a.principal or "",
            a.model or "",
            str(a.count),
            a.id,
        )
    out.print(table)


@alerts_app.command("list")
def alerts_list(
    status: Annotated[
        list[str] | None, typer.Option(help="Only these statuses (repeatable).")
    ] = None,
    severity: Annotated[FailOn | None, typer.Option(help="Only this severity or worse.")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    db: DbOption = None,
) -> None:
    """List alerts: live first, then the most severe, then the most recent."""
    with _posture(db) as p:
        alerts = p.alerts
    if status:
        allowed = {s.value for s in AlertStatus}
        bad = [s for s in status if s not in allowed]
        if bad:
            raise ConfigError(f"unknown alert status {bad[0]!r}; use {', '.join(sorted(allowed))}")
        alerts = alerts.filter(status=list(status))
    if severity is not None:
        alerts = alerts.at_least(severity.value)
    if json_out:
        sys.stdout.write(json.dumps(alerts.to_list(), indent=2) + "\n")
    else:
        _alerts_table(list(alerts))


def _triage(alert_id: str, status: AlertStatus, reason: str | None, db: str | None) -> None:
    with _posture(db) as p:
        a = p.set_alert_status(alert_id, status.value, reason=reason)
    out.print(f"{a.id}: {a.status.value} by {a.status_by}")


@alerts_app.command("ack")
def alerts_ack(
    alert_id: Annotated[str, typer.Argument(help="The alert.")],
    reason: Annotated[str | None, typer.Option(help="Why.")] = None,
    db: DbOption = None,
) -> None:
    """Acknowledge an alert (someone is on it)."""
    _triage(alert_id, AlertStatus.ACKNOWLEDGED, reason, db)


@alerts_app.command("resolve")
def alerts_resolve(
    alert_id: Annotated[str, typer.Argument(help="The alert.")],
    reason: Annotated[str | None, typer.Option(help="Why.")] = None,
    db: DbOption = None,
) -> None:
    """Resolve an alert (a new detection opens a new alert)."""
    _triage(alert_id, AlertStatus.RESOLVED, reason, db)


@alerts_app.command("false-positive")
def alerts_false_positive(
    alert_id: Annotated[str, typer.Argument(help="The alert.")],
    reason: Annotated[str, typer.Option(help="Why it is not an attack (required).")],
    db: DbOption = None,
) -> None:
    """Mark an alert a false positive (repeats within its window are folded into it)."""
    _triage(alert_id, AlertStatus.FALSE_POSITIVE, reason, db)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit code (see the module docstring)."""
    try:
        app(args=argv, standalone_mode=False)
    except _Failed:
        return 1
    except (ScanError, ConfigError, NotFoundError, LeakageIndexError, ValueError) as exc:
        err.print(f"[red]error:[/red] {exc}", markup=True, highlight=False)
        return 2
    except AIPostureError as exc:
        err.print(f"[red]error:[/red] {exc}", markup=True, highlight=False)
        # a refused request (policy or approval) is the caller's, not aiposture's, failure
        refused = {"PolicyViolation", "ApprovalError"}
        return 1 if type(exc).__name__ in refused else 3
    except typer.Exit as exc:
        return int(getattr(exc, "exit_code", 0))
    except typer.Abort:
        return 130
    except typer.TyperException as exc:  # usage errors from the option parser
        show = getattr(exc, "show", None)
        if callable(show):
            show()
        else:
            err.print(f"error: {exc}", highlight=False)
        return int(getattr(exc, "exit_code", 2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
