"""The chat log: the scrolling column of messages, notices and answers."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable

from textual import events
from textual.containers import VerticalScroll
from textual.widget import Widget
from textual.widgets import Static

from llm import Message, MessageRole

from ..events import ToolStarted, TurnDone
from .messages import StatusChanged, TypedOnEntry
from .turn_view import TurnView
from .widgets import AssistantMessage, ChatEntry, ErrorNote, Notice, SpeechSoFar, ToolCallEntry, UserMessage

# Messages of a saved conversation drawn per batch, the newest first, until a screen of them is above the
# view (and again as it is scrolled up). Each batch is its own frame: a batch of 20 took 0.3 s to mount and
# lay out here, so a key typed while a long conversation opens waited that long, and so did its first frame.
DRAWN_AT_ONCE = 4
# Entries kept drawn when a new turn starts; older ones are folded away until scrolled back to. Every layout
# of the log measures every entry: with 500 messages drawn, a fast answer drew 3 frames a second.
KEPT_SHOWN = 20


def _turn_start(messages: list[Message], index: int) -> int:
    """The first message of the turn holding ``messages[index]`` (0 for an index before the start)."""
    if index <= 0:
        return 0
    while index > 0 and messages[index].role is not MessageRole.USER:
        index -= 1
    return index


class EarlierMessages(Static, can_focus=True):
    """What is above the entries shown: one line saying how much.

    Two kinds wait here: ``messages`` of a saved conversation not drawn yet,
    and ``folded`` entries (the oldest first) drawn once and removed since, kept
    as their replicas; those are newer than the messages, so they come back first.
    """

    DEFAULT_CSS = """
    EarlierMessages { color: $text-muted; text-align: center; margin: 0 0 1 0; }
    EarlierMessages:focus { background: $boost; }
    """

    def __init__(self, messages: list[Message]) -> None:
        super().__init__(markup=False)
        self.messages = messages
        self.folded: list[Callable[[], Widget]] = []
        self._say_how_many()

    @property
    def is_empty(self) -> bool:
        return not self.messages and not self.folded

    def take_last_batch(self) -> list[Message]:
        """The last ``DRAWN_AT_ONCE`` messages or more (whole turns), taken out of those waiting."""
        start = _turn_start(self.messages, len(self.messages) - DRAWN_AT_ONCE)
        batch, self.messages = self.messages[start:], self.messages[:start]
        self._say_how_many()
        return batch

    def fold(self, entries: list[ChatEntry]) -> None:
        """Keep the replicas of ``entries``, older than those still shown and newer than any folded before."""
        self.folded += [entry.replica() for entry in entries]
        self._say_how_many()

    def unfold_last_batch(self) -> list[Widget]:
        """New widgets for the newest ``DRAWN_AT_ONCE`` folded entries, taken out of those waiting."""
        batch, self.folded = self.folded[-DRAWN_AT_ONCE:], self.folded[:-DRAWN_AT_ONCE]
        self._say_how_many()
        return [draw() for draw in batch]

    def _say_how_many(self) -> None:
        self.update(f"↑ {len(self.messages) + len(self.folded)} earlier messages: scroll up to see them")


class ChatLog(VerticalScroll):
    """Owns what the log shows; the app and its helpers add to it only through these methods.

    It is also the widget the helpers post their messages on (see
    ``messages``), so it is the one thing of the screen they are given.
    """

    DEFAULT_CSS = """
    ChatLog { height: 1fr; padding: 0 1; scrollbar-gutter: stable; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._tool_source: Callable[[str], str] = lambda name: ""
        self._drawing_earlier = asyncio.Lock()
        self._fill_asked = False
        # How many times Enter sent the log back to its end: a batch drawn above while it did
        # must not then scroll the log back to where it was read before.
        self._returns_to_end = 0

    def on_mount(self) -> None:
        self.anchor()

    def on_key(self, event: events.Key) -> None:
        """Typing on a focused message types into the prompt (``c``, the message's copy key, aside).

        Enter there goes back to the prompt too, and the log back to its end, following the answers again.
        """
        if not isinstance(self.screen.focused, ChatEntry):
            return
        if event.key == "enter":
            event.stop()
            self._returns_to_end += 1
            self.scroll_end(animate=False)
            self.anchor()
            self.post_message(TypedOnEntry(""))
        elif event.is_printable and event.character != "c":
            event.stop()
            self.post_message(TypedOnEntry(event.character or ""))

    def page(self, pages: int) -> None:
        """Scroll a page up (-1) or down (1) without taking focus from the prompt.

        Scrolling up leaves the end (the answer streams on below, the screen stays put);
        paging back down to the end follows the answers again (Textual re-anchors there).
        """
        if pages < 0:
            self.scroll_page_up(animate=False)
        else:
            self.scroll_page_down(animate=False)

    def post_status(self, state: str | None = None, last: TurnDone | None = None) -> None:
        """Tell the app what the assistant is doing now (`StatusChanged`), straight, not bubbling up."""
        self.app.post_message(StatusChanged(state, last))

    async def show_notice(self, message: str) -> None:
        await self.mount(Notice(message))

    async def show_error(self, message: str) -> None:
        await self.mount(ErrorNote(message))

    async def show_user_message(self, text: str, attachments: list[str] | None = None) -> None:
        """The question at the bottom; not waiting for it to be drawn, so its answer is asked for at once."""
        await self.forget_speech_so_far()
        self.fold_far_above()
        self.mount(UserMessage(text, attachments))

    def fold_far_above(self) -> None:
        """Fold all but the last ``KEPT_SHOWN`` entries away, while the log follows its end (not while read above)."""
        if self.scroll_y < self.max_scroll_y:
            return
        entries = [child for child in self.children if isinstance(child, ChatEntry)]
        if len(entries) <= KEPT_SHOWN:
            return
        folds = self.query_children(EarlierMessages)
        if folds:
            fold = folds.first()
        else:
            fold = EarlierMessages([])
            self.mount(fold, before=0)
        far_above = entries[:-KEPT_SHOWN]
        fold.fold(far_above)
        self.remove_children(far_above)

    async def show_speech_so_far(self, text: str) -> None:
        """The words of a spoken turn still in progress, in one line at the bottom that each update replaces."""
        shown = self.query_children(SpeechSoFar)
        if shown:
            shown.first().update(SpeechSoFar.line(text))
        else:
            await self.mount(SpeechSoFar(text))

    async def forget_speech_so_far(self) -> None:
        """The words so far became a message, or were not a turn."""
        await self.query_children(SpeechSoFar).remove()

    async def start_answer(self) -> TurnView:
        """An empty answer at the bottom, for a turn's events; the assistant is thinking from here on.

        It returns before the answer is mounted (that takes a frame or two),
        so the question leaves for the model at once; the view waits for the
        mount before it draws the first event.
        """
        answer = AssistantMessage()
        mounted = self.mount(answer)
        self.post_status(state="thinking")
        return TurnView(self, answer, mounted)

    async def show_conversation(self, messages: Iterable[Message], tool_source: Callable[[str], str]) -> None:
        """Replace the log with a saved conversation, drawn as it looked when it was written.

        Only the last turn is drawn before the first frame; the earlier messages
        wait in an ``EarlierMessages`` at the top, drawn a batch a frame until
        a screen of them is above the view, then as the log is scrolled up to
        them (or Tab reaches them), so a long conversation opens as fast as a
        short one and costs no more after.
        """
        await self.remove_children()
        said = [message for message in messages if message.role is not MessageRole.SYSTEM]
        start = _turn_start(said, len(said) - 1)  # earlier turns' code blocks (a lexer to compile) wait a frame
        self._tool_source = tool_source
        if start:
            await self.mount(EarlierMessages(said[:start]))
        await self._draw_messages(said[start:], after=None)
        self._fill_above_soon()

    async def _draw_messages(self, messages: list[Message], after: Widget | None) -> None:
        """Draw ``messages`` (whole turns) after ``after``, or at the end of the log, in one mount."""
        entries: list[Widget | list[Message]] = []
        answer: list[Message] | None = None
        for message in messages:
            if message.role is MessageRole.USER:
                answer = None
                entries.append(UserMessage(message.content))
            elif message.role is MessageRole.ASSISTANT or (message.role is MessageRole.TOOL and answer is not None):
                if answer is None:
                    answer = []
                    entries.append(answer)
                answer.append(message)
        drawn = [entry if isinstance(entry, Widget) else self._saved_answer(entry) for entry in entries]
        if after is None:
            await self.mount_all(drawn)
        else:
            await self.mount_all(drawn, after=after)

    def _saved_answer(self, messages: list[Message]) -> AssistantMessage:
        """One answer of a saved conversation: its runs of text, and its tool calls with their results."""
        results = {message.tool_call_id: message for message in messages if message.role is MessageRole.TOOL}
        parts: list[str | ToolCallEntry] = []
        for message in messages:
            if message.role is MessageRole.TOOL:
                continue
            if message.content:
                if parts and isinstance(parts[-1], str):
                    parts[-1] += message.content  # one run of text, as it streamed, until a tool call
                else:
                    parts.append(message.content)
            for call in message.tool_calls or []:
                parts.append(ToolCallEntry(ToolStarted(call, self._tool_source(call.name)), results.get(call.id)))
        return AssistantMessage(saved=parts)

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        if new_value < self.size.height:  # a screen from the top: what is above is about to be seen
            self._fill_above_soon()

    def _fill_above_soon(self) -> None:
        if not self._fill_asked:
            self._fill_asked = True
            self.call_after_refresh(self._fill_above)

    async def _fill_above(self) -> None:
        """Draw another batch while less than a screen is drawn above the view: it is about to be seen.

        Not while a scroll is animating (Textual's scroll to a newly focused entry): its target was
        taken before the batch, and it would land where the entry no longer is.
        """
        self._fill_asked = False
        if self.app.animator.is_being_animated(self, "scroll_y"):
            self._fill_above_soon()
        elif self.scroll_y < self.size.height and self.query_children(EarlierMessages) and await self.draw_earlier():
            self._fill_above_soon()

    async def draw_earlier(self) -> list[Widget]:
        """Show the last batch of what is above (hidden, or not drawn yet), keeping what is on screen where it is."""
        async with self._drawing_earlier:  # scrolling and Tab may both ask: one batch at a time
            earlier = self.query_children(EarlierMessages)
            if not earlier:
                return []
            fold = earlier.first()
            from_bottom = self.max_scroll_y - max(0, self.scroll_y)  # (below 0 while the log is shorter than the screen)
            returns_to_end = self._returns_to_end
            if fold.folded:
                drawn = fold.unfold_last_batch()
                await self.mount_all(drawn, after=fold)
            else:
                before = set(self.children)
                await self._draw_messages(fold.take_last_batch(), after=fold)
                drawn = [child for child in self.children if child not in before]
            if fold.is_empty:
                await fold.remove()
            if from_bottom > 0:  # scrolled up: what is on screen stays there (at the end, the anchor keeps it there)
                self.call_after_refresh(self._keep_in_view, from_bottom, returns_to_end)
            return drawn

    def _keep_in_view(self, from_bottom: float, returns_to_end: int) -> None:
        """After a batch drawn above: the focused entry stays in view, or else what was on screen.

        Not if Enter sent the log back to its end meanwhile: the anchor keeps it there. A scroll
        still animating (Textual scrolls a newly focused entry into view) aims at where things
        were before the batch pushed them down, so it is stopped first.
        """
        if returns_to_end != self._returns_to_end:
            return
        self.app.animator.force_stop_animation(self, "scroll_y")
        focused = self.screen.focused
        if isinstance(focused, ChatEntry) and focused.parent is self:
            self.scroll_to_widget(focused, animate=False)
        else:
            self.scroll_to(y=self.max_scroll_y - from_bottom, animate=False)

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        if isinstance(event.widget, EarlierMessages):
            self.run_worker(self._focus_earlier(), group="earlier")

    async def _focus_earlier(self) -> None:
        drawn = [entry for entry in await self.draw_earlier() if isinstance(entry, ChatEntry)]
        if drawn:
            drawn[-1].focus()

    async def start_over(self) -> None:
        """An empty log, for a new conversation."""
        await self.remove_children()

    def last_answer(self) -> AssistantMessage | None:
        answers = self.query(AssistantMessage)
        return answers.last() if answers else None

    def toggle_reasoning(self) -> None:
        for answer in self.query(AssistantMessage):
            if answer.thinking is not None:
                answer.thinking.collapsed = not answer.thinking.collapsed

    def copy_last_answer(self) -> None:
        answer = self.last_answer()
        if answer is None or not answer.text:
            self.notify("There is no answer to copy yet.", severity="warning")
            return
        self.app.copy_to_clipboard(answer.text)
        self.notify("Answer copied to the clipboard", timeout=2)

    async def copy_last_code(self) -> None:
        answer = self.last_answer()
        code = answer.last_code_block() if answer else None
        if code is None:
            await self.show_error("the last answer has no code block")
            return
        self.app.copy_to_clipboard(code)
        self.notify("Code copied to the clipboard", timeout=2)
