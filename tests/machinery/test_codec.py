"""The codec's YAML reading: input no JSON encoder could write back is refused as bad input."""

import pytest

from kapiserver.machinery import codec


def test_yaml_surrogate_escapes_are_bad_input():
    """A "\\ud800"-style escape (a lone or paired surrogate) is a ValueError, as upstream's scanner rejects it."""
    for document in (b'a: "\\ud839\\uddc8"', b'"\\ud800": 1', b'a: [x, {b: "\\udfff"}]'):
        with pytest.raises(ValueError, match="invalid Unicode character escape"):
            codec.load_yaml(document)


def test_yaml_aliases_and_ordinary_unicode_still_load():
    """The surrogate check walks aliased (even self-referential) documents once and keeps real unicode."""
    assert codec.load_yaml('a: "\\u00e9 \U0001F600"'.encode()) == {"a": "\u00e9 \U0001F600"}
    document = codec.load_yaml(b"a: &x [*x]")
    assert document["a"][0] is document["a"]


def test_yaml_integers_past_uint64_are_floats_the_encoder_can_write():
    """An integer neither int64 nor uint64 holds (``default: 1000000000000000000000000000000`` in a CRD sent as
    YAML) loads as a float, as the JSON decoder gives it, instead of failing to encode (a 500) when stored."""
    document = codec.load_yaml(b"a: 1000000000000000000000000000000\nb: 18446744073709551615\nc: -9223372036854775809")
    assert document == {"a": 1e30, "b": 18446744073709551615, "c": -9.223372036854776e18}
    assert codec.loads(codec.dumps(document)) == document


def test_dumps_keeps_no_more_memory_than_its_bytes():
    """What dumps returns is kept by caches (the watch cache's encoding of every object): it must not hold
    on to a larger encoder buffer (orjson's bytes keep about 8x their length)."""
    import tracemalloc

    from kapiserver.machinery import codec

    obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}, "data": {"v": "x" * 1024}}
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        kept = [codec.dumps(obj) for _ in range(100)]
        per_object = (tracemalloc.get_traced_memory()[0] - before) / len(kept)
    finally:
        tracemalloc.stop()
    assert per_object < 2 * len(kept[0])


def test_yaml_keys_become_json_keys_as_sigs_k8s_io_yaml():
    """A key YAML 1.1 reads as a bool or a number is the string sigs.k8s.io/yaml makes of it; true and 1 stay two
    keys; a null key is refused (ValueError, a 400 to a client)."""
    assert codec.load_yaml(b"on: a\n1: b\n1.5: c\nx: {off: d}\n") == {"true": "a", "1": "b", "1.5": "c",
                                                                      "x": {"false": "d"}}
    with pytest.raises(ValueError, match="unsupported map key"):
        codec.load_yaml(b"null: a\n")
