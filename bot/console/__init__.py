"""``guestcomms console``: the Slack conversation in a terminal, with no Slack at all.

What a person types is sent to the running app exactly as Slack would send it
(signed requests into ``POST /slack/events``), and what the bot says through
the Web API lands in an in-process stand-in for Slack that prints it.
"""
