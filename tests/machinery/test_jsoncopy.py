import copy
from collections import OrderedDict

from kapiserver.machinery.jsoncopy import json_copy


def _no_shared_containers(a, b):
    """Every dict and list of ``b`` is a different object from ``a``'s at the same place."""
    if isinstance(a, (dict, list)):
        assert a is not b
        items = a.items() if isinstance(a, dict) else enumerate(a)
        for key, value in items:
            _no_shared_containers(value, b[key])


def test_copies_nested_json_values():
    obj = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "labels": {"a": "b"}, "finalizers": []},
           "spec": {"containers": [{"name": "c", "ports": [{"containerPort": 80}], "args": ["x", 1, 2.5, True, None]}],
                    "nested": [[{"a": [1]}], []]}}
    out = json_copy(obj)
    assert out == obj
    _no_shared_containers(obj, out)
    # Changing the copy leaves the original as it was.
    out["spec"]["containers"][0]["ports"][0]["containerPort"] = 81
    out["metadata"]["labels"]["c"] = "d"
    out["spec"]["nested"][0][0]["a"].append(2)
    assert obj["spec"]["containers"][0]["ports"][0]["containerPort"] == 80
    assert obj["metadata"]["labels"] == {"a": "b"}
    assert obj["spec"]["nested"][0][0]["a"] == [1]


def test_keeps_key_order_and_value_types():
    obj = {"z": 1, "a": 1.0, "m": True, "b": None, "big": 2 ** 70, "nan": float("inf")}
    out = json_copy(obj)
    assert list(out) == list(obj)
    assert [type(v) for v in out.values()] == [type(v) for v in obj.values()]
    assert out["big"] == 2 ** 70 and out["nan"] == float("inf")


def test_scalars_are_returned_as_they_are():
    for value in ("s", 0, 1.5, False, None):
        assert json_copy(value) is value


def test_other_values_are_deep_copied():
    inner = [1, {"x": 2}]
    obj = {"t": (inner,), "o": OrderedDict(a=[1])}
    out = json_copy(obj)
    assert out == obj
    assert out["t"][0] is not inner and out["t"][0][1] is not inner[1]
    assert type(out["o"]) is OrderedDict and out["o"]["a"] is not obj["o"]["a"]


def test_same_result_as_deepcopy_on_decoded_json():
    import orjson
    raw = b'{"a":[{"b":{"c":[1,2,{"d":"e"}]}},"f",3.25],"g":{"h":{}},"i":[]}'
    assert json_copy(orjson.loads(raw)) == copy.deepcopy(orjson.loads(raw))
