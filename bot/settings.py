"""All settings of the process, built once here and handed to each layer."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.error_reporting import ErrorReportingSettings
from bot.slack.settings import SlackSettings
from dispatch.settings import DispatchSettings
from handlers.settings import WebSettings
from store.settings import StoreSettings


@dataclass(frozen=True, slots=True)
class Settings:
    store: StoreSettings
    dispatch: DispatchSettings
    web: WebSettings
    # Unset unless given: tests build settings without reading the environment.
    slack: SlackSettings = field(default_factory=SlackSettings.model_construct)
    reporting: ErrorReportingSettings = field(
        default_factory=ErrorReportingSettings.model_construct
    )


def load_settings() -> Settings:
    """Read the environment; the only place that does."""
    return Settings(
        store=StoreSettings(),
        dispatch=DispatchSettings(),
        web=WebSettings(),
        slack=SlackSettings(),
        reporting=ErrorReportingSettings(),
    )
