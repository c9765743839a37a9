"""The Approvals panel: the pending queue, a request's detail, approve and deny.

Separation of duties is the SDK's: :meth:`ApprovalService.review_problem` says whether
the reviewer may decide a request now, and the panel disables both buttons and shows
the reason when they may not. :meth:`ApprovalService.approve` and
:meth:`ApprovalService.deny` check again (and audit a refusal), and the panel shows
their message. Requesters, resources and justifications are untrusted text and are
escaped before they reach an ``HTML`` widget.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from aiposture.errors import AIPostureError
from aiposture.policy.approvals import ApprovalRequest
from aiposture.tables import Column, Table
from aiposture.widgets._base import STYLE, VBox, add_classes, escape, html_widget, ipywidgets
from aiposture.widgets.table import PagedTable

if TYPE_CHECKING:
    from aiposture.policy.approvals import ApprovalService
    from aiposture.posture import Posture

__all__ = ["ApprovalsPanel"]

W = ipywidgets()


def _columns(names: Mapping[str, str]) -> list[Column[ApprovalRequest]]:
    return [
        Column("id", "Request", lambda r: r.id, width="150px"),
        Column("action", "Action", lambda r: r.action, width="90px", filterable=True),
        Column("resource", "Resource", lambda r: names.get(r.resource, r.resource), width="200px"),
        Column("requester", "Requester", lambda r: r.requester, width="140px", filterable=True),
        Column("created_at", "Requested", lambda r: r.created_at, width="150px"),
        Column("expires_at", "Expires", lambda r: r.expires_at, width="150px"),
    ]


def _when(value: Any) -> str:
    return escape(f"{value:%Y-%m-%d %H:%M:%S %Z}".strip()) if value is not None else ""


def request_html(req: ApprovalRequest, resource_name: str | None = None) -> str:
    """One request as escaped HTML: who asks what, why, until when, and the votes so far."""
    resource = f"<code>{escape(req.resource)}</code>"
    if resource_name is not None and resource_name != req.resource:
        resource = f"{escape(resource_name)} <span class='k'>({resource})</span>"
    rows = [
        ("request", f"<code>{escape(req.id)}</code>"),
        ("status", escape(req.status.value)),
        ("requester", f"{escape(req.requester)} <span class='k'>"
         f"({escape(req.requester_type.value)})</span>"),
        ("action", escape(req.action)),
        ("resource", resource),
        ("justification", escape(req.justification)),
        ("requested", _when(req.created_at)),
        ("expires", _when(req.expires_at)),
        ("approvals", f"{len(req.approvals)} of {req.required_approvals}"),
    ]  # fmt: skip
    if req.required_group:
        rows.append(("reviewer group", escape(req.required_group)))
    for vote in req.approvals:
        rows.append(("approved by", f"{escape(vote.reviewer)}: {escape(vote.reason)}"))
    if req.denial is not None:
        rows.append(("denied by", f"{escape(req.denial.reviewer)}: {escape(req.denial.reason)}"))
    body = "".join(f"<tr><th class='k'>{k}</th><td>{v}</td></tr>" for k, v in rows)
    return f"{STYLE}<table>{body}</table>"


class ApprovalsPanel(VBox):  # type: ignore[misc]
    """The pending approval requests, with approve and deny for one reviewer.

    Args:
        source: The posture whose approval workflow is shown (it needs a policy folder),
            or its :class:`~aiposture.policy.approvals.ApprovalService`.
        reviewer: Who decides (default: the posture's or the service's actor).
        page_size: Requests per page of the queue.

    Attributes:
        queue: The :class:`~aiposture.widgets.table.PagedTable` of pending requests.
        detail: ``HTML`` of the selected request.
        reason: The reviewer's reason (``Text``).
        approve_button, deny_button: The decisions.
        message: ``HTML`` saying what happened or why a decision is not possible.
        selected: The request shown in the detail, if any.
    """

    def __init__(
        self,
        source: Posture | ApprovalService,
        reviewer: str | None = None,
        *,
        page_size: int = 15,
    ) -> None:
        super().__init__()
        self._source = source
        actor = source.actor
        if not (reviewer or actor):
            raise ValueError("ApprovalsPanel needs a reviewer")
        self.reviewer: str = reviewer or actor or ""
        self.selected: ApprovalRequest | None = None
        self.problem: str | None = None
        self.who = html_widget(
            f"{STYLE}<span class='k'>reviewing as</span> <b>{escape(self.reviewer)}</b>",
            "aiposture-approval-reviewer",
        )
        self.refresh_button = add_classes(
            W.Button(description="Refresh", icon="refresh", layout=W.Layout(width="110px")),
            "aiposture-refresh",
        )
        self.refresh_button.on_click(lambda _b: self.refresh())
        #: Asset names of the requests' resources, by id (filled as requests are read).
        self._names: dict[str, str] = {}
        self.queue = PagedTable(
            Table([], _columns(self._names)),
            page_size=page_size,
            on_open=self.select,
            css="aiposture-approval-queue",
        )
        self.detail = html_widget("", "aiposture-approval-detail")
        self.reason = add_classes(
            W.Text(placeholder="reason for the decision", layout=W.Layout(width="50%")),
            "aiposture-approval-reason",
        )
        self.approve_button = add_classes(
            W.Button(description="Approve", button_style="success", icon="check"),
            "aiposture-approve",
        )
        self.deny_button = add_classes(
            W.Button(description="Deny", button_style="danger", icon="times"), "aiposture-deny"
        )
        self.approve_button.on_click(lambda _b: self.decide(approve=True))
        self.deny_button.on_click(lambda _b: self.decide(approve=False))
        self.message = html_widget("", "aiposture-approval-message")
        self.children = [
            W.HBox([self.who, self.refresh_button]),
            self.queue,
            self.detail,
            W.HBox([self.reason, self.approve_button, self.deny_button]),
            self.message,
        ]
        add_classes(self, "aiposture-approvals")
        self._enable(False)
        self.refresh()

    # -- helpers ------------------------------------------------------------------------
    def _service(self) -> ApprovalService:
        from aiposture.policy.approvals import ApprovalService

        src = self._source
        return src if isinstance(src, ApprovalService) else src.approvals

    def _resource_names(self, ids: Iterable[str]) -> dict[str, str]:
        """Asset names of the resources (only with a posture; ids stay ids otherwise)."""
        from aiposture.posture import Posture

        if not isinstance(self._source, Posture):
            return {}
        found: dict[str, str] = {}
        for rid in set(ids) - set(self._names):
            try:
                found[rid] = self._source.asset(rid).name
            except AIPostureError:
                continue
        return found

    def _say(self, text: str, *, error: bool = False) -> None:
        style = "color:#e53935" if error else "opacity:.85"
        self.message.value = f"<span style='{style}'>{escape(text)}</span>" if text else ""

    def _enable(self, enabled: bool) -> None:
        self.approve_button.disabled = not enabled
        self.deny_button.disabled = not enabled

    # -- actions ------------------------------------------------------------------------
    def refresh(self) -> None:
        """Reload the pending queue from the store (keeping search, filters and sort)."""
        try:
            pending = self._service().list("pending")
        except AIPostureError as exc:
            self.queue.set_items([])
            self._say(f"approvals are not available: {exc}", error=True)
            return
        self._names.update(self._resource_names(r.resource for r in pending))
        self.queue.set_items(pending)
        if self.selected is not None and not any(r.id == self.selected.id for r in pending):
            self._enable(False)

    def select(self, request: ApprovalRequest | str) -> None:
        """Show a request and enable the decisions if the reviewer may decide it now.

        Args:
            request: The request or its id.
        """
        rid = request if isinstance(request, str) else request.id
        try:
            req = self._service().get(rid)
            self.problem = self._service().review_problem(rid, self.reviewer)
        except AIPostureError as exc:
            self.selected, self.problem = None, str(exc)
            self.detail.value = ""
            self._enable(False)
            self._say(str(exc), error=True)
            return
        self.selected = req
        self._names.update(self._resource_names([req.resource]))
        self.detail.value = request_html(req, self._names.get(req.resource))
        if self.problem is None:
            self._enable(True)
            self._say("")
        else:
            self._enable(False)
            self._say(f"{self.reviewer} cannot decide this request: {self.problem}", error=True)

    def decide(self, *, approve: bool) -> ApprovalRequest | None:
        """Approve or deny the selected request with the reason typed, as the reviewer.

        The SDK decides: a refusal (separation of duties, a missing reason, expiry...) is
        shown as its message. After a decision the queue is reloaded.

        Returns:
            The request after the decision, or ``None`` when none was made.
        """
        if self.selected is None:
            self._say("select a request first", error=True)
            return None
        service = self._service()
        rid = self.selected.id
        try:
            if approve:
                req = service.approve(rid, self.reviewer, self.reason.value)
            else:
                req = service.deny(rid, self.reviewer, self.reason.value)
        except (AIPostureError, ValueError) as exc:
            self._say(str(exc), error=True)
            return None
        verb = "approved" if approve else "denied"
        self.selected = req
        self.detail.value = request_html(req)
        self.reason.value = ""
        self._enable(False)
        self.refresh()
        self._say(f"{self.reviewer} {verb} {rid}: it is now {req.status.value}")
        return req
