"""Drawing one turn's events into the chat log, whether the turn was typed or spoken."""

from __future__ import annotations

from collections.abc import Awaitable

from textual.widget import Widget

from ..collector import collect_held, hold_collections
from ..events import ToolFinished, ToolStarted, TurnDone, TurnError, TurnEvent, TurnReasoning, TurnText
from .messages import StatusChanged
from .widgets import AssistantMessage, ErrorNote, ToolCallEntry

COLLECT_AFTER_S = 0.2
"""How long after an answer finishes the garbage it made is collected: after the frames that show it finished."""


class TurnView:
    """One answer on screen: text streamed in, tool calls as entries, figures or the error at the end.

    It works on the answer widget and the log around it and tells the app what
    the assistant is doing with ``StatusChanged`` posted to the app; whoever
    runs the turn (a typed question, the voice loop) feeds it the events. It
    finishes the answer once, whichever comes first: the end, an error, an
    interruption. Python's garbage collector waits while the answer streams
    (`hold_collections`) and collects once the finished answer is drawn.
    """

    def __init__(self, chat_log: Widget, answer: AssistantMessage, mounted: Awaitable[object] | None = None) -> None:
        self.chat_log = chat_log
        self.answer = answer
        self._mounted = mounted
        self.tools: dict[str, ToolCallEntry] = {}
        self._finishing = False
        self._writing = False
        hold_collections()

    def _post_status(self, state: str | None = None, last: TurnDone | None = None) -> None:
        self.chat_log.app.post_message(StatusChanged(state, last))

    async def _answer_mounted(self) -> None:
        if self._mounted is not None:
            mounted, self._mounted = self._mounted, None
            await mounted

    async def show(self, event: TurnEvent) -> None:
        await self._answer_mounted()
        answer = self.answer
        if isinstance(event, TurnText):
            if not self._writing:  # once per run of text: the bar never says "thinking" over streaming text
                self._writing = True
                self._post_status(state="writing")
            await answer.append(event.text)
        elif isinstance(event, TurnReasoning):
            answer.add_reasoning(event.text)
        elif isinstance(event, ToolStarted):
            self._writing = False
            self._post_status(state=f"running {event.call.name}")
            self.tools[event.call.id] = await answer.tool_started(event)
        elif isinstance(event, ToolFinished):
            self.tools[event.call.id].finish(event)
            self._post_status(state="thinking")
        elif isinstance(event, TurnDone):
            with self.chat_log.app.batch_update():  # one frame shows the end, the figures under it and the bar's
                await self.finish(done=event)
                self._post_status(last=event)
        elif isinstance(event, TurnError):
            await self.finish()
            await self.chat_log.mount(ErrorNote(event.message))

    async def finish(self, done: TurnDone | None = None, note: str | None = None) -> None:
        if not self._finishing:
            self._finishing = True  # before the await: an Escape during the last render must not finish it twice
            try:
                await self._answer_mounted()
                await self.answer.finish(done, note)
            finally:
                self.chat_log.set_timer(COLLECT_AFTER_S, collect_held)
