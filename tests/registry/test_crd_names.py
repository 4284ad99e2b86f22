"""The names of CRDs of one group, as upstream's naming controller keeps them: a name another CRD has accepted is
refused (NamesAccepted False with upstream's reason and message, not Established, not served) until that CRD
frees it."""

from __future__ import annotations

import pytest
from twisted.internet import reactor

from kapiserver.controllers.crd import CRDController
from kapiserver.registry import crdnames
from kapiserver.registry.crd import accept_names
from kapiserver.registry.options import DeleteOptions

from tests.controllers.conftest import run, run_until

GROUP = "names.example.com"


def crd(plural, kind, singular=None, list_kind=None, short=(), group=GROUP, accepted=None):
    names = {"plural": plural, "singular": singular or kind.lower(), "kind": kind,
             "listKind": list_kind or kind + "List"}
    if short:
        names["shortNames"] = list(short)
    obj = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
           "metadata": {"name": f"{plural}.{group}"},
           "spec": {"group": group, "scope": "Namespaced", "names": names,
                    "versions": [{"name": "v1", "served": True, "storage": True,
                                  "schema": {"openAPIV3Schema": {"type": "object"}}}]}}
    if accepted is not None:
        obj["status"] = {"acceptedNames": accepted}
    return obj


def conditions(obj):
    return {c["type"]: (c["status"], c["reason"], c["message"]) for c in obj["status"]["conditions"]}


# -- the decision alone ---------------------------------------------------------------------------------------

def test_the_names_of_another_group_do_not_conflict():
    """A CRD of another group with the very same accepted names takes none of them."""
    other = crd("widgets", "Widget", short=["wd"], group="other.example.com",
                accepted=crdnames.names_of(crd("widgets", "Widget", short=["wd"])["spec"]["names"]))
    names, accepted, established = crdnames.decide(crd("widgets", "Widget", short=["wd"]), [other])
    assert names == {"plural": "widgets", "singular": "widget", "shortNames": ["wd"], "kind": "Widget",
                     "listKind": "WidgetList"}
    assert accepted == ("True", "NoConflicts", "no conflicts found")
    assert established == ("True", "InitialNamesAccepted", "the initial names have been accepted")


@pytest.mark.parametrize("mine, theirs, reason, message, refused", [
    # A plural against another's singular, a singular against a short name, short names against short names.
    (crd("gadget", "Gizmo"), {"plural": "gadgets", "singular": "gadget", "kind": ""},
     "PluralConflict", '"gadget" is already in use', "plural"),
    (crd("gizmos", "Gizmo"), {"plural": "gadgets", "shortNames": ["gizmo"], "kind": ""},
     "SingularConflict", '"gizmo" is already in use', "singular"),
    (crd("gizmos", "Gizmo", short=["gz", "gd"]), {"plural": "gadgets", "shortNames": ["gd"], "kind": ""},
     "ShortNamesConflict", '"gd" is already in use', "shortNames"),
    # A kind against another's listKind, a listKind against another's kind; plurals and kinds apart.
    (crd("gizmos", "Gizmo"), {"plural": "gadgets", "kind": "Gadget", "listKind": "Gizmo"},
     "KindConflict", '"Gizmo" is already in use', "kind"),
    (crd("gizmos", "Gizmo", list_kind="Gadget"), {"plural": "gadgets", "kind": "Gadget"},
     "ListKindConflict", '"Gadget" is already in use', "listKind"),
])
def test_a_name_another_crd_has_accepted_conflicts(mine, theirs, reason, message, refused):
    """The conflicting field is left out of the accepted names, the others are taken; NamesAccepted is False with
    upstream's reason and message and the CRD is not Established."""
    other = crd("gadgets", "Gadget", accepted=theirs)
    names, accepted, established = crdnames.decide(mine, [other])
    expected = crdnames.names_of({k: v for k, v in mine["spec"]["names"].items() if k != refused})
    assert names == expected
    assert accepted == ("False", reason, message)
    assert established == ("False", "NotAccepted", "not all names are accepted")


def test_the_last_conflict_names_the_reason_and_accepted_names_stay():
    """Checked plural, singular, short names, kind, listKind: the last conflict gives the reason; a field in
    conflict keeps the name accepted before; short names go all or none; plurals and kinds do not meet."""
    mine = crd("gizmos", "Gizmo", short=["gz", "gd"],
               accepted={"plural": "gizmos", "singular": "old", "shortNames": ["o"], "kind": "Old",
                         "listKind": "OldList"})
    other = crd("gadgets", "Gadget", accepted={"plural": "gadgets", "singular": "Gizmo", "shortNames": ["gd"],
                                               "kind": "Gizmo", "listKind": "GizmoList"})
    names, accepted, _ = crdnames.decide(mine, [other])
    assert names == {"plural": "gizmos", "singular": "gizmo", "shortNames": ["o"], "kind": "Old",
                     "listKind": "OldList"}
    assert accepted == ("False", "ListKindConflict", '"GizmoList" is already in use')


def test_short_names_in_conflict_are_aggregated_as_upstreams_errors():
    """Two short names taken: both in one bracketed message, as an aggregate of errors reads."""
    other = crd("gadgets", "Gadget", accepted={"plural": "gadgets", "shortNames": ["a", "b"], "kind": ""})
    _, accepted, _ = crdnames.decide(crd("gizmos", "Gizmo", short=["a", "b", "c"]), [other])
    assert accepted == ("False", "ShortNamesConflict", '["a" is already in use, "b" is already in use]')


def test_own_accepted_names_and_an_established_crd():
    """A CRD's own stored names do not conflict with it; one Established stays so while a new name conflicts."""
    mine = crd("gizmos", "Gizmo", accepted={"plural": "gizmos", "singular": "gizmo", "kind": "Gizmo",
                                            "listKind": "GizmoList"})
    mine["spec"]["names"]["shortNames"] = ["gd"]
    mine["status"]["conditions"] = [{"type": "Established", "status": "True", "reason": "InitialNamesAccepted",
                                     "message": "the initial names have been accepted"}]
    other = crd("gadgets", "Gadget", accepted={"plural": "gadgets", "shortNames": ["gd"], "kind": "Gadget"})
    names, accepted, established = crdnames.decide(mine, [mine, other])
    assert "shortNames" not in names and names["kind"] == "Gizmo"
    assert accepted == ("False", "ShortNamesConflict", '"gd" is already in use')
    assert established == ("True", "InitialNamesAccepted", "the initial names have been accepted")


# -- through the registry and the CRD controller ------------------------------------------------------------

@pytest.fixture
def crds(store_registry):
    controller = CRDController(store_registry, reactor)
    run(controller.start())         # its watch: a deleted CRD is finalized
    yield store_registry.store("apiextensions.k8s.io", "v1", "customresourcedefinitions")
    controller.stop()


def test_the_later_crd_is_refused_and_served_once_the_first_is_gone(crds, store_registry):
    """The second CRD claiming the first's kind is not accepted, not Established and not served, the first is;
    deleting the first accepts the second's names and serves it."""
    first = run(crds.create(None, crd("gadgets", "Gadget")))
    assert conditions(first)["NamesAccepted"] == ("True", "NoConflicts", "no conflicts found")
    second = run(crds.create(None, crd("doohickeys", "Gadget", singular="doohickey", list_kind="DoohickeyList")))
    assert conditions(second) == {
        "NamesAccepted": ("False", "KindConflict", '"Gadget" is already in use'),
        "Established": ("False", "NotAccepted", "not all names are accepted")}
    assert second["status"]["acceptedNames"] == {"plural": "doohickeys", "singular": "doohickey", "kind": "",
                                                 "listKind": "DoohickeyList"}
    assert list(second["status"]) == ["conditions", "acceptedNames", "storedVersions"]
    assert store_registry.lookup(GROUP, "v1", "gadgets") is not None
    assert store_registry.lookup(GROUP, "v1", "doohickeys") is None
    assert store_registry.catalog.lookup(GROUP, "v1", "doohickeys") is None

    run(crds.delete(None, "gadgets." + GROUP, DeleteOptions()))
    run_until(lambda: store_registry.lookup(GROUP, "v1", "doohickeys") is not None)
    second = run(crds.get(None, "doohickeys." + GROUP))
    assert conditions(second) == {
        "NamesAccepted": ("True", "NoConflicts", "no conflicts found"),
        "Established": ("True", "InitialNamesAccepted", "the initial names have been accepted")}
    assert second["status"]["acceptedNames"]["kind"] == "Gadget"
    assert store_registry.lookup(GROUP, "v1", "gadgets") is None


def test_a_name_freed_by_an_update_is_given_to_the_crd_waiting_for_it(crds, store_registry):
    """When the first CRD gives up a short name, the CRD refused it gets its names accepted."""
    first = crd("gadgets", "Gadget", short=["gd"])
    run(crds.create(None, first))
    run(crds.create(None, crd("gizmos", "Gizmo", short=["gd"])))
    assert conditions(run(crds.get(None, "gizmos." + GROUP)))["NamesAccepted"][1] == "ShortNamesConflict"
    assert store_registry.lookup(GROUP, "v1", "gizmos") is None

    def drop_short_name(old):
        del old["spec"]["names"]["shortNames"]
        return old
    updated, _ = run(crds.update(None, "gadgets." + GROUP, drop_short_name))
    assert "shortNames" not in updated["status"]["acceptedNames"]
    run_until(lambda: store_registry.lookup(GROUP, "v1", "gizmos") is not None)
    assert run(crds.get(None, "gizmos." + GROUP))["status"]["acceptedNames"]["shortNames"] == ["gd"]


def test_an_update_to_a_taken_name_keeps_the_old_one_and_the_crd_served(crds, store_registry):
    """An Established CRD whose new kind is taken keeps serving under its accepted kind, NamesAccepted False."""
    run(crds.create(None, crd("gadgets", "Gadget")))
    run(crds.create(None, crd("gizmos", "Gizmo")))

    def rename(old):
        old["spec"]["names"].update(kind="Gadget", listKind="GizmoList")
        return old
    updated, _ = run(crds.update(None, "gizmos." + GROUP, rename))
    assert conditions(updated) == {
        "NamesAccepted": ("False", "KindConflict", '"Gadget" is already in use'),
        "Established": ("True", "InitialNamesAccepted", "the initial names have been accepted")}
    assert updated["status"]["acceptedNames"]["kind"] == "Gizmo"
    run_until(lambda: store_registry.lookup(GROUP, "v1", "gizmos") is not None)
    assert store_registry.catalog.lookup(GROUP, "v1", "gizmos").kind == "Gizmo"


def test_a_custom_resource_list_is_of_its_accepted_list_kind():
    """A CRD's lists are of its accepted listKind, which need not be its kind + "List"."""
    from kapiserver.registry.crd import resource_infos
    obj = crd("gadgets", "Gadget", list_kind="GadgetCollection")
    assert accept_names(obj, [], 0.0)
    assert [info.list_kind for info in resource_infos(obj)] == ["GadgetCollection"]
