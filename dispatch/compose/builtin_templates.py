"""The product's three message templates: invitation, RSVP reminder, week-of details.

Each has an email subject, a plain-text body, an HTML body (a fragment: the
accessible page around it, the footer and the unsubscribe link are added by
``email_message.build_email``) and an SMS text (the sender name and "Reply STOP to opt
out" are added by ``sms_message``). Optional wedding details sit inside
``{% if %}`` so a wedding without them gets no blank.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class MessageTemplate:
    key: str
    title: str
    purpose: str
    email_subject: str
    email_text: str
    email_html: str
    sms_text: str


INVITATION = MessageTemplate(
    key="invitation",
    title="Wedding invitation",
    purpose="Invite guests and ask them to RSVP.",
    email_subject="You're invited: {{couple_names}}, {{wedding_date}}",
    email_text="""\
Dear {{guest_name}},

{{couple_names}} would love you to join them on {{wedding_date}}\
{% if ceremony_time %} at {{ceremony_time}}{% endif %}, at {{venue_name}}.
{% if reception_venue %}
The celebration continues afterwards at {{reception_venue}}.
{% endif %}
Please let us know whether you can come\
{% if rsvp_deadline %} by {{rsvp_deadline}}{% endif %}:
{{rsvp_link}}
{% if wedding_hashtag %}
Share your photos with {{wedding_hashtag}}.
{% endif %}
With love,
{{couple_names}}
""",
    email_html="""\
<h1>You're invited</h1>
<p>Dear {{guest_name}},</p>
<p>{{couple_names}} would love you to join them on <strong>{{wedding_date}}</strong>\
{% if ceremony_time %} at <strong>{{ceremony_time}}</strong>{% endif %}, \
at {{venue_name}}.</p>
{% if reception_venue %}<p>The celebration continues afterwards at \
{{reception_venue}}.</p>
{% endif %}\
<p><a href="{{rsvp_link}}">Reply to the invitation\
{% if rsvp_deadline %} by {{rsvp_deadline}}{% endif %}</a></p>
{% if wedding_hashtag %}<p>Share your photos with {{wedding_hashtag}}.</p>
{% endif %}\
<p>With love,<br>{{couple_names}}</p>
""",
    sms_text=(
        "{{couple_names}} invite you to their wedding on {{wedding_date}} at {{venue_name}}. "
        "Please RSVP{% if rsvp_deadline %} by {{rsvp_deadline}}{% endif %}: {{rsvp_link}}"
    ),
)

RSVP_REMINDER = MessageTemplate(
    key="rsvp_reminder",
    title="RSVP reminder",
    purpose="Remind guests who have not answered yet (use the segment rsvp=pending).",
    email_subject="Reminder: will you join {{couple_names}} on {{wedding_date}}?",
    email_text="""\
Dear {{guest_name}},

We haven't heard from you yet. {{couple_names}} are planning the day and would \
love to know whether you can come{% if rsvp_deadline %} — please answer by \
{{rsvp_deadline}}{% endif %}:
{{rsvp_link}}

Thank you,
{{couple_names}}
""",
    email_html="""\
<h1>Will you join us?</h1>
<p>Dear {{guest_name}},</p>
<p>We haven't heard from you yet. {{couple_names}} are planning the day and would \
love to know whether you can come.</p>
<p><a href="{{rsvp_link}}">Answer the invitation\
{% if rsvp_deadline %} by {{rsvp_deadline}}{% endif %}</a></p>
<p>Thank you,<br>{{couple_names}}</p>
""",
    sms_text=(
        "Hi {{first_name}}, a reminder to RSVP for {{couple_names}}'s wedding on "
        "{{wedding_date}}{% if rsvp_deadline %} by {{rsvp_deadline}}{% endif %}: {{rsvp_link}} "
        "You can also reply YES or NO."
    ),
)

WEEK_OF_DETAILS = MessageTemplate(
    key="week_of",
    title="Week-of details",
    purpose="Times, places and parking for confirmed guests (use rsvp=confirmed).",
    email_subject="This week: the details for {{couple_names}}'s wedding",
    email_text="""\
Dear {{guest_name}},

We can't wait to see you on {{wedding_date}}!

Ceremony: {% if ceremony_time %}{{ceremony_time}} at {% endif %}{{venue_name}}
{% if reception_venue %}Reception: {{reception_venue}}
{% endif %}\
{% if parking_instructions %}Parking: {{parking_instructions}}
{% endif %}\
{% if wedding_hashtag %}Photos: share them with {{wedding_hashtag}}
{% endif %}
See you soon,
{{couple_names}}
""",
    email_html="""\
<h1>See you this week</h1>
<p>Dear {{guest_name}},</p>
<p>We can't wait to see you on <strong>{{wedding_date}}</strong>!</p>
<h2>The day</h2>
<ul>
<li>Ceremony: {% if ceremony_time %}{{ceremony_time}} at {% endif %}{{venue_name}}</li>
{% if reception_venue %}<li>Reception: {{reception_venue}}</li>
{% endif %}\
{% if parking_instructions %}<li>Parking: {{parking_instructions}}</li>
{% endif %}\
</ul>
{% if wedding_hashtag %}<p>Share your photos with {{wedding_hashtag}}.</p>
{% endif %}\
<p>See you soon,<br>{{couple_names}}</p>
""",
    sms_text=(
        "See you on {{wedding_date}}! Ceremony{% if ceremony_time %} {{ceremony_time}}"
        "{% endif %} at {{venue_name}}.{% if parking_instructions %} Parking: "
        "{{parking_instructions}}{% endif %}"
    ),
)

BUILTIN_TEMPLATES: dict[str, MessageTemplate] = {
    template.key: template for template in (INVITATION, RSVP_REMINDER, WEEK_OF_DETAILS)
}
