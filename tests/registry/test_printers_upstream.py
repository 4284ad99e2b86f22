"""Server-side Table printers checked against upstream 1.32's pkg/printers/internalversion (and the table
convertors of the apiextensions and aggregator servers): columns, cells and row order, with ``now`` injected."""

from datetime import datetime, timedelta, timezone

from kapiserver.registry import apfbootstrap
from kapiserver.registry.printers import printer_for, table

NOW = datetime(2024, 5, 1, 12, 0, 0, tzinfo=timezone.utc)
ADMISSION = "admissionregistration.k8s.io"


def ago(**kw) -> str:
    return (NOW - timedelta(**kw)).strftime("%Y-%m-%dT%H:%M:%SZ")


def columns(group: str, resource: str) -> list[tuple]:
    return [(c["name"], c["type"], c["description"], c["priority"])
            for c in printer_for(group, resource).columns[1:] if c["name"] != "Age"]


# --- admissionregistration.k8s.io ------------------------------------------------------------

def test_webhook_configurations_print_their_webhook_count():
    """kubectl get validatingwebhookconfigurations / mutatingwebhookconfigurations shows NAME WEBHOOKS AGE."""
    config = {"metadata": {"name": "hooks", "creationTimestamp": ago(minutes=5)},
              "webhooks": [{"name": "a.example.com"}, {"name": "b.example.com"}]}
    for resource in ("validatingwebhookconfigurations", "mutatingwebhookconfigurations"):
        assert columns(ADMISSION, resource) == [
            ("Webhooks", "integer", "Webhooks indicates the number of webhooks registered in this configuration", 0)]
        printer = printer_for(ADMISSION, resource)
        assert [c["name"] for c in printer.columns] == ["Name", "Webhooks", "Age"]
        assert printer.row(config, NOW) == ["hooks", 2, "5m"]
        assert printer.row({"metadata": {"name": "none"}}, NOW) == ["none", 0, "<unknown>"]


def test_validating_admission_policy_columns_carry_upstream_descriptions():
    """The policy and binding columns describe themselves in upstream's words (its typos included)."""
    assert columns(ADMISSION, "validatingadmissionpolicies") == [
        ("Validations", "integer", "Validations indicates the number of validation rules defined in this "
                                   "configuration", 0),
        ("ParamKind", "string", "ParamKind specifies the kind of resources used to parameterize this policy", 0)]
    assert columns(ADMISSION, "validatingadmissionpolicybindings") == [
        ("PolicyName", "string", "PolicyName indicates the policy definition which the policy binding binded to", 0),
        ("ParamRef", "string", "ParamRef indicates the param resource which sets the configration param", 0)]


def binding_param_ref(param_ref) -> str:
    binding = {"metadata": {"name": "b", "creationTimestamp": ago(seconds=30)},
               "spec": {"policyName": "p", "paramRef": param_ref}}
    return printer_for(ADMISSION, "validatingadmissionpolicybindings").row(binding, NOW)[2]


def test_binding_param_ref_is_the_name_first_then_the_selector_as_go_strings_it():
    """PARAMREF is ns/name, */name without a namespace, else the selector in its generated String() form (what
    upstream prints: not the k=v form), else <unset>; a namespace beside a selector does not make it ns/."""
    assert binding_param_ref({"name": "cfg", "namespace": "team"}) == "team/cfg"
    assert binding_param_ref({"name": "cfg"}) == "*/cfg"
    assert binding_param_ref({"namespace": "team", "selector": {"matchLabels": {"env": "prod", "app": "x"}}}) == (
        "&LabelSelector{MatchLabels:map[string]string{app: x,env: prod,},"
        "MatchExpressions:[]LabelSelectorRequirement{},}")
    assert binding_param_ref({"selector": {"matchExpressions": [
        {"key": "tier", "operator": "In", "values": ["a", "b"]}, {"key": "gone", "operator": "DoesNotExist"}]}}) == (
        "&LabelSelector{MatchLabels:map[string]string{},MatchExpressions:[]LabelSelectorRequirement{"
        "LabelSelectorRequirement{Key:tier,Operator:In,Values:[a b],},"
        "LabelSelectorRequirement{Key:gone,Operator:DoesNotExist,Values:[],},},}")
    assert binding_param_ref({"selector": {}}) == (
        "&LabelSelector{MatchLabels:map[string]string{},MatchExpressions:[]LabelSelectorRequirement{},}")
    assert binding_param_ref({"namespace": "team", "parameterNotFoundAction": "Deny"}) == "<unset>"
    assert binding_param_ref(None) == "<unset>"


# --- flowcontrol.apiserver.k8s.io ------------------------------------------------------------

def test_flow_schemas_list_in_matching_order_with_upstreams_missing_pl_description():
    """A FlowSchema list prints by matching precedence, then name (upstream's list printer sorts it), whatever
    order storage lists them in; MissingPL is described in upstream's words."""
    assert columns("flowcontrol.apiserver.k8s.io", "flowschemas")[-1] == (
        "MissingPL", "string", "references a broken or non-existent PriorityLevelConfiguration", 0)
    names = ["catch-all", "exempt", "global-default", "kube-controller-manager", "kube-scheduler", "probes"]
    schemas = [apfbootstrap.flow_schema(name) for name in names]
    out = table(printer_for("flowcontrol.apiserver.k8s.io", "flowschemas"), schemas, NOW)
    assert [(row["cells"][0], row["cells"][2]) for row in out["rows"]] == [
        ("exempt", 1), ("probes", 2), ("kube-controller-manager", 800), ("kube-scheduler", 800),
        ("global-default", 9900), ("catch-all", 10000)]
    assert [row["object"]["metadata"]["name"] for row in out["rows"]] == [
        "exempt", "probes", "kube-controller-manager", "kube-scheduler", "global-default", "catch-all"]


# --- custom resources ------------------------------------------------------------------------

def test_custom_resource_date_column_reads_rfc3339_as_go_parses_it():
    """A date column's value is an age only when Go's time.Parse(RFC3339) reads it: a date alone, a time without
    an offset, a space or lower-case t/z are <invalid>; Go's zero time and an empty string are <unknown>."""
    from kapiserver.registry.printers import custom_resource_printer
    printer = custom_resource_printer([{"name": "Expires", "type": "date", "jsonPath": ".spec.expires"}])
    for given, shown in (("2024-05-01T11:58:00Z", "2m"), ("2024-05-01T13:58:00+02:00", "2m"),
                         ("2024-05-01T11:58:00.250Z", "119s"), ("2024-04-30", "<invalid>"),
                         ("2024-05-01T11:58:00", "<invalid>"), ("2024-05-01 11:58:00Z", "<invalid>"),
                         ("2024-05-01t11:58:00Z", "<invalid>"), ("2024-05-01T11:58:00z", "<invalid>"),
                         ("2024-02-30T00:00:00Z", "<invalid>"), ("soon", "<invalid>"),
                         ("0001-01-01T00:00:00Z", "<unknown>"), ("", "<unknown>"), (7, None)):
        assert printer.row({"metadata": {"name": "c"}, "spec": {"expires": given}}, NOW) == ["c", shown], given


# --- ages ----------------------------------------------------------------------------------------

def test_ages_saturate_at_go_durations_range():
    """An age past time.Duration's range (about 292 years) is 292y, as Go's Time.Sub saturates there."""
    from kapiserver.registry.printers import custom_resource_printer, translate_timestamp_since
    assert translate_timestamp_since("1700-01-01T00:00:00Z", NOW) == "292y"
    assert translate_timestamp_since("1800-01-01T00:00:00Z", NOW) == "224y"
    printer = custom_resource_printer([{"name": "Since", "type": "date", "jsonPath": ".spec.since"}])
    assert printer.row({"metadata": {"name": "c"}, "spec": {"since": "0001-01-02T00:00:00Z"}}, NOW) == ["c", "292y"]
    job = {"metadata": {"name": "j", "creationTimestamp": ago(minutes=1)}, "spec": {"completions": 1},
           "status": {"startTime": "1500-01-01T00:00:00Z", "completionTime": "2024-05-01T11:00:00Z"}}
    assert printer_for("batch", "jobs").row(job, NOW)[3] == "292y"


def test_custom_resource_columns_read_slices_unions_and_recursive_descent():
    """[-1:] (Kubeflow's "last condition" column), [start:end:step], unions and ..field read as client-go's
    jsonpath does, so the column and those after it are kept; an index out of range is a null cell."""
    from kapiserver.registry.printers import custom_resource_printer
    printer = custom_resource_printer([
        {"name": "State", "type": "string", "jsonPath": ".status.conditions[-1:].type"},
        {"name": "Second", "type": "string", "jsonPath": ".status.conditions[1:3].type"},
        {"name": "Every", "type": "string", "jsonPath": ".spec.items[::2]"},
        {"name": "Either", "type": "string", "jsonPath": ".spec['missing','other']"},
        {"name": "Deep", "type": "integer", "jsonPath": ".spec..port"},
        {"name": "Far", "type": "string", "jsonPath": ".spec.items[7]"},
        {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
    ])
    assert [c["name"] for c in printer.columns] == ["Name", "State", "Second", "Every", "Either", "Deep", "Far",
                                                    "Age"]
    obj = {"metadata": {"name": "job", "creationTimestamp": ago(hours=2)},
           "spec": {"items": ["a", "b", "c"], "other": "o", "server": {"listen": {"port": 8080}}},
           "status": {"conditions": [{"type": "Created"}, {"type": "Running"}, {"type": "Succeeded"}]}}
    assert printer.row(obj, NOW) == ["job", "Succeeded", "Running", "a", "o", 8080, None, "120m"]
    empty = {"metadata": {"name": "new"}, "spec": {}, "status": {"conditions": []}}
    assert printer.row(empty, NOW) == ["new", None, None, None, None, None, None, None]


def test_custom_resource_paths_client_go_does_not_parse_end_the_columns():
    """A double-quoted key, spaces inside an index and a second recursive descent do not parse in client-go:
    the columns end there, as upstream's table convertor."""
    from kapiserver.registry.printers import custom_resource_printer
    for path in ('.spec["a"]', ".spec.items[ 0 ]", ".spec....a", ".spec.items[-]"):
        printer = custom_resource_printer([{"name": "A", "type": "string", "jsonPath": ".spec.a"},
                                           {"name": "X", "type": "string", "jsonPath": path}])
        assert [c["name"] for c in printer.columns] == ["Name", "A"], path


def test_custom_resource_filters_compare_as_client_go():
    """A filter compares as client-go's forked template functions: booleans and a path on the right are read, and
    values of different kinds (an int and a float, a number and a string) or an unknown operator fail the whole
    cell, not just the item; the column and those after it stay."""
    from kapiserver.registry.printers import custom_resource_printer
    columns = [
        {"name": "Ready", "type": "string", "jsonPath": ".spec.nodes[?(@.ready==true)].name"},
        {"name": "Http", "type": "string", "jsonPath": ".spec.nodes[?(@.port==80)].name"},
        {"name": "Heavy", "type": "string", "jsonPath": ".spec.nodes[?(@.weight>1.5)].name"},
        {"name": "Same", "type": "string", "jsonPath": ".spec.nodes[?(@.port==@.target)].name"},
        {"name": "Bad", "type": "string", "jsonPath": ".spec.nodes[?(@.port=80)].name"},
        {"name": "Tagged", "type": "string", "jsonPath": ".spec.nodes[?(@.tag)].name"},
        {"name": "NotA", "type": "string", "jsonPath": ".spec.nodes[?(@.kind!='a')].name"},
    ]
    printer = custom_resource_printer(columns)
    assert [c["name"] for c in printer.columns][1:] == [c["name"] for c in columns]
    nodes = [{"name": "n1", "ready": False, "port": 8080, "target": 80, "weight": 1, "kind": "a"},
             {"name": "n2", "ready": True, "port": 80, "target": 80, "weight": 2, "tag": "x", "kind": "b"}]
    assert printer.row({"metadata": {"name": "c"}, "spec": {"nodes": nodes}}, NOW) == [
        "c", "n2", "n2", None, "n2", None, "n2", "n2"]
    nodes[0]["kind"] = 7  # a number against a string: the comparison fails, so does the cell
    assert printer.row({"metadata": {"name": "c"}, "spec": {"nodes": nodes}}, NOW)[7] is None


def test_custom_resource_string_column_of_an_object_is_go_json():
    """A string column showing an object or list writes it as Go's json.Marshal: 3.0 as 3, large and small floats
    positional up to 1e21 and from 1e-6, exponents unpadded, and U+2028 escaped beside <, > and &."""
    from kapiserver.registry.printers import custom_resource_printer
    printer = custom_resource_printer([{"name": "Limits", "type": "string", "jsonPath": ".spec.limits"}])
    obj = {"metadata": {"name": "c"},
           "spec": {"limits": {"ratio": 3.0, "big": 2.5e20, "huge": 1e21, "tiny": 1.5e-7, "small": 1.5e-5,
                               "note": "a\u2028<b>"}}}
    assert printer.row(obj, NOW) == ["c", '{"big":250000000000000000000,"huge":1e+21,"note":"a\\u2028\\u003cb\\u003e",'
                                          '"ratio":3,"small":0.000015,"tiny":1.5e-7}']


def test_custom_resource_number_cells_are_written_as_go_writes_a_float64():
    """A number column's cell is Go's float64 of the value, which encoding/json writes without a fraction when it
    is whole (3, not 3.0) and rounded past 2^53; the Table's bytes are upstream's."""
    from kapiserver.machinery import codec
    from kapiserver.registry.printers import custom_resource_printer
    printer = custom_resource_printer([{"name": "Ratio", "type": "number", "jsonPath": ".spec.ratio"}])
    cells = [printer.row({"metadata": {"name": "c"}, "spec": {"ratio": ratio}}, NOW)[1]
             for ratio in (3, 3.0, 0.25, 2 ** 53 + 1, 1e21)]
    assert codec.encode(cells) == b"[3,3,0.25,9007199254740992,1e+21]\n"


def test_custom_resource_integers_past_int64_are_go_float64s():
    """An integer past int64 is a float64 once Go decodes it: a string column prints it in %v's exponent form
    (and json.Marshal's digits inside an object), and it compares as a float in a filter."""
    from kapiserver.registry.printers import custom_resource_printer
    printer = custom_resource_printer([
        {"name": "Big", "type": "string", "jsonPath": ".spec.big"},
        {"name": "Object", "type": "string", "jsonPath": ".spec.wrapped"},
        {"name": "Match", "type": "string", "jsonPath": ".spec.items[?(@.n>1.5)].name"},
    ])
    obj = {"metadata": {"name": "c"},
           "spec": {"big": 2 ** 64, "wrapped": {"n": 2 ** 64}, "items": [{"name": "x", "n": 2 ** 64}]}}
    assert printer.row(obj, NOW) == ["c", "1.8446744073709552e+19", '{"n":18446744073709552000}', "x"]


def test_custom_resource_string_column_prints_a_float_as_go_v():
    """A float in a string column is fmt's %v of a float64: the exponent form from 1e6 and below 1e-4."""
    from kapiserver.registry.printers import custom_resource_printer
    printer = custom_resource_printer([{"name": "V", "type": "string", "jsonPath": ".spec.v"}])
    for given, shown in ((1234567.5, "1.2345675e+06"), (999999.5, "999999.5"), (1e6, "1e+06"), (3.0, "3"),
                         (0.0001, "0.0001"), (0.00001, "1e-05"), (2.5, "2.5")):
        assert printer.row({"metadata": {"name": "c"}, "spec": {"v": given}}, NOW) == ["c", shown], given


# --- descriptions taken from retired versions --------------------------------------------------

def test_columns_upstream_describes_from_retired_versions_carry_those_words():
    """Where upstream's printers describe a column from a retired version's type (extensions/v1beta1,
    apps/v1beta1, autoscaling/v2beta1, rbac/v1beta1), the Table carries that version's text, not the served one's."""
    def description(group, resource, name):
        return next(c["description"] for c in printer_for(group, resource).columns if c["name"] == name)
    assert description("apps", "replicasets", "Ready") == "The number of ready replicas for this replica set."
    assert description("apps", "daemonsets", "Ready") == (
        "The number of nodes that should be running the daemon pod and have one or more of the daemon pod running "
        "and ready.")
    assert description("apps", "deployments", "Selector") == (
        "Label selector for pods. Existing ReplicaSets whose pods are selected by this will be the ones affected by "
        "this deployment.")
    assert description("apps", "controllerrevisions", "Revision") == (
        "revision indicates the revision of the state represented by Data.")
    assert description("networking.k8s.io", "networkpolicies", "Pod-Selector").startswith(
        "Selects the pods to which this NetworkPolicy object applies.  The array")
    assert description("rbac.authorization.k8s.io", "clusterrolebindings", "Role") == (
        "RoleRef can only reference a ClusterRole in the global namespace. If the RoleRef cannot be resolved, the "
        "Authorizer must return an error.")
    assert description("autoscaling", "horizontalpodautoscalers", "Targets").endswith(
        "See the individual metric source types for more information about how each type of metric must respond.")
    assert description("apps", "replicasets", "Selector").startswith(
        "Selector is a label query over pods that should match the replica count. If the selector is empty, it is "
        "defaulted to the labels present on the pod template.")


def test_apiservice_tables_carry_their_columns_even_without_headers():
    """kube-aggregator's APIService table ignores noHeaders (a watch's later events carry the columns too), where
    the built-in printers' tables leave them out."""
    service = {"metadata": {"name": "v1.apps", "creationTimestamp": ago(minutes=1)}, "spec": {}}
    bare = table(printer_for("apiregistration.k8s.io", "apiservices"), [service], NOW, no_headers=True)
    assert [c["name"] for c in bare["columnDefinitions"]] == ["Name", "Service", "Available", "Age"]
    assert bare["rows"][0]["cells"] == ["v1.apps", "Local", "Unknown", "60s"]
    assert table(printer_for("", "configmaps"), [service], NOW, no_headers=True)["columnDefinitions"] is None
