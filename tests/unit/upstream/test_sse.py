"""server/sse.py: bytes of an event stream -> ServerSentEvents.

Every stream is decoded whole, byte by byte and at random split points, and the three must
agree (house style). The generated streams carry what real upstreams send: multi-line data,
keep-alive comments, ``event: ping`` with no data, ``id``/``retry``, LF/CRLF/CR line endings, a
leading BOM and non-ASCII text, so splits land inside multi-byte characters, inside the BOM and
between ``\\r`` and ``\\n``.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from httpx_sse import ServerSentEvent
from hypothesis import given, settings
from hypothesis import strategies as st

from server.upstream.sse import EventDecoder

BOM = b"\xef\xbb\xbf"
Decoded = tuple[str, str, str, int | None]  # event, data, id, retry

FAST = settings(max_examples=200, deadline=None)


def _key(event: ServerSentEvent) -> Decoded:
    return (event.event, event.data, event.id, event.retry)


def _decode(chunks: list[bytes]) -> list[Decoded]:
    decoder = EventDecoder()
    events = []
    for chunk in chunks:
        events += decoder.feed(chunk)
    events += decoder.close()
    return [_key(e) for e in events]


def _whole(data: bytes) -> list[Decoded]:
    return _decode([data])


def _bytewise(data: bytes) -> list[Decoded]:
    return _decode([data[i : i + 1] for i in range(len(data))])


def _split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    chunks, start = [], 0
    for point in points:
        chunks.append(data[start:point])
        start = point
    chunks.append(data[start:])
    return chunks


def _all_ways(data: bytes, cuts: list[int]) -> list[Decoded]:
    """Decode whole, byte by byte and at ``cuts``; assert they agree; return the result."""
    whole = _whole(data)
    assert _bytewise(data) == whole
    assert _decode(_split(data, cuts)) == whole
    return whole


# ------------------------------------------------------------------ generated streams

# No CR/LF inside a value (they end lines); U+2028, U+0085, VT and FF must not end lines.
# Surrogates cannot be encoded as UTF-8.
_VALUE = st.text(
    alphabet=st.one_of(
        st.characters(codec="utf-8", exclude_characters="\r\n"),
        st.sampled_from("é€😀\u2028\u0085\x0b\x0c: \t\ufeff"),
    ),
    max_size=12,
)
_ID = _VALUE.filter(lambda v: "\0" not in v)
_NEWLINES = st.sampled_from(["\n", "\r\n", "\r"])


@dataclass
class Block:
    """One event as written on the wire: its lines, and what a decoder must make of it."""

    lines: list[str]
    event: str | None
    data: list[str]
    id: str | None
    retry: int | None


@st.composite
def _field_line(draw: st.DrawFn, name: str, value: str) -> str:
    # "name: value" (one space dropped), "name:value"; a value starting with a space keeps it
    # only after the one dropped space.
    if value.startswith(" ") or draw(st.booleans()):
        return f"{name}: {value}"
    return f"{name}:{value}"


@st.composite
def blocks(draw: st.DrawFn) -> Block:
    lines: list[str] = []
    event = None
    data: list[str] = []
    event_id = None
    retry = None
    kinds = draw(
        st.lists(
            st.sampled_from(
                ["data", "data", "data", "comment", "event", "id", "retry", "bare_data", "unknown"]
            ),
            max_size=6,
        )
    )
    for kind in kinds:
        if kind == "data":
            value = draw(_VALUE)
            data.append(value)
            lines.append(draw(_field_line("data", value)))
        elif kind == "bare_data":  # a field name with no colon: value is ""
            data.append("")
            lines.append("data")
        elif kind == "comment":
            lines.append(":" + draw(st.sampled_from([" OPENROUTER PROCESSING", "", " keep-alive"])))
        elif kind == "event":
            event = draw(st.sampled_from(["ping", "message", "delta", "évènement"]))
            lines.append(draw(_field_line("event", event)))
        elif kind == "id":
            event_id = draw(_ID)
            lines.append(draw(_field_line("id", event_id)))
        elif kind == "retry":
            retry = draw(st.integers(min_value=0, max_value=10**6))
            lines.append(f"retry: {retry}")
        else:
            name = draw(st.sampled_from(["foo", "Data", "ID"]))
            lines.append(draw(_field_line(name, draw(_VALUE))))
    return Block(lines, event, data, event_id, retry)


def _expected(blocks_: list[Block]) -> list[Decoded]:
    """What the spec dispatches, minus events whose data is empty (they never reach json)."""
    out = []
    last_id = ""
    for block in blocks_:
        if block.id is not None:
            last_id = block.id  # the last event id sticks, even from an event not dispatched
        data = "\n".join(block.data)
        if data != "":
            out.append((block.event or "message", data, last_id, block.retry))
    return out


@st.composite
def _serialize(draw: st.DrawFn, lines: list[str]) -> str:
    out = []
    previous = ""
    for line in lines:
        newline = draw(_NEWLINES)
        if previous == "\r" and line == "" and newline == "\n":
            # "\r" + "\n" would be one CRLF, not two line ends: a different stream.
            newline = draw(st.sampled_from(["\r", "\r\n"]))
        out.append(line + newline)
        previous = newline
    return "".join(out)


@st.composite
def streams(draw: st.DrawFn) -> tuple[bytes, list[Decoded]]:
    blocks_ = draw(st.lists(blocks(), max_size=6))
    lines: list[str] = []
    for block in blocks_:
        lines += block.lines
        lines.append("")  # the blank line that dispatches
        lines += [""] * draw(st.integers(0, 2))  # extra blank lines change nothing
    text = draw(_serialize(lines))
    raw = text.encode("utf-8")
    if draw(st.booleans()):
        raw = BOM + raw
    return raw, _expected(blocks_)


_CUTS = st.lists(st.integers(min_value=0, max_value=10_000), max_size=12)


@FAST
@given(stream=streams(), cuts=_CUTS)
def test_generated_streams_decode_the_same_however_split(
    stream: tuple[bytes, list[Decoded]], cuts: list[int]
) -> None:
    raw, expected = stream
    assert _all_ways(raw, cuts) == expected


@FAST
@given(stream=streams(), cuts=_CUTS)
def test_a_complete_stream_needs_close_only_for_a_final_lone_cr(
    stream: tuple[bytes, list[Decoded]], cuts: list[int]
) -> None:
    # Events are handed out as soon as their blank line is in, not saved for close(); only a
    # final "\r" is held, since it might be the first half of "\r\n".
    raw, expected = stream
    decoder = EventDecoder()
    fed = [_key(e) for chunk in _split(raw, cuts) for e in decoder.feed(chunk)]
    closed = [_key(e) for e in decoder.close()]
    if not raw.endswith(b"\r"):
        assert closed == []
    assert fed + closed == expected


@FAST
@given(raw=st.binary(max_size=200), cuts=_CUTS)
def test_any_bytes_decode_the_same_however_split_and_never_raise(raw: bytes, cuts: list[int]) -> None:
    _all_ways(raw, cuts)
    _all_ways(BOM + raw, cuts)


@FAST
@given(
    raw=st.lists(
        st.sampled_from(
            [
                b"data:",
                b" ",
                b"x",
                b"\n",
                b"\r",
                b"\r\n",
                b":c",
                b"\xc3\xa9",
                b"\xff",
                b"\xe2\x82",
                b"\xac",
                b"event: ping",
                b"id: 1",
                b"retry: 5",
                BOM,
            ]
        ),
        max_size=40,
    ).map(b"".join),
    cuts=_CUTS,
)
def test_sse_shaped_bytes_decode_the_same_however_split(raw: bytes, cuts: list[int]) -> None:
    # Denser in the interesting bytes than st.binary(): line ends, partial UTF-8, BOMs.
    for event in _all_ways(raw, cuts):
        assert event[1] != ""


# ------------------------------------------------------------------ examples


def _events(text: str | bytes) -> list[Decoded]:
    raw = text.encode("utf-8") if isinstance(text, str) else text
    return _all_ways(raw, [1, 3, 7, 11, 13, 29, 31])


def test_openai_style_stream() -> None:
    stream = (
        'data: {"choices":[{"delta":{"content":"Hé"}}]}\n\n'
        ": OPENROUTER PROCESSING\n\n"
        'data: {"choices":[{"delta":{"content":"llo"}}]}\n\n'
        "data: [DONE]\n\n"
    )
    assert [e[1] for e in _events(stream)] == [
        '{"choices":[{"delta":{"content":"Hé"}}]}',
        '{"choices":[{"delta":{"content":"llo"}}]}',
        "[DONE]",
    ]


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
def test_every_line_ending(newline: str) -> None:
    stream = newline.join(["data: a", "data: b", "", "event: x", "data: c", "", ""])
    assert _events(stream) == [("message", "a\nb", "", None), ("x", "c", "", None)]


def test_cr_lf_split_across_feeds_is_one_line_end() -> None:
    decoder = EventDecoder()
    assert decoder.feed(b"data: a\r") == []
    # The CR of the blank line ends it at once; the LF that follows is the same line end.
    assert [e.data for e in decoder.feed(b"\n\r")] == ["a"]
    assert [e.data for e in decoder.feed(b"\ndata: b\r\n\r\n")] == ["b"]
    assert decoder.close() == []


def test_multi_line_data_is_joined_with_lf() -> None:
    assert _events("data: one\ndata:two\ndata\ndata:  four\n\n") == [
        ("message", "one\ntwo\n\n four", "", None)
    ]


def test_other_unicode_line_breaks_are_data() -> None:
    assert _events("data: a\u2028b\u0085c\x0bd\x0ce\n\n") == [
        ("message", "a\u2028b\u0085c\x0bd\x0ce", "", None)
    ]


@pytest.mark.parametrize(
    "block",
    [
        "event: ping\n\n",
        "retry: 3000\n\n",
        "id: 7\n\n",
        "data:\n\n",
        "data\n\n",
        "data: \n\n",
        ": comment\n\n",
        "event: ping\ndata:\n\n",
    ],
)
def test_events_with_empty_data_are_not_emitted(block: str) -> None:
    # They would reach json.loads("") and fail the turn.
    assert _events(block + "data: after\n\n") == [
        ("message", "after", "7" if block.startswith("id") else "", None)
    ]


def test_ping_event_type_does_not_leak_into_the_next_event() -> None:
    assert _events("event: ping\n\ndata: x\n\n") == [("message", "x", "", None)]


def test_id_sticks_and_retry_does_not() -> None:
    assert _events("id: 1\nretry: 10\ndata: a\n\ndata: b\n\nid\ndata: c\n\n") == [
        ("message", "a", "1", 10),
        ("message", "b", "1", None),
        ("message", "c", "", None),
    ]


def test_id_with_nul_is_ignored() -> None:
    assert _events("id: 1\ndata: a\n\nid: 2\x003\ndata: b\n\n") == [
        ("message", "a", "1", None),
        ("message", "b", "1", None),
    ]


def test_unknown_fields_and_comments_are_ignored() -> None:
    assert _events(":hi\nfoo: bar\nDATA: no\ndata: yes\n: bye\n\n") == [("message", "yes", "", None)]


@pytest.mark.parametrize("prefix", [b"", BOM])
@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
def test_leading_bom_does_not_lose_the_first_event(prefix: bytes, newline: str) -> None:
    raw = prefix + f"data: first{newline}{newline}data: second{newline}{newline}".encode()
    assert [e[1] for e in _events(raw)] == ["first", "second"]


def test_only_one_bom_is_stripped() -> None:
    # The second BOM is part of the first line, which then names an unknown field.
    assert _events(BOM + BOM + b"data: a\n\ndata: \xef\xbb\xbfb\n\n") == [("message", "\ufeffb", "", None)]


def test_bom_split_over_three_feeds() -> None:
    decoder = EventDecoder()
    assert decoder.feed(b"\xef") == []
    assert decoder.feed(b"\xbb") == []
    assert decoder.feed(b"\xbf") == []
    assert [e.data for e in decoder.feed(b"data: a\n\n")] == ["a"]


def test_multi_byte_character_split_across_feeds() -> None:
    raw = "data: é€😀\n\n".encode()
    decoder = EventDecoder()
    events = []
    for i in range(len(raw)):
        events += decoder.feed(raw[i : i + 1])
    assert [e.data for e in events] == ["é€😀"]
    assert decoder.close() == []


def test_stream_is_always_utf8() -> None:
    # Not the Content-Type charset: "é" must not become "Ã©".
    assert _events("data: café\n\n") == [("message", "café", "", None)]


@pytest.mark.parametrize(
    ("raw", "data"),
    [
        (b"data: a\xffb\n\n", "a\ufffdb"),
        (b"data: \xc3\n\n", "\ufffd"),  # a lead byte cut short by the line end
        (b"data: \xe2\x82x\n\n", "\ufffdx"),
        (b"data: \xed\xa0\x80\n\n", "\ufffd\ufffd\ufffd"),  # an encoded surrogate
        (b"data: \xc0\xaf\n\n", "\ufffd\ufffd"),  # overlong
    ],
)
def test_invalid_utf8_becomes_replacement_characters(raw: bytes, data: str) -> None:
    assert _events(raw) == [("message", data, "", None)]


def test_invalid_utf8_at_end_of_stream_does_not_raise() -> None:
    decoder = EventDecoder()
    assert [e.data for e in decoder.feed(b"data: a\n\n\xe2\x82")] == ["a"]
    assert decoder.close() == []


@pytest.mark.parametrize(
    "tail",
    [
        "data: cut",
        "data: cut\n",
        "data: cut\r\n",
        "data: cut\r",
        "event: x\ndata: cut\n",
        "data: cut\ndata: off",
    ],
)
def test_truncated_final_event_is_dropped_at_close(tail: str) -> None:
    assert _events("data: whole\n\n" + tail) == [("message", "whole", "", None)]


def test_event_ended_by_cr_cr_is_not_held_back() -> None:
    decoder = EventDecoder()
    assert [e.data for e in decoder.feed(b"data: a\r\r")] == ["a"]
    assert decoder.feed(b"\n") == []  # the LF completing that CR is not another blank line
    assert decoder.close() == []


def test_event_ended_by_cr_cr_is_not_held_for_the_next_chunk() -> None:
    decoder = EventDecoder()
    assert [e.data for e in decoder.feed(b"data: a\r\r")] == ["a"]


def test_close_on_nothing_and_empty_feeds() -> None:
    decoder = EventDecoder()
    assert decoder.feed(b"") == []
    assert decoder.close() == []


def test_a_trailing_cr_ends_the_event_at_once() -> None:
    decoder = EventDecoder()
    assert [e.data for e in decoder.feed(b"data: a\n\r")] == ["a"]
    assert decoder.close() == []


@pytest.mark.parametrize("value", ["+5", "5.0", " 7x", "٣"])
def test_retry_takes_ascii_digits_only(value: str) -> None:
    assert _events(f"retry: {value}\ndata: a\n\n") == [("message", "a", "", None)]
