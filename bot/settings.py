"""All settings of the process, built once here and handed to each layer."""

from __future__ import annotations

from dataclasses import dataclass

from dispatch.settings import DispatchSettings
from handlers.settings import WebSettings
from store.settings import StoreSettings


@dataclass(frozen=True, slots=True)
class Settings:
    store: StoreSettings
    dispatch: DispatchSettings
    web: WebSettings


def load_settings() -> Settings:
    """Read the environment; the only place that does."""
    return Settings(store=StoreSettings(), dispatch=DispatchSettings(), web=WebSettings())
