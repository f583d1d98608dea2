"""Guests' rights over their data: finding everything held about one person, exporting
it, erasing it (their opt-outs stay, as keyed hashes), and purging old message texts."""
