"""A fake Twilio-compatible SMS provider for tests."""
