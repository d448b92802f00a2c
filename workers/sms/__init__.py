"""The relay's SMS sender and its client of a Twilio-compatible REST API."""
