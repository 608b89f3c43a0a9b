"""Hyperparameter tuning in local mode, written as a learner writes it (SDK v2 ``HyperparameterTuner``, ``TuningStep``).

The data is the abalone set split by the kit's preprocessing code, uploaded once; the built-in XGBoost
algorithm trains 5 rounds per job, and the script-mode jobs only compute a number, so the module stays fast.

What is checked: a TuningStep of 4 training jobs, 2 at a time, whose best model a ModelStep registers
(the package points at the best job's ``model.tar.gz``); training job names, tuned values within their
ranges, the static hyperparameters and the objective metric each job got; Describe's counters and best
job; ListTrainingJobsForHyperParameterTuningJob sorted, filtered and paginated; a cached re-run; the
monitor's view of the step; the SDK's tuner outside a pipeline (fit, wait, best job, analytics); Random,
Grid and Bayesian in one pipeline (Grid enumerates its grid); a
``metric_definitions`` objective over a script-mode job's log; warm start (parents as prior
observations, ``OverallBestTrainingJob``, the 500-job limit); requests AWS refuses; a tuning step whose
training jobs all fail; a retry policy retrying one whose jobs hit internal errors; stopping an execution
(or StopHyperParameterTuningJob) stops the tuning job and its training jobs; a fault of the strategy or a
killed runner ends the tuning job and its training jobs Failed, never InProgress forever (a job listed but
never created included).  The strategies on their own: values drawn on each scaling
type's scale, Bayesian search concentrating where the objective is good, warm-start results as priors.
"""

import io
import re
import textwrap
import time

import pytest
from botocore.exceptions import ClientError
from conftest import finished, module_fixtures, module_home, offline_module, wait_for_arn

NUM_ROUND = 5
PREFIX = "tuning-tests"

#: nothing in this module may resolve a host name or open a connection (local mode is offline)
no_network = pytest.fixture(scope="module", autouse=True, name="no_network")(offline_module)

SCORE_SCRIPT = textwrap.dedent("""
    # A "training" script whose validation loss is (alpha - 0.3)^2; it can also wait (--wait seconds).
    import argparse, os, time
    parser = argparse.ArgumentParser()
    parser.add_argument("--alpha", type=float)
    parser.add_argument("--wait", type=float, default=0)
    args = parser.parse_args()
    time.sleep(args.wait)
    with open(os.path.join(os.environ["SM_MODEL_DIR"], "alpha.txt"), "w") as f:
        f.write(str(args.alpha))
    print("epoch 1: val_loss=%.6f" % (1 + args.alpha))
    print("epoch 2: val_loss=%.6f" % ((args.alpha - 0.3) ** 2))
""")
METRICS = [{"Name": "validation:loss", "Regex": r"val_loss=([0-9.]+)"}]


# ----------------------------------------------------------------------------- set-up
home = module_home("tuning-home", unset=("LAB_FAIL_JOBS",))
sess, sm, role = module_fixtures("sess", "sm", "role")


@pytest.fixture(scope="module")
def bucket(sess):
    return sess.default_bucket()


@pytest.fixture(scope="module")
def channels(sess, bucket):
    """The abalone train and validation splits (the kit's preprocessing), as TrainingInputs."""
    from sagemaker.inputs import TrainingInput

    from lab_helpers import data
    from lab_helpers.steps import preprocess

    train, validation, _ = preprocess.preprocess(preprocess.load_abalone(str(data.abalone_csv())))
    s3 = sess.boto_session.client("s3", region_name=sess.boto_region_name)
    for split, frame in (("train", train), ("validation", validation)):
        text = io.StringIO()
        frame.to_csv(text, header=False, index=False)
        s3.put_object(Bucket=bucket, Key=f"{PREFIX}/data/{split}/{split}.csv", Body=text.getvalue().encode())
    return {split: TrainingInput(f"s3://{bucket}/{PREFIX}/data/{split}", content_type="text/csv")
            for split in ("train", "validation")}


@pytest.fixture(scope="module")
def image(sess):
    from sagemaker import image_uris

    return image_uris.retrieve("xgboost", sess.boto_region_name, "1.7-1")


def xgboost_tuner(sess, role, bucket, image, ranges, strategy="Random", max_jobs=4, max_parallel_jobs=2, **kwargs):
    """The built-in XGBoost algorithm tuned on validation:rmse (models under s3://<bucket>/tuning-tests/models)."""
    from sagemaker.estimator import Estimator
    from sagemaker.tuner import HyperparameterTuner

    estimator = Estimator(image_uri=image, role=role, instance_type="ml.m5.xlarge", instance_count=1,
                          output_path=f"s3://{bucket}/{PREFIX}/models", sagemaker_session=sess)
    estimator.set_hyperparameters(objective="reg:squarederror", num_round=NUM_ROUND)
    return HyperparameterTuner(estimator, "validation:rmse", ranges, objective_type="Minimize", strategy=strategy,
                               max_jobs=max_jobs, max_parallel_jobs=max_parallel_jobs, **kwargs)


def score_tuner(sess, role, source, ranges, max_jobs=3, max_parallel_jobs=1, wait=0, **kwargs):
    """A script-mode (scikit-learn image) estimator tuned on the metric its log prints (``metric_definitions``)."""
    from sagemaker.sklearn import SKLearn
    from sagemaker.tuner import HyperparameterTuner

    estimator = SKLearn(entry_point="score.py", source_dir=str(source), framework_version="1.2-1", role=role,
                        instance_type="ml.m5.xlarge", instance_count=1, hyperparameters={"wait": wait},
                        sagemaker_session=sess)
    return HyperparameterTuner(estimator, "validation:loss", ranges, metric_definitions=METRICS,
                               objective_type="Minimize", max_jobs=max_jobs, max_parallel_jobs=max_parallel_jobs,
                               **kwargs)


@pytest.fixture(scope="module")
def score_source(tmp_path_factory):
    folder = tmp_path_factory.mktemp("score-src")
    (folder / "score.py").write_text(SCORE_SCRIPT)
    return folder


def tuning_job_of(step):
    """The name of the tuning job a step ran (lower case, as in its ARN; names are case-insensitive)."""
    return step["Metadata"]["TuningJob"]["Arn"].rsplit("/", 1)[-1]


def exact_name(sm, step):
    """The tuning job's name as it was created (its training jobs' names start with it)."""
    return sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=tuning_job_of(step))[
        "HyperParameterTuningJobName"]


def steps_of(execution):
    return {s["StepName"]: s for s in execution.list_steps()}


def all_pages(sm, name, **kwargs):
    pages = sm.get_paginator("list_training_jobs_for_hyper_parameter_tuning_job").paginate(
        HyperParameterTuningJobName=name, **kwargs)
    return [job for page in pages for job in page["TrainingJobSummaries"]]


def run(pipeline, role):
    pipeline.upsert(role_arn=role)
    return finished(pipeline.start())


# ----------------------------------------------------------------------------- the best model, registered
@pytest.fixture(scope="module")
def best_model_runs(sess, sm, role, bucket, image, channels):
    """Tune (4 jobs, 2 at a time) -> register the best model; run twice with caching on."""
    from sagemaker.model import Model
    from sagemaker.tuner import ContinuousParameter, IntegerParameter
    from sagemaker.workflow.model_step import ModelStep
    from sagemaker.workflow.pipeline import Pipeline
    from sagemaker.workflow.steps import CacheConfig, TuningStep

    tuner = xgboost_tuner(sess, role, bucket, image, {"eta": ContinuousParameter(0.05, 0.5),
                                                      "max_depth": IntegerParameter(2, 6)}, random_seed=7)
    tune = TuningStep(name="TuneAbalone", step_args=tuner.fit(channels),
                      cache_config=CacheConfig(enable_caching=True, expire_after="PT1H"))
    model = Model(image_uri=image, role=role, sagemaker_session=sess,
                  model_data=tune.get_top_model_s3_uri(top_k=0, s3_bucket=bucket, prefix=f"{PREFIX}/models"))
    register = ModelStep(name="RegisterBest", step_args=model.register(
        content_types=["text/csv"], response_types=["text/csv"], model_package_group_name="TunedAbalone",
        approval_status="Approved"))
    pipeline = Pipeline(name="TuneAndRegister", steps=[tune, register], sagemaker_session=sess)
    first = run(pipeline, role)
    second = run(pipeline, role)
    return first, second


def test_tuning_step_runs_4_jobs_and_registers_the_best_model(sm, best_model_runs):
    first, _ = best_model_runs
    described = first.describe()
    assert described["PipelineExecutionStatus"] == "Succeeded", described.get("FailureReason")
    name = tuning_job_of(steps_of(first)["TuneAbalone"])
    tuning = sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
    assert tuning["HyperParameterTuningJobStatus"] == "Completed"
    assert tuning["TrainingJobStatusCounters"] == {"Completed": 4, "InProgress": 0, "RetryableError": 0,
                                                   "NonRetryableError": 0, "Stopped": 0}
    assert tuning["ObjectiveStatusCounters"] == {"Succeeded": 4, "Pending": 0, "Failed": 0}
    jobs = all_pages(sm, name)
    values = {j["TrainingJobName"]: j["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] for j in jobs}
    best = min(values, key=values.get)
    assert tuning["BestTrainingJob"]["TrainingJobName"] == best
    assert tuning["BestTrainingJob"]["FinalHyperParameterTuningJobObjectiveMetric"] == {
        "Type": "Minimize", "MetricName": "validation:rmse", "Value": values[best]}
    best_job = sm.describe_training_job(TrainingJobName=best)
    (package,) = sm.list_model_packages(ModelPackageGroupName="TunedAbalone", SortBy="CreationTime",
                                        SortOrder="Ascending")["ModelPackageSummaryList"][:1]
    registered = sm.describe_model_package(ModelPackageName=package["ModelPackageArn"])
    assert registered["InferenceSpecification"]["Containers"][0]["ModelDataUrl"] == \
        best_job["ModelArtifacts"]["S3ModelArtifacts"]


def test_training_jobs_are_named_tuned_and_run_as_aws_runs_them(sm, best_model_runs):
    first, _ = best_model_runs
    name = exact_name(sm, steps_of(first)["TuneAbalone"])
    assert len(name) <= 32
    jobs = all_pages(sm, name)
    assert sorted(re.fullmatch(rf"{re.escape(name)}-(\d{{3}})-[0-9a-f]{{8}}", j["TrainingJobName"]).group(1)
                  for j in jobs) == ["001", "002", "003", "004"]
    intervals = []
    for job in jobs:
        tuned = job["TunedHyperParameters"]
        assert set(tuned) == {"eta", "max_depth"}
        assert 0.05 <= float(tuned["eta"]) <= 0.5 and tuned["max_depth"] in {"2", "3", "4", "5", "6"}
        described = sm.describe_training_job(TrainingJobName=job["TrainingJobName"])
        assert described["HyperParameters"] == {"objective": "reg:squarederror", "num_round": str(NUM_ROUND),
                                                "_tuning_objective_metric": "validation:rmse", **tuned}
        assert described["TuningJobArn"] == f"arn:aws:sagemaker:us-east-1:000000000000:hyper-parameter-tuning-job/" \
                                             f"{name.lower()}"
        metric = {m["MetricName"]: m["Value"] for m in described["FinalMetricDataList"]}["validation:rmse"]
        assert job["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] == metric
        intervals.append((described["TrainingStartTime"], described["TrainingEndTime"]))
    for start, _ in intervals:  # MaxParallelTrainingJobs=2: never 3 at once
        assert sum(1 for s, e in intervals if s <= start < e) <= 2


def test_training_jobs_list_sorted_filtered_and_paginated(sm, best_model_runs):
    first, _ = best_model_runs
    name = exact_name(sm, steps_of(first)["TuneAbalone"])
    by_value = all_pages(sm, name, SortBy="FinalObjectiveMetricValue", PaginationConfig={"PageSize": 3})
    values = [j["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] for j in by_value]
    assert len(values) == 4 and values == sorted(values)
    page = sm.list_training_jobs_for_hyper_parameter_tuning_job(HyperParameterTuningJobName=name, MaxResults=3,
                                                                SortBy="Name", SortOrder="Descending")
    assert len(page["TrainingJobSummaries"]) == 3 and "NextToken" in page
    names = [j["TrainingJobName"] for j in page["TrainingJobSummaries"]]
    assert names == sorted(names, reverse=True)
    rest = sm.list_training_jobs_for_hyper_parameter_tuning_job(HyperParameterTuningJobName=name, MaxResults=3,
                                                                SortBy="Name", SortOrder="Descending",
                                                                NextToken=page["NextToken"])
    assert len(rest["TrainingJobSummaries"]) == 1 and "NextToken" not in rest
    assert all_pages(sm, name, StatusEquals="Failed") == []
    with pytest.raises(ClientError) as missing:
        sm.list_training_jobs_for_hyper_parameter_tuning_job(HyperParameterTuningJobName="no-such-tuning-job")
    assert missing.value.response["Error"]["Code"] == "ResourceNotFound"
    listed = [s["HyperParameterTuningJobName"] for s in sm.get_paginator("list_hyper_parameter_tuning_jobs").paginate(
        NameContains=name).build_full_result()["HyperParameterTuningJobSummaries"]]
    assert listed == [name]


def test_cached_rerun_reuses_the_tuning_job_and_registers_the_same_model(sm, best_model_runs):
    first, second = best_model_runs
    assert second.describe()["PipelineExecutionStatus"] == "Succeeded"
    tune = steps_of(second)["TuneAbalone"]
    assert tune["CacheHitResult"]["SourcePipelineExecutionArn"] == first.arn
    assert tuning_job_of(tune) == tuning_job_of(steps_of(first)["TuneAbalone"])
    packages = sm.list_model_packages(ModelPackageGroupName="TunedAbalone")["ModelPackageSummaryList"]
    urls = {sm.describe_model_package(ModelPackageName=p["ModelPackageArn"])["InferenceSpecification"][
        "Containers"][0]["ModelDataUrl"] for p in packages}
    assert len(packages) == 2 and len(urls) == 1


def test_monitor_shows_the_tuning_job_and_its_training_logs(sess, best_model_runs):
    from lab_helpers import monitor

    first, _ = best_model_runs
    rows = {r["name"]: r for r in monitor.step_rows(sess, first.arn)}
    name = exact_name(sess.sagemaker_client, steps_of(first)["TuneAbalone"])
    assert rows["TuneAbalone"]["ran"] == f"TuningJob: {name.lower()}"
    text = str(monitor.show_logs(sess, first.arn, "TuneAbalone", full=True))
    assert text.count(f"--- {name}-00") == 4 and "validation-rmse" in text
    best = sess.sagemaker_client.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)[
        "BestTrainingJob"]["TrainingJobName"]
    found = monitor.artifacts(sess, first.arn)
    row = found[found["step"] == "TuneAbalone"].iloc[0]
    assert row["artifact"] == f"best model.tar.gz ({best})" and row["location"].endswith(f"/{best}/output/model.tar.gz")


# ----------------------------------------------------------------------------- the strategies
@pytest.fixture(scope="module")
def strategies_run(sess, role, bucket, image, channels):
    from sagemaker.tuner import CategoricalParameter, ContinuousParameter, IntegerParameter
    from sagemaker.workflow.pipeline import Pipeline
    from sagemaker.workflow.steps import TuningStep

    numeric = {"eta": ContinuousParameter(0.01, 0.5, scaling_type="Logarithmic"),
               "max_depth": IntegerParameter(2, 6), "subsample": CategoricalParameter([0.6, 1.0])}
    steps = [
        TuningStep(name="Random", step_args=xgboost_tuner(sess, role, bucket, image, numeric).fit(channels)),
        TuningStep(name="Bayesian", step_args=xgboost_tuner(sess, role, bucket, image, numeric, strategy="Bayesian",
                                                            random_seed=3).fit(channels)),
        TuningStep(name="Grid", step_args=xgboost_tuner(
            sess, role, bucket, image, {"max_depth": CategoricalParameter([2, 4]),
                                        "eta": CategoricalParameter([0.1, 0.3])},
            strategy="Grid", max_jobs=None, max_parallel_jobs=2).fit(channels)),
    ]
    return run(Pipeline(name="TuneStrategies", steps=steps, sagemaker_session=sess), role)


@pytest.mark.parametrize("strategy", ["Random", "Bayesian"])
def test_random_and_bayesian_run_max_jobs_within_the_ranges(sm, strategies_run, strategy):
    assert strategies_run.describe()["PipelineExecutionStatus"] == "Succeeded"
    name = tuning_job_of(steps_of(strategies_run)[strategy])
    described = sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
    assert described["HyperParameterTuningJobConfig"]["Strategy"] == strategy
    jobs = all_pages(sm, name)
    assert len(jobs) == 4 and all(j["TrainingJobStatus"] == "Completed" for j in jobs)
    for job in jobs:
        tuned = job["TunedHyperParameters"]
        assert 0.01 <= float(tuned["eta"]) <= 0.5
        assert 2 <= int(tuned["max_depth"]) <= 6 and tuned["max_depth"] == str(int(tuned["max_depth"]))
        assert tuned["subsample"] in ("0.6", "1.0")


def test_grid_runs_every_combination_once(sm, strategies_run):
    name = tuning_job_of(steps_of(strategies_run)["Grid"])
    described = sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
    assert described["HyperParameterTuningJobConfig"]["ResourceLimits"]["MaxNumberOfTrainingJobs"] == 4
    combos = sorted((j["TunedHyperParameters"]["max_depth"], j["TunedHyperParameters"]["eta"])
                    for j in all_pages(sm, name))
    assert combos == [(d, e) for d in ("2", "4") for e in ("0.1", "0.3")]


# ----------------------------------------------------------------------------- script mode, warm start
@pytest.fixture(scope="module")
def script_tuning(sess, sm, role, score_source, channels):
    """A metric_definitions objective (parent), then a warm start from it with a narrower range."""
    from sagemaker.tuner import ContinuousParameter, WarmStartConfig, WarmStartTypes
    from sagemaker.workflow.pipeline import Pipeline
    from sagemaker.workflow.steps import TuningStep

    parent_step = TuningStep(name="Score", step_args=score_tuner(
        sess, role, score_source, {"alpha": ContinuousParameter(0.0, 1.0)}, random_seed=11).fit(
        {"train": channels["train"]}))
    parent_run = run(Pipeline(name="TuneScore", steps=[parent_step], sagemaker_session=sess), role)
    parent = tuning_job_of(steps_of(parent_run)["Score"])
    warm = WarmStartConfig(WarmStartTypes.IDENTICAL_DATA_AND_ALGORITHM, parents={parent})
    child_step = TuningStep(name="ScoreAgain", step_args=score_tuner(
        sess, role, score_source, {"alpha": ContinuousParameter(0.7, 1.0)}, max_jobs=2, strategy="Bayesian",
        warm_start_config=warm).fit({"train": channels["train"]}))
    child_run = run(Pipeline(name="TuneScoreWarm", steps=[child_step], sagemaker_session=sess), role)
    return parent_run, parent, child_run


def test_metric_definitions_objective_is_read_from_the_log(sm, script_tuning):
    parent_run, parent, _ = script_tuning
    assert parent_run.describe()["PipelineExecutionStatus"] == "Succeeded"
    jobs = all_pages(sm, parent)
    assert len(jobs) == 3
    for job in jobs:
        alpha = float(job["TunedHyperParameters"]["alpha"])
        # the last match in the log counts: epoch 2's loss, not epoch 1's
        assert job["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] == pytest.approx((alpha - 0.3) ** 2,
                                                                                             abs=1e-5)


def test_warm_start_learns_from_the_parent_and_reports_the_overall_best(sm, script_tuning):
    _, parent, child_run = script_tuning
    assert child_run.describe()["PipelineExecutionStatus"] == "Succeeded"
    child = tuning_job_of(steps_of(child_run)["ScoreAgain"])
    described = sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=child)
    assert described["WarmStartConfig"]["ParentHyperParameterTuningJobs"] == [{"HyperParameterTuningJobName": parent}]
    own = all_pages(sm, child)
    assert len(own) == 2 and all(0.7 <= float(j["TunedHyperParameters"]["alpha"]) <= 1.0 for j in own)
    assert described["TrainingJobStatusCounters"]["Completed"] == 2  # the parent's jobs are not this job's
    everything = own + all_pages(sm, parent)
    overall = min(everything, key=lambda j: j["FinalHyperParameterTuningJobObjectiveMetric"]["Value"])
    assert described["OverallBestTrainingJob"]["TrainingJobName"] == overall["TrainingJobName"]
    assert described["BestTrainingJob"]["TrainingJobName"] in {j["TrainingJobName"] for j in own}


def test_tuner_fit_outside_a_pipeline_and_its_analytics(sess, sm, role, score_source, channels, monkeypatch):
    """The SDK's own tuning calls with a plain Session: fit, wait, best_training_job, analytics."""
    import sagemaker.session
    from sagemaker.tuner import ContinuousParameter

    from lab_helpers.config import LOCAL_SDK_CONFIG

    monkeypatch.setattr(sagemaker.session, "_wait_until", lambda fn, poll=5: fn())  # no first-poll sleep
    plain = sagemaker.session.Session(boto_session=sess.boto_session, sagemaker_config=LOCAL_SDK_CONFIG)
    tuner = score_tuner(plain, role, score_source, {"alpha": ContinuousParameter(0.0, 1.0)}, max_jobs=2,
                        strategy="Random", base_tuning_job_name="score")
    tuner.fit({"train": channels["train"]})
    tuner.wait()
    name = tuner.latest_tuning_job.name
    described = sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
    assert described["HyperParameterTuningJobStatus"] == "Completed"
    assert tuner.best_training_job() == described["BestTrainingJob"]["TrainingJobName"]
    frame = tuner.analytics().dataframe()
    assert sorted(frame["TrainingJobName"]) == sorted(j["TrainingJobName"] for j in all_pages(sm, name))
    assert frame["FinalObjectiveValue"].min() == described["BestTrainingJob"][
        "FinalHyperParameterTuningJobObjectiveMetric"]["Value"]


# ----------------------------------------------------------------------------- requests AWS refuses
@pytest.fixture(scope="module")
def request_of(sess, role, bucket, image, channels):
    """A CreateHyperParameterTuningJob request as the SDK builds it, for the given ranges and options."""
    from sagemaker.workflow.steps import TuningStep

    def build(ranges, name="refused", **kwargs):
        step = TuningStep(name="T", step_args=xgboost_tuner(sess, role, bucket, image, ranges, **kwargs).fit(
            channels))
        return without_none(dict(step.arguments, HyperParameterTuningJobName=name))

    return build


def without_none(value):
    """A request without the None values the SDK leaves in (``max_jobs=None`` for Grid): boto3 refuses them."""
    if isinstance(value, dict):
        return {k: without_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [without_none(v) for v in value]
    return value


def refused(sm, request):
    with pytest.raises(ClientError) as caught:
        sm.create_hyper_parameter_tuning_job(**request)
    return caught.value.response["Error"]


def test_grid_with_a_continuous_range_is_refused(sm, request_of):
    from sagemaker.tuner import CategoricalParameter, ContinuousParameter

    error = refused(sm, request_of({"eta": ContinuousParameter(0.1, 0.3), "max_depth": CategoricalParameter([2, 3])},
                                   strategy="Grid", max_jobs=None))
    assert error["Code"] == "ValidationException"
    assert "Grid strategy supports only categorical" in error["Message"] and "eta" in error["Message"]


def test_more_parallel_jobs_than_jobs_is_refused(sm, request_of):
    from sagemaker.tuner import IntegerParameter

    error = refused(sm, request_of({"max_depth": IntegerParameter(2, 5)}, max_jobs=2, max_parallel_jobs=3))
    assert error["Code"] == "ValidationException"
    assert error["Message"] == "MaxParallelTrainingJobs (3) cannot be greater than MaxNumberOfTrainingJobs (2)."


def test_bad_ranges_and_objectives_are_refused_naming_the_problem(sm, request_of):
    from sagemaker.tuner import ContinuousParameter, IntegerParameter

    log_from_zero = refused(sm, request_of({"eta": ContinuousParameter(0.0, 0.5, scaling_type="Logarithmic")}))
    assert "Logarithmic scaling" in log_from_zero["Message"] and "greater than 0" in log_from_zero["Message"]
    reverse_int = refused(sm, request_of({"max_depth": IntegerParameter(2, 5, scaling_type="ReverseLogarithmic")}))
    assert "ReverseLogarithmic" in reverse_int["Message"]
    upside_down = refused(sm, request_of({"eta": ContinuousParameter(0.5, 0.1)}))
    assert "MinValue (0.5)" in upside_down["Message"] and "greater than its MaxValue (0.1)" in upside_down["Message"]
    static_and_tuned = request_of({"max_depth": IntegerParameter(2, 5)})  # the SDK drops a tuned one from the static
    static_and_tuned["TrainingJobDefinition"]["StaticHyperParameters"]["max_depth"] = "3"
    assert "both static" in refused(sm, static_and_tuned)["Message"]
    hyperband = refused(sm, request_of({"max_depth": IntegerParameter(2, 5)}, strategy="Hyperband"))
    assert hyperband["Code"] == "NotImplemented" and "Hyperband" in hyperband["Message"]
    unknown_metric = request_of({"max_depth": IntegerParameter(2, 5)})
    unknown_metric["TrainingJobDefinition"]["AlgorithmSpecification"]["MetricDefinitions"] = METRICS
    assert "not one of the MetricDefinitions" in refused(sm, unknown_metric)["Message"]
    bad_name = request_of({"max_depth": IntegerParameter(2, 5)}, name="x" * 33)
    assert "hyperParameterTuningJobName" in refused(sm, bad_name)["Message"]


def test_warm_start_limits_are_checked(sm, request_of, script_tuning):
    from sagemaker.tuner import IntegerParameter

    _, parent, _ = script_tuning
    request = request_of({"max_depth": IntegerParameter(2, 5)}, max_jobs=498, max_parallel_jobs=1)
    request["HyperParameterTuningJobConfig"]["HyperParameterTuningJobObjective"] = {
        "Type": "Minimize", "MetricName": "validation:loss"}
    request["TrainingJobDefinition"]["AlgorithmSpecification"]["MetricDefinitions"] = METRICS
    request["WarmStartConfig"] = {"ParentHyperParameterTuningJobs": [{"HyperParameterTuningJobName": parent}],
                                  "WarmStartType": "TransferLearning"}
    error = refused(sm, request)  # the parent ran 3: 3 + 498 > 500
    assert "at most 500 training jobs" in error["Message"] and "the parents ran 3" in error["Message"]
    request["WarmStartConfig"]["ParentHyperParameterTuningJobs"] = [{"HyperParameterTuningJobName": "no-such-job"}]
    assert refused(sm, request)["Code"] == "ResourceNotFound"


# ----------------------------------------------------------------------------- failure and stop
def test_tuning_step_whose_training_jobs_all_fail_fails_the_execution_naming_the_cause(
        sess, sm, role, bucket, image, channels):
    from sagemaker.tuner import IntegerParameter
    from sagemaker.workflow.pipeline import Pipeline
    from sagemaker.workflow.steps import TuningStep

    tuner = xgboost_tuner(sess, role, bucket, image, {"max_depth": IntegerParameter(2, 5)}, max_jobs=2)
    tuner.estimator.set_hyperparameters(objective="reg:nonsense", num_round=NUM_ROUND)
    step = TuningStep(name="TuneBroken", step_args=tuner.fit(channels))
    execution = run(Pipeline(name="TuneBroken", steps=[step], sagemaker_session=sess), role)
    assert execution.describe()["PipelineExecutionStatus"] == "Failed"
    record = steps_of(execution)["TuneBroken"]
    assert record["StepStatus"] == "Failed"
    reason = record["FailureReason"]
    assert "None of the tuning job's 2 training jobs reported the objective metric" in reason
    assert "reg:nonsense" in reason, reason
    name = tuning_job_of(record)
    described = sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
    assert described["HyperParameterTuningJobStatus"] == "Failed" and described["FailureReason"] == reason
    assert described["TrainingJobStatusCounters"]["NonRetryableError"] == 2
    assert described["ObjectiveStatusCounters"]["Failed"] == 2 and "BestTrainingJob" not in described
    assert len(all_pages(sm, name, StatusEquals="Failed")) == 2


def test_a_retry_policy_retries_a_tuning_step_whose_jobs_hit_internal_errors(
        sess, sm, role, score_source, channels, monkeypatch):
    from sagemaker.tuner import ContinuousParameter
    from sagemaker.workflow.pipeline import Pipeline
    from sagemaker.workflow.retry import SageMakerJobExceptionTypeEnum, SageMakerJobStepRetryPolicy
    from sagemaker.workflow.steps import TuningStep

    monkeypatch.setenv("LAB_FAIL_JOBS", "Flaky:2")  # both jobs of the first attempt fail with InternalServerError
    policy = SageMakerJobStepRetryPolicy(failure_reason_types=[SageMakerJobExceptionTypeEnum.INTERNAL_ERROR],
                                         max_attempts=1, interval_seconds=1, backoff_rate=1.0)
    step = TuningStep(name="Flaky", retry_policies=[policy], step_args=score_tuner(
        sess, role, score_source, {"alpha": ContinuousParameter(0.0, 1.0)}, max_jobs=2, max_parallel_jobs=2,
        strategy="Random").fit({"train": channels["train"]}))
    execution = run(Pipeline(name="TuneFlaky", steps=[step], sagemaker_session=sess), role)
    assert execution.describe()["PipelineExecutionStatus"] == "Succeeded"
    record = steps_of(execution)["Flaky"]
    assert record["AttemptCount"] == 2
    retried = sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=tuning_job_of(record))
    assert retried["TrainingJobStatusCounters"]["Completed"] == 2
    first_attempt = [s for s in sm.list_hyper_parameter_tuning_jobs(NameContains="Flaky")[
        "HyperParameterTuningJobSummaries"] if s["HyperParameterTuningJobStatus"] == "Failed"]
    assert len(first_attempt) == 1 and first_attempt[0]["TrainingJobStatusCounters"]["RetryableError"] == 2
    failed = sm.describe_hyper_parameter_tuning_job(
        HyperParameterTuningJobName=first_attempt[0]["HyperParameterTuningJobName"])
    assert failed["FailureReason"].startswith("InternalServerError") and "LAB_FAIL_JOBS" in failed["FailureReason"]


def test_stopping_the_execution_stops_the_tuning_job_and_its_training_jobs(sess, sm, role, score_source, channels):
    from sagemaker.tuner import ContinuousParameter
    from sagemaker.workflow.pipeline import Pipeline
    from sagemaker.workflow.steps import TuningStep

    step = TuningStep(name="TuneSlow", step_args=score_tuner(
        sess, role, score_source, {"alpha": ContinuousParameter(0.0, 1.0)}, max_jobs=4, max_parallel_jobs=2,
        wait=60).fit({"train": channels["train"]}))
    pipeline = Pipeline(name="TuneSlow", steps=[step], sagemaker_session=sess)
    pipeline.upsert(role_arn=role)
    execution = pipeline.start()
    deadline, name = time.time() + 120, None
    while time.time() < deadline:
        record = steps_of(execution).get("TuneSlow", {})
        if "TuningJob" in record.get("Metadata", {}):
            name = tuning_job_of(record)
            counters = sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)[
                "TrainingJobStatusCounters"]
            if counters["InProgress"]:
                break
        time.sleep(0.1)
    assert name, "the tuning job never started"
    sm.stop_pipeline_execution(PipelineExecutionArn=execution.arn)
    started = time.time()
    assert wait_for_arn(sess, execution.arn)["PipelineExecutionStatus"] == "Stopped"
    assert time.time() - started < 30  # the 60-second jobs were stopped, not waited for
    assert steps_of(execution)["TuneSlow"]["StepStatus"] == "Stopped"
    described = sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
    assert described["HyperParameterTuningJobStatus"] == "Stopped"
    jobs = all_pages(sm, name)
    assert 1 <= len(jobs) <= 2 and all(j["TrainingJobStatus"] == "Stopped" for j in jobs)
    with pytest.raises(ClientError) as again:
        sm.stop_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
    assert again.value.response["Error"]["Code"] == "ValidationException"


# ----------------------------------------------------------------------------- the strategies on their own
def _ranges(**extra):
    from lab_helpers.local.sagemaker.tuning_strategies import parse_ranges

    config = {"ParameterRanges": {"ContinuousParameterRanges": [{"Name": "x", "MinValue": "0", "MaxValue": "1"}],
                                  "IntegerParameterRanges": [{"Name": "n", "MinValue": "1", "MaxValue": "100",
                                                              **extra}]}}
    return config, parse_ranges(config)


def test_scaling_types_draw_values_on_their_scale():
    import random
    import statistics

    from lab_helpers.local.sagemaker.tuning_strategies import RandomSearch, Range

    linear = RandomSearch(_ranges(ScalingType="Linear")[1], seed=1)
    logarithmic = RandomSearch(_ranges(ScalingType="Logarithmic")[1], seed=1)
    assert 40 <= statistics.median(linear.suggest()["n"] for _ in range(2000)) <= 60
    assert 7 <= statistics.median(logarithmic.suggest()["n"] for _ in range(2000)) <= 14  # around sqrt(1 * 100)
    reverse = Range("Continuous", "momentum", 0.9, 0.999, scaling="ReverseLogarithmic")
    rng = random.Random(1)
    drawn = [reverse.sample(rng) for _ in range(2000)]
    assert all(0.9 <= v <= 0.999 for v in drawn) and 0.985 <= statistics.median(drawn) <= 0.995


def test_bayesian_search_learns_where_the_objective_is_low_and_random_search_does_not():
    from lab_helpers.local.sagemaker.tuning_strategies import make_strategy

    config, ranges = _ranges()

    def late_mean(strategy_name):
        strategy = make_strategy(dict(config, Strategy=strategy_name, RandomSeed=5,
                                      HyperParameterTuningJobObjective={"Type": "Minimize"}), ranges, 40)
        seen = []
        for _ in range(40):
            values = strategy.suggest()
            objective = (values["x"] - 0.3) ** 2 + ((values["n"] - 10) / 100) ** 2
            strategy.tell(values, objective)
            seen.append(objective)
        return sum(seen[-15:]) / 15

    assert late_mean("Bayesian") < late_mean("Random") / 2


def test_warm_start_results_are_prior_observations():
    from lab_helpers.local.sagemaker.tuning_strategies import GridSearch, make_strategy, parse_ranges

    grid = parse_ranges({"ParameterRanges": {"CategoricalParameterRanges": [{"Name": "c", "Values": ["a", "b", "c"]}]}})
    search = GridSearch(grid)
    search.observe({"c": "b"}, 1.0)  # a parent ran this one
    assert [search.suggest(), search.suggest(), search.suggest()] == [{"c": "a"}, {"c": "c"}, None]
    config, ranges = _ranges()
    bayes = make_strategy(dict(config, Strategy="Bayesian", RandomSeed=1,
                               HyperParameterTuningJobObjective={"Type": "Maximize"}), ranges, 4)
    for x in (0.1, 0.2, 0.8, 0.9):
        bayes.observe({"x": x, "n": 50}, x)
    assert len(bayes.study.trials) == 4 and bayes.study.best_trial.value == 0.9


def test_stop_hyper_parameter_tuning_job_stops_a_running_tuning_job(sess, sm, role, score_source):
    """CreateHyperParameterTuningJob runs in the calling thread; StopHyperParameterTuningJob from another ends it."""
    import threading

    from sagemaker.tuner import ContinuousParameter
    from sagemaker.workflow.steps import TuningStep

    tuner = score_tuner(sess, role, score_source, {"alpha": ContinuousParameter(0.0, 1.0)}, max_jobs=3,
                        max_parallel_jobs=1, wait=60)
    step = TuningStep(name="T", step_args=tuner.fit())
    request = without_none(dict(step.arguments, HyperParameterTuningJobName="stop-me"))
    creator = sess.boto_session.client("sagemaker", region_name=sess.boto_region_name)
    done = {}
    thread = threading.Thread(target=lambda: done.update(arn=creator.create_hyper_parameter_tuning_job(**request)))
    thread.start()
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            if sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName="stop-me")[
                    "TrainingJobStatusCounters"]["InProgress"]:
                break
        except ClientError:
            pass
        time.sleep(0.1)
    sm.stop_hyper_parameter_tuning_job(HyperParameterTuningJobName="stop-me")
    stopped_at = time.time()
    thread.join(timeout=30)
    assert time.time() - stopped_at < 20, "the 60-second job was waited for, not stopped"
    assert not thread.is_alive() and "HyperParameterTuningJobArn" in done["arn"]
    described = sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName="stop-me")
    assert described["HyperParameterTuningJobStatus"] == "Stopped"
    assert described["TrainingJobStatusCounters"]["Stopped"] == 1 and described["TrainingJobStatusCounters"][
        "Completed"] == 0  # the first job was stopped and no other was launched


def test_a_fault_of_the_strategy_fails_the_tuning_job_instead_of_leaving_it_in_progress(
        sess, sm, role, score_source, monkeypatch):
    from sagemaker.tuner import ContinuousParameter
    from sagemaker.workflow.steps import TuningStep

    from lab_helpers.local.sagemaker import tuning_strategies

    calls = []
    original = tuning_strategies.RandomSearch.suggest

    def second_call_breaks(self):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("the sampler broke")
        return original(self)

    monkeypatch.setattr(tuning_strategies.RandomSearch, "suggest", second_call_breaks)
    tuner = score_tuner(sess, role, score_source, {"alpha": ContinuousParameter(0.0, 1.0)}, max_jobs=3,
                        strategy="Random")
    request = without_none(dict(TuningStep(name="T", step_args=tuner.fit()).arguments,
                                HyperParameterTuningJobName="faulty"))
    sm.create_hyper_parameter_tuning_job(**request)  # runs in this process, with the patched strategy
    described = sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName="faulty")
    assert described["HyperParameterTuningJobStatus"] == "Failed"
    assert described["FailureReason"] == ("InternalServerError: the kit's local tuning could not go on: "
                                          "RuntimeError: the sampler broke")
    assert described["TrainingJobStatusCounters"]["Completed"] == 1  # the job already running finished


def test_a_killed_runner_ends_the_tuning_job_and_its_training_jobs(home, sess, sm, role, score_source, channels):
    import os
    import signal

    from botocore.exceptions import WaiterError
    from conftest import runner_pid
    from sagemaker.tuner import ContinuousParameter
    from sagemaker.workflow.pipeline import Pipeline
    from sagemaker.workflow.steps import TuningStep

    step = TuningStep(name="TuneKilled", step_args=score_tuner(
        sess, role, score_source, {"alpha": ContinuousParameter(0.0, 1.0)}, max_jobs=2, max_parallel_jobs=2,
        wait=8).fit({"train": channels["train"]}))
    pipeline = Pipeline(name="TuneKilled", steps=[step], sagemaker_session=sess)
    pipeline.upsert(role_arn=role)
    execution = pipeline.start()
    deadline, name = time.time() + 120, None
    while time.time() < deadline:  # until a training job runs
        record = steps_of(execution).get("TuneKilled", {})
        if "TuningJob" in record.get("Metadata", {}):
            name = tuning_job_of(record)
            if sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)[
                    "TrainingJobStatusCounters"]["InProgress"]:
                break
        time.sleep(0.1)
    assert name, "the tuning job never started"
    os.kill(runner_pid(home, execution.arn), signal.SIGKILL)
    with pytest.raises(WaiterError, match="Failed"):
        execution.wait()
    described = sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
    assert described["HyperParameterTuningJobStatus"] == "Failed" and "ended before" in described["FailureReason"]
    assert described["TrainingJobStatusCounters"]["InProgress"] == 0
    for job in all_pages(sm, name):
        assert job["TrainingJobStatus"] == "Failed" and "ended (Failed) while it ran" in job["FailureReason"]
        assert sm.describe_training_job(TrainingJobName=job["TrainingJobName"])["TrainingJobStatus"] == "Failed"


def test_a_training_job_listed_but_never_created_ends_as_a_training_job_too(home, sess, sm, role, score_source,
                                                                            monkeypatch):
    """The runner dies between listing a training job under its tuning job and creating it (the window the
    killed-runner test can hit): once the tuning job has ended, the listed job is a Failed training job that
    DescribeTrainingJob answers, as every job AWS lists is."""
    from sagemaker.tuner import ContinuousParameter
    from sagemaker.workflow.steps import TuningStep

    from lab_helpers.local.cloud import LocalCloud
    from lab_helpers.local.jobs.runtime import Runtime

    class Died(BaseException):
        """The process ending there (nothing after it in the process runs)."""

    def dies_before_creating(self, key, request, should_stop=None):
        raise Died()

    monkeypatch.setattr(Runtime, "create", dies_before_creating)
    tuner = score_tuner(sess, role, score_source, {"alpha": ContinuousParameter(0.0, 1.0)}, max_jobs=1)
    request = without_none(dict(TuningStep(name="T", step_args=tuner.fit()).arguments,
                                HyperParameterTuningJobName="died-early"))
    with pytest.raises(Died):
        sm.create_hyper_parameter_tuning_job(**request)  # runs in this process, which "dies" at the job
    monkeypatch.undo()
    [listed] = all_pages(sm, "died-early")
    assert listed["TrainingJobStatus"] == "InProgress"
    with pytest.raises(ClientError, match="does not exist"):
        sm.describe_training_job(TrainingJobName=listed["TrainingJobName"])
    # what the engine does when it finds the execution's runner gone: the tuning job ends Failed
    LocalCloud.get(home).sagemaker.tuning._set("died-early", HyperParameterTuningJobStatus="Failed",
                                               FailureReason="its runner ended before it finished")
    [listed] = all_pages(sm, "died-early")
    assert listed["TrainingJobStatus"] == "Failed" and "ended (Failed) while it ran" in listed["FailureReason"]
    described = sm.describe_training_job(TrainingJobName=listed["TrainingJobName"])
    assert described["TrainingJobStatus"] == "Failed" and described["FailureReason"] == listed["FailureReason"]
