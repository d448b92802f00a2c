"""Chats that are not Telegram (WhatsApp, SMS): one router from plain input to the flows, and
one processor from a transport's durable inbox to that router."""
