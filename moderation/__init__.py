"""The review domain: policy, sign-in, queue and claims, decisions, reveals. No aiogram/FastAPI."""
