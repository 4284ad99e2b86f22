"""Job validation, defaulting and update rules as upstream 1.32 has them (pkg/apis/batch/validation, the job
strategy), through the API as a user meets them."""

from __future__ import annotations

import copy

from tests.endpoints.inprocess import served

JOBS = "/apis/batch/v1/namespaces/default/jobs"
CRONJOBS = "/apis/batch/v1/namespaces/default/cronjobs"
MERGE = "application/merge-patch+json"


def job(name: str = "j", restart="Never", **spec) -> dict:
    template_spec = {"containers": [{"name": "c", "image": "busybox"}]}
    if restart is not None:
        template_spec["restartPolicy"] = restart
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name},
            "spec": {"template": {"spec": template_spec}, **spec}}


def causes(answer) -> list[tuple[str, str]]:
    assert answer.code == 422, answer.body
    return [(c["field"], c["message"]) for c in answer.body["details"]["causes"]]


def test_a_job_without_restart_policy_is_told_the_valid_values():
    """The pod default Always is refused as upstream words it: a Required error naming OnFailure and Never."""
    call = served()
    answer = call("POST", JOBS, job(restart=None))
    assert causes(answer) == [("spec.template.spec.restartPolicy",
                               'Required value: valid values: "OnFailure", "Never"')]
    assert answer.body["message"] == ('Job.batch "j" is invalid: spec.template.spec.restartPolicy: Required value: '
                                      'valid values: "OnFailure", "Never"')
    assert causes(call("POST", JOBS, job(restart="Always")))[0][1].startswith("Required value")


def test_a_new_job_defaults_manual_selector_false_and_generates_its_selector():
    """SetDefaults_Job sets manualSelector false; the strategy adds the four labels and the uid selector."""
    call = served()
    created = call("POST", JOBS, job())
    assert created.code == 201, created.body
    spec, uid = created.body["spec"], created.body["metadata"]["uid"]
    assert spec["manualSelector"] is False
    assert spec["selector"] == {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}
    assert spec["template"]["metadata"]["labels"] == {
        "batch.kubernetes.io/controller-uid": uid, "batch.kubernetes.io/job-name": "j",
        "controller-uid": uid, "job-name": "j"}
    keys = list(spec)
    assert keys.index("selector") < keys.index("manualSelector") < keys.index("template")


def test_a_selector_without_manual_selector_is_not_auto_generated():
    """A client's selector is kept (the uid added to it) and refused: it selects labels the job did not
    generate."""
    call = served()
    body = job(selector={"matchLabels": {"app": "x"}})
    body["spec"]["template"]["metadata"] = {"labels": {"app": "x"}}
    found = causes(call("POST", JOBS, body))
    assert len(found) == 1 and found[0][0] == "spec.selector"
    assert found[0][1].startswith('Invalid value: v1.LabelSelector{MatchLabels:map[string]string{"app":"x", '
                                  '"batch.kubernetes.io/controller-uid":')
    assert found[0][1].endswith("`selector` not auto-generated")
    body["spec"]["manualSelector"] = True
    assert call("POST", JOBS, body).code == 201


def test_a_template_label_that_contradicts_the_generated_one_is_refused():
    """A job-name label of the client's own is kept, and ValidateHasLabel reports it."""
    call = served()
    body = job()
    body["spec"]["template"]["metadata"] = {"labels": {"job-name": "other"}}
    found = causes(call("POST", JOBS, body))
    assert found[0][0] == "spec.template.metadata.labels[job-name]"
    assert found[0][1].endswith(": must be 'j'")


def test_backoff_limit_per_index_needs_indexed_completion():
    """backoffLimitPerIndex and maxFailedIndexes require the Indexed mode; maxFailedIndexes needs the per-index
    limit, and may not pass completions."""
    call = served()
    assert causes(call("POST", JOBS, job(backoffLimitPerIndex=1, maxFailedIndexes=1))) == [
        ("spec.backoffLimitPerIndex", "Invalid value: 1: requires indexed completion mode"),
        ("spec.maxFailedIndexes", "Invalid value: 1: requires indexed completion mode")]
    assert causes(call("POST", JOBS, job(completionMode="Indexed", completions=2, maxFailedIndexes=3))) == [
        ("spec.backoffLimitPerIndex", "Required value: when maxFailedIndexes is specified"),
        ("spec.maxFailedIndexes", "Invalid value: 3: must be less than or equal to completions")]
    created = call("POST", JOBS, job(completionMode="Indexed", completions=2, backoffLimitPerIndex=1))
    assert created.code == 201 and created.body["spec"]["backoffLimit"] == 2147483647


def test_indexed_jobs_limit_parallelism_and_need_completions():
    call = served()
    assert causes(call("POST", JOBS, job(completionMode="Indexed", parallelism=100001))) == [
        ("spec.completions", "Required value: when completion mode is Indexed"),
        ("spec.parallelism", "Invalid value: 100001: must be less than or equal to 100000 when completion mode "
                             "is Indexed")]


def test_an_indexed_jobs_last_hostname_must_be_a_dns_label():
    """The pod of the last index is named <job>-<index>: a job name that makes it too long is refused."""
    call = served()
    name = "a" * 62
    found = causes(call("POST", JOBS, job(name=name, completionMode="Indexed", completions=10)))
    assert found == [("metadata.name", f'Invalid value: "{name}": will not able to create pod with invalid DNS '
                                       f'label: {name}-9')]


def test_pod_failure_policy_rules_are_checked():
    """Actions, operators, exit code values and the requirement pair, in upstream's words; OnFailure refused."""
    call = served()
    policy = {"rules": [
        {"action": "Bogus", "onExitCodes": {"operator": "In", "values": [0, 3, 2, 2], "containerName": "x"}},
        {"action": "FailIndex", "onPodConditions": [{"type": "DisruptionTarget", "status": "Maybe"}]},
        {"action": "Ignore"},
        {"action": "", "onExitCodes": {"operator": "In", "values": [1]},
         "onPodConditions": [{"type": "DisruptionTarget"}]},
    ]}
    found = causes(call("POST", JOBS, job(podFailurePolicy=policy, restart="OnFailure")))
    assert found == [
        ("spec.podFailurePolicy.rules[0].action",
         'Unsupported value: "Bogus": supported values: "Count", "FailIndex", "FailJob", "Ignore"'),
        ("spec.podFailurePolicy.rules[0].onExitCodes.containerName",
         'Invalid value: "x": must be one of the container or initContainer names in the pod template'),
        ("spec.podFailurePolicy.rules[0].onExitCodes.values[0]", "Invalid value: 0: must not be 0 for the In operator"),
        ("spec.podFailurePolicy.rules[0].onExitCodes.values[3]", "Duplicate value: 2"),
        ("spec.podFailurePolicy.rules[0].onExitCodes.values", "Invalid value: []int32{0, 3, 2, 2}: must be ordered"),
        ("spec.podFailurePolicy.rules[1].action",
         'Invalid value: "FailIndex": requires the backoffLimitPerIndex to be set'),
        ("spec.podFailurePolicy.rules[1].onPodConditions[0].status",
         'Unsupported value: "Maybe": supported values: "False", "True", "Unknown"'),
        ("spec.podFailurePolicy.rules[2]",
         "Invalid value: specifying one of OnExitCodes and OnPodConditions is required"),
        ("spec.podFailurePolicy.rules[3].action",
         'Required value: valid values: ["Count" "FailIndex" "FailJob" "Ignore"]'),
        ("spec.podFailurePolicy.rules[3]",
         "Invalid value: specifying both OnExitCodes and OnPodConditions is not supported"),
        ("spec.template.spec.restartPolicy",
         'Invalid value: "OnFailure": only "Never" is supported when podFailurePolicy is specified'),
    ]


def test_a_pod_failure_policy_allows_only_the_failed_replacement_policy():
    call = served()
    policy = {"rules": [{"action": "FailJob", "onExitCodes": {"operator": "In", "values": [1]}}]}
    assert causes(call("POST", JOBS, job(podFailurePolicy=policy, podReplacementPolicy="TerminatingOrFailed"))) == [
        ("spec.podReplacementPolicy", 'Unsupported value: "TerminatingOrFailed": supported values: "Failed"')]
    created = call("POST", JOBS, job(podFailurePolicy=policy))
    assert created.code == 201 and created.body["spec"]["podReplacementPolicy"] == "Failed"


def test_success_policy_needs_indexed_jobs_and_valid_rules():
    call = served()
    rule = {"succeededIndexes": "0,2-1", "succeededCount": 5}
    found = causes(call("POST", JOBS, job(successPolicy={"rules": [rule]})))
    assert found[0][0] == "spec.successPolicy" and found[0][1].endswith("requires indexed completion mode")
    found = causes(call("POST", JOBS, job(completionMode="Indexed", completions=3, successPolicy={"rules": [rule]})))
    assert found == [
        ("spec.successPolicy.rules[0].succeededIndexes",
         'Invalid value: "0,2-1": error parsing succeededIndexes: non-increasing order, previous: 2, current: 1'),
        ("spec.successPolicy.rules[0].succeededCount",
         "Invalid value: 5: must be less than or equal to 3 (the number of specified completions)"),
        ("spec.successPolicy.rules[0].succeededCount",
         "Invalid value: 5: must be less than or equal to 0 (the number of indexes in the specified "
         "succeededIndexes field)")]
    good = job(completionMode="Indexed", completions=3, successPolicy={"rules": [{"succeededIndexes": "0-1"}]})
    assert call("POST", JOBS, good).code == 201


def test_managed_by_is_a_domain_prefixed_path():
    call = served()
    found = causes(call("POST", JOBS, job(managedBy="kueue")))
    assert found == [("spec.managedBy", 'Invalid value: "kueue": must be a domain-prefixed path (such as '
                                        '"acme.io/foo")')]
    assert call("POST", JOBS, job(name="k", managedBy="kueue.x-k8s.io/multikueue")).code == 201


def test_a_suspended_job_may_change_only_its_scheduling_directives():
    """Before it first starts, a suspended job's template may change its node selector, tolerations, node
    affinity, scheduling gates, labels and annotations; anything else stays immutable."""
    call = served()
    assert call("POST", JOBS, job(suspend=True)).code == 201
    patch = {"spec": {"template": {"metadata": {"annotations": {"a": "b"}}, "spec": {
        "nodeSelector": {"zone": "a"}, "tolerations": [{"key": "k", "operator": "Exists"}],
        "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
            {"matchExpressions": [{"key": "z", "operator": "In", "values": ["1"]}]}]}}}}}}}
    patched = call("PATCH", JOBS + "/j", patch, MERGE)
    assert patched.code == 200, patched.body
    changed = call("PATCH", JOBS + "/j", {"spec": {"template": {"spec": {"activeDeadlineSeconds": 5}}}}, MERGE)
    assert causes(changed) == [("spec.template", "Invalid value: core.PodTemplateSpec{...}: field is immutable")]


def test_a_running_jobs_template_is_immutable():
    call = served()
    assert call("POST", JOBS, job()).code == 201
    changed = call("PATCH", JOBS + "/j", {"spec": {"template": {"spec": {"nodeSelector": {"zone": "a"}}}}}, MERGE)
    assert causes(changed) == [("spec.template", "Invalid value: core.PodTemplateSpec{...}: field is immutable")]


def test_immutable_job_fields_on_update():
    """completions (an Indexed job's only in tandem with parallelism), backoffLimitPerIndex, managedBy and the
    pod failure policy may not change."""
    call = served()
    assert call("POST", JOBS, job(completionMode="Indexed", completions=2, parallelism=2,
                                  backoffLimitPerIndex=1)).code == 201
    assert call("PATCH", JOBS + "/j", {"spec": {"completions": 4, "parallelism": 4}}, MERGE).code == 200
    assert causes(call("PATCH", JOBS + "/j", {"spec": {"completions": 5}}, MERGE)) == [
        ("spec.completions", "Invalid value: 5: can only be modified in tandem with spec.parallelism")]
    assert causes(call("PATCH", JOBS + "/j", {"spec": {"backoffLimitPerIndex": 2}}, MERGE)) == [
        ("spec.backoffLimitPerIndex", "Invalid value: 2: field is immutable")]
    assert causes(call("PATCH", JOBS + "/j", {"spec": {"managedBy": "a.io/b"}}, MERGE)) == [
        ("spec.managedBy", 'Invalid value: "a.io/b": field is immutable')]
    assert call("POST", JOBS, job(name="n", completions=2)).code == 201
    assert causes(call("PATCH", JOBS + "/n", {"spec": {"completions": 3, "parallelism": 3}}, MERGE)) == [
        ("spec.completions", "Invalid value: 3: field is immutable")]


def test_a_cron_jobs_template_gets_the_job_rules():
    """ValidateJobTemplateSpec: the shared job spec rules apply under spec.jobTemplate.spec."""
    call = served()
    template = copy.deepcopy(job(restart=None)["spec"])
    template["backoffLimitPerIndex"] = 1
    body = {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "c"},
            "spec": {"schedule": "* * * * *", "jobTemplate": {"spec": template}}}
    assert causes(call("POST", CRONJOBS, body)) == [
        ("spec.jobTemplate.spec.backoffLimitPerIndex", "Invalid value: 1: requires indexed completion mode"),
        ("spec.jobTemplate.spec.template.spec.restartPolicy", 'Required value: valid values: "OnFailure", "Never"')]


def test_a_job_whose_labels_come_from_its_template_shows_the_generated_ones_too():
    """SetDefaults_Job gives the job its template's very label map, so the labels the strategy then generates
    are the job's as well (upstream's aliasing); maps are written with sorted keys, the spec in Go's order."""
    call = served()
    body = job(name="t")
    body["spec"]["template"]["metadata"] = {"labels": {"zz": "1", "app": "x"}}
    created = call("POST", JOBS, body)
    uid = created.body["metadata"]["uid"]
    expected = {"app": "x", "batch.kubernetes.io/controller-uid": uid, "batch.kubernetes.io/job-name": "t",
                "controller-uid": uid, "job-name": "t", "zz": "1"}
    for labels in (created.body["metadata"]["labels"], created.body["spec"]["template"]["metadata"]["labels"]):
        assert labels == expected and list(labels) == sorted(labels)
    assert list(created.body["spec"]) == [
        "parallelism", "completions", "backoffLimit", "selector", "manualSelector", "template", "completionMode",
        "suspend", "podReplacementPolicy"]
    own = job(name="o")
    own["metadata"]["labels"] = {"team": "a"}
    own["spec"]["template"]["metadata"] = {"labels": {"app": "x"}}
    assert call("POST", JOBS, own).body["metadata"]["labels"] == {"team": "a"}


def test_a_status_write_judges_the_status_not_the_spec():
    """upstream's job status strategy: metadata and status only, so a job stored before a spec rule came in (here
    a selector without manualSelector) still has its status written; a negative count is refused."""
    from kapiserver.registry.validation.batch import validate_job_status_update
    old = {"metadata": {"name": "j", "namespace": "default", "resourceVersion": "1"},
           "spec": {"selector": {"matchLabels": {"app": "x"}}, "template": {}}}
    new = {**old, "status": {"active": 1, "ready": 0}}
    assert validate_job_status_update(new, old, True) == []
    refused = validate_job_status_update({**old, "status": {"failed": -1}}, old, True)
    assert [str(e) for e in refused] == ['status.failed: Invalid value: -1: must be greater than or equal to 0']


def test_the_job_strategy_judges_status_writes_by_the_status_rules():
    from twisted.internet import task

    from kapiserver.registry.registry import Registry
    from kapiserver.storage.memory import MemoryStorage
    clock = task.Clock()
    strategy = Registry(MemoryStorage(clock), clock).store("batch", "v1", "jobs").strategy
    old = {"apiVersion": "batch/v1", "kind": "Job",
           "metadata": {"name": "j", "namespace": "default", "resourceVersion": "1"},
           "spec": {"selector": {"matchLabels": {"app": "x"}}, "template": {}}}
    assert strategy.validate_subresource_update("status", {**old, "status": {"active": 1}}, old) == []
    assert strategy.validate_subresource_update("", {**old, "status": {"active": 1}}, old) != []


def test_a_job_without_labels_shows_its_templates_generated_ones():
    """kubectl create job: no labels anywhere; upstream answers (and lists) the job with its template's generated
    labels, which its defaulting copies when the stored job is read back."""
    from tests.endpoints.inprocess import served
    call = served()
    job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "pi"},
           "spec": {"template": {"spec": {"restartPolicy": "Never",
                                          "containers": [{"name": "pi", "image": "perl"}]}}}}
    created = call("POST", "/apis/batch/v1/namespaces/default/jobs", job).body
    labels = created["metadata"]["labels"]
    assert labels == created["spec"]["template"]["metadata"]["labels"]
    assert labels["batch.kubernetes.io/job-name"] == "pi" and labels["job-name"] == "pi"
    assert call("GET", "/apis/batch/v1/namespaces/default/jobs/pi").body["metadata"]["labels"] == labels
