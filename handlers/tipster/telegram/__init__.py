"""The private-chat commands on Telegram: thin aiogram handlers that read a Message or a button
press and call the channel-free use in handlers/tipster/ (one router per module)."""

from __future__ import annotations

from aiogram import Router

from handlers.telegram.filters import PrivateChat
from handlers.telegram.middleware import converse


def private_router(name: str) -> Router:
    """A router for private chats only, whose handlers get the update's `conversation`."""
    router = converse(Router(name=name))
    router.message.filter(PrivateChat())
    router.callback_query.filter(PrivateChat())
    return router
