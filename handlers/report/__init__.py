"""The sighting report: state (`state.py`), questions (`views.py`), the flow's moves (`flow.py`,
`steps.py`), all channel-free; Telegram's routers are in `telegram.py`."""
