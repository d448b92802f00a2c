"""The conversation engine: flows as steps behind a narrow channel interface (no aiogram here).

`channel.py` is what a flow may send and receive; `wizard.py` runs a flow's steps over the
conversation state of one update (loaded once, saved once). Telegram's side is handlers/telegram/.
"""
