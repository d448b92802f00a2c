"""The domain: cases, tips, photos, geo, faces, scoring, alerts. Never imports aiogram/fastapi."""
