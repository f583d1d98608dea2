"""The cyclic garbage collector of the web server, set for a long-running process.

CPython's collector runs a young collection each time 700 more container
objects are alive than at the last one, and now and then a full collection
that walks every object in the process. ``guestcomms serve`` holds about a
million objects once started (SQLAlchemy's mappers and compiled statements,
Bolt, the modules themselves), none of them ever garbage: on a two-core VM
each full collection stopped the event loop for 150–190 ms — every request
in flight waited — and the young ones took 1.6 % of the webhooks' time under
the inbound benchmark's load.

So once the app is built, what startup made is collected and then frozen
(``gc.freeze``: full collections no longer walk it), and a young collection
waits for 3,000 objects instead of 700: a batch of the webhooks' group commit
alone has more than 700 alive at once, so the default collected every few
batches, walking objects about to be freed anyway. Objects freed by their
reference count, nearly all of a request's, never wait for the collector;
what waits longer is garbage in reference cycles, a few thousand objects at
most. Under the same load: 8–40 young collections in 20 s instead of 350,
the collector's share 0.3–0.4 %, and full collections of a few milliseconds.
"""

from __future__ import annotations

import gc

# Net new container objects between young collections (CPython's default: 700).
YOUNG_COLLECTION_EVERY = 3_000


def settle_after_startup() -> None:
    """Freeze what startup allocated and space the young collections out."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_COLLECTION_EVERY, middle, old)
