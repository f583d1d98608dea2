"""The Slack bot: Bolt listeners for ``/comms``, guided conversations in threads,
approval cards and campaign progress, mounted at ``POST /slack/events``."""
