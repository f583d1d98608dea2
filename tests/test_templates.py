"""Templates: the built-in three for every kind of guest, tokens, locales, and the sandbox."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FuturesTimeout
from dataclasses import replace

import pytest

from dispatch.compose import sms_segments
from dispatch.compose.builtin_templates import BUILTIN_TEMPLATES
from dispatch.compose.templates import compile_template
from dispatch.compose.tokens import GuestFacts
from dispatch.errors import TemplateRefused
from tests.compose_helpers import BARE_WEDDING, FULL_WEDDING, LAYLA, MINIMAL, ZOE, composer

GUESTS = [ZOE, LAYLA, MINIMAL]


@pytest.mark.parametrize("template_key", sorted(BUILTIN_TEMPLATES))
@pytest.mark.parametrize("wedding", [FULL_WEDDING, BARE_WEDDING], ids=["full", "bare"])
@pytest.mark.parametrize("guest", GUESTS, ids=["unicode", "rtl", "minimal"])
def test_builtin_templates_render_without_blanks_for_every_guest(
    template_key: str, wedding: object, guest: GuestFacts
) -> None:
    compose = composer(template_key, wedding=wedding)  # type: ignore[arg-type]
    assert compose.problems == ()
    email = compose.email_content(guest)
    sms = compose.sms_text(guest)
    for text in (email.subject, email.text, email.html_fragment, sms):
        assert "{{" not in text
        assert "None" not in text
        assert all("  " not in line for line in text.splitlines())
        assert " ," not in text
        assert " ." not in text
    assert compose.wedding.couple_names.replace("&", "&amp;") in email.html_fragment
    if "guest_name" in compose.templates["email_text"].tokens:
        assert guest.name in email.text
        assert guest.name in email.html_fragment


def test_a_bare_wedding_leaves_out_what_it_does_not_have() -> None:
    text = composer("week_of", wedding=BARE_WEDDING).email_content(MINIMAL).text
    assert "Ceremony: Town Hall" in text
    assert "Reception" not in text
    assert "Parking" not in text
    assert "Photos" not in text


def test_unicode_and_right_to_left_names_arrive_intact() -> None:
    compose = composer("invitation")
    assert compose.email_content(LAYLA).text.startswith("Dear ليلى حداد,")
    assert "Dear Zoë Müller," in compose.email_content(ZOE).html_fragment
    assert compose.sms_text(LAYLA).startswith("Evergreen Weddings: ")


def test_dates_and_times_follow_the_weddings_locale() -> None:
    german = replace(FULL_WEDDING, locale="de_DE", timezone="Europe/Berlin")
    text = composer("invitation", wedding=german).email_content(ZOE).text
    assert "Samstag, 12. Juni 2027 at 16:00" in text
    assert "1. Mai 2027" in text
    american = composer("invitation").email_content(ZOE).text
    assert "Saturday, June 12, 2027 at 4:00 PM" in american


def test_formatted_times_keep_sms_in_gsm7() -> None:
    # CLDR writes "4:00\u202fPM"; that one character would double an SMS's cost.
    sms = composer("week_of").sms_text(ZOE)
    assert "Ceremony 4:00 PM at Willow Creek Barn" in sms
    assert sms_segments(sms).encoding == "GSM-7"


def test_html_escapes_guest_data_and_text_keeps_it() -> None:
    mallory = GuestFacts(id=3, name="<b>Mallory</b> & co", email="m@example.com")
    email = composer("invitation").email_content(mallory)
    assert "Dear &lt;b&gt;Mallory&lt;/b&gt; &amp; co," in email.html_fragment
    assert "Dear <b>Mallory</b> & co," in email.text


def test_custom_guest_fields_are_tokens() -> None:
    guest = replace(ZOE, custom_fields={"table_number": "12"})
    compose = composer(email_text="You sit at table {{table_number}}, {{first_name}}.")
    assert compose.email_content(guest).text == "You sit at table 12, Zoë."


def test_a_custom_column_cannot_replace_a_standard_token() -> None:
    guest = replace(ZOE, custom_fields={"venue_name": "Somewhere else", "guest_name": "X"})
    text = composer(email_text="{{guest_name}} at {{venue_name}}").email_content(guest).text
    assert text == "Zoë Müller at Willow Creek Barn"


def test_guarded_tokens_are_not_bare() -> None:
    template = compile_template(
        "{{a}} {% if b %}{{b}}{% endif %} {{c|default('x')}} {{d if d}}",
        html=False,
        part="email text",
    )
    assert template.tokens == {"a", "b", "c", "d"}
    assert template.bare_tokens == {"a"}


def test_an_unknown_token_shows_as_written_in_a_preview() -> None:
    text = composer(email_text="Hello {{guset_name}}").email_content(ZOE).text
    assert text == "Hello {{guset_name}}"


INJECTIONS = [
    "{{ ''.__class__ }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ cycler.__init__.__globals__.os }}",
    "{{ self._TemplateReference__context }}",
    "{{ config }}{{ request }}",
    "{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}",
    "{{ range(10**9) | list }}",
    "{{ 'a' * 1000000000 }}",
    "{{ 9 ** 9 ** 9 }}",
    "{{ guest_name | center(1000000000) }}",
    "{{ lipsum(100000) }}",
    "{% set x = 'a' %}{{ x }}",
    "{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}",
    "{% include '/etc/passwd' %}",
    "{{ guest_name[0] }}",
    "{{ guest_name | attr('upper') }}",
    "{% raw %}{{ x }}{% endraw %}{{ x.y }}",
    "{{ " + "not " * 3000 + "guest_name }}",
    "{% if x %}" * 700 + "a" + "{% endif %}" * 700,
    "{{ guest_name < 1 }}",
    "{{ nosuch > 1 }}",
    "{{ guest_name | upper(1) }}",
    "{{ guest_name | default(*guest_name) }}",
    "{{ guest_name | default(x=1) }}",
]


@pytest.mark.parametrize("source", INJECTIONS)
def test_template_injection_is_refused_within_a_second(source: str) -> None:
    def attempt() -> str:
        template = compile_template(source, html=True, part="email HTML")
        return template.render({"guest_name": "Ann"})

    executor = ThreadPoolExecutor(max_workers=1)
    future = executor.submit(attempt)
    try:
        if source == "{{ config }}{{ request }}":
            # Not an error, and no object either: unknown names print as written.
            assert future.result(timeout=1) == "{{config}}{{request}}"
            return
        with pytest.raises(TemplateRefused):
            future.result(timeout=1)
    except FuturesTimeout:
        pytest.fail(f"not refused within a second: {source[:60]}")
    finally:
        # Never wait for a runaway render: the test must fail, not hang.
        executor.shutdown(wait=False, cancel_futures=True)


def test_refusals_name_the_part_the_construct_and_the_line() -> None:
    with pytest.raises(TemplateRefused) as refused:
        compile_template("Hi\n{% for g in groups %}{{g}}{% endfor %}", html=False, part="SMS text")
    assert str(refused.value) == (
        "The SMS text uses {% for %} loops (line 2), which message templates cannot use. "
        "Write tokens such as {{guest_name}} and, for optional parts, "
        "{% if reception_venue %}…{% endif %}."
    )


def test_a_syntax_error_names_the_line() -> None:
    with pytest.raises(TemplateRefused, match=r"The email text cannot be read \(line 3\)"):
        compile_template("a\nb\n{{ guest_name", html=False, part="email text")


def test_an_oversized_template_is_refused() -> None:
    with pytest.raises(TemplateRefused, match="the limit is 20,000"):
        compile_template("x" * 20_001, html=False, part="email text")


def test_equality_conditions_are_allowed() -> None:
    template = compile_template(
        '{% if rsvp_status == "confirmed" %}See you!{% else %}Hope to see you.{% endif %}',
        html=False,
        part="SMS text",
    )
    assert template.render({"rsvp_status": "confirmed"}) == "See you!"
    assert template.render({"rsvp_status": "pending"}) == "Hope to see you."


def test_a_custom_column_some_guests_lack_renders_empty_not_as_written() -> None:
    compose = composer(
        sms_text="You are at table {{table}}.",
        custom_fields=frozenset({"table"}),
    )
    assert "{{" not in compose.sms_text(LAYLA)
    assert "table ." in compose.sms_text(LAYLA)
