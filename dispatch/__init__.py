"""Outbound work: broker and actors, composition, providers, limits, alerts (dispatch issue)."""
