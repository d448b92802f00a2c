"""FastAPI: dashboard, public web form, REST API and the Telegram webhook endpoint. Thin."""
