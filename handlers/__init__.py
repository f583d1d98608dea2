"""HTTP entry points other than Slack: webhooks, unsubscribe pages, health, metrics, API."""
