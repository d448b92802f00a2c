"""Fetching a tipster's file from Telegram for the photo worker."""

from __future__ import annotations

import io

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError, TelegramBadRequest, TelegramNetworkError

from workers.photos import Fetch, FetchFailed

DOWNLOAD_LIMIT = 20 * 1024 * 1024


def telegram_fetcher(bot: Bot | None) -> Fetch:
    """A fetch(source_ref) for `telegram:<file_id>` references."""

    async def fetch(source_ref: str) -> bytes:
        if not source_ref.startswith("telegram:") or bot is None:
            raise FetchFailed("unknown_source", permanent=True)
        file_id = source_ref.removeprefix("telegram:")
        try:
            file = await bot.get_file(file_id)
            if file.file_size and file.file_size > DOWNLOAD_LIMIT:
                raise FetchFailed("too_large", permanent=True)
            buffer = io.BytesIO()
            await bot.download_file(file.file_path or "", destination=buffer, timeout=60)
        except TelegramBadRequest as exc:
            raise FetchFailed(f"telegram: {exc.message}"[:150], permanent=True) from exc
        except (TelegramNetworkError, TelegramAPIError, OSError) as exc:
            raise FetchFailed("telegram_unreachable", permanent=False) from exc
        return buffer.getvalue()

    return fetch
