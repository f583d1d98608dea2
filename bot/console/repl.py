"""The console's read-eval-print loop: each line becomes what Slack or Twilio would send."""

from __future__ import annotations

import html
import json
import re
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp

from bot.console.modal_prompts import ask_view
from bot.console.output import Output
from bot.console.signed_requests import Signed, SlackSigner, twilio_text
from bot.console.slack_screen import SlackScreen
from bot.console.terminal_text import CHANNEL_ID, CHANNEL_NAME, as_slack_would_send
from handlers.replies import TWILIO_KEYWORDS, normalise

# "… as U_APPROVER": one line typed as another member.
_AS_SOMEONE = re.compile(r"\s+as\s+(U[A-Z0-9_]+)\s*$")
QUIET_SECONDS = 0.4  # the bot has finished answering once it is quiet this long
ANSWER_WITHIN = 8.0

CONSOLE_HELP = """\
Type exactly what you would type in Slack:
  /comms help                     every command, with examples
  /comms campaign new             start a campaign (answer the questions that follow)
  any other line                  answers in the current thread, or is a command
                                  ("campaign list" is "/comms campaign list")
Console commands:
  /click N                        press button N of the last message with buttons
  /as U_APPROVER                  act as another member from now on (/who lists them)
  … as U_APPROVER                 one line as another member:
                                  /comms campaign approve 3 as U_APPROVER
  /guest +15551234567 STOP        a guest's text message (a signed Twilio webhook)
  /leave                          leave the thread, back to the channel
  /quit                           stop guestcomms"""


@dataclass
class Console:
    http: aiohttp.ClientSession
    base_url: str  # the app's own address
    screen: SlackScreen
    signer: SlackSigner
    user: str
    members: dict[str, str]  # user id → display name
    twilio_auth_token: str
    public_base_url: str
    sms_number: str
    read_line: Callable[[str], Awaitable[str | None]]
    output: Output

    async def run(self) -> None:
        self.output.write(CONSOLE_HELP)
        while True:
            line = await self.read_line(f"{self.members.get(self.user, self.user)}> ")
            if line is None or line.strip() in ("/quit", "/exit"):
                return
            try:
                await self.handle(line.strip())
            except aiohttp.ClientError as error:
                self.output.write(f"(the app did not answer: {error})")

    async def handle(self, line: str) -> None:
        if not line:
            return
        user = self.user
        someone = _AS_SOMEONE.search(line)
        if someone:
            user, line = someone.group(1), line[: someone.start()]
        word, _, rest = line.partition(" ")
        if word != "/guest":  # a guest's text is plain text, not Slack's
            line = as_slack_would_send(line, self.members)
            word, _, rest = line.partition(" ")
        if word == "/help":
            self.output.write(CONSOLE_HELP)
        elif word == "/as":
            self._switch(rest.strip())
        elif word == "/who":
            self.output.write("\n".join(f"{uid}  {name}" for uid, name in self.members.items()))
        elif word == "/leave":
            self.screen.thread = None
            self.output.write(f"(back in #{CHANNEL_NAME})")
        elif word == "/click":
            await self._click(rest.strip(), user)
        elif word == "/guest":
            await self._guest(rest)
        elif word == "/comms":
            await self._send(self.signer.command(rest, user, CHANNEL_ID))
        elif line.startswith("/"):
            self.output.write(f"(unknown console command {word}; type /help)")
        elif self.screen.thread is not None:
            channel, thread_ts = self.screen.thread
            await self._send(self.signer.message(line, user, channel, thread_ts))
        else:
            await self._send(self.signer.message(f"comms {line}", user, CHANNEL_ID, None))

    def _switch(self, user: str) -> None:
        if user not in self.members:
            self.output.write(f"(no member {user!r}; /who lists them)")
            return
        self.user = user
        self.output.write(f"(you are now {self.members[user]}, {user})")

    async def _click(self, number: str, user: str) -> None:
        buttons = self.screen.buttons
        if not number.isdigit() or not 1 <= int(number) <= len(buttons):
            self.output.write(
                f"(there is no button {number!r}; the last message has {len(buttons)})"
            )
            return
        button = buttons[int(number) - 1]
        message: dict[str, Any] = {"ts": button.message_ts, "text": ""}
        if button.thread_ts:
            message["thread_ts"] = button.thread_ts
        payload = {
            "type": "block_actions",
            "user": {"id": user},
            "channel": {"id": button.channel},
            "container": {
                "type": "message",
                "channel_id": button.channel,
                "message_ts": button.message_ts,
            },
            "message": message,
            "actions": [
                {
                    "type": "button",
                    "action_id": button.action_id,
                    "block_id": button.block_id,
                    "value": button.value,
                    "text": {"type": "plain_text", "text": button.label},
                }
            ],
        }
        await self._send(self.signer.interaction(payload))

    async def _guest(self, rest: str) -> None:
        number, _, text = rest.strip().partition(" ")
        if not number.startswith("+") or not text:
            self.output.write("(usage: /guest +15551234567 STOP)")
            return
        signed = twilio_text(
            self.twilio_auth_token,
            self.public_base_url,
            number,
            self.sms_number,
            text,
            # Unique across runs, as Twilio's are: a counter restarting at 1 made the
            # texts of a restarted console repeats of earlier ones, which have no effect.
            f"SM{uuid.uuid4().hex}",
        )
        async with self.http.post(
            self.base_url + signed.path, data=signed.body, headers=signed.headers
        ) as answer:
            twiml = await answer.text()
        reply = re.findall(r"<Message>(.*?)</Message>", twiml, re.DOTALL)
        if reply:
            said = f"(text to {number}) {html.unescape(reply[0])}"
        elif answer.status != 200:
            said = f"(the webhook answered {answer.status}: {twiml})"
        elif normalise(text) in TWILIO_KEYWORDS:
            said = f"(guestcomms sends {number} no text: Twilio confirms its own keywords itself)"
        else:
            # For the planners: noted in the wedding's channel if it has one. Whether
            # it has shows once the bot is done, so the hint comes after its note.
            before = self.output.count
            await self._settle(before)
            where = (
                "noted above"
                if self.output.count > before
                else "noted in the wedding's channel when it has one — "
                f"`/comms wedding set channel #{CHANNEL_NAME}` shows them here"
            )
            self.output.write(
                f"(guestcomms sends {number} no text back: the reply is for the planners, {where})"
            )
            return
        self.output.write(said)
        await self._settle()

    async def _send(self, signed: Signed) -> None:
        before = self.output.count
        if await self._post(signed) is not None:
            await self._settle(before)
            await self._answer_forms()

    async def _post(self, signed: Signed) -> str | None:
        """The app's answer body, or None (said) when it refused the request."""
        async with self.http.post(
            self.base_url + signed.path, data=signed.body, headers=signed.headers
        ) as answer:
            body = await answer.text()
        if answer.status != 200:
            self.output.write(f"(the request was refused: {answer.status} {body})")
            return None
        return body

    async def _answer_forms(self) -> None:
        """Modals the bot opened are asked field by field; refused answers are asked again."""
        while self.screen.views:
            view = self.screen.views.pop(0)
            while True:
                payload = await ask_view(view, self.read_line, self.output.write)
                if payload is None:
                    self.output.write("(form closed)")
                    break
                payload["user"] = {"id": self.user}
                before = self.output.count
                body = await self._post(self.signer.interaction(payload))
                errors = _field_errors(body)
                if not errors:
                    await self._settle(before)
                    break
                self.output.write(
                    "\n".join(f"  {name}: {problem}" for name, problem in errors.items())
                )

    async def _settle(self, before: int | None = None) -> None:
        """Wait until the bot has answered (it works after acknowledging) and is quiet."""
        count = self.output.count if before is None else before
        await self.output.settle(count, ANSWER_WITHIN, QUIET_SECONDS)


def _field_errors(body: str | None) -> dict[str, str]:
    """Slack shows ``response_action: errors`` beside the fields; the console lists them."""
    if not body or not body.startswith("{"):
        return {}
    answer = json.loads(body)
    if answer.get("response_action") != "errors":
        return {}
    return {str(k): str(v) for k, v in answer.get("errors", {}).items()}
