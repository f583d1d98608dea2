"""The PNG ``/comms stats`` uploads: messages delivered over time, one line per channel.

Drawn with matplotlib's object API on the Agg canvas (no pyplot, no global
state, no display), so it is safe in a worker thread. Colour is never the
only difference: each channel has its own marker and line style, and the
legend names them. The message that carries the chart says the same figures.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.dates import DateFormatter
from matplotlib.figure import Figure

from store.enums import Channel

_STYLES = {
    Channel.EMAIL: {"color": "#1a56a8", "marker": "o", "linestyle": "-", "label": "Email"},
    Channel.SMS: {"color": "#b35900", "marker": "s", "linestyle": "--", "label": "SMS"},
}


def delivery_chart(
    title: str,
    starts: Sequence[datetime],
    series: Mapping[Channel, Sequence[int]],
    bucket: timedelta,
) -> bytes:
    figure = Figure(figsize=(8, 4.5), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    for channel, counts in series.items():
        axes.plot(list(starts), list(counts), **_STYLES[channel])  # type: ignore[arg-type]
    axes.set_title(title)
    axes.set_xlabel(f"Time (UTC), per {_describe(bucket)}")
    axes.set_ylabel("Messages delivered")
    axes.set_ylim(bottom=0)
    axes.grid(True, alpha=0.3)
    axes.legend()
    pattern = "%H:%M" if bucket < timedelta(days=1) else "%d %b"
    axes.xaxis.set_major_formatter(DateFormatter(pattern))  # type: ignore[no-untyped-call]
    figure.autofmt_xdate()
    out = io.BytesIO()
    figure.savefig(out, format="png")
    return out.getvalue()


def _describe(bucket: timedelta) -> str:
    minutes = int(bucket.total_seconds() // 60)
    if minutes % 1440 == 0:
        days = minutes // 1440
        return "day" if days == 1 else f"{days} days"
    if minutes % 60 == 0:
        hours = minutes // 60
        return "hour" if hours == 1 else f"{hours} hours"
    return "minute" if minutes == 1 else f"{minutes} minutes"
