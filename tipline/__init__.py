"""Tipline's composition root and command line: builds everything once and starts it."""
