"""The Telegram process: Bot and Dispatcher, middlewares, durable admission, inbox processing."""
