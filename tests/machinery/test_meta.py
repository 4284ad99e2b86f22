"""machinery.meta's uid maker: the text of a random version 4 UUID, as str(uuid.uuid4()) gives."""

import re
import uuid

from kapiserver.machinery import meta


def test_new_uid_is_a_version_4_uuid_in_canonical_text():
    seen = set()
    for _ in range(2000):
        text = meta.new_uid()
        assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", text)
        parsed = uuid.UUID(text)
        assert str(parsed) == text
        assert parsed.version == 4 and parsed.variant == uuid.RFC_4122
        seen.add(text)
    assert len(seen) == 2000


def test_new_uid_variant_digits_all_occur():
    # The variant digit takes each of its four values (two random bits), as uuid4's does.
    assert {meta.new_uid()[19] for _ in range(400)} == set("89ab")
