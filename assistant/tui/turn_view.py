"""Drawing one turn's events into the chat log, whether the turn was typed or spoken."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..events import (
    ToolFinished,
    ToolStarted,
    TurnDone,
    TurnError,
    TurnReasoning,
    TurnText,
)
from .widgets import AssistantMessage, ToolCallEntry

if TYPE_CHECKING:
    from .app import AssistantApp


class TurnView:
    """One answer on screen: text streamed in, tool calls as entries, figures or the error at the end."""

    def __init__(self, app: AssistantApp, answer: AssistantMessage) -> None:
        self.app = app
        self.answer = answer
        self.tools: dict[str, ToolCallEntry] = {}
        self.finished = False

    @classmethod
    async def start(cls, app: AssistantApp) -> TurnView:
        answer = AssistantMessage()
        await app.log_view.mount(answer)
        return cls(app, answer)

    async def show(self, event: Any) -> None:
        app, answer = self.app, self.answer
        if isinstance(event, TurnText):
            await answer.append(event.text)
        elif isinstance(event, TurnReasoning):
            answer.add_reasoning(event.text)
        elif isinstance(event, ToolStarted):
            app.set_status(state=f"running {event.call.name}")
            self.tools[event.call.id] = await answer.tool_started(event)
        elif isinstance(event, ToolFinished):
            self.tools[event.call.id].finish(event)
            app.set_status(state="thinking")
        elif isinstance(event, TurnDone):
            await self.finish(done=event)
            app.set_status(last=event)
        elif isinstance(event, TurnError):
            await self.finish()
            await app.show_error(event.message)

    async def finish(self, done: TurnDone | None = None, note: str | None = None) -> None:
        if not self.finished:
            self.finished = True
            await self.answer.finish(done, note)
