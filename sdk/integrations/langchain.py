"""LangChain: a guard around any chat model or chain, and a callback handler for events.

::

    from aiposture.integrations.langchain import guarded

    chain = guarded(prompt | llm, posture.guard(principal="svc-bot", model="gpt-4o-mini"))
    chain.invoke({"question": "..."})   # access, rate limit and prompt checked before,
                                        # secrets and leakage checked after

Needs ``langchain-core`` (``pip install aiposture[langchain]``).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from typing import Any

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.prompt_values import PromptValue
from langchain_core.runnables import Runnable, RunnableLambda

from aiposture.monitor.models import Event
from aiposture.policy.guard import Guard, GuardEvent

__all__ = ["PostureCallbackHandler", "guarded"]

_log = logging.getLogger(__name__)


def _text_of(value: Any) -> str:
    """The text a model will see (or said): strings, messages, prompt values, dicts."""
    if isinstance(value, str):
        return value
    if isinstance(value, PromptValue):
        return value.to_string()
    if isinstance(value, BaseMessage):
        return value.text if isinstance(value.text, str) else str(value.content)
    if isinstance(value, list | tuple):
        return "\n".join(_text_of(v) for v in value)
    if isinstance(value, dict):
        return "\n".join(_text_of(v) for v in value.values())
    return str(value)


def guarded(runnable: Runnable[Any, Any], guard: Guard) -> Runnable[Any, Any]:
    """``runnable`` with ``guard``'s checks before and after every invocation.

    Before: the input's text (string, messages, prompt value or the values of a dict)
    is checked (access, rate limit, secrets); a violation raises
    :class:`~aiposture.policy.models.PolicyViolation` before the model is called. After:
    the output's text is checked; with ``on_violation="redact"`` a redacted output
    replaces it (a message keeps its type, with the redacted content).
    """

    def before(value: Any) -> Any:
        checked = guard.before(_text_of(value))
        return checked if isinstance(value, str) else value

    def after(value: Any) -> Any:
        text = _text_of(value)
        checked = guard.after(text)
        if checked == text:
            return value
        if isinstance(value, AIMessage):
            return value.model_copy(update={"content": checked})
        return checked

    return (
        RunnableLambda(before, name="aiposture_guard_in")
        | runnable
        | RunnableLambda(after, name="aiposture_guard_out")
    )


class PostureCallbackHandler(BaseCallbackHandler):
    """Records every model call of a chain as a :class:`GuardEvent` (stage ``output``)
    and, with a ``recorder``, as a monitoring event (prompt, response, tokens, latency).

    Pass ``recorder=posture.monitor.record`` so the detectors see the chain's traffic::

        handler = PostureCallbackHandler("svc-bot", recorder=posture.monitor.record)
        chain.invoke(question, config={"callbacks": [handler]})

    Args:
        principal: Who runs the chain.
        sink: Called with each :class:`GuardEvent`; events are also kept in ``events``.
        recorder: Called with one :class:`~aiposture.monitor.models.Event` per model
            call (a failing recorder is logged and never breaks the chain).
        application: The application name put on monitoring events.
    """

    def __init__(
        self,
        principal: str,
        sink: Any = None,
        *,
        recorder: Callable[[Event], object] | None = None,
        application: str | None = None,
    ) -> None:
        self.principal = principal
        self.sink = sink
        self.recorder = recorder
        self.application = application
        self.events: list[GuardEvent] = []
        self._models: dict[Any, str] = {}
        self._calls: dict[Any, tuple[str, float]] = {}

    def _start(self, run_id: Any, serialized: dict[str, Any] | None, prompt: str, kw: Any) -> None:
        params = kw.get("invocation_params") or {}
        name = params.get("model") or params.get("model_name") or (serialized or {}).get("name")
        self._models[run_id] = str(name or "unknown")
        self._calls[run_id] = (prompt, time.perf_counter())

    def on_chat_model_start(
        self, serialized: dict[str, Any], messages: list[list[BaseMessage]], **kw: Any
    ) -> None:
        """Remember which model a run calls, and its prompt."""
        self._start(kw.get("run_id"), serialized, _text_of(messages), kw)

    def on_llm_start(self, serialized: dict[str, Any], prompts: list[str], **kw: Any) -> None:
        """The same for completion (non-chat) models."""
        self._start(kw.get("run_id"), serialized, "\n".join(prompts), kw)

    def on_llm_end(self, response: Any, **kw: Any) -> None:
        """Record the finished call."""
        run_id = kw.get("run_id")
        model = self._models.pop(run_id, "unknown")
        event = GuardEvent(
            principal=self.principal,
            model=model,
            stage="output",
            allowed=True,
            action="allow",
            reasons=("model call recorded by the LangChain callback",),
        )
        self.events.append(event)
        if self.sink is not None:
            self.sink(event)
        self._record(run_id, model, _response_text(response), _usage(response), None)

    def on_llm_error(self, error: BaseException, **kw: Any) -> None:
        """Record a failed call (the error goes into the monitoring event)."""
        run_id = kw.get("run_id")
        model = self._models.pop(run_id, "unknown")
        self._record(run_id, model, "", {}, f"{type(error).__name__}: {error}")

    def _record(
        self, run_id: Any, model: str, response: str, usage: dict[str, int], error: str | None
    ) -> None:
        prompt, started = self._calls.pop(run_id, ("", None))
        if self.recorder is None:
            return
        try:
            self.recorder(
                Event(
                    id=f"langchain-{run_id or uuid.uuid4().hex}",
                    principal=self.principal,
                    application=self.application,
                    model=model,
                    prompt=prompt,
                    response=response,
                    input_tokens=usage.get("input"),
                    output_tokens=usage.get("output"),
                    latency_ms=(time.perf_counter() - started) * 1000 if started else None,
                    error=error,
                    source="langchain",
                )
            )
        except Exception:  # monitoring fails open: the chain must go on
            _log.exception("aiposture: recording a LangChain call for monitoring failed")


def _response_text(response: Any) -> str:
    """The generated text of an ``LLMResult`` (first generation of each prompt)."""
    texts = []
    for gens in getattr(response, "generations", None) or []:
        if gens:
            g = gens[0]
            message = getattr(g, "message", None)
            texts.append(_text_of(message) if message is not None else str(getattr(g, "text", "")))
    return "\n".join(texts)


def _usage(response: Any) -> dict[str, int]:
    """Token counts from an ``LLMResult``'s ``llm_output`` (OpenAI and Anthropic shapes)."""
    out = getattr(response, "llm_output", None) or {}
    usage = out.get("token_usage") or out.get("usage") or {}
    found: dict[str, int] = {}
    for key, names in (
        ("input", ("prompt_tokens", "input_tokens")),
        ("output", ("completion_tokens", "output_tokens")),
    ):
        for name in names:
            value = usage.get(name)
            if isinstance(value, int) and value >= 0:
                found[key] = value
                break
    return found
