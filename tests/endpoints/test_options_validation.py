"""The verbs' options validated as upstream 1.32's handlers validate them: Validate{Create,Update,Patch,Delete}Options
(fieldManager, dryRun, fieldValidation, propagationPolicy) and ValidateListOptions (a list's and a watch's
resourceVersionMatch, continue and sendInitialEvents), every problem a cause of one 422 naming the options' kind."""

from __future__ import annotations

import json

import pytest

from tests.endpoints.inprocess import served

CMS = "/api/v1/namespaces/default/configmaps"


@pytest.fixture
def api():
    call = served()

    def ask(method, path, body=None, content_type="application/json"):
        """(code, decoded body); a watch is given a second to end its timeoutSeconds=1."""
        answer = call(method, path, body, content_type, wait=1)
        return answer.code, answer.body

    assert ask("POST", CMS, _cm("a"))[0] == 201
    return ask


def _cm(name):
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"k": "v"}}


def _invalid(kind, causes):
    """upstream's NewInvalid of a meta.k8s.io options kind with these (field, reason, message) causes."""
    texts = [f"{field}: {message}" for field, _, message in causes]
    summary = texts[0] if len(texts) == 1 else "[" + ", ".join(texts) + "]"
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": f'{kind}.meta.k8s.io "" is invalid: {summary}', "reason": "Invalid",
            "details": {"group": "meta.k8s.io", "kind": kind,
                        "causes": [{"reason": reason, "message": message, "field": field}
                                   for field, reason, message in causes]},
            "code": 422}


def _dry_run(shown):
    return ("dryRun", "FieldValueNotSupported", f'Unsupported value: {shown}: supported values: "All"')


def _field_validation(value):
    return ("fieldValidation", "FieldValueNotSupported",
            f'Unsupported value: "{value}": supported values: "", "Ignore", "Strict", "Warn"')


# -- dryRun --------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("query, shown", [
    ("dryRun=Foo", '[]string{"Foo"}'),
    ("dryRun=true", '[]string{"true"}'),
    ("dryRun=", '[]string{""}'),
    ("dryRun=All&dryRun=Foo", '[]string{"All", "Foo"}'),
])
def test_a_delete_with_an_unsupported_dry_run_is_invalid_and_deletes_nothing(api, query, shown):
    assert api("DELETE", f"{CMS}/a?{query}") == (422, _invalid("DeleteOptions", [_dry_run(shown)]))
    assert api("DELETE", f"{CMS}?{query}") == (422, _invalid("DeleteOptions", [_dry_run(shown)]))
    assert api("GET", f"{CMS}/a")[0] == 200


def test_a_delete_options_body_with_an_unsupported_dry_run_is_invalid(api):
    body = {"apiVersion": "v1", "kind": "DeleteOptions", "dryRun": ["Foo"]}
    assert api("DELETE", f"{CMS}/a", body) == (422, _invalid("DeleteOptions", [_dry_run('[]string{"Foo"}')]))
    assert api("DELETE", CMS, body) == (422, _invalid("DeleteOptions", [_dry_run('[]string{"Foo"}')]))
    # After the propagationPolicy's problems, as ValidateDeleteOptions makes them.
    body.update(propagationPolicy="Sometimes")
    assert api("DELETE", f"{CMS}/a", body) == (422, _invalid("DeleteOptions", [
        ("propagationPolicy", "FieldValueNotSupported",
         'Unsupported value: "Sometimes": supported values: "Foreground", "Background", "Orphan", "nil"'),
        _dry_run('[]string{"Foo"}')]))
    assert api("GET", f"{CMS}/a")[0] == 200


def test_all_given_twice_is_a_dry_run(api):
    assert api("DELETE", f"{CMS}/a?dryRun=All&dryRun=All")[0] == 200
    assert api("DELETE", f"{CMS}?dryRun=All&dryRun=All")[0] == 200
    assert api("POST", f"{CMS}?dryRun=All&dryRun=All", _cm("b"))[0] == 201
    assert api("GET", f"{CMS}/a")[0] == 200
    assert api("GET", f"{CMS}/b")[0] == 404


@pytest.mark.parametrize("method, suffix, kind", [
    ("POST", "", "CreateOptions"), ("PUT", "/a", "UpdateOptions"), ("PATCH", "/a", "PatchOptions")])
def test_a_write_with_an_unsupported_dry_run_is_invalid(api, method, suffix, kind):
    content_type = "application/merge-patch+json" if method == "PATCH" else "application/json"
    body = {"data": {"k": "w"}} if method == "PATCH" else _cm("a" if suffix else "b")
    code, status = api(method, f"{CMS}{suffix}?dryRun=true", body, content_type)
    assert (code, status) == (422, _invalid(kind, [_dry_run('[]string{"true"}')]))


# -- fieldValidation -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("method, suffix, kind, content_type", [
    ("POST", "", "CreateOptions", "application/json"),
    ("PUT", "/a", "UpdateOptions", "application/json"),
    ("PATCH", "/a", "PatchOptions", "application/merge-patch+json"),
    ("PATCH", "/a", "PatchOptions", "application/strategic-merge-patch+json"),
])
def test_an_unsupported_field_validation_is_invalid(api, method, suffix, kind, content_type):
    body = {"data": {"k": "w"}} if method == "PATCH" else _cm("a" if suffix else "b")
    for value in ("Foo", "strict"):
        code, status = api(method, f"{CMS}{suffix}?fieldValidation={value}", body, content_type)
        assert (code, status) == (422, _invalid(kind, [_field_validation(value)]))


def test_an_apply_with_an_unsupported_field_validation_is_invalid(api):
    body = json.dumps(_cm("a")).encode()
    code, status = api("PATCH", f"{CMS}/a?fieldManager=me&fieldValidation=Foo", body, "application/apply-patch+yaml")
    assert (code, status) == (422, _invalid("PatchOptions", [_field_validation("Foo")]))


def test_an_empty_field_validation_is_the_default(api):
    assert api("POST", f"{CMS}?fieldValidation=", _cm("b"))[0] == 201


def test_the_write_options_problems_are_one_422_in_upstreams_order(api):
    code, status = api("POST", f"{CMS}?fieldValidation=Foo&dryRun=x&fieldManager=" + "m" * 129, _cm("b"))
    assert (code, status) == (422, _invalid("CreateOptions", [
        ("fieldManager", "FieldValueTooLong", "Too long: may not be more than 128 bytes"),
        _dry_run('[]string{"x"}'), _field_validation("Foo")]))


# -- ListOptions ---------------------------------------------------------------------------------------------------

RV_NEEDED = ("resourceVersionMatch", "FieldValueForbidden",
             "Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided")
RV_AND_CONTINUE = ("resourceVersionMatch", "FieldValueForbidden",
                   "Forbidden: resourceVersionMatch is forbidden when continue is provided")
EXACT_ZERO = ("resourceVersionMatch", "FieldValueForbidden",
              'Forbidden: resourceVersionMatch "exact" is forbidden for resourceVersion "0"')
SIE_FOR_LIST = ("sendInitialEvents", "FieldValueForbidden", "Forbidden: sendInitialEvents is forbidden for list")
SIE_NEEDS_MATCH = ("resourceVersionMatch", "FieldValueForbidden",
                   "Forbidden: sendInitialEvents requires setting resourceVersionMatch to NotOlderThan")
MATCH_NEEDS_SIE = ("resourceVersionMatch", "FieldValueForbidden",
                   "Forbidden: resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided")


def _list_match_unsupported(value):
    return ("resourceVersionMatch", "FieldValueNotSupported",
            f'Unsupported value: "{value}": supported values: "Exact", "NotOlderThan", ""')


def _watch_match_unsupported(value):
    return ("resourceVersionMatch", "FieldValueNotSupported",
            f'Unsupported value: "{value}": supported values: "NotOlderThan"')


@pytest.mark.parametrize("query, causes", [
    ("resourceVersionMatch=Exact", [RV_NEEDED]),
    ("resourceVersionMatch=NotOlderThan", [RV_NEEDED]),
    ("resourceVersionMatch=Foo&resourceVersion=1", [_list_match_unsupported("Foo")]),
    ("resourceVersionMatch=exact&resourceVersion=1", [_list_match_unsupported("exact")]),
    ("resourceVersionMatch=Exact&resourceVersion=0", [EXACT_ZERO]),
    ("resourceVersionMatch=NotOlderThan&resourceVersion=0&continue=abc", [RV_AND_CONTINUE]),
    ("resourceVersionMatch=Foo&continue=abc", [RV_NEEDED, RV_AND_CONTINUE, _list_match_unsupported("Foo")]),
    ("sendInitialEvents=true", [SIE_FOR_LIST]),
    ("sendInitialEvents=false", [SIE_FOR_LIST]),
    ("sendInitialEvents=true&resourceVersionMatch=NotOlderThan", [RV_NEEDED, SIE_FOR_LIST]),
    ("watch=false&sendInitialEvents=true", [SIE_FOR_LIST]),
])
def test_a_lists_invalid_options(api, query, causes):
    assert api("GET", f"{CMS}?{query}") == (422, _invalid("ListOptions", causes))
    # A deletecollection's, before its DeleteOptions are looked at.
    assert api("DELETE", f"{CMS}?{query}&dryRun=Foo") == (422, _invalid("ListOptions", causes))
    assert api("GET", f"{CMS}/a")[0] == 200


@pytest.mark.parametrize("query", [
    "resourceVersionMatch=Exact&resourceVersion=1",
    "resourceVersionMatch=NotOlderThan&resourceVersion=0",
    "resourceVersionMatch=&resourceVersion=0",
])
def test_a_lists_valid_matches(api, query):
    code, body = api("GET", f"{CMS}?{query}")
    assert code == 200 and body["kind"] == "ConfigMapList"


@pytest.mark.parametrize("query, causes", [
    ("sendInitialEvents=true", [SIE_NEEDS_MATCH]),
    ("sendInitialEvents=false", [SIE_NEEDS_MATCH]),
    ("sendInitialEvents=true&resourceVersionMatch=Exact",
     [SIE_NEEDS_MATCH, _watch_match_unsupported("Exact")]),
    ("resourceVersionMatch=NotOlderThan", [MATCH_NEEDS_SIE]),
    ("resourceVersionMatch=NotOlderThan&resourceVersion=1", [MATCH_NEEDS_SIE]),
    ("resourceVersionMatch=Exact&resourceVersion=1", [MATCH_NEEDS_SIE, _watch_match_unsupported("Exact")]),
    ("sendInitialEvents=true&resourceVersionMatch=NotOlderThan&continue=abc", [RV_AND_CONTINUE]),
])
def test_a_watchs_invalid_options(api, query, causes):
    assert api("GET", f"{CMS}?watch=1&{query}") == (422, _invalid("ListOptions", causes))


def test_a_named_get_with_watch_set_is_a_get(api):
    """Upstream's RequestInfoFactory reads ?watch only where the path names no object: a named GET stays a GET
    (its watch is the /watch/ path's, or a fieldSelector on metadata.name), its list options ignored."""
    code, body = api("GET", f"{CMS}/a?watch=true&resourceVersionMatch=Exact")
    assert code == 200 and body["metadata"]["name"] == "a" and body["kind"] == "ConfigMap"
    assert api("GET", f"{CMS}/nope?watch=1")[0] == 404


def test_the_old_watch_path_is_validated_as_a_list(api):
    """Upstream's ListResource validates a /watch/ path's options before it makes the request a watch."""
    assert api("GET", "/api/v1/watch/namespaces/default/configmaps?sendInitialEvents=true"
                      "&resourceVersionMatch=NotOlderThan") == (422, _invalid("ListOptions", [RV_NEEDED, SIE_FOR_LIST]))


@pytest.mark.parametrize("query", [
    "sendInitialEvents=true&resourceVersionMatch=NotOlderThan",
    "sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true",
    "sendInitialEvents=false&resourceVersionMatch=NotOlderThan&resourceVersion=1",
    "",
    "resourceVersion=1",
])
def test_a_watchs_valid_options(api, query):
    code, _ = api("GET", f"{CMS}?watch=1&timeoutSeconds=1&{query}")
    assert code == 200


def test_a_watch_list_still_sends_its_initial_events(api):
    code, event = api("GET", f"{CMS}?watch=1&timeoutSeconds=1&sendInitialEvents=true"
                             "&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true")
    assert code == 200 and event["type"] == "ADDED" and event["object"]["metadata"]["name"] == "a"


# -- the order: a 415, then every option's problem at once, then the body --------------------------------------------

FORCE = ("force", "FieldValueForbidden", "Forbidden: may not be specified for non-apply patch")
MANAGER_REQUIRED = ("fieldManager", "FieldValueRequired", "Required value: is required for apply patch")


def test_a_patchs_own_checks_come_with_the_other_options(api):
    """force on a non-apply patch, or an apply without a fieldManager, is a cause of the same 422 as the other
    options' problems (ValidatePatchOptions), on the resource and on its status."""
    for path in (f"{CMS}/a", "/api/v1/namespaces/default/pods/p/status"):
        assert api("PATCH", f"{path}?force=true&dryRun=Foo", {"data": {}}, "application/merge-patch+json") == \
            (422, _invalid("PatchOptions", [FORCE, _dry_run('[]string{"Foo"}')]))
        assert api("PATCH", f"{path}?dryRun=Foo", b"{}", "application/apply-patch+yaml") == \
            (422, _invalid("PatchOptions", [MANAGER_REQUIRED, _dry_run('[]string{"Foo"}')]))
    assert api("GET", f"{CMS}/a")[1]["data"] == {"k": "v"}


def test_the_options_are_judged_before_the_body_is_read(api):
    """A malformed body with a bad option is the options' 422 (upstream validates them first); an unsupported
    patch type is a 415 before either."""
    assert api("POST", f"{CMS}?dryRun=Foo", b"{not json") == (422, _invalid("CreateOptions",
                                                                             [_dry_run('[]string{"Foo"}')]))
    assert api("PATCH", f"{CMS}/a?dryRun=Foo", b"{not json", "application/merge-patch+json") == \
        (422, _invalid("PatchOptions", [_dry_run('[]string{"Foo"}')]))
    refused = (415, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                     "message": "415: Unsupported Media Type", "reason": "UnsupportedMediaType", "details": {},
                     "code": 415})
    # A built-in resource's route refuses it, in its router's words, whether the object exists or not.
    assert api("PATCH", f"{CMS}/a?dryRun=Foo", {"data": {}}, "text/plain") == refused
    assert api("PATCH", f"{CMS}/missing", {"data": {}}, "application/json") == refused


def test_a_create_naming_a_resource_version_is_refused_as_upstreams_storage_refuses_it(api):
    """A resourceVersion on a create: upstream's storage refuses it with an error no API status names (a 500
    without a reason); "0", or a dry run, goes through. A generation given is kept, and validated."""
    assert api("POST", CMS, {**_cm("rv"), "metadata": {"name": "rv", "resourceVersion": "12"}}) == (500, {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": "resourceVersion should not be set on objects to be created", "code": 500})
    assert api("GET", f"{CMS}/rv")[0] == 404
    assert api("POST", f"{CMS}?dryRun=All", {**_cm("rv"), "metadata": {"name": "rv", "resourceVersion": "12"}})[0] \
        == 201
    code, made = api("POST", CMS, {**_cm("rv"), "metadata": {"name": "rv", "resourceVersion": "0", "generation": 7}})
    assert code == 201 and made["metadata"]["generation"] == 7
    code, status = api("POST", CMS, {**_cm("neg"), "metadata": {"name": "neg", "generation": -1}})
    assert code == 422 and "metadata.generation: Invalid value: -1: must be greater than or equal to 0" in \
        status["message"]


def test_a_deletecollections_field_selector_is_checked_before_its_delete_options(api):
    """A field the resource cannot select by is the list's 400, before a bad dryRun's 422 (upstream converts the
    selector's labels right after validating the ListOptions)."""
    code, status = api("DELETE", f"{CMS}?fieldSelector=spec.foo%3Dx&dryRun=Foo")
    assert code == 400 and "spec.foo" in status["message"]
    assert api("GET", f"{CMS}/a")[0] == 200


def test_a_named_watch_s_field_selector_may_only_name_its_object(api):
    """The /watch/ path naming an object: a fieldSelector beside it must name the same object (upstream's
    ListResource), else 400; one that does is the same watch."""
    path = "/api/v1/watch/namespaces/default/configmaps/a"
    for selector in ("metadata.name%3Db", "metadata.namespace%3Ddefault"):
        assert api("GET", f"{path}?fieldSelector={selector}") == (400, {
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": "fieldSelector metadata.name doesn't match requested name", "reason": "BadRequest",
            "code": 400})
