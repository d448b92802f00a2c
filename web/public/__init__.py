"""The public web: the report form, people pages, case form, sharing, limits."""
