"""Field errors print their bad values as apimachinery's field.ErrorBody does."""

from __future__ import annotations

from kapiserver.machinery import errors


def test_compound_values_print_with_go_syntax():
    """Maps (keys sorted, ", " between entries) and slices print as Go's %#v of values decoded from JSON;
    nested numbers as int64 or float64, a nested null as interface {}(nil)."""
    assert str(errors.duplicate("spec.steps[1]", {"step": "one"})) == \
        'spec.steps[1]: Duplicate value: map[string]interface {}{"step":"one"}'
    assert errors.duplicate("x", {"value": "1", "name": "x"}).body == \
        'Duplicate value: map[string]interface {}{"name":"x", "value":"1"}'
    assert errors.duplicate("x", {}).body == "Duplicate value: map[string]interface {}{}"
    assert errors.invalid("x", ["a", "b"], "why").body == 'Invalid value: []interface {}{"a", "b"}: why'
    assert errors.invalid("x", {"n": [1, 2.5, 1e6, 1.0, None, True, {}], "s": 'q"\\\n\x07\u00a0é'}).body == (
        'Invalid value: map[string]interface {}{"n":[]interface {}{1, 2.5, 1e+06, 1, interface {}(nil), true, '
        'map[string]interface {}{}}, "s":"q\\"\\\\\\n\\a\\u00a0é"}')


def test_scalar_values_are_unchanged():
    """Scalars keep their plain rendering: strings quoted, numbers and booleans bare."""
    assert [errors.invalid("x", v).body for v in ("a", 3, 1.5, True)] == [
        'Invalid value: "a"', "Invalid value: 3", "Invalid value: 1.5", "Invalid value: true"]


def test_invalid_lists_a_repeated_error_once_and_keeps_every_cause():
    """NewInvalid: the message is ErrorList.ToAggregate's (each distinct error once, one alone without brackets),
    the causes are every error of the list, a repeated one too."""
    same = errors.invalid("metadata.labels", "-x", "bad")
    status = errors.invalid_object("", "ConfigMap", "c", [same, same])
    assert status.message == 'ConfigMap "c" is invalid: metadata.labels: Invalid value: "-x": bad'
    assert status.details["causes"] == [same.cause(), same.cause()]
    other = errors.required("data")
    status = errors.invalid_object("apps", "Deployment", "d", [same, other, same])
    assert status.message == ('Deployment.apps "d" is invalid: [metadata.labels: Invalid value: "-x": bad, '
                              'data: Required value]')
    assert len(status.details["causes"]) == 3
    assert errors.invalid_object("", "ConfigMap", "c", []).message == 'ConfigMap "c" is invalid'


def test_an_error_on_the_empty_path_prints_it_and_its_cause_has_no_field():
    """field.Error's text is "<path>: <body>" whatever the path; a StatusCause's field is omitempty."""
    from kapiserver.machinery import errors
    error = errors.forbidden("", "at most one of these")
    assert str(error) == ": Forbidden: at most one of these"
    assert error.cause() == {"reason": "FieldValueForbidden", "message": "Forbidden: at most one of these"}
    status = errors.invalid_object("", "PodLogOptions", "p", [error])
    assert status.message == 'PodLogOptions "p" is invalid: : Forbidden: at most one of these'
