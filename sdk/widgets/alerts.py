"""The Alerts panel: a feed of monitoring alerts, their detail, and triage buttons.

The feed is ``posture.alerts`` in the SDK's order (live first, then the most severe,
then the most recent), filterable by status, severity and detector. Selecting an
alert shows the SDK's alert HTML (escaped there) and a few of its events (escaped
here); the buttons call ``posture.set_alert_status``. The *live* checkbox reloads
the feed every few seconds in a daemon thread until it is unchecked or the panel
is closed.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from aiposture.errors import AIPostureError
from aiposture.models import Severity
from aiposture.monitor.alerts import alert_html
from aiposture.monitor.models import Alert
from aiposture.tables import Column, Table
from aiposture.widgets._base import (
    STYLE,
    VBox,
    add_classes,
    escape,
    html_widget,
    ipywidgets,
    level_column,
)
from aiposture.widgets.table import PagedTable

if TYPE_CHECKING:
    from aiposture.monitor.models import Detection, Event
    from aiposture.posture import Posture

__all__ = ["AlertsPanel", "events_html"]

W = ipywidgets()

#: Events shown under an alert's detail.
EVENTS_SHOWN = 5
#: Characters of an event's prompt or response shown.
TEXT_SHOWN = 300


def _columns() -> list[Column[Alert]]:
    return [
        Column("title", "Alert", lambda a: a.title, width="260px"),
        level_column("severity", "Severity", lambda a: a.severity, levels=Severity),
        Column("status", "Status", lambda a: a.status, width="110px", filterable=True),
        Column("detector", "Detector", lambda a: a.detector, width="150px", filterable=True),
        Column("principal", "Principal", lambda a: a.principal, width="130px"),
        Column("model", "Model", lambda a: a.model, width="120px"),
        Column("count", "Count", lambda a: a.count, width="60px", searchable=False),
        Column("last_seen", "Last seen", lambda a: a.last_seen, width="150px", searchable=False),
    ]


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= TEXT_SHOWN else text[:TEXT_SHOWN] + " …"


def events_html(pairs: list[tuple[Event, list[Detection]]]) -> str:
    """A few stored events of an alert as escaped HTML: when, who, the texts, what fired."""
    if not pairs:
        return f"{STYLE}<div class='k'>No stored event for this alert (pruned or not kept).</div>"
    rows = []
    for event, found in pairs[:EVENTS_SHOWN]:
        fired = ", ".join(sorted({d.detector for d in found}))
        rows.append(
            f"<tr><td>{escape(f'{event.at:%Y-%m-%d %H:%M:%S}')}</td>"
            f"<td>{escape(event.principal or '')}</td><td>{escape(event.model or '')}</td>"
            f"<td><b class='k'>prompt</b> {escape(_short(event.prompt))}<br>"
            f"<b class='k'>response</b> {escape(_short(event.response))}</td>"
            f"<td>{escape(fired)}</td></tr>"
        )
    more = len(pairs) - EVENTS_SHOWN
    extra = f"<div class='k'>+{more} more events</div>" if more > 0 else ""
    return (
        f"{STYLE}<b>Events</b><table><tr><th>at</th><th>principal</th><th>model</th>"
        f"<th>texts</th><th>detectors</th></tr>{''.join(rows)}</table>{extra}"
    )


class AlertsPanel(VBox):  # type: ignore[misc]
    """Monitoring alerts: a filterable feed, one alert's detail and events, and triage.

    Args:
        posture: The posture whose monitor holds the alerts.
        poll_seconds: How often the *live* checkbox reloads the feed.
        live: Start polling at once (off by default; tests leave it off).
        page_size: Alerts per page of the feed.

    Attributes:
        feed: The :class:`~aiposture.widgets.table.PagedTable` of alerts.
        detail: ``HTML`` of the selected alert (the SDK's escaped alert HTML).
        events: ``HTML`` of a few of its events.
        reason: The triage reason (``Text``); a false positive needs one.
        ack_button, resolve_button, fp_button: Triage.
        refresh_button: Reload the feed.
        live: ``Checkbox`` that turns polling on and off.
        message: ``HTML`` saying what happened, or the SDK's refusal.
        selected: The alert shown, if any.
    """

    def __init__(
        self,
        posture: Posture,
        *,
        poll_seconds: float = 10.0,
        live: bool = False,
        page_size: int = 15,
    ) -> None:
        super().__init__()
        if poll_seconds <= 0:
            raise ValueError("poll_seconds must be positive")
        self.posture = posture
        self.poll_seconds = poll_seconds
        self.selected: Alert | None = None
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.feed = PagedTable(
            Table([], _columns()),
            page_size=page_size,
            on_open=self.select,
            css="aiposture-alert-feed",
        )
        self.detail = html_widget("", "aiposture-alert-detail")
        self.events = html_widget("", "aiposture-alert-events")
        self.reason = add_classes(
            W.Text(
                placeholder="reason (needed for a false positive)", layout=W.Layout(width="40%")
            ),
            "aiposture-alert-reason",
        )
        self.ack_button = add_classes(
            W.Button(description="Acknowledge", icon="eye"), "aiposture-alert-ack"
        )
        self.resolve_button = add_classes(
            W.Button(description="Resolve", button_style="success", icon="check"),
            "aiposture-alert-resolve",
        )
        self.fp_button = add_classes(
            W.Button(description="False positive", button_style="warning", icon="ban"),
            "aiposture-alert-fp",
        )
        self.ack_button.on_click(lambda _b: self.set_status("acknowledged"))
        self.resolve_button.on_click(lambda _b: self.set_status("resolved"))
        self.fp_button.on_click(lambda _b: self.set_status("false_positive"))
        self.refresh_button = add_classes(
            W.Button(description="Refresh", icon="refresh", layout=W.Layout(width="110px")),
            "aiposture-refresh",
        )
        self.refresh_button.on_click(lambda _b: self.refresh())
        self.live = add_classes(
            W.Checkbox(value=False, description=f"live (every {poll_seconds:g} s)", indent=False),
            "aiposture-alert-live",
        )
        self.live.observe(self._on_live, names="value")
        self.message = html_widget("", "aiposture-alert-message")
        self.children = [
            W.HBox([self.refresh_button, self.live]),
            self.feed,
            self.detail,
            self.events,
            W.HBox([self.reason, self.ack_button, self.resolve_button, self.fp_button]),
            self.message,
        ]
        add_classes(self, "aiposture-alerts")
        self._enable(False)
        self.refresh()
        if live:
            self.live.value = True

    # -- helpers ------------------------------------------------------------------------
    def _say(self, text: str, *, error: bool = False) -> None:
        style = "color:#e53935" if error else "opacity:.85"
        self.message.value = f"<span style='{style}'>{escape(text)}</span>" if text else ""

    def _enable(self, enabled: bool) -> None:
        for button in (self.ack_button, self.resolve_button, self.fp_button):
            button.disabled = not enabled

    # -- actions ------------------------------------------------------------------------
    def refresh(self) -> None:
        """Reload the feed (keeping search, filters and sort) and the selected alert."""
        with self._lock:
            try:
                alerts = list(self.posture.alerts)
            except AIPostureError as exc:
                self._say(f"cannot read the alerts: {exc}", error=True)
                return
            self.feed.set_items(alerts)
            if self.selected is not None:
                current = next((a for a in alerts if a.id == self.selected.id), None)
                if current is not None and current != self.selected:
                    self._show(current)

    def select(self, alert: Alert | str) -> None:
        """Show an alert's detail and a few of its events.

        Args:
            alert: The alert or its id.
        """
        alert_id = alert if isinstance(alert, str) else alert.id
        with self._lock:
            try:
                found = self.posture.monitor.alert(alert_id)
            except AIPostureError as exc:
                self.selected = None
                self.detail.value = self.events.value = ""
                self._enable(False)
                self._say(str(exc), error=True)
                return
            self._show(found)
            self._say("")

    def _show(self, alert: Alert) -> None:
        self.selected = alert
        self.detail.value = alert_html(alert)
        try:
            pairs = self.posture.monitor.events(alert=alert.id, limit=EVENTS_SHOWN + 1)
        except AIPostureError as exc:
            self.events.value = f"{STYLE}<div class='k'>{escape(f'no events: {exc}')}</div>"
        else:
            self.events.value = events_html(pairs)
        self._enable(True)

    def set_status(self, status: str) -> Alert | None:
        """Triage the selected alert (``acknowledged``, ``resolved``, ``false_positive``)
        with the reason typed; the SDK's refusal is shown as its message.

        Returns:
            The alert after triage, or ``None`` when nothing changed.
        """
        with self._lock:
            if self.selected is None:
                self._say("select an alert first", error=True)
                return None
            reason = self.reason.value.strip() or None
            try:
                alert = self.posture.set_alert_status(self.selected.id, status, reason=reason)
            except (AIPostureError, ValueError) as exc:
                self._say(str(exc), error=True)
                return None
            self.reason.value = ""
            self._show(alert)
            self.refresh()
            self._say(f"{alert.id} is now {alert.status.value.replace('_', ' ')}")
            return alert

    # -- live polling -------------------------------------------------------------------
    @property
    def polling(self) -> bool:
        """Whether the live thread is running."""
        return self._thread is not None and self._thread.is_alive()

    def _on_live(self, change: dict[str, Any]) -> None:
        if change.get("new"):
            self._start()
        else:
            self._halt()

    def _start(self) -> None:
        if self.polling:
            return
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._poll, args=(self._stop,), name="aiposture-alerts-live", daemon=True
        )
        self._thread.start()

    def _halt(self) -> None:
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=max(1.0, self.poll_seconds))

    def _poll(self, stop: threading.Event) -> None:
        while not stop.wait(self.poll_seconds):
            try:
                self.refresh()
            except Exception as exc:  # a failed poll must not end the thread
                self._say(f"live refresh failed: {exc}", error=True)

    def close(self) -> None:
        """Stop polling, then close the widget."""
        self._halt()
        if self.live.value:
            self.live.value = False
        super().close()
