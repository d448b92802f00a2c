"""A fake Telegram Bot API server: the real protocol on 127.0.0.1."""
