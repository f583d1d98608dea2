"""Entry point of worker processes: ``dramatiq bot.worker`` (see Procfile).

Dramatiq's CLI imports this module and serves the broker it sets, so this
module is the workers' composition root and reads the environment here.
"""

from __future__ import annotations

from bot.dispatching import wire
from bot.error_reporting import start_error_reporting
from bot.log_setup import configure_logging, keep_out_of_logs
from bot.secrets import with_kept_data_keys
from bot.settings import load_settings

configure_logging()
settings = load_settings()
keep_out_of_logs(settings)
# Workers render guests' messages: without the data keys they refuse to start,
# naming what is missing, instead of failing every batch.
with_kept_data_keys(settings.store)
start_error_reporting(settings.reporting, "worker")
dispatching = wire(settings)
broker = dispatching.broker
