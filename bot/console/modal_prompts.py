"""A Slack modal asked in the terminal, one field at a time, and answered as Slack
would submit it (``view_submission`` with ``state.values``)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

ReadLine = Callable[[str], Awaitable[str | None]]
SELECTS = ("static_select", "radio_buttons", "checkboxes", "multi_static_select")


async def ask_view(
    view: dict[str, Any], read_line: ReadLine, write: Callable[[str], None]
) -> dict[str, Any] | None:
    """The submission payload, or None when the person typed /cancel."""
    title = _text(view.get("title"))
    write(f"── {title} ── (answer each field; Enter leaves an optional one empty; /cancel closes)")
    values: dict[str, dict[str, Any]] = {}
    for block in view.get("blocks", []):
        if block.get("type") != "input":
            if block.get("type") in ("section", "context") and block.get("text"):
                write(_text(block.get("text")))
            continue
        element = block.get("element", {})
        label = _text(block.get("label"))
        hint = f" ({_text(block['hint'])})" if block.get("hint") else ""
        optional = " [optional]" if block.get("optional") else ""
        answer = await _ask(element, f"{label}{hint}{optional}: ", read_line, write)
        if answer is _CANCELLED:
            return None
        values[block.get("block_id", label)] = {element.get("action_id", "value"): answer}
    return {
        "type": "view_submission",
        "view": {
            "id": view.get("id"),
            "type": "modal",
            "callback_id": view.get("callback_id", ""),
            "private_metadata": view.get("private_metadata", ""),
            "state": {"values": values},
        },
    }


_CANCELLED: dict[str, Any] = {}


async def _ask(
    element: dict[str, Any], prompt: str, read_line: ReadLine, write: Callable[[str], None]
) -> dict[str, Any]:
    kind = element.get("type", "plain_text_input")
    if kind in SELECTS:
        options = element.get("options", [])
        write("\n".join(f"  [{n}] {_text(o.get('text'))}" for n, o in enumerate(options, 1)))
        many = kind in ("checkboxes", "multi_static_select")
        prompt = prompt.replace(": ", " (numbers separated by spaces): " if many else " (number): ")
        while True:
            line = await read_line(prompt)
            if line is None or line.strip() == "/cancel":
                return _CANCELLED
            picked = [int(n) for n in line.split() if n.isdigit() and 1 <= int(n) <= len(options)]
            if picked and (many or len(picked) == 1):
                chosen = [options[n - 1] for n in picked]
                if many:
                    return {"type": kind, "selected_options": chosen}
                return {"type": kind, "selected_option": chosen[0]}
            write(f"  (choose {'numbers' if many else 'one number'} from 1 to {len(options)})")
    line = await read_line(prompt)
    if line is None or line.strip() == "/cancel":
        return _CANCELLED
    return {"type": kind, "value": line.strip() or None}


def _text(value: Any) -> str:
    if isinstance(value, dict):
        return str(value.get("text", ""))
    return str(value or "")
