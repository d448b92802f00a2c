"""Telegram, the first channel: aiogram's updates in, the engine's messages out.

The flows (handlers/report, handlers/newcase, handlers/alerts) never import aiogram; their routers
here and in each flow's `telegram.py` read a Message or a button into plain input, and
`TelegramChannel` sends what the engine says.
"""
