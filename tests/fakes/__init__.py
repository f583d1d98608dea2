"""Fakes of external services as real servers on 127.0.0.1, driven through the real clients."""
