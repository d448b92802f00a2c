"""Storage: SQLAlchemy models, repositories and the photo store. Imports nothing of the project."""
