"""Enforcement in the call path: access, rate limits and content checks around a model call.

::

    with posture.guard(principal="ann", model="gpt-4o-mini") as g:
        prompt = g.before(prompt)          # access, rate limit, prompt scan
        reply = client.chat(prompt)        # the caller's own model call
        reply = g.after(reply)             # secrets and training-data leakage

    @posture.guard(principal="svc-bot", model="gpt-4o-mini")
    def answer(prompt: str) -> str: ...    # the same checks around every call

Before the call: the principal must be allowed to ``query`` the model (Cedar policy
over the inventory), every rate limit of the policy that covers the principal and the
model must admit the call (buckets shared through the store), and the prompt must not
carry a secret. After it: the output must not carry a secret nor leak training data
(when a leakage index is given). A violation raises :class:`PolicyViolation` with the
decision, or, with ``on_violation="redact"``, content findings are masked and the call
goes on (access and rate-limit denials always raise). Every decision is a
:class:`GuardEvent`, kept on the guard and passed to ``sink``. With a ``recorder``
(``posture.guard`` passes ``posture.monitor.record``), every call is also one
monitoring :class:`~aiposture.monitor.models.Event` — prompt, output, latency, and the
denial when there was one — so the detectors and alerts see guarded traffic. A failing
recorder is logged and never breaks the call (monitoring fails open; the guard's own
checks do not).
"""

from __future__ import annotations

import functools
import logging
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Literal, ParamSpec, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from aiposture.models import utcnow
from aiposture.monitor.models import Event
from aiposture.policy.models import Decision, PolicyViolation, Principal, RateLimitRule
from aiposture.policy.ratelimit import RateLimit, RateLimiter

if TYPE_CHECKING:
    from aiposture.embeddings.leakage import LeakageIndex
    from aiposture.policy.engine import PolicyEngine

__all__ = ["Guard", "GuardEvent", "OnViolation"]

_log = logging.getLogger(__name__)

OnViolation = Literal["raise", "redact"]
_P = ParamSpec("_P")
_R = TypeVar("_R")


class GuardEvent(BaseModel):
    """One decision the guard took, for monitoring."""

    model_config = ConfigDict(frozen=True)

    at: datetime = Field(default_factory=utcnow)
    principal: str
    model: str
    stage: Literal["access", "rate_limit", "prompt", "output"]
    allowed: bool
    action: Literal["allow", "deny", "redact"]
    reasons: tuple[str, ...] = ()
    decided_by: tuple[str, ...] = ()
    seconds: float = 0.0

    def _repr_html_(self) -> str:
        from aiposture import display

        return display.html(self)


class Guard:
    """Checks around one principal's calls to one model (see the module).

    Args:
        principal: Who calls.
        model: The model (asset id or unique name in the inventory).
        engine: Access decisions; None skips the access check.
        limiter: Shared rate limiter; None skips rate limits.
        rate_rules: The policy's rate limits (those covering the principal and model apply).
        leakage: A leakage index to check outputs against.
        on_violation: ``raise`` (default) or ``redact`` for content findings.
        sink: Called with every :class:`GuardEvent`.
        recorder: Called with one monitoring event per call (prompt and output).
        prompt_checks: Detectors run on every prompt (prompt injection, exfiltration...):
            each returns the reasons it objects, or nothing; any reason denies the call.
    """

    def __init__(
        self,
        principal: Principal,
        model: str,
        *,
        engine: PolicyEngine | None = None,
        limiter: RateLimiter | None = None,
        rate_rules: Sequence[RateLimitRule] = (),
        leakage: LeakageIndex | None = None,
        on_violation: OnViolation = "raise",
        sink: Callable[[GuardEvent], None] | None = None,
        prompt_checks: Sequence[Callable[[str], Sequence[str]]] = (),
        recorder: Callable[[Event], object] | None = None,
    ) -> None:
        if on_violation not in ("raise", "redact"):
            raise ValueError(f"on_violation must be 'raise' or 'redact', not {on_violation!r}")
        self.principal = principal
        self.model = model
        self.engine = engine
        self.limiter = limiter
        self.rate_rules = [r for r in rate_rules if r.applies_to(principal, model)]
        self.leakage = leakage
        self.on_violation = on_violation
        self.sink = sink
        self.prompt_checks = list(prompt_checks)
        self.recorder = recorder
        self.events: list[GuardEvent] = []
        self._local = threading.local()  # the prompt of the call in flight, per thread

    # --- the checks -------------------------------------------------------------------------

    def before(self, prompt: str, *, tokens: int = 0) -> str:
        """Check access, rate limits and the prompt; return the prompt to send.

        Args:
            prompt: The prompt.
            tokens: LLM tokens the call will use (for token limits; 0 when unknown).

        Raises:
            PolicyViolation: Access denied, a rate limit reached, or a secret in the
                prompt (unless redacting).
        """
        self._local.pending = (prompt, time.perf_counter())
        try:
            return self._before(prompt, tokens)
        except PolicyViolation as exc:
            self._record("", f"denied: {'; '.join(exc.decision.reasons)}")
            raise

    def _before(self, prompt: str, tokens: int) -> str:
        t0 = time.perf_counter()
        if self.engine is not None:
            decision = self.engine.check(self.principal, "query", self.model)
            self._event("access", decision.allowed, decision.reasons, decision.decided_by, t0)
            if not decision.allowed:
                raise PolicyViolation(decision)
        if self.limiter is not None:
            for rule in self.rate_rules:
                t1 = time.perf_counter()
                limit = _limit(rule)
                got = self.limiter.acquire(
                    f"{rule.id}|{self.principal.id}|{self.model}",
                    limit,
                    tokens=tokens if limit.tokens is not None else 0,
                )
                why = (
                    f"rate limit {rule.id}: {rule.requests or '-'} requests / "
                    f"{rule.tokens or '-'} tokens per {rule.window} s"
                    + ("" if got.allowed else f"; retry after {got.retry_after_s} s"),
                )
                self._event("rate_limit", got.allowed, why, (rule.id,), t1)
                if not got.allowed:
                    raise PolicyViolation(self._deny(why, (rule.id,)))
        t2 = time.perf_counter()
        objections = tuple(reason for check in self.prompt_checks for reason in check(prompt))
        if objections:
            self._event("prompt", False, objections, ("prompt-checks",), t2)
            raise PolicyViolation(self._deny(objections, ("prompt-checks",)))
        return self._content("prompt", prompt, t0)

    def after(self, output: str) -> str:
        """Check a model's output for secrets and training-data leakage; return it.

        Raises:
            PolicyViolation: A secret or a leak (unless redacting).
        """
        try:
            checked = self._after(output)
        except PolicyViolation as exc:
            self._record(output, f"blocked: {'; '.join(exc.decision.reasons)}")
            raise
        self._record(output, None)
        return checked

    def _after(self, output: str) -> str:
        t0 = time.perf_counter()
        text = self._content("output", output, t0)
        if self.leakage is None:
            return text
        report = self.leakage.check([text], progress=False)
        result = report.results[0]
        if result.leak_type.value == "none":
            return text
        why = (
            f"{result.leak_type.value} leak of training record "
            f"{result.matches[0].record_id if result.matches else '?'}",
        )
        if self.on_violation == "raise":
            self._event("output", False, why, ("leakage",), t0)
            raise PolicyViolation(self._deny(why, ("leakage",)))
        self._event("output", True, why, ("leakage",), t0, action="redact")
        masked = list(text)
        for m in result.matches:
            start, end = m.output_span
            masked[start:end] = "█" * (end - start)
        return "".join(masked)

    # --- use as a context manager or a decorator ---------------------------------------------

    def __enter__(self) -> Guard:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def __call__(self, fn: Callable[_P, _R]) -> Callable[_P, _R]:
        """Wrap ``fn(prompt, ...) -> str``: its first argument is checked before, its
        result after."""

        @functools.wraps(fn)
        def wrapped(*args: _P.args, **kwargs: _P.kwargs) -> _R:
            if not args or not isinstance(args[0], str):
                raise TypeError("a guarded function takes the prompt as its first argument")
            checked = self.before(args[0])
            result = fn(*((checked, *args[1:])), **kwargs)  # type: ignore[arg-type]
            if isinstance(result, str):
                return self.after(result)  # type: ignore[return-value]
            return result

        return wrapped

    # --- helpers ------------------------------------------------------------------------------

    def _record(self, response: str, error: str | None) -> None:
        """Hand the call to the recorder as one monitoring event (never raises)."""
        if self.recorder is None:
            return
        prompt, started = getattr(self._local, "pending", ("", None))
        self._local.pending = ("", None)
        latency = (time.perf_counter() - started) * 1000 if started is not None else None
        try:
            self.recorder(
                Event(
                    id=f"guard-{uuid.uuid4().hex}",
                    principal=self.principal.id,
                    model=self.model,
                    prompt=prompt,
                    response=response,
                    latency_ms=latency,
                    error=error,
                    source="guard",
                )
            )
        except Exception:  # monitoring fails open: the call path must go on
            _log.exception("aiposture: recording a guarded call for monitoring failed")

    def _content(self, stage: Literal["prompt", "output"], text: str, t0: float) -> str:
        from aiposture.discovery.secrets import find_secrets

        hits = find_secrets(text)
        if not hits:
            self._event(stage, True, (), (), t0)
            return text
        why = tuple(f"{h.secret_type} on line {h.line}" for h in hits)
        if self.on_violation == "raise":
            self._event(stage, False, why, ("secrets",), t0)
            raise PolicyViolation(self._deny(why, ("secrets",)))
        lines = text.split("\n")
        for h in hits:
            if 0 < h.line <= len(lines):
                lines[h.line - 1] = h.redacted
        self._event(stage, True, why, ("secrets",), t0, action="redact")
        return "\n".join(lines)

    def _deny(self, reasons: tuple[str, ...], by: tuple[str, ...]) -> Decision:
        return Decision(
            allowed=False,
            principal=self.principal.id,
            action="query",
            resource=self.model,
            decided_by=by,
            reasons=reasons,
        )

    def _event(
        self,
        stage: Literal["access", "rate_limit", "prompt", "output"],
        allowed: bool,
        reasons: Sequence[str],
        by: Sequence[str],
        t0: float,
        *,
        action: Literal["allow", "deny", "redact"] | None = None,
    ) -> None:
        event = GuardEvent(
            principal=self.principal.id,
            model=self.model,
            stage=stage,
            allowed=allowed,
            action=action or ("allow" if allowed else "deny"),
            reasons=tuple(reasons),
            decided_by=tuple(by),
            seconds=round(time.perf_counter() - t0, 6),
        )
        self.events.append(event)
        if self.sink is not None:
            self.sink(event)


def _limit(rule: RateLimitRule) -> RateLimit:
    """The limiter's limit for a policy rule (capacity = requests + burst)."""
    requests = rule.requests if rule.requests is not None else 1_000_000_000
    return RateLimit(
        requests=requests,
        window_s=float(rule.window),
        burst=requests + rule.burst if rule.burst else None,
        tokens=rule.tokens,
    )
