"""Renderers: pure functions from the result model to text. No printing, no clock, no I/O."""
