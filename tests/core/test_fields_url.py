"""The URL field's character rule: one regex stands for "whitespace or a control
character" (str.isspace() or Unicode category Cc). It must say exactly that, for every
code point, or URLs the API accepted before would now be refused (or the reverse)."""

import sys
import unicodedata
from urllib.parse import urlsplit

import pytest

from app.core.fields import _SPACE_OR_CONTROL, _http_url


def test_the_regex_is_exactly_whitespace_or_control_for_every_code_point() -> None:
    differ = [
        hex(code)
        for code in range(sys.maxunicode + 1)
        if bool(_SPACE_OR_CONTROL.search(chr(code)))
        != (chr(code).isspace() or unicodedata.category(chr(code)) == "Cc")
    ]
    assert differ == []


@pytest.mark.parametrize(
    "url",
    [
        "https://example.org/a b",
        "https://example.org/\u3000",
        "https://example.org/\x85",
        "https://example.org/\x7f",
        "https://example.org/\u2028",
        "ftp://example.org/",
        "https://user@example.org/",
        "https:///path",
        "http://[::1/x",
        "http://[1:2:3:4:5:6::]]/",
        "http://[::ffff:1.2.3.256]/",
    ],
)
def test_refused_urls(url: str) -> None:
    with pytest.raises(ValueError):
        _http_url(url)


@pytest.mark.parametrize(
    "url",
    [
        "https://example.org/report",
        "http://[::1]:8080/x",
        "https://ar.wikipedia.org/wiki/حماة",
        "https://example.org/\u200b",  # zero-width space: format (Cf), not whitespace
        "http://a.b-c:8080?q=[1]#x",
        "https://example.org/@user",
    ],
)
def test_accepted_urls(url: str) -> None:
    assert _http_url(url) == url
    parts = urlsplit(url)  # what the shortcut for host names relies on
    assert parts.scheme in ("http", "https") and parts.hostname
