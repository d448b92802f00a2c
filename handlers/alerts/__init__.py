"""/alerts: volunteers sign up for area alerts (area, radius, language, quiet hours), see and change
their settings, pause, resume or leave. State (`state.py`), questions (`views.py`) and moves
(`flow.py`) are channel-free; Telegram's router, with the two buttons on an alert, is
`telegram.py`."""
