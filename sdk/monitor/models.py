"""The monitoring domain model: interaction events and detections."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from aiposture.models import Severity, utcnow

__all__ = ["Alert", "AlertStatus", "Detection", "Event", "Span", "ToolCall"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")

    def _repr_html_(self) -> str:
        from aiposture import display

        return display.html(self)


class ToolCall(_Model):
    """A tool the model called during the interaction, and what came back."""

    name: str
    arguments: str = ""
    result: str = ""


class Event(_Model):
    """One interaction with a model: who asked what, and what came back.

    ``retrieved`` holds documents a RAG pipeline put into the context (where indirect
    prompt injection hides); ``system`` the system prompt, when known.
    """

    id: str
    at: datetime = Field(default_factory=utcnow)
    principal: str | None = None
    application: str | None = None
    model: str | None = Field(default=None, description="Model name as the caller gave it.")
    asset_id: str | None = Field(default=None, description="The inventory asset, once linked.")
    system: str | None = None
    prompt: str = ""
    response: str = ""
    retrieved: list[str] = Field(default_factory=list)
    tool_calls: list[ToolCall] = Field(default_factory=list)
    input_tokens: int | None = Field(default=None, ge=0)
    output_tokens: int | None = Field(default=None, ge=0)
    latency_ms: float | None = Field(default=None, ge=0)
    error: str | None = None
    source: str = Field(default="sdk", description="guard, langchain, otlp, jsonl, csv...")
    attributes: dict[str, Any] = Field(default_factory=dict)

    def texts(self) -> list[str]:
        """The texts detectors look at, in a fixed order: prompt, response, retrieved..."""
        return [self.prompt, self.response, *self.retrieved, *(t.result for t in self.tool_calls)]


class Span(_Model):
    """Where in a text a detection was found (character offsets)."""

    field: str = Field(description="prompt, response, retrieved[i], tool_calls[i], system")
    start: int = Field(ge=0)
    end: int = Field(ge=0)
    label: str = ""


class Detection(_Model):
    """One thing a detector found in one event."""

    detector: str
    event_id: str
    score: float = Field(ge=0, le=1)
    severity: Severity
    title: str
    evidence: list[str] = Field(default_factory=list, description="Why, in words (redacted).")
    spans: list[Span] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
    figures: dict[str, float] = Field(
        default_factory=dict, description="Numbers behind the verdict (p-values, rates...)."
    )
    scope: Literal["event", "model"] = Field(
        default="event",
        description="What it is about: this event and its principal, or the model as a "
        "whole (drift), which its alert then groups without a principal.",
    )


class AlertStatus(StrEnum):
    """Where an alert stands in triage."""

    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"
    FALSE_POSITIVE = "false_positive"


class Alert(_Model):
    """Detections of one detector for one principal and model, grouped in a time window.

    ``count`` detections were folded into it between ``first_seen`` and ``last_seen``
    (event times); ``event_ids`` keeps the most recent ones. ``severity`` is the
    detector's, raised one level when the model's asset is at high or critical risk.
    """

    id: str
    group_key: str
    detector: str
    title: str
    severity: Severity
    score: float = Field(ge=0, le=1, description="Highest detection score in the alert.")
    status: AlertStatus = AlertStatus.OPEN
    principal: str | None = None
    application: str | None = None
    model: str | None = None
    asset_id: str | None = None
    first_seen: datetime
    last_seen: datetime
    count: int = Field(default=1, ge=1)
    event_ids: list[str] = Field(default_factory=list)
    evidence: list[str] = Field(default_factory=list)
    figures: dict[str, float] = Field(default_factory=dict)
    tags: list[str] = Field(default_factory=list)
    finding_ids: list[str] = Field(default_factory=list)
    status_by: str | None = None
    status_at: datetime | None = None
    status_reason: str | None = None

    def _repr_html_(self) -> str:
        from aiposture.monitor.alerts import alert_html

        return alert_html(self)
