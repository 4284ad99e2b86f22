"""The string formats of CRD schemas, checked as kube-openapi's strfmt registry checks them (the valid and
invalid samples are strfmt's own where it has them), and how schema validation reports a failure."""

from __future__ import annotations

import pytest

from kapiserver.machinery import formats, structural

# format -> (values it accepts, values it refuses)
SAMPLES = {
    "bsonobjectid": (["507f1f77bcf86cd799439011", "507F1F77BCF86CD799439011"],
                     ["507f1f77bcf86cd79943901", "507f1f77bcf86cd79943901z", ""]),
    "uri": (["http://somewhere.com", "mailto:a@b", "/path?q", "*", "http://[::1]:80/x", "http://u:p@host/",
             "https://h/a%20b"],
            ["somewhere.com", "", "http://exa mple.com/", "http://host:port/", "/a%zz", "http://[::1/", "x y",
             "http://a%01b/", "http://a b@c/", ":nothing"]),
    "email": (["blah@gmail.com", "email+tag@gmail.com", '" "@example.com', '"Abc\\@def"@example.com',
               "!#$%&'*+-/=?^_`{}|~@example.com", "postmaster@☁→❄→☃→☀→☺→☂→☹→✝.ws", "root@localhost",
               "john@com", "John Doe <j@example.org>", " a@b.c ", "a@[10.0.0.1]"],
              ["somebody@somewhere@com", "", "a..b@c", ".a@c", "a@", "@c", "John <j@x.org", "a@[not-an-ip]"]),
    "hostname": (["somewhere.com", "888.com", "1.2.3.4.com", "xn--bcher-kva.example.com", "☁→❄→☃→☀→☺→☂→☹→✝.ws",
                  "www.example.ôlà", "ex$ample", "localhost", "x", "x-y", "ex=ample.com", "<foo>",
                  "www.詹姆斯.london", "a." * 60 + "com"],
                 ["somewhere.com!", "user@email.domain", "1.1.1.1", "a" * 256, "x.y." + "a" * 64,
                  "www.example-.org", "-www.example.org", "www-", "www.ex ample.org", "_www.example.org",
                  "www.詹姆斯.x", "a.b.c.d", "x.", "a.b.c.é;ö", "my-host", ""]),
    "ipv4": (["127.0.0.1", "192.168.1.1", "192.168.1.01", "::ffff:1.2.3.4"],
             ["198.168.254.2.2", "::1", "1.2.3.256", "1.2.3", ""]),
    "ipv6": (["::1", "2001:db8::1", "::ffff:1.2.3.4"], ["127.0.0.1", "fe80::1%eth0", "::g", "1:2:3:4:5:6:7:8:9"]),
    "cidr": (["192.0.2.1/24", "192.0.02.1/24", "2001:db8:a0b:12f0::1/32", "10.0.0.0/08"],
             ["198.168.254.2", "2001:db8:a0b:12f0::1", "1.2.3.4/33", "::/129", "1.2.3.4/"]),
    "mac": (["01:02:03:04:05:06", "01-02-03-04-05-06", "0102.0304.0506", "01:02:03:04:05:06:07:08"],
            ["01:02:03:04:05", "01:02-03:04:05:06", "01:02:03:04:05:06:07", "0102.0304"]),
    "uuid": (["123e4567-e89b-12d3-a456-426614174000", "123E4567E89B12D3A456426614174000"], ["not-a-uuid", ""]),
    "uuid3": (["a3bb189e-8bf9-3888-9912-ace4e6543002"], ["a3bb189e-8bf9-4888-9912-ace4e6543002"]),
    "uuid4": (["123e4567-e89b-42d3-a456-426614174000"], ["123e4567-e89b-42d3-c456-426614174000"]),
    "uuid5": (["123e4567-e89b-52d3-b456-426614174000"], ["123e4567-e89b-42d3-b456-426614174000"]),
    "isbn": (["0321751043", "978-0321751041"], ["836217463", "978-0321751042"]),
    "isbn10": (["0321751043", "0-321-75104-3", "080442957X"], ["836217463", "978-0321751041"]),
    "isbn13": (["978-0321751041", "978 0321751041"], ["978-0321751042", "0321751043"]),
    "creditcard": (["4111-1111-1111-1111", "4012 8888 8888 1881"], ["9999-9999-9999-999", "4111-1111-1111-1112"]),
    "ssn": (["111-11-1111", "999 99 9999"], ["999 99 999", "111111111", "111-11-11111"]),
    "hexcolor": (["#FFFFFF", "#000", "fff"], ["#fffffffz", "#ffff", ""]),
    "rgbcolor": (["rgb(255,255,255)", "rgb( 0 , 0 , 0 )"], ["rgb(300,0,0)", "rgb(0,0)", "RGB(0,0,0)"]),
    "byte": (["aGVsbG8=", "ZWxpemFiZXRocG9zZXk="], ["aGVsbG8", "ZWxpemFiZXRocG9zZXk", "", "aGVs bG8="]),
    "password": (["", "super secret!!!"], []),
    "date": (["2021-01-01", "2020-02-29", "0000-02-29"],
             ["2021-02-29", "2020-01-32", "2020-1-01", "2020-13-01", "2021-01-01T00:00:00Z", ""]),
    "datetime": (["2021-01-01T00:00:00Z", "2021-01-01t00:00:00.123+02:00", "2014-12-15T19:30:20.000Z",
                  "2020-01-01T00:00:00ZTignored"],
                 ["bad", "2021-01-01", "2021-01-01T24:00:00Z", "2021-01-01T00:60:00Z", "2020-01-32T00:00:00Z",
                  "2021-01-01 00:00:00Z", "2021-01-01T00:00:00"]),
    "duration": (["22 ns", "1h30m", "0", "-1.5h", "1μs", "3 days", "5 minutes", "2 hours", "1 wk"],
                 ["", "1", "abc", "5 months", "1.5", "h", "2 hrs"]),
}


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_each_format_accepts_and_refuses_as_strfmt(name):
    """Each format apiextensions validates accepts strfmt's valid samples and refuses its invalid ones."""
    good, bad = SAMPLES[name]
    assert [v for v in good if not formats.valid(name, v)] == []
    assert [v for v in bad if formats.valid(name, v)] == []


def test_the_supported_formats_are_apiextensions_list():
    """Exactly the formats apiextensions' supportedVersionedFormats lists are checked."""
    assert formats.SUPPORTED == set(SAMPLES)


def test_names_lose_their_dashes_and_unknown_formats_pass():
    """"date-time" is "datetime"; int32, a misspelt or differently cased name is not checked at all."""
    assert not formats.valid("date-time", "bad") and not formats.valid("da-te", "bad")
    assert all(formats.valid(name, "bad") for name in ("int32", "Date-Time", "k8s-short-name", "dateTime"))


def test_request_uri_errors_are_go_url_errors():
    """The reasons ParseRequestURI gives, in Go's words (the CEL format library shows them)."""
    assert formats.request_uri_error("http://example.com") is None
    assert formats.request_uri_error("somewhere.com") == 'parse "somewhere.com": invalid URI for request'
    assert formats.request_uri_error("") == 'parse "": empty url'
    assert formats.request_uri_error("/a%zz") == 'parse "/a%zz": invalid URL escape "%zz"'
    assert formats.request_uri_error("http://h:x/") == 'parse "http://h:x/": invalid port ":x" after host'
    assert formats.request_uri_error("http://a b/") == 'parse "http://a b/": invalid character " " in host name'


def _date_time_schema():
    return {"type": "object", "properties": {"status": {"type": "object", "properties": {"conditions": {
        "type": "array", "items": {"type": "object", "properties": {
            "lastTransitionTime": {"type": "string", "format": "date-time"},
            "reason": {"type": "string", "format": "hostname", "maxLength": 3}}}}}}}}


def test_a_value_not_of_its_format_is_a_type_error_naming_the_format_as_written():
    """A string failing its format is FieldValueTypeInvalid, worded as kube-openapi's InvalidType with the
    schema's own format name, after the string's other checks."""
    obj = {"status": {"conditions": [{"lastTransitionTime": "bad", "reason": "a b c"}]}}
    errs = structural.validate(obj, _date_time_schema(), root=True)
    assert [(e.reason, str(e)) for e in errs] == [
        ("FieldValueTypeInvalid", 'status.conditions[0].lastTransitionTime: Invalid value: "bad": '
                                  'status.conditions[0].lastTransitionTime in body must be of type date-time: '
                                  '"bad"'),
        ("FieldValueTooLong", "status.conditions[0].reason: Too long: may not be more than 3 bytes"),
        ("FieldValueTypeInvalid", 'status.conditions[0].reason: Invalid value: "a b c": '
                                  'status.conditions[0].reason in body must be of type hostname: "a b c"')]
    good = {"status": {"conditions": [{"lastTransitionTime": "2024-05-01T10:00:00Z", "reason": "ok"}]}}
    assert structural.validate(good, _date_time_schema(), root=True) == []


def test_a_format_error_quotes_the_value_as_go():
    """The value is shown as Go's %q shows it, in both places."""
    errs = structural.validate("a\"b\n", {"type": "string", "format": "date"}, "spec.day")
    assert [str(e) for e in errs] == [
        'spec.day: Invalid value: "a\\"b\\n": spec.day in body must be of type date: "a\\"b\\n"']
