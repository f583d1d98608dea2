"""Repositories: the only code that writes rows, each change audited in its transaction.

A repository works inside the caller's session and never commits; the caller
decides the unit of work with ``Database.transaction()``.
"""
