"""The running bot: composition root (settings wiring, CLI, web app), and later Slack."""
