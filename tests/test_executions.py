"""Executions as SageMaker runs them, written as a learner writes pipelines (SDK code, the kit's session).

Every pipeline here is small and fast: processing steps on the scikit-learn image whose scripts pass a
line of text along (``A`` -> ``B`` -> ``C``, and an independent ``D``), or wait a second and a half.

What is checked: step caching (a re-run's unchanged steps are cache hits that reuse the earlier job, its
outputs and properties and name the execution that really ran it; a changed script or parameter misses,
and so does every step that reads a changed output; an expired entry misses); independent steps run at
the same time, ``MaxParallelExecutionSteps`` = 1 (execution or pipeline level) serialises them, and the
timeline draws what happened; selective execution (one step re-run on the source execution's outputs;
wrong names and foreign sources refused); retry policies (``LAB_FAIL_JOBS`` injects InternalServerErrors;
``AttemptCount``; script errors never retried); Ctrl-C in ``wait()`` and in ``start()`` interrupts the
caller, not the execution; a runner killed while two steps run ends the execution Failed, and ``wait()``
in the starting session ends too.
"""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from botocore.exceptions import ClientError, WaiterError
from conftest import child_env as make_child_env, offline_module
from conftest import finished, module_fixtures, module_home, runner_pid, wait_for_arn

PY = sys.executable

PRODUCE = textwrap.dedent("""
    # Step A: write the value it is given (--value) to its output.
    import pathlib, sys
    out = pathlib.Path("/opt/ml/processing/output")
    out.mkdir(parents=True, exist_ok=True)
    (out / "value.txt").write_text("A:" + sys.argv[sys.argv.index("--value") + 1])
""")

PASS_ON = textwrap.dedent("""
    # Steps B and C: wrap what the previous step wrote in this step's tag (the first argument).
    import pathlib, sys
    text = pathlib.Path("/opt/ml/processing/input/value.txt").read_text()
    out = pathlib.Path("/opt/ml/processing/output")
    out.mkdir(parents=True, exist_ok=True)
    (out / "value.txt").write_text(f"{sys.argv[1]}({text})")
""")

PASS_ON_CHANGED = PASS_ON.replace('f"{sys.argv[1]}({text})"', 'f"{sys.argv[1]}2({text})"')

CONSTANT = textwrap.dedent("""
    # Step D: depends on nothing.
    import pathlib
    out = pathlib.Path("/opt/ml/processing/output")
    out.mkdir(parents=True, exist_ok=True)
    (out / "value.txt").write_text("D")
""")

WAIT = textwrap.dedent("""
    # Wait SLEEP seconds, or until the file STOP_FILE exists.
    import os, time
    limit, stop_file, started = float(os.environ.get("SLEEP", "1")), os.environ.get("STOP_FILE", ""), time.time()
    while time.time() - started < limit and not (stop_file and os.path.exists(stop_file)):
        time.sleep(0.05)
""")

BROKEN = "raise SystemExit('the script is broken')\n"


# ----------------------------------------------------------------------------- set-up


#: nothing in this module may resolve a host name or open a connection (local mode is offline)
no_network = pytest.fixture(scope="module", autouse=True, name="no_network")(offline_module)


home = module_home("executions-home", unset=("LAB_FAIL_JOBS",))
sess, sm, role = module_fixtures("sess", "sm", "role")


@pytest.fixture(scope="module")
def scripts(tmp_path_factory):
    """The step scripts, each in a file of its own (the changed B in another folder, same file name)."""
    root = tmp_path_factory.mktemp("scripts")
    paths = {}
    for key, name, text in (("A", "produce.py", PRODUCE), ("B", "pass_on.py", PASS_ON), ("D", "constant.py", CONSTANT),
                            ("B2", "changed/pass_on.py", PASS_ON_CHANGED), ("wait", "wait.py", WAIT),
                            ("broken", "broken.py", BROKEN)):
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        paths[key] = str(path)
    return paths


def processor(sess, role, **env):
    from sagemaker.sklearn.processing import SKLearnProcessor

    return SKLearnProcessor(framework_version="1.2-1", instance_type="ml.m5.xlarge", instance_count=1, role=role,
                            sagemaker_session=sess, env=env or None)


def chain_pipeline(sess, role, name, scripts, b_script=None, cache_config=None, retry=None, parallelism=None):
    """A -> B -> C (each reads the previous one's output) and an independent D; outputs under the execution's id."""
    from sagemaker.processing import ProcessingInput, ProcessingOutput
    from sagemaker.workflow.execution_variables import ExecutionVariables
    from sagemaker.workflow.functions import Join
    from sagemaker.workflow.parameters import ParameterString
    from sagemaker.workflow.pipeline import Pipeline
    from sagemaker.workflow.steps import ProcessingStep

    value = ParameterString(name="Value", default_value="one")
    base = f"s3://{sess.default_bucket()}/exec-tests/{name}"

    def output(step):
        return [ProcessingOutput(output_name="out", source="/opt/ml/processing/output",
                                 destination=Join(on="/", values=[base, ExecutionVariables.PIPELINE_EXECUTION_ID, step]))]

    def reads(step):
        return [ProcessingInput(source=step.properties.ProcessingOutputConfig.Outputs["out"].S3Output.S3Uri,
                                destination="/opt/ml/processing/input")]

    a = ProcessingStep(name="A", cache_config=cache_config, step_args=processor(sess, role).run(
        code=scripts["A"], arguments=["--value", value], outputs=output("A")))
    b = ProcessingStep(name="B", cache_config=cache_config, step_args=processor(sess, role).run(
        code=b_script or scripts["B"], arguments=["B"], inputs=reads(a), outputs=output("B")))
    c = ProcessingStep(name="C", cache_config=cache_config, step_args=processor(sess, role).run(
        code=scripts["B"], arguments=["C"], inputs=reads(b), outputs=output("C")))
    d = ProcessingStep(name="D", cache_config=cache_config, step_args=processor(sess, role).run(
        code=scripts["D"], outputs=output("D")))
    return Pipeline(name=name, parameters=[value], steps=[a, b, c, d], sagemaker_session=sess)


def steps_of(execution):
    return {s["StepName"]: s for s in execution.list_steps()}


def job_arn(step):
    return step["Metadata"]["ProcessingJob"]["Arn"]


def job_of(sm, step):
    return sm.describe_processing_job(ProcessingJobName=job_arn(step).rsplit("/", 1)[-1])


def output_uri(job):
    return job["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"]


def output_text(sess, sm, step):
    """What the step's job wrote (read from the local S3 folder)."""
    return Path(sess.local_path(output_uri(job_of(sm, step)).rstrip("/") + "/value.txt")).read_text()


def succeeded(execution):
    described = finished(execution).describe()
    assert described["PipelineExecutionStatus"] == "Succeeded", described.get("FailureReason")
    return execution


def exec_id(arn):
    return arn.rsplit("/", 1)[-1]


# ----------------------------------------------------------------------------- caching


@pytest.fixture(scope="module")
def cached_runs(sess, role, scripts):
    """Five runs of one pipeline with CacheConfig(enable_caching=True, expire_after="PT1H") on every step."""
    from sagemaker.workflow.steps import CacheConfig

    cache = CacheConfig(enable_caching=True, expire_after="PT1H")
    pipeline = chain_pipeline(sess, role, "ExCache", scripts, cache_config=cache)
    pipeline.upsert(role_arn=role)
    runs = {"first": succeeded(pipeline.start())}
    runs["again"] = succeeded(pipeline.start())
    changed = chain_pipeline(sess, role, "ExCache", scripts, b_script=scripts["B2"], cache_config=cache)
    changed.upsert(role_arn=role)
    runs["script"] = succeeded(changed.start())
    runs["parameter"] = succeeded(changed.start(parameters={"Value": "two"}))
    runs["back"] = succeeded(changed.start(parameters={"Value": "one"}))
    return runs


def test_a_rerun_of_an_unchanged_pipeline_is_all_cache_hits_reusing_the_first_run(cached_runs, sess, sm):
    first, again = steps_of(cached_runs["first"]), steps_of(cached_runs["again"])
    assert set(first) == set(again) == {"A", "B", "C", "D"}
    for name, step in first.items():
        assert "CacheHitResult" not in step, name  # nothing to reuse the first time
    for name, step in again.items():
        assert step["StepStatus"] == "Succeeded"
        assert step["CacheHitResult"]["SourcePipelineExecutionArn"] == cached_runs["first"].arn, name
        assert job_arn(step) == job_arn(first[name]), name  # the same job, not a new one
    # the reused job wrote under the first execution's id, and the chain's result is the first run's
    assert exec_id(cached_runs["first"].arn) in output_uri(job_of(sm, again["C"]))
    assert output_text(sess, sm, again["C"]) == "C(B(A:one))"
    # the cached run created no job at all, while the first created four
    assert sm.list_processing_jobs(NameContains=exec_id(cached_runs["again"].arn))["ProcessingJobSummaries"] == []
    assert len(sm.list_processing_jobs(NameContains=exec_id(cached_runs["first"].arn))["ProcessingJobSummaries"]) == 4


def test_a_changed_script_misses_and_so_does_the_step_reading_its_output(cached_runs, sess, sm):
    first, run = steps_of(cached_runs["first"]), steps_of(cached_runs["script"])
    for name in ("A", "D"):  # unchanged: hits on the first run
        assert run[name]["CacheHitResult"]["SourcePipelineExecutionArn"] == cached_runs["first"].arn
        assert job_arn(run[name]) == job_arn(first[name])
    for name in ("B", "C"):  # B's code changed; C reads B's new output (a new URI)
        assert "CacheHitResult" not in run[name], name
        assert job_arn(run[name]) != job_arn(first[name])
        assert exec_id(cached_runs["script"].arn) in job_arn(run[name])
    # B's new job read A's output from the first run: the cache hit's properties are the first run's
    b_job = job_of(sm, run["B"])
    (b_input,) = [i for i in b_job["ProcessingInputs"] if i["InputName"] != "code"]
    assert b_input["S3Input"]["S3Uri"] == output_uri(job_of(sm, first["A"]))
    assert exec_id(cached_runs["first"].arn) in b_input["S3Input"]["S3Uri"]
    assert output_text(sess, sm, run["C"]) == "C(B2(A:one))"


def test_a_changed_parameter_misses_down_the_chain_and_the_independent_step_hits(cached_runs, sess, sm):
    run = steps_of(cached_runs["parameter"])
    for name in ("A", "B", "C"):
        assert "CacheHitResult" not in run[name], name
        assert exec_id(cached_runs["parameter"].arn) in job_arn(run[name])
    assert run["D"]["CacheHitResult"]["SourcePipelineExecutionArn"] == cached_runs["first"].arn
    assert output_text(sess, sm, run["C"]) == "C(B2(A:two))"


def test_a_cache_hit_names_the_execution_that_really_ran_the_step(cached_runs, sess, sm):
    # back to Value=one: A's newest matching record is the script run's, itself a hit on the first run
    run = steps_of(cached_runs["back"])
    source = {name: step["CacheHitResult"]["SourcePipelineExecutionArn"] for name, step in run.items()}
    assert source == {"A": cached_runs["first"].arn, "B": cached_runs["script"].arn,
                      "C": cached_runs["script"].arn, "D": cached_runs["first"].arn}
    assert output_text(sess, sm, run["C"]) == "C(B2(A:one))"


def test_an_expired_cache_entry_misses(sess, sm, role, scripts):
    from sagemaker.workflow.pipeline import Pipeline
    from sagemaker.workflow.steps import CacheConfig, ProcessingStep

    def pipeline(expire_after):
        step = ProcessingStep(name="D", cache_config=CacheConfig(enable_caching=True, expire_after=expire_after),
                              step_args=processor(sess, role).run(code=scripts["D"]))
        return Pipeline(name="ExExpire", steps=[step], sagemaker_session=sess)

    short = pipeline("PT1S")
    short.upsert(role_arn=role)
    first = steps_of(succeeded(short.start()))["D"]
    while time.time() < first["EndTime"].timestamp() + 1.5:
        time.sleep(0.1)
    second = steps_of(succeeded(short.start()))["D"]
    assert "CacheHitResult" not in second  # one second later the entry has expired
    assert job_arn(second) != job_arn(first)
    # the same step with an hour to live hits that last run: the miss was the expiry, not the key
    longer = pipeline("PT1H")
    longer.upsert(role_arn=role)
    third_execution = succeeded(longer.start())
    third = steps_of(third_execution)["D"]
    assert job_arn(third) == job_arn(second)
    source = third["CacheHitResult"]["SourcePipelineExecutionArn"]
    assert exec_id(source) in job_arn(second)


def test_a_cache_hit_does_not_renew_the_entry(sess, role, scripts):
    """ExpireAfter counts from the run that really ran the step, not from a later hit on it."""
    from sagemaker.workflow.pipeline import Pipeline
    from sagemaker.workflow.steps import CacheConfig, ProcessingStep

    step = ProcessingStep(name="D", cache_config=CacheConfig(enable_caching=True, expire_after="PT3S"),
                          step_args=processor(sess, role).run(code=scripts["D"]))
    pipeline = Pipeline(name="ExNoRenew", steps=[step], sagemaker_session=sess)
    pipeline.upsert(role_arn=role)
    first = steps_of(succeeded(pipeline.start()))["D"]
    ran_at = first["EndTime"].timestamp()
    while time.time() < ran_at + 1.2:
        time.sleep(0.05)
    hit = steps_of(succeeded(pipeline.start()))["D"]
    assert job_arn(hit) == job_arn(first) and "CacheHitResult" in hit
    assert hit["EndTime"].timestamp() < ran_at + 3 - 0.5, "the hit came too late for this test to mean anything"
    while time.time() < ran_at + 3.5:
        time.sleep(0.05)
    third = steps_of(succeeded(pipeline.start()))["D"]  # the hit is 2 s old, the run it reused 3.5 s
    assert "CacheHitResult" not in third
    assert job_arn(third) != job_arn(first)
    assert "CacheEntryTime" not in third  # kept for the engine, not shown


def test_a_malformed_expire_after_is_refused_when_the_pipeline_is_created(sess, sm, role, scripts):
    from sagemaker.workflow.pipeline import Pipeline
    from sagemaker.workflow.steps import CacheConfig, ProcessingStep

    step = ProcessingStep(name="D", cache_config=CacheConfig(enable_caching=True, expire_after="one hour"),
                          step_args=processor(sess, role).run(code=scripts["D"]))
    pipeline = Pipeline(name="ExBadExpire", steps=[step], sagemaker_session=sess)
    with pytest.raises(ClientError) as excinfo:
        pipeline.upsert(role_arn=role)
    assert excinfo.value.response["Error"]["Code"] == "ValidationException"
    assert "'one hour'" in excinfo.value.response["Error"]["Message"]
    assert "ExBadExpire" not in [p["PipelineName"] for p in sm.list_pipelines()["PipelineSummaries"]]


# ----------------------------------------------------------------------------- parallel steps


def wait_pipeline(sess, role, name, scripts, seconds, stop_file=""):
    """Two independent processing steps, Left and Right, that each wait ``seconds`` (or for ``stop_file``)."""
    from sagemaker.workflow.pipeline import Pipeline
    from sagemaker.workflow.steps import ProcessingStep

    steps = [ProcessingStep(name=side, step_args=processor(sess, role, SLEEP=str(seconds), STOP_FILE=stop_file).run(
        code=scripts["wait"])) for side in ("Left", "Right")]
    return Pipeline(name=name, steps=steps, sagemaker_session=sess)


def spans(execution):
    steps = steps_of(execution)
    return {name: (steps[name]["StartTime"].timestamp(), steps[name]["EndTime"].timestamp()) for name in ("Left", "Right")}


def overlap(a, b):
    return a[0] < b[1] and b[0] < a[1]


def timeline_bars(sess, execution):
    """The bars monitor.plot_timeline draws: step name -> (left, right) in seconds since the start."""
    from lab_helpers import monitor

    fig = monitor.plot_timeline(sess, execution.arn)
    return {p.get_gid()[len("step:"):]: (p.get_x(), p.get_x() + p.get_width())
            for p in fig.axes[0].patches if (p.get_gid() or "").startswith("step:")}


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="local mode runs at most one step per core")
def test_independent_steps_overlap_and_a_parallelism_of_one_serialises_them(sess, role, scripts):
    from sagemaker.workflow.parallelism_config import ParallelismConfiguration

    pipeline = wait_pipeline(sess, role, "ExParallel", scripts, 1.5)
    pipeline.upsert(role_arn=role)
    parallel = succeeded(pipeline.start())
    left, right = spans(parallel).values()
    assert overlap(left, right), (left, right)
    bars = timeline_bars(sess, parallel)
    assert set(bars) == {"Left", "Right"} and overlap(bars["Left"], bars["Right"]), bars

    serial = succeeded(pipeline.start(parallelism_config=ParallelismConfiguration(max_parallel_execution_steps=1)))
    left, right = spans(serial).values()
    assert not overlap(left, right), (left, right)
    assert min(left[1], right[1]) <= max(left[0], right[0])
    bars = timeline_bars(sess, serial)
    assert not overlap(bars["Left"], bars["Right"]), bars
    assert serial.describe()["ParallelismConfiguration"] == {"MaxParallelExecutionSteps": 1}


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="local mode runs at most one step per core")
def test_a_pipeline_level_parallelism_of_one_serialises_its_executions_steps(sess, sm, role, scripts):
    from sagemaker.workflow.parallelism_config import ParallelismConfiguration

    pipeline = wait_pipeline(sess, role, "ExSerialPipeline", scripts, 0.8)
    pipeline.upsert(role_arn=role, parallelism_config=ParallelismConfiguration(max_parallel_execution_steps=1))
    described = sm.describe_pipeline(PipelineName="ExSerialPipeline")
    assert described["ParallelismConfiguration"] == {"MaxParallelExecutionSteps": 1}
    left, right = spans(succeeded(pipeline.start())).values()
    assert not overlap(left, right), (left, right)


# ----------------------------------------------------------------------------- selective execution


@pytest.fixture(scope="module")
def selective_source(sess, role, scripts):
    pipeline = chain_pipeline(sess, role, "ExSelective", scripts)
    pipeline.upsert(role_arn=role)
    return pipeline, succeeded(pipeline.start())


def test_a_selective_execution_reruns_one_step_on_the_source_executions_outputs(selective_source, sess, sm):
    from sagemaker.workflow.selective_execution_config import SelectiveExecutionConfig

    pipeline, source = selective_source
    before = steps_of(source)
    rerun = succeeded(pipeline.start(selective_execution_config=SelectiveExecutionConfig(
        source_pipeline_execution_arn=source.arn, selected_steps=["B"])))
    after = steps_of(rerun)
    assert rerun.describe()["SelectiveExecutionConfig"] == {
        "SourcePipelineExecutionArn": source.arn, "SelectedSteps": [{"StepName": "B"}]}
    # B ran a new job of this execution; A was taken from the source; C and D did not run
    assert set(after) == {"A", "B"}
    assert exec_id(rerun.arn) in job_arn(after["B"]) and job_arn(after["B"]) != job_arn(before["B"])
    assert "SelectiveExecutionResult" not in after["B"]
    assert after["A"]["SelectiveExecutionResult"] == {"SourcePipelineExecutionArn": source.arn}
    assert job_arn(after["A"]) == job_arn(before["A"])
    # B read A's output in the source execution
    (b_input,) = [i for i in job_of(sm, after["B"])["ProcessingInputs"] if i["InputName"] != "code"]
    assert b_input["S3Input"]["S3Uri"] == output_uri(job_of(sm, before["A"]))
    assert exec_id(rerun.arn) in output_uri(job_of(sm, after["B"]))
    assert output_text(sess, sm, after["B"]) == "B(A:one)"


def test_selective_execution_refuses_an_unknown_step_and_a_source_of_another_pipeline(selective_source, sess, role,
                                                                                      scripts, sm):
    from sagemaker.workflow.selective_execution_config import SelectiveExecutionConfig

    pipeline, source = selective_source
    with pytest.raises(ClientError) as excinfo:
        pipeline.start(selective_execution_config=SelectiveExecutionConfig(
            source_pipeline_execution_arn=source.arn, selected_steps=["NoSuchStep"]))
    assert excinfo.value.response["Error"]["Code"] == "ValidationException"
    assert "NoSuchStep" in excinfo.value.response["Error"]["Message"]

    other = chain_pipeline(sess, role, "ExSelectiveOther", scripts)
    other.upsert(role_arn=role)
    with pytest.raises(ClientError) as excinfo:
        other.start(selective_execution_config=SelectiveExecutionConfig(
            source_pipeline_execution_arn=source.arn, selected_steps=["B"]))
    assert excinfo.value.response["Error"]["Code"] == "ValidationException"
    assert source.arn in excinfo.value.response["Error"]["Message"]
    assert sm.list_pipeline_executions(PipelineName="ExSelectiveOther")["PipelineExecutionSummaries"] == []


# ----------------------------------------------------------------------------- retry policies


def retry_pipeline(sess, role, name, script, policies):
    from sagemaker.workflow.pipeline import Pipeline
    from sagemaker.workflow.steps import ProcessingStep

    step = ProcessingStep(name="Flaky", retry_policies=policies, step_args=processor(sess, role).run(code=script))
    return Pipeline(name=name, steps=[step], sagemaker_session=sess)


def internal_error_policy(max_attempts):
    from sagemaker.workflow.retry import SageMakerJobExceptionTypeEnum, SageMakerJobStepRetryPolicy

    return SageMakerJobStepRetryPolicy(failure_reason_types=[SageMakerJobExceptionTypeEnum.INTERNAL_ERROR],
                                       max_attempts=max_attempts, interval_seconds=1, backoff_rate=1.0)


def test_a_retry_policy_retries_injected_internal_errors_and_reports_the_attempts(sess, role, scripts, monkeypatch):
    monkeypatch.setenv("LAB_FAIL_JOBS", "Flaky:2")
    pipeline = retry_pipeline(sess, role, "ExRetry", scripts["D"], [internal_error_policy(3)])
    pipeline.upsert(role_arn=role)
    started = time.monotonic()
    execution = succeeded(pipeline.start())
    step = steps_of(execution)["Flaky"]
    assert step["StepStatus"] == "Succeeded"
    assert step["AttemptCount"] == 3
    assert time.monotonic() - started >= 2.0  # two one-second intervals between the attempts


def test_retries_stop_after_max_attempts(sess, role, scripts, monkeypatch):
    monkeypatch.setenv("LAB_FAIL_JOBS", "Flaky:2")
    pipeline = retry_pipeline(sess, role, "ExRetryOnce", scripts["D"], [internal_error_policy(1)])
    pipeline.upsert(role_arn=role)
    execution = finished(pipeline.start())
    assert execution.describe()["PipelineExecutionStatus"] == "Failed"
    step = steps_of(execution)["Flaky"]
    assert step["StepStatus"] == "Failed"
    assert step["AttemptCount"] == 2  # the first attempt and one retry
    assert step["FailureReason"].startswith("InternalServerError") and "LAB_FAIL_JOBS" in step["FailureReason"]


def test_without_a_retry_policy_an_internal_error_fails_the_step(sess, role, scripts, monkeypatch):
    monkeypatch.setenv("LAB_FAIL_JOBS", "Flaky:1")
    pipeline = retry_pipeline(sess, role, "ExNoRetry", scripts["D"], None)
    pipeline.upsert(role_arn=role)
    execution = finished(pipeline.start())
    assert execution.describe()["PipelineExecutionStatus"] == "Failed"
    step = steps_of(execution)["Flaky"]
    assert step["StepStatus"] == "Failed" and step["AttemptCount"] == 1
    assert step["FailureReason"].startswith("InternalServerError")


def test_a_script_error_is_never_retried(sess, role, scripts, monkeypatch):
    from sagemaker.workflow.retry import StepExceptionTypeEnum, StepRetryPolicy

    monkeypatch.delenv("LAB_FAIL_JOBS", raising=False)
    policies = [internal_error_policy(3),
                StepRetryPolicy(exception_types=[StepExceptionTypeEnum.SERVICE_FAULT, StepExceptionTypeEnum.THROTTLING],
                                max_attempts=3, interval_seconds=1)]
    pipeline = retry_pipeline(sess, role, "ExScriptError", scripts["broken"], policies)
    pipeline.upsert(role_arn=role)
    execution = finished(pipeline.start())
    assert execution.describe()["PipelineExecutionStatus"] == "Failed"
    step = steps_of(execution)["Flaky"]
    assert step["AttemptCount"] == 1
    assert step["FailureReason"].startswith("AlgorithmError") and "the script is broken" in step["FailureReason"]


# ----------------------------------------------------------------------------- Ctrl-C, killed runners


CHILD_WAIT = """
    import sys
    import lab_helpers
    from sagemaker.workflow.pipeline import Pipeline

    execution = Pipeline(name=sys.argv[1], sagemaker_session=lab_helpers.session("local")).start()
    print("WAITING", execution.arn, flush=True)
    execution.wait()
    print("WAIT RETURNED", flush=True)
"""

CHILD_START = """
    import json, sys, time
    import lab_helpers
    from sagemaker.workflow.pipeline import Pipeline

    sess = lab_helpers.session("local")
    engine = sess.cloud.engine
    await_runner = engine._await_runner

    def observed(*args):  # the engine's wait for its runner, made visible (and long enough to interrupt)
        print("STARTING", flush=True)
        time.sleep(3)
        return await_runner(*args)

    engine._await_runner = observed
    execution = Pipeline(name=sys.argv[1], sagemaker_session=sess).start()
    print(json.dumps({"arn": execution.arn, "type": type(execution).__name__}), flush=True)
"""


def interrupt_child(code, name, env, marker, tmp_path):
    """Run ``code`` in a child in its own session; at the line starting with ``marker``, Ctrl-C it (SIGINT to
    its whole process group, as a terminal does). Returns (exit code, stdout lines, stderr)."""
    err = open(tmp_path / "child.err", "w+")
    proc = subprocess.Popen([PY, "-c", textwrap.dedent(code), name], env=env, stdout=subprocess.PIPE, stderr=err,
                            text=True, start_new_session=True)
    lines = []
    try:
        for line in proc.stdout:
            lines.append(line.strip())
            if line.startswith(marker):
                time.sleep(0.5)
                os.killpg(proc.pid, signal.SIGINT)
                break
        lines += [line.strip() for line in proc.stdout]
        proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    err.seek(0)
    return proc.returncode, lines, err.read()


def test_ctrl_c_in_wait_interrupts_the_wait_not_the_execution(home, sess, role, scripts, tmp_path):
    pipeline = wait_pipeline(sess, role, "ExCtrlCWait", scripts, 3)
    pipeline.upsert(role_arn=role)
    code, lines, err = interrupt_child(CHILD_WAIT, "ExCtrlCWait", make_child_env(home), "WAITING", tmp_path)
    assert code != 0 and "KeyboardInterrupt" in err, (code, lines, err[-2000:])
    assert "WAIT RETURNED" not in lines
    arn = next(line for line in lines if line.startswith("WAITING")).split()[1]
    final = wait_for_arn(sess, arn)
    assert final["PipelineExecutionStatus"] == "Succeeded", final.get("FailureReason")
    assert {s["StepStatus"] for s in sess.sagemaker_client.list_pipeline_execution_steps(
        PipelineExecutionArn=arn)["PipelineExecutionSteps"]} == {"Succeeded"}


def test_ctrl_c_in_start_still_returns_the_started_execution(home, sess, role, scripts, tmp_path):
    pipeline = wait_pipeline(sess, role, "ExCtrlCStart", scripts, 1)
    pipeline.upsert(role_arn=role)
    code, lines, err = interrupt_child(CHILD_START, "ExCtrlCStart", make_child_env(home), "STARTING", tmp_path)
    assert code == 0, (lines, err[-2000:])
    result = json.loads(lines[-1])
    assert result["type"] == "_PipelineExecution"
    assert "interrupted after the execution had started" in err and result["arn"] in err
    final = wait_for_arn(sess, result["arn"])
    assert final["PipelineExecutionStatus"] == "Succeeded", final.get("FailureReason")


def test_a_runner_killed_while_two_steps_run_fails_the_execution_and_ends_the_wait(home, sess, sm, role, scripts,
                                                                                   tmp_path):
    stop_file = tmp_path / "stop-waiting"
    pipeline = wait_pipeline(sess, role, "ExKilled", scripts, 120, str(stop_file))
    pipeline.upsert(role_arn=role)
    try:
        execution = pipeline.start()
        deadline = time.monotonic() + 120
        while True:  # until both steps run a job
            assert time.monotonic() < deadline, "the two steps never ran at the same time"
            steps = steps_of(execution)
            if len(steps) == 2 and all(s["StepStatus"] == "Executing" and "ProcessingJob" in s["Metadata"]
                                       for s in steps.values()):
                break
            time.sleep(0.1)
        pid = runner_pid(home, execution.arn)
        os.kill(pid, signal.SIGKILL)
        started = time.monotonic()
        with pytest.raises(WaiterError, match="Failed"):
            execution.wait()
        assert time.monotonic() - started < 30
    finally:
        stop_file.touch()
    described = execution.describe()
    assert described["PipelineExecutionStatus"] == "Failed"
    assert f"pid {pid}" in described["FailureReason"]
    for name, step in steps_of(execution).items():
        assert step["StepStatus"] == "Failed", name
        assert job_of(sm, step)["ProcessingJobStatus"] == "Failed", name
