"""LangChain: a guard around any chat model or chain, and a callback handler for events.

::

    from aiposture.integrations.langchain import guarded

    chain = guarded(prompt | llm, posture.guard(principal="svc-bot", model="gpt-4o-mini"))
    chain.invoke({"question": "..."})   # access, rate limit and prompt checked before,
                                        # secrets and leakage checked after

Needs ``langchain-core`` (``pip install aiposture[langchain]``).
"""

from __future__ import annotations

from typing import Any

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.prompt_values import PromptValue
from langchain_core.runnables import Runnable, RunnableLambda

from aiposture.policy.guard import Guard, GuardEvent

__all__ = ["PostureCallbackHandler", "guarded"]


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
    """Records every model call of a chain as a :class:`GuardEvent` (stage ``output``).

    Args:
        principal: Who runs the chain.
        sink: Called with each event (monitoring); events are also kept in ``events``.
    """

    def __init__(self, principal: str, sink: Any = None) -> None:
        self.principal = principal
        self.sink = sink
        self.events: list[GuardEvent] = []
        self._models: dict[Any, str] = {}

    def on_chat_model_start(
        self, serialized: dict[str, Any], messages: list[list[BaseMessage]], **kw: Any
    ) -> None:
        """Remember which model a run calls."""
        params = kw.get("invocation_params") or {}
        name = params.get("model") or params.get("model_name") or (serialized or {}).get("name")
        self._models[kw.get("run_id")] = str(name or "unknown")

    def on_llm_end(self, response: Any, **kw: Any) -> None:
        """Record the finished call."""
        event = GuardEvent(
            principal=self.principal,
            model=self._models.pop(kw.get("run_id"), "unknown"),
            stage="output",
            allowed=True,
            action="allow",
            reasons=("model call recorded by the LangChain callback",),
        )
        self.events.append(event)
        if self.sink is not None:
            self.sink(event)
