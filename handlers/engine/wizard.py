"""The wizard engine: a flow's steps, its typed state under its own key, and one way to send.

Per update, a `Conversation` holds the chat's state name and data: the data is read once (when a
flow first opens its part) and everything is written once, by `save()`, after the handler (the
Telegram middleware calls it). Each flow keeps a pydantic model under its own key, so a report
left for /newcase keeps its draft and the case keeps its own. A `Wizard` is one flow's view of the
conversation: ask a step, ask it again, go on, go back, skip, cancel; a button from a step no
longer on screen is answered as stale in one place.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, Self, TypeVar

from pydantic import BaseModel, ValidationError

from core.i18n import Texts
from handlers.engine.channel import Channel, Keyboard, cut

log = logging.getLogger("tipline.handlers")

M = TypeVar("M", bound=BaseModel)
APPLIED, LEFT_IN = "applied_update", "left_in_state"
"""Keys of the chat's data beside the flows': the update that last changed it, and the state
name it left (kept only where state is stored apart from the update's outcome)."""
View = tuple[str, Keyboard | None]
"""A step's question and its buttons."""


class Store(Protocol):
    """Where a chat's state name and data live between updates (aiogram's FSMContext is one)."""

    async def get_data(self) -> dict[str, Any]:
        """The chat's data (a copy)."""

    async def set_data(self, data: Mapping[str, Any]) -> None:
        """Replace the chat's data."""

    async def set_state(self, state: str | None = None) -> None:
        """Set the chat's state name."""


class Sent(BaseModel):
    """What a flow remembers of the draft it sent last: a second tap on Send, or a retried
    update, is answered with the same reference."""

    last_draft: str | None = None
    last_ref: str | None = None


@dataclass(frozen=True)
class Flow(Generic[M]):
    """A flow's steps, their questions, and where its state is kept.

    States are named `<group>:<view>` ("Report:when_time"); a view in `parent` is a sub-step of
    that step (back from it returns there, and its buttons carry the step's name).
    """

    group: str
    key: str
    model: type[M]
    steps: tuple[str, ...]
    views: Mapping[str, Callable[[M, Texts], View]]
    stale: str
    """The text key answering a button from a step no longer on screen."""
    parent: Mapping[str, str] = field(default_factory=dict)
    legacy: Callable[[dict[str, Any]], Any] | None = None
    """Where an earlier release kept this flow's data, if elsewhere than under `key`."""

    def view_of(self, state: str | None) -> str | None:
        """The view of one of this flow's states ("Report:when_time" -> "when_time")."""
        if not state:
            return None
        group, _, name = state.partition(":")
        return name if group == self.group else None

    def step_of(self, state: str | None) -> str | None:
        """The step a state belongs to ("Report:when_time" -> "when")."""
        name = self.view_of(state)
        return self.parent.get(name, name) if name else None

    def state_of(self, view: str) -> str:
        """The state name of a view."""
        return f"{self.group}:{view}"

    def after(self, step: str) -> str:
        """The step that follows this one (or this step's parent)."""
        return self.steps[self.steps.index(self.parent.get(step, step)) + 1]

    def load(self, data: dict[str, Any]) -> M | None:
        """This flow's part of the data (None: none kept, or it no longer parses)."""
        raw = data.get(self.key)
        if raw is None and self.legacy is not None:
            raw = self.legacy(data)
        if not isinstance(raw, dict):
            return None
        try:
            return self.model.model_validate(raw)
        except ValidationError:
            log.warning("%s conversation data did not parse; starting afresh", self.key)
            return None


class Conversation:
    """One update's conversation: its chat, state, data and channel; read once, saved once."""

    def __init__(
        self,
        store: Store,
        channel: Channel,
        chat_id: int,
        texts: Texts,
        state: str | None,
        *,
        update_id: int | None = None,
    ) -> None:
        self.store = store
        self.channel = channel
        self.chat_id = chat_id
        self.texts = texts
        self.state = state
        self.update_id = update_id
        """Given where the state is stored apart from the update's outcome (Redis): the data then
        records the update that last changed it, so that update is not applied twice."""
        self._saved_state = state
        self._data: dict[str, Any] | None = None
        self._opened: dict[str, tuple[Flow[Any], BaseModel | None]] = {}

    async def _read(self) -> dict[str, Any]:
        if self._data is None:
            self._data = await self.store.get_data()
        return self._data

    async def applied(self) -> bool:
        """Whether this update's changes are stored already: it is being handled again after a
        crash between saving the state and recording the update's outcome (its replies went the
        first time). The state name is put back as that update left it, in case the crash fell
        between the data's write and the name's."""
        if self.update_id is None:
            return False
        data = await self._read()
        last = data.get(APPLIED)
        if not isinstance(last, int) or last < self.update_id:
            return False
        left = data.get(LEFT_IN)
        if left != self.state:
            await self.store.set_state(left)
            self.state = self._saved_state = left
        return True

    async def open(self, flow: Flow[M]) -> M | None:
        """The flow's state as stored (None when there is none); saved with the update."""
        if flow.key in self._opened:
            return self._opened[flow.key][1]  # type: ignore[return-value]
        model = flow.load(await self._read())
        self._opened[flow.key] = (flow, model)
        return model

    def put(self, flow: Flow[M], model: M | None) -> None:
        """Replace the flow's state (None drops it)."""
        self._opened[flow.key] = (flow, model)

    def go(self, state: str | None) -> None:
        """Move to a state (None: no conversation going on)."""
        self.state = state

    async def say(self, text: str, buttons: Keyboard | None = None) -> None:
        """Send a message, cut to the channel's limit."""
        await self.channel.send_text(self.chat_id, cut(text, self.channel.text_limit), buttons)

    async def save(self) -> None:
        """Store what changed: the data of every flow opened, then the state name. With an
        update id the data also records this update and the state it leaves (see applied())."""
        moved = self.state != self._saved_state
        if self._opened or (moved and self.update_id is not None):
            data = await self._read()
            for key, (_, model) in self._opened.items():
                data[key] = model.model_dump(mode="json") if model is not None else None
            if self.update_id is not None:
                data[APPLIED], data[LEFT_IN] = self.update_id, self.state
            await self.store.set_data(data)
        if moved:
            await self.store.set_state(self.state)
            self._saved_state = self.state


class Wizard(ABC, Generic[M]):
    """One flow on one update: its state (`stored`, None when none is going) and its steps."""

    flow: Flow[M]

    def __init__(self, conversation: Conversation, stored: M | None) -> None:
        self.conversation = conversation
        self.stored = stored

    @classmethod
    async def of(cls, conversation: Conversation) -> Self:
        """The flow's wizard over the update's conversation."""
        return cls(conversation, await conversation.open(cls.flow))

    @property
    def model(self) -> M:
        """The flow's state (a fresh one is made if there was none)."""
        if self.stored is None:
            self.stored = self.flow.model()
            self.conversation.put(self.flow, self.stored)
        return self.stored

    def replace(self, model: M | None) -> None:
        """Replace the flow's state (None drops it)."""
        self.stored = model
        self.conversation.put(self.flow, model)

    @property
    def texts(self) -> Texts:
        """The texts in the person's language."""
        return self.conversation.texts

    @property
    def chat_id(self) -> int:
        """The chat."""
        return self.conversation.chat_id

    @property
    def current(self) -> str | None:
        """The view on screen, if it is one of this flow's."""
        return self.flow.view_of(self.conversation.state)

    @property
    def active(self) -> bool:
        """Whether the flow is going on (its buttons are live)."""
        return self.stored is not None

    async def say(self, text: str, buttons: Keyboard | None = None) -> None:
        """Send a message (the state is saved with the update)."""
        await self.conversation.say(text, buttons)

    async def ask(self, view: str, *, note: str | None = None) -> None:
        """Move to a step (or sub-step) and ask its question, after an optional note."""
        self.conversation.go(self.flow.state_of(view))
        text, buttons = self.flow.views[view](self.model, self.texts)
        await self.say(f"{note}\n\n{text}" if note else text, buttons)

    async def onward(self, step: str, *, note: str | None = None) -> None:
        """A step is answered: ask the one that follows it."""
        await self.ask(self.flow.after(step), note=note)

    async def stay(self, *, note: str | None = None) -> None:
        """Ask the current step again (after input it cannot use), or the first step."""
        await self.ask(self.current or self.first(), note=note)

    async def refuse(self, key: str, **values: Any) -> None:
        """Input of the wrong kind for the step on screen: say why and ask the step again."""
        await self.stay(note=self.texts(key, **values))

    def first(self) -> str:
        """The step to ask when none is on screen."""
        return self.flow.steps[0]

    def shown(self, step: str) -> bool:
        """Whether a step is asked in this conversation (all are, unless a flow says not)."""
        return True

    def before(self, view: str) -> str:
        """Back: a sub-step goes to its step, a step to the one before it that is shown."""
        if view in self.flow.parent:
            return self.flow.parent[view]
        steps = self.flow.steps
        earlier = steps[: steps.index(view)] if view in steps else ()
        return next((s for s in reversed(earlier) if self.shown(s)), view)

    def fresh(self, step: str) -> bool:
        """Whether a button of this step is live: the flow is going and the step on screen."""
        return self.active and self.flow.step_of(self.conversation.state) == step

    async def stale(self) -> None:
        """Answer a button from a step no longer on screen."""
        await self.say(self.texts(self.flow.stale))

    async def sendable(self, draft_id: str, current: str | None, sent: str) -> bool:
        """A tap on Send for `draft_id` (`current`: the draft going on): True when it is to be
        sent now. A second tap gets the reference already given (text key `sent`); a button of
        another draft, or pressed off the summary, is stale."""
        last = self.stored
        if isinstance(last, Sent) and last.last_ref and last.last_draft == draft_id:
            await self.say(self.texts(sent, ref=last.last_ref))
            return False
        if current != draft_id or self.current != "confirm":
            await self.stale()
            return False
        return True

    async def navigate(self, step: str, action: str) -> None:
        """Back, skip or cancel on a step; a button of another step only says it is stale."""
        if action == "cancel" and await self.cancel():
            return
        if not self.fresh(step):
            await self.stale()
        elif action == "skip":
            await self.skip(step)
        else:
            await self.ask(self.before(self.current or step))

    @abstractmethod
    async def cancel(self) -> bool:
        """Stop the flow; False when there is nothing of it to stop (the button is stale)."""

    async def skip(self, step: str) -> None:
        """Skip a step and ask the next; a flow without optional steps offers no skip button,
        so a skip reaching it is a stale button."""
        await self.stale()
