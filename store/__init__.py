"""State: models, sessions, migrations, repositories, suppression ledger, audit log.

The lowest layer of guestcomms. Nothing here imports from ``dispatch``,
``handlers`` or ``bot``.
"""
