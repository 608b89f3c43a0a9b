"""The Docker-free container runtime, driven the way the SDK drives it.

Jobs are created through the real boto3 API of a local session (``sess.sagemaker_client``)
and their inputs are put in S3 with ``sess.boto_session.client("s3")``; results are read back
through ``describe_*``, S3 and CloudWatch Logs.  A few tests go through SDK objects
(``Estimator.fit``, ``ScriptProcessor.run``) on a plain ``sagemaker.session.Session`` built on
the local boto3 session, so that the jobs really run outside a pipeline.
"""

import io
import json
import os
import re
import tarfile
import textwrap
import uuid

import numpy as np
import pytest

import lab_helpers
from conftest import plain

#: CloudWatch Logs groups SageMaker writes job logs to.
TRAINING_LOGS = "/aws/sagemaker/TrainingJobs"
PROCESSING_LOGS = "/aws/sagemaker/ProcessingJobs"
UNKNOWN_IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/my-image:latest"
#: A metric line as the XGBoost container writes it to CloudWatch (a tab shows as #011).
METRIC_LINE = re.compile(r"^\[(\d+)\]#011train-rmse:([0-9.]+)#011validation-rmse:([0-9.]+)$")


# --------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------


def unique(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def regression_rows(n, seed):
    """label = 10*x0 + 2*x1 (label FIRST, then 3 features)."""
    rng = np.random.default_rng(seed)
    x = rng.random((n, 3))
    y = 10 * x[:, 0] + 2 * x[:, 1]
    return np.column_stack([y, x])


def to_csv(matrix):
    return "\n".join(",".join(repr(float(v)) for v in row) for row in matrix) + "\n"


def xgb_image(sess, version="1.7-1"):
    from sagemaker import image_uris

    return image_uris.retrieve("xgboost", sess.boto_region_name, version)


def sklearn_image(sess):
    from sagemaker import image_uris

    return image_uris.retrieve("sklearn", sess.boto_region_name, "1.2-1")


def s3_client(sess):
    return sess.boto_session.client("s3", region_name=sess.boto_region_name)


def put(sess, key, body):
    """Put one object in the default bucket; returns its s3:// URI."""
    bucket = sess.default_bucket()
    s3_client(sess).put_object(Bucket=bucket, Key=key, Body=body.encode() if isinstance(body, str) else body)
    return f"s3://{bucket}/{key}"


def split(uri):
    bucket, _, key = uri[5:].partition("/")
    return bucket, key


def keys_under(sess, uri):
    bucket, prefix = split(uri)
    found, token = [], None
    while True:
        kwargs = {"Bucket": bucket, "Prefix": prefix}
        if token:
            kwargs["ContinuationToken"] = token
        page = s3_client(sess).list_objects_v2(**kwargs)
        found += [o["Key"] for o in page.get("Contents", [])]
        token = page.get("NextContinuationToken")
        if not token:
            return found


def get_bytes(sess, uri):
    bucket, key = split(uri)
    return s3_client(sess).get_object(Bucket=bucket, Key=key)["Body"].read()


def channel(name, uri, content_type="text/csv"):
    spec = {"ChannelName": name, "DataSource": {"S3DataSource": {
        "S3DataType": "S3Prefix", "S3Uri": uri, "S3DataDistributionType": "FullyReplicated"}}}
    if content_type:
        spec["ContentType"] = content_type
    return spec


def run_training(sess, name, hyperparameters, channels, image=None, output_path=None):
    """CreateTrainingJob as the SDK sends it; returns DescribeTrainingJob."""
    sm = sess.sagemaker_client
    sm.create_training_job(
        TrainingJobName=name,
        AlgorithmSpecification={"TrainingImage": image or xgb_image(sess), "TrainingInputMode": "File"},
        RoleArn=lab_helpers.execution_role(sess),
        HyperParameters=hyperparameters,
        InputDataConfig=[channel(n, uri) for n, uri in channels.items()],
        OutputDataConfig={"S3OutputPath": output_path or f"s3://{sess.default_bucket()}/runtime-tests/models"},
        ResourceConfig={"InstanceType": "ml.m5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 5},
        StoppingCondition={"MaxRuntimeInSeconds": 3600},
    )
    return sm.describe_training_job(TrainingJobName=name)


def s3_input(name, uri, local_path):
    return {"InputName": name, "AppManaged": False, "S3Input": {
        "S3Uri": uri, "LocalPath": local_path, "S3DataType": "S3Prefix", "S3InputMode": "File",
        "S3DataDistributionType": "FullyReplicated"}}


def s3_output(name, uri, local_path):
    return {"OutputName": name, "AppManaged": False, "S3Output": {
        "S3Uri": uri, "LocalPath": local_path, "S3UploadMode": "EndOfJob"}}


def run_processing(sess, name, script, inputs=(), outputs=(), image=None, arguments=None):
    """CreateProcessingJob with ``script`` uploaded as the job's code, run with python3; returns the description."""
    code_uri = put(sess, f"runtime-tests/{name}/code/script.py", textwrap.dedent(script))
    request = dict(
        ProcessingJobName=name,
        RoleArn=lab_helpers.execution_role(sess),
        AppSpecification={"ImageUri": image or sklearn_image(sess),
                          "ContainerEntrypoint": ["python3", "/opt/ml/processing/input/code/script.py"]},
        ProcessingResources={"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.xlarge",
                                               "VolumeSizeInGB": 5}},
        ProcessingInputs=[*inputs, s3_input("code", code_uri, "/opt/ml/processing/input/code")],
        StoppingCondition={"MaxRuntimeInSeconds": 3600},
    )
    if outputs:
        request["ProcessingOutputConfig"] = {"Outputs": list(outputs)}
    if arguments:
        request["AppSpecification"]["ContainerArguments"] = list(arguments)
    sess.sagemaker_client.create_processing_job(**request)
    return sess.sagemaker_client.describe_processing_job(ProcessingJobName=name)


def log_messages(sess, group, job_name):
    """Every log event of a job, read the way a learner (or the SDK) reads CloudWatch Logs."""
    logs = sess.boto_session.client("logs", region_name=sess.boto_region_name)
    streams = logs.describe_log_streams(logGroupName=group, logStreamNamePrefix=job_name + "/")["logStreams"]
    messages = []
    for stream in streams:
        token = None
        while True:
            kwargs = {"logGroupName": group, "logStreamName": stream["logStreamName"], "startFromHead": True}
            if token:
                kwargs["nextToken"] = token
            page = logs.get_log_events(**kwargs)
            messages += [e["message"] for e in page["events"]]
            if not page["events"] or page["nextForwardToken"] == token:
                break
            token = page["nextForwardToken"]
    return streams, messages


def load_booster_from_tar(data):
    import xgboost as xgb

    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        names = tar.getnames()
        assert "xgboost-model" in names, f"model.tar.gz holds {names}, not xgboost-model"
        raw = tar.extractfile("xgboost-model").read()
    booster = xgb.Booster()
    booster.load_model(bytearray(raw))
    return booster


def assert_no_model(sess, described):
    """A failed training job reports no artifact and leaves nothing under <S3OutputPath>/<job>/."""
    assert "ModelArtifacts" not in described, described.get("ModelArtifacts")
    output = described["OutputDataConfig"]["S3OutputPath"].rstrip("/")
    left = keys_under(sess, f"{output}/{described['TrainingJobName']}/")
    assert left == [], f"a failed job left objects in S3: {left}"


# --------------------------------------------------------------------------------------
# fixtures: one local session and one trained model shared by this module
# --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sess(tmp_path_factory):
    return lab_helpers.local_session(home=tmp_path_factory.mktemp("runtime-lab-home"))


@pytest.fixture(scope="module")
def data(sess):
    train = regression_rows(160, seed=1)
    validation = regression_rows(60, seed=2)
    return {
        "train": put(sess, "runtime-tests/data/train/train.csv", to_csv(train)),
        "validation": put(sess, "runtime-tests/data/validation/validation.csv", to_csv(validation)),
        "train_rows": train,
        "validation_rows": validation,
    }


HYPERPARAMETERS = {"objective": "reg:squarederror", "num_round": "5", "max_depth": "3", "eta": "0.5"}


@pytest.fixture(scope="module")
def trained(sess, data):
    name = unique("train-ok")
    output = f"s3://{sess.default_bucket()}/runtime-tests/trained"
    described = run_training(sess, name, dict(HYPERPARAMETERS),
                             {"train": data["train"], "validation": data["validation"]}, output_path=output)
    assert described["TrainingJobStatus"] == "Completed", described.get("FailureReason")
    return {"name": name, "output": output, "described": described}


# --------------------------------------------------------------------------------------
# training: the built-in XGBoost algorithm
# --------------------------------------------------------------------------------------


def model_of(sess, trained):
    return load_booster_from_tar(get_bytes(sess, trained["described"]["ModelArtifacts"]["S3ModelArtifacts"]))


def tree_depth(node):
    return 0 if "children" not in node else 1 + max(tree_depth(c) for c in node["children"])


def test_string_hyperparameters_are_coerced(sess, trained, data):
    import xgboost as xgb

    described = trained["described"]
    assert described["HyperParameters"] == HYPERPARAMETERS  # stored as sent: every value a string
    booster = model_of(sess, trained)
    assert booster.num_boosted_rounds() == 5  # num_round "5" became the integer 5
    depths = {tree_depth(json.loads(tree)) for tree in booster.get_dump(dump_format="json")}
    assert max(depths) == 3  # max_depth "3" (the default would be 6)
    # The same model as xgboost.train with the typed values (eta 0.5, not the default 0.3).
    rows = data["train_rows"]
    reference = xgb.train({"objective": "reg:squarederror", "max_depth": 3, "eta": 0.5},
                          xgb.DMatrix(rows[:, 1:], label=rows[:, 0]), num_boost_round=5)
    features = xgb.DMatrix(data["validation_rows"][:, 1:])
    np.testing.assert_allclose(booster.predict(features), reference.predict(features), rtol=1e-5)


def test_csv_channels_are_label_first_without_header(sess, trained, data):
    import xgboost as xgb

    booster = model_of(sess, trained)
    assert booster.num_features() == 3  # 4 CSV columns: the first one is the label, not a feature
    rows = data["validation_rows"]
    predictions = booster.predict(xgb.DMatrix(rows[:, 1:]))
    # Trained on label = 10*x0 + 2*x1: the predictions follow the first column.
    assert np.corrcoef(predictions, rows[:, 0])[0, 1] > 0.9


def test_model_artifact_is_model_tar_gz_under_output_path(sess, trained):
    described = trained["described"]
    expected = f"{trained['output']}/{trained['name']}/output/model.tar.gz"
    assert described["ModelArtifacts"]["S3ModelArtifacts"] == expected
    assert split(expected)[1] in keys_under(sess, expected)
    booster = load_booster_from_tar(get_bytes(sess, expected))
    assert booster.num_boosted_rounds() == 5


def test_final_metrics_match_the_last_logged_round(sess, trained):
    described = trained["described"]
    metrics = {m["MetricName"]: m["Value"] for m in described["FinalMetricDataList"]}
    assert set(metrics) == {"train:rmse", "validation:rmse"}
    _, messages = log_messages(sess, TRAINING_LOGS, trained["name"])
    last = [m for m in messages if METRIC_LINE.match(m)][-1]
    _, train_rmse, validation_rmse = METRIC_LINE.match(last).groups()
    assert metrics["train:rmse"] == pytest.approx(float(train_rmse))
    assert metrics["validation:rmse"] == pytest.approx(float(validation_rmse))


def test_training_log_is_readable_through_cloudwatch_logs(sess, trained):
    streams, messages = log_messages(sess, TRAINING_LOGS, trained["name"])
    assert len(streams) == 1 and streams[0]["logStreamName"].startswith(trained["name"] + "/algo-1")
    rounds = [int(METRIC_LINE.match(m).group(1)) for m in messages if METRIC_LINE.match(m)]
    assert rounds == [0, 1, 2, 3, 4], messages  # one line per round, in the container's #011 format
    # Another job's stream is not mixed in, and an unknown group is an AWS-style error.
    logs = sess.boto_session.client("logs", region_name=sess.boto_region_name)
    assert logs.describe_log_streams(logGroupName=TRAINING_LOGS,
                                     logStreamNamePrefix="no-such-job/")["logStreams"] == []
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        logs.describe_log_streams(logGroupName="/aws/sagemaker/NoSuchJobs")


def test_validation_channel_is_optional(sess, data):
    described = run_training(sess, unique("train-only"), {"num_round": "3"}, {"train": data["train"]})
    assert described["TrainingJobStatus"] == "Completed", described.get("FailureReason")
    assert [m["MetricName"] for m in described["FinalMetricDataList"]] == ["train:rmse"]
    assert get_bytes(sess, described["ModelArtifacts"]["S3ModelArtifacts"])[:2] == b"\x1f\x8b"  # gzip


@pytest.mark.parametrize(
    "case, hyperparameters, channels, words",
    [
        ("unknown hyperparameter", {"num_round": "3", "max_dept": "3"}, ("train",), ["max_dept"]),
        ("malformed value", {"num_round": "five"}, ("train",), ["num_round", "five", "integer"]),
        ("no train channel", {"num_round": "3"}, ("validation",), ["train", "channel"]),
        ("csv header row", {"num_round": "3"}, ("header",), ["line 1"]),
    ],
)
def test_training_failure_names_the_problem_and_leaves_no_model(sess, data, case, hyperparameters, channels, words):
    header_uri = put(sess, "runtime-tests/data/header/train.csv",
                     "rings,length,diameter,height\n" + to_csv(data["train_rows"][:20]))
    uris = {"train": ("train", data["train"]), "validation": ("validation", data["validation"]),
            "header": ("train", header_uri)}
    described = run_training(sess, unique("train-bad"), hyperparameters, dict(uris[c] for c in channels))
    assert described["TrainingJobStatus"] == "Failed", case
    reason = described["FailureReason"]
    assert reason.startswith("ClientError"), reason
    for word in words:
        assert word.lower() in reason.lower(), (case, reason)
    assert_no_model(sess, described)


def test_training_honours_the_xgboost_image_version(sess, data):
    image = xgb_image(sess, "1.0-1")
    described = run_training(sess, unique("train-v10"), {"num_round": "2", "silent": "0"}, {"train": data["train"]},
                             image=image)
    assert described["TrainingJobStatus"] == "Completed", described.get("FailureReason")


@pytest.mark.parametrize("kind", ["training", "processing"])
def test_unknown_image_fails_naming_it_and_what_is_supported(sess, data, kind):
    if kind == "training":
        described = run_training(sess, unique("train-img"), {"num_round": "2"}, {"train": data["train"]},
                                 image=UNKNOWN_IMAGE)
        assert_no_model(sess, described)
        status = described["TrainingJobStatus"]
    else:
        described = run_processing(sess, unique("proc-img"), "print('never runs')\n", image=UNKNOWN_IMAGE)
        status = described["ProcessingJobStatus"]
    assert status == "Failed"
    reason = described["FailureReason"]
    assert UNKNOWN_IMAGE in reason
    assert "sagemaker-xgboost" in reason and "sagemaker-scikit-learn" in reason, reason
    assert "1.7-1" in reason


# --------------------------------------------------------------------------------------
# processing: scripts that hard-code container paths
# --------------------------------------------------------------------------------------


def test_processing_script_error_fails_the_job_and_uploads_nothing(sess):
    out = f"s3://{sess.default_bucket()}/runtime-tests/{unique('err')}/out"
    described = run_processing(sess, unique("proc-err"), """
        with open("/opt/ml/processing/output/half.csv", "w") as f:
            f.write("1,2\\n")
        raise ValueError("bad column")
    """, outputs=[s3_output("out", out, "/opt/ml/processing/output")])
    assert described["ProcessingJobStatus"] == "Failed"
    assert "ValueError: bad column" in described["FailureReason"]
    assert keys_under(sess, out) == []  # outputs are uploaded only when the job succeeds


def test_processing_script_with_hard_coded_opt_ml_paths_runs_unmodified(sess):
    opt_ml_existed = os.path.exists("/opt/ml")
    marker = unique("marker")
    in_uri = put(sess, f"runtime-tests/{marker}/in/rows.csv", "1,2\n3,4\n")
    out = f"s3://{sess.default_bucket()}/runtime-tests/{marker}/out"
    described = run_processing(sess, unique("proc-paths"), f"""
        import os
        rows = open("/opt/ml/processing/input/data/rows.csv").read().split()
        os.makedirs("/opt/ml/processing/output/sub", exist_ok=True)
        with open("/opt/ml/processing/output/sub/doubled.csv", "w") as f:
            for row in rows:
                f.write(",".join(str(2 * int(v)) for v in row.split(",")) + "\\n")
        open("/opt/ml/processing/output/{marker}.txt", "w").write("here")
        print("wrote", sorted(os.listdir("/opt/ml/processing/output")))
    """, inputs=[s3_input("data", in_uri.rsplit("/", 1)[0], "/opt/ml/processing/input/data")],
        outputs=[s3_output("out", out, "/opt/ml/processing/output")])
    assert described["ProcessingJobStatus"] == "Completed", described.get("FailureReason")
    assert get_bytes(sess, f"{out}/sub/doubled.csv") == b"2,4\n6,8\n"
    assert get_bytes(sess, f"{out}/{marker}.txt") == b"here"
    assert not os.path.exists(f"/opt/ml/processing/output/{marker}.txt")
    if not opt_ml_existed:
        assert not os.path.exists("/opt/ml"), "a job created the real /opt/ml"
    _, messages = log_messages(sess, PROCESSING_LOGS, described["ProcessingJobName"])
    assert any(m.startswith("wrote [") and f"{marker}.txt" in m for m in messages), messages


def test_two_processing_jobs_never_see_each_others_files(sess):
    secret = unique("secret")
    first = run_processing(sess, unique("proc-first"), f"""
        import os
        open("/opt/ml/processing/output/{secret}.txt", "w").write("job 1")
        os.makedirs("/opt/ml/scratch", exist_ok=True)
        open("/opt/ml/scratch/{secret}.tmp", "w").write("job 1 scratch")
    """, outputs=[s3_output("out", f"s3://{sess.default_bucket()}/runtime-tests/{secret}/one",
                            "/opt/ml/processing/output")])
    assert first["ProcessingJobStatus"] == "Completed", first.get("FailureReason")
    second = run_processing(sess, unique("proc-second"), f"""
        import os
        leaked = [p for p in ("/opt/ml/processing/output/{secret}.txt", "/opt/ml/scratch/{secret}.tmp")
                  if os.path.exists(p)]
        assert not leaked, "job 2 sees job 1's files: %s" % leaked
        assert os.listdir("/opt/ml/processing/output") == [], os.listdir("/opt/ml/processing/output")
        open("/opt/ml/processing/output/second.txt", "w").write("job 2")
    """, outputs=[s3_output("out", f"s3://{sess.default_bucket()}/runtime-tests/{secret}/two",
                            "/opt/ml/processing/output")])
    assert second["ProcessingJobStatus"] == "Completed", second.get("FailureReason")
    assert [k.rsplit("/", 1)[-1] for k in keys_under(sess, second["ProcessingOutputConfig"]["Outputs"][0]
                                                     ["S3Output"]["S3Uri"])] == ["second.txt"]


#: A job that changes process-wide state, and reports the state it found and its random draws.
STATE_SCRIPT = """
    import json, os, random, sys
    import numpy as np
    found = {"env": os.environ.get("LAB_TEST_LEAK"), "numpy_attr": hasattr(np, "lab_test_leak"),
             "module": "lab_test_leak_module" in sys.modules}
    os.environ["LAB_TEST_LEAK"] = "job"
    np.lab_test_leak = True
    sys.modules["lab_test_leak_module"] = sys
    found["draws"] = [random.random(), float(np.random.random())]
    with open("/opt/ml/processing/output/state.json", "w") as f:
        json.dump(found, f)
"""


def test_each_job_is_a_fresh_process(sess):
    """Jobs share no interpreter state (environment, modules, random streams), as containers don't."""
    tag = unique("fresh")
    states = []
    for n in (1, 2):
        out = f"s3://{sess.default_bucket()}/runtime-tests/{tag}/{n}"
        described = run_processing(sess, unique(f"proc-fresh{n}"), STATE_SCRIPT,
                                   outputs=[s3_output("out", out, "/opt/ml/processing/output")])
        assert described["ProcessingJobStatus"] == "Completed", described.get("FailureReason")
        states.append(json.loads(get_bytes(sess, f"{out}/state.json")))
    for state in states:
        assert (state["env"], state["numpy_attr"], state["module"]) == (None, False, False), state
    assert "LAB_TEST_LEAK" not in os.environ
    first, second = (s["draws"] for s in states)
    assert first[0] != second[0], "two jobs drew the same random.random() value"
    assert first[1] != second[1], "two jobs drew the same numpy.random value"


def test_jobs_started_cold_behave_the_same(tmp_path, monkeypatch):
    """LAB_FORK_SERVER=0: every job is a fresh interpreter (no warm fork server)."""
    monkeypatch.setenv("LAB_FORK_SERVER", "0")
    cold = lab_helpers.local_session(home=tmp_path / "cold-lab-home")
    out = f"s3://{cold.default_bucket()}/runtime-tests/cold/out"
    ok = run_processing(cold, unique("cold-ok"), """
        import sys
        open("/opt/ml/processing/output/args.txt", "w").write(" ".join(sys.argv[1:]))
        print("cold job done")
    """, outputs=[s3_output("out", out, "/opt/ml/processing/output")], arguments=["--alpha", "1"])
    assert ok["ProcessingJobStatus"] == "Completed", ok.get("FailureReason")
    assert get_bytes(cold, f"{out}/args.txt") == b"--alpha 1"
    _, messages = log_messages(cold, PROCESSING_LOGS, ok["ProcessingJobName"])
    assert "cold job done" in messages
    bad = run_processing(cold, unique("cold-bad"), 'raise ValueError("bad column")\n')
    assert bad["ProcessingJobStatus"] == "Failed"
    assert "ValueError: bad column" in bad["FailureReason"]


def test_processing_paths_outside_opt_ml(sess):
    data_existed = os.path.exists("/data")
    tag = unique("outside")
    in_uri = put(sess, f"runtime-tests/{tag}/in/values.csv", "5\n7\n")
    out = f"s3://{sess.default_bucket()}/runtime-tests/{tag}/out"
    described = run_processing(sess, unique("proc-outside"), """
        import os
        values = [int(v) for v in open("/data/in/values.csv").read().split()]
        assert os.path.isdir("/data/out"), "declared output folder missing"
        with open("/data/out/sum.txt", "w") as f:
            f.write(str(sum(values)))
    """, inputs=[s3_input("values", in_uri.rsplit("/", 1)[0], "/data/in")],
        outputs=[s3_output("sum", out, "/data/out")])
    assert described["ProcessingJobStatus"] == "Completed", described.get("FailureReason")
    assert get_bytes(sess, f"{out}/sum.txt") == b"12"
    if not data_existed:
        assert not os.path.exists("/data"), "a job created the real /data"


def test_processing_paths_that_only_share_a_prefix_with_opt_ml(sess):
    tag = unique("beside")
    in_uri = put(sess, f"runtime-tests/{tag}/in/values.csv", "5\n7\n")
    out = f"s3://{sess.default_bucket()}/runtime-tests/{tag}/out"
    described = run_processing(sess, unique("proc-beside"), """
        values = [int(v) for v in open("/opt/ml-extra/in/values.csv").read().split()]
        with open("/opt/ml-extra/out/sum.txt", "w") as f:
            f.write(str(sum(values)))
    """, inputs=[s3_input("values", in_uri.rsplit("/", 1)[0], "/opt/ml-extra/in")],
        outputs=[s3_output("sum", out, "/opt/ml-extra/out")])
    assert described["ProcessingJobStatus"] == "Completed", described.get("FailureReason")
    assert get_bytes(sess, f"{out}/sum.txt") == b"12"


# --------------------------------------------------------------------------------------
# batch transform
# --------------------------------------------------------------------------------------


def test_batch_transform_writes_one_prediction_per_line(sess, trained):
    import xgboost as xgb

    model_uri = trained["described"]["ModelArtifacts"]["S3ModelArtifacts"]
    model_name = unique("model")
    sess.sagemaker_client.create_model(
        ModelName=model_name, ExecutionRoleArn=lab_helpers.execution_role(sess),
        PrimaryContainer={"Image": xgb_image(sess), "ModelDataUrl": model_uri})
    tag = unique("batch")
    features = {"a.csv": regression_rows(25, seed=3)[:, 1:], "b.csv": regression_rows(7, seed=4)[:, 1:]}
    for file_name, matrix in features.items():
        put(sess, f"runtime-tests/{tag}/in/{file_name}", to_csv(matrix))
    source = f"s3://{sess.default_bucket()}/runtime-tests/{tag}/in"
    out = f"s3://{sess.default_bucket()}/runtime-tests/{tag}/out"
    job = unique("transform")
    sess.sagemaker_client.create_transform_job(
        TransformJobName=job, ModelName=model_name,
        TransformInput={"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": source}},
                        "ContentType": "text/csv", "SplitType": "Line"},
        TransformOutput={"S3OutputPath": out, "Accept": "text/csv", "AssembleWith": "Line"},
        TransformResources={"InstanceType": "ml.m5.xlarge", "InstanceCount": 1},
    )
    described = sess.sagemaker_client.describe_transform_job(TransformJobName=job)
    assert described["TransformJobStatus"] == "Completed", described.get("FailureReason")
    assert sorted(keys_under(sess, out)) == [f"runtime-tests/{tag}/out/{name}.out" for name in ("a.csv", "b.csv")]
    booster = load_booster_from_tar(get_bytes(sess, model_uri))
    for file_name, matrix in features.items():
        lines = get_bytes(sess, f"{out}/{file_name}.out").decode().splitlines()
        assert len(lines) == len(matrix)
        expected = booster.predict(xgb.DMatrix(matrix))
        np.testing.assert_allclose([float(v) for v in lines], expected, rtol=1e-5)


# --------------------------------------------------------------------------------------
# SDK objects outside a pipeline
# --------------------------------------------------------------------------------------


@pytest.fixture()
def plain_session(sess, monkeypatch):
    """A plain (non-pipeline) SDK Session on the local boto3 session, so fit()/run() really run.

    The SDK sleeps once before its first DescribeXxxJob (``_wait_until``); local jobs are
    finished by then, so that sleep is skipped to keep the tests quick.
    """
    import sagemaker.session

    from lab_helpers.config import LOCAL_SDK_CONFIG

    monkeypatch.setattr(sagemaker.session, "_wait_until", lambda fn, poll=5: fn())
    return sagemaker.session.Session(boto_session=sess.boto_session, sagemaker_config=LOCAL_SDK_CONFIG)


def test_estimator_fit_runs_and_logs_for_job_reads_cloudwatch(sess, data, plain_session, monkeypatch, capsys):
    from sagemaker.estimator import Estimator
    from sagemaker.inputs import TrainingInput

    monkeypatch.setattr(sess.cloud, "log_sink", lambda line: None)  # what is printed now comes from CloudWatch
    estimator = Estimator(
        image_uri=xgb_image(sess), role=lab_helpers.execution_role(sess), instance_count=1,
        instance_type="ml.m5.xlarge", output_path=f"s3://{sess.default_bucket()}/runtime-tests/sdk-fit",
        sagemaker_session=plain_session, hyperparameters={"objective": "reg:squarederror", "num_round": 4},
    )
    estimator.fit({"train": TrainingInput(data["train"], content_type="text/csv"),
                   "validation": TrainingInput(data["validation"], content_type="text/csv")})
    printed = capsys.readouterr().out
    job = estimator.latest_training_job.name
    described = sess.sagemaker_client.describe_training_job(TrainingJobName=job)
    assert described["TrainingJobStatus"] == "Completed", described.get("FailureReason")
    assert described["HyperParameters"]["num_round"] == "4"  # the SDK sent a string
    assert "Completed - Training job completed" in printed
    assert re.search(r"^\[3\]#011train-rmse:[0-9.]+#011validation-rmse:[0-9.]+$", printed, re.M), printed
    assert estimator.model_data == f"s3://{sess.default_bucket()}/runtime-tests/sdk-fit/{job}/output/model.tar.gz"
    assert load_booster_from_tar(get_bytes(sess, estimator.model_data)).num_boosted_rounds() == 4


def test_script_processor_python3_on_xgboost_image_runs_the_evaluate_step(sess, trained, plain_session,
                                                                           monkeypatch, capsys):
    import xgboost as xgb
    from sagemaker.processing import ProcessingInput, ProcessingOutput, ScriptProcessor

    from lab_helpers import pipelines

    monkeypatch.setattr(sess.cloud, "log_sink", lambda line: None)
    tag = unique("eval")
    test_rows = regression_rows(40, seed=5)
    test_uri = put(sess, f"runtime-tests/{tag}/test/test.csv", to_csv(test_rows))
    out = f"s3://{sess.default_bucket()}/runtime-tests/{tag}/evaluation"
    model_uri = trained["described"]["ModelArtifacts"]["S3ModelArtifacts"]
    processor = ScriptProcessor(
        image_uri=xgb_image(sess), command=["python3"], role=lab_helpers.execution_role(sess),
        instance_count=1, instance_type="ml.m5.xlarge", sagemaker_session=plain_session,
    )
    processor.run(
        code=pipelines.step_script("evaluate.py"),
        inputs=[ProcessingInput(source=model_uri, destination="/opt/ml/processing/model"),
                ProcessingInput(source=test_uri, destination="/opt/ml/processing/test")],
        outputs=[ProcessingOutput(output_name="evaluation", source="/opt/ml/processing/evaluation",
                                  destination=out)],
    )
    printed = capsys.readouterr().out
    described = processor.latest_job.describe()
    assert described["ProcessingJobStatus"] == "Completed", described.get("FailureReason")
    assert described["AppSpecification"]["ContainerEntrypoint"] == [
        "python3", "/opt/ml/processing/input/code/evaluate.py"]
    assert "sagemaker-xgboost" in described["AppSpecification"]["ImageUri"]
    assert "[evaluate] test records: 40" in printed  # read back through logs_for_processing_job
    report = json.loads(get_bytes(sess, f"{out}/evaluation.json"))
    booster = load_booster_from_tar(get_bytes(sess, model_uri))
    predicted = booster.predict(xgb.DMatrix(test_rows[:, 1:]))
    expected_mse = float(np.mean((test_rows[:, 0] - predicted) ** 2))
    assert report["regression_metrics"]["mse"]["value"] == pytest.approx(expected_mse, rel=1e-4)


UNPICKLE_SCRIPT = """
    # the evaluation pattern of AWS's abalone example: unpack model.tar.gz and unpickle xgboost-model
    # (into a temporary folder: the example's "." is "/", which only a confined job has to itself)
    import os, pickle, tarfile, tempfile
    folder = tempfile.mkdtemp()
    with tarfile.open("/opt/ml/processing/model/model.tar.gz") as tar:
        tar.extractall(path=folder)
    model = pickle.load(open(os.path.join(folder, "xgboost-model"), "rb"))
    print("unpickled", type(model).__name__)
"""


@pytest.mark.parametrize("version, works", [("1.0-1", True), ("1.7-1", False)])
def test_an_evaluation_script_that_unpickles_the_model_works_where_the_image_pickles_it(sess, data, version, works):
    trained = run_training(sess, unique("pickle-" + version.replace(".", "")), dict(HYPERPARAMETERS),
                           {"train": data["train"], "validation": data["validation"]}, image=xgb_image(sess, version))
    assert trained["TrainingJobStatus"] == "Completed", trained.get("FailureReason")
    model_uri = trained["ModelArtifacts"]["S3ModelArtifacts"]
    described = run_processing(sess, unique("unpickle"), UNPICKLE_SCRIPT,
                               inputs=[s3_input("model", model_uri, "/opt/ml/processing/model")])
    if works:
        assert described["ProcessingJobStatus"] == "Completed", described.get("FailureReason")
        _, messages = log_messages(sess, PROCESSING_LOGS, described["ProcessingJobName"])
        assert "unpickled Booster" in messages
    else:  # 1.3-1 and later save with Booster.save_model, as the real images do: the reason says what to do
        assert described["ProcessingJobStatus"] == "Failed"
        assert "UnpicklingError" in described["FailureReason"]
        assert "xgboost.Booster(model_file=" in described["FailureReason"]


# --------------------------------------------------------------------------------------
# AWS calls from job code, and the environment a job sees (confined or not)
# --------------------------------------------------------------------------------------

#: Job-side network guard: any connection or name lookup off the machine is refused and recorded.
GUARD = """
import socket
attempts = []

def _refuse(name, original):
    def stand_in(self, address, *args):
        if self.family in (socket.AF_INET, socket.AF_INET6):
            attempts.append("%s %r" % (name, address))
            raise OSError("network refused by the test's guard")
        return original(self, address, *args)
    return stand_in

def _lookup(host, *args, **kwargs):
    attempts.append("getaddrinfo %r" % (host,))
    raise OSError("name lookup refused by the test's guard")

socket.socket.connect = _refuse("connect", socket.socket.connect)
socket.socket.connect_ex = _refuse("connect_ex", socket.socket.connect_ex)
socket.getaddrinfo = _lookup
try:
    socket.create_connection(("example.com", 443), timeout=5)  # control: the guard sees this
except OSError:
    pass
control, attempts[:] = list(attempts), []
"""

#: Run by the job's script as ``python3 /tmp/child.py bucket prefix``: boto3 in a process the job started.
CHILD = GUARD + """
import json, sys
import boto3
listing = boto3.client("s3").list_objects_v2(Bucket=sys.argv[1], Prefix=sys.argv[2])
listing.pop("ResponseMetadata")
print(json.dumps({"control": control, "attempts": attempts, "keys": [o["Key"] for o in listing["Contents"]]}))
"""

BOTO3_JOB = GUARD + """
import json, subprocess, sys
import boto3

def plain(value):
    value = {k: v for k, v in value.items() if k != "ResponseMetadata"}
    return json.loads(json.dumps(value, default=str))

bucket, prefix = sys.argv[1], sys.argv[2]
s3 = boto3.client("s3")
s3.put_object(Bucket=bucket, Key=prefix + "/from-job.txt", Body=b"written by the job")
report = {"listing": plain(s3.list_objects_v2(Bucket=bucket, Prefix=prefix)),
          "object": s3.get_object(Bucket=bucket, Key=prefix + "/from-notebook.txt")["Body"].read().decode(),
          "pipelines": plain(boto3.client("sagemaker").list_pipelines()),
          "identity": plain(boto3.client("sts").get_caller_identity())}
try:
    boto3.client("ec2").describe_regions()
except Exception as exc:
    report["ec2"] = [type(exc).__name__, str(exc)]
report.update(control=control, attempts=attempts)
with open("/tmp/child.py", "w") as handle:
    handle.write(%r)
child = subprocess.run(["python3", "/tmp/child.py", bucket, prefix], capture_output=True, text=True)
report["child"] = json.loads(child.stdout) if child.returncode == 0 else child.stderr
with open("/opt/ml/processing/output/report.json", "w") as handle:
    json.dump(report, handle)
""" % CHILD


def run_sdk_script(sess, plain_session, tmp_path, source, arguments=None, env=None):
    """``source`` as a ScriptProcessor job (python3 on the scikit-learn image); returns (description, output URI)."""
    from sagemaker.processing import ProcessingOutput, ScriptProcessor

    script = tmp_path / "job.py"
    script.write_text(textwrap.dedent(source))
    out = f"s3://{sess.default_bucket()}/runtime-tests/{unique('sdk-out')}"
    processor = ScriptProcessor(image_uri=sklearn_image(sess), command=["python3"],
                                role=lab_helpers.execution_role(sess), instance_count=1, env=env,
                                instance_type="ml.m5.xlarge", sagemaker_session=plain_session)
    processor.run(code=str(script), arguments=arguments, logs=False,
                  outputs=[ProcessingOutput(source="/opt/ml/processing/output", destination=out)])
    return processor.latest_job.describe(), out


@pytest.mark.parametrize("confinement", ["sandbox", "LAB_SANDBOX=0"])
def test_boto3_in_a_job_gets_the_notebooks_answers_and_never_the_network(sess, plain_session, tmp_path,
                                                                         monkeypatch, confinement):
    from lab_helpers.local.errors import LocalModeError

    monkeypatch.setenv("LAB_SANDBOX", "0" if confinement == "LAB_SANDBOX=0" else "1")
    monkeypatch.setattr(sess.cloud, "log_sink", lambda line: None)
    bucket, prefix = sess.default_bucket(), f"runtime-tests/{unique('bridge')}"
    put(sess, f"{prefix}/from-notebook.txt", "written by the notebook")
    put(sess, f"{prefix}/deeper/data.csv", "1,2\n")
    sess.sagemaker_client.create_pipeline(
        PipelineName=unique("bridge-pipeline"), RoleArn=lab_helpers.execution_role(sess),
        PipelineDefinition=json.dumps({"Version": "2020-12-01", "Steps": []}))
    described, out = run_sdk_script(sess, plain_session, tmp_path, BOTO3_JOB, arguments=[bucket, prefix])
    assert described["ProcessingJobStatus"] == "Completed", described.get("FailureReason")
    report = json.loads(get_bytes(sess, f"{out}/report.json"))
    assert report["control"] and "example.com" in report["control"][0]  # the guard works in the job
    assert report["attempts"] == [], report["attempts"]
    s3 = s3_client(sess)
    assert report["listing"] == plain(s3.list_objects_v2(Bucket=bucket, Prefix=prefix))
    assert [o["Key"] for o in report["listing"]["Contents"]] == [
        f"{prefix}/deeper/data.csv", f"{prefix}/from-job.txt", f"{prefix}/from-notebook.txt"]
    assert get_bytes(sess, f"s3://{bucket}/{prefix}/from-job.txt") == b"written by the job"
    assert report["object"] == "written by the notebook"
    assert report["pipelines"] == plain(sess.sagemaker_client.list_pipelines())
    assert report["pipelines"]["PipelineSummaries"], "the notebook's pipeline is not listed in the job"
    assert report["identity"] == plain(sess.boto_session.client("sts").get_caller_identity())
    with pytest.raises(LocalModeError) as notebook_error:
        sess.boto_session.client("ec2", region_name=sess.boto_region_name).describe_regions()
    assert report["ec2"] == ["LocalModeError", str(notebook_error.value)]
    child = report["child"]
    assert isinstance(child, dict), child  # the process the job started reached the kit too
    assert child["control"] and child["attempts"] == []
    assert child["keys"] == [o["Key"] for o in report["listing"]["Contents"]]


@pytest.mark.parametrize("confinement", ["sandbox", "LAB_SANDBOX=0"])
def test_a_job_sees_the_environment_a_sagemaker_job_sees(sess, plain_session, tmp_path, monkeypatch, confinement):
    monkeypatch.setenv("LAB_SANDBOX", "0" if confinement == "LAB_SANDBOX=0" else "1")
    monkeypatch.setattr(sess.cloud, "log_sink", lambda line: None)
    # The notebook's own AWS settings are not the job's (a job has its role, not the user's profile).
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "7")
    monkeypatch.setenv("AWS_ROLE_SESSION_NAME", "the-notebooks-user")
    described, out = run_sdk_script(sess, plain_session, tmp_path, """
        import json, os
        import boto3
        config = json.load(open("/opt/ml/config/processingjobconfig.json"))
        report = {"env": {k: v for k, v in os.environ.items() if k.startswith("AWS_") or k == "MY_SETTING"},
                  "job": config["ProcessingJobName"],
                  "resources": json.load(open("/opt/ml/config/resourceconfig.json")),
                  "region": boto3.Session().region_name,
                  "credentials": boto3.Session().get_credentials().access_key}
        json.dump(report, open("/opt/ml/processing/output/report.json", "w"))
    """, env={"MY_SETTING": "from-the-request"})
    assert described["ProcessingJobStatus"] == "Completed", described.get("FailureReason")
    report = json.loads(get_bytes(sess, f"{out}/report.json"))
    env = report["env"]
    assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == sess.boto_region_name == report["region"]
    assert env["AWS_EC2_METADATA_DISABLED"] == "true"
    assert report["credentials"] == env["AWS_ACCESS_KEY_ID"] and env["AWS_SECRET_ACCESS_KEY"]
    assert "AWS_MAX_ATTEMPTS" not in env and "AWS_ROLE_SESSION_NAME" not in env
    assert env["MY_SETTING"] == "from-the-request"
    assert report["job"] == described["ProcessingJobName"]
    assert report["resources"]["current_host"] == "algo-1" and report["resources"]["hosts"] == ["algo-1"]


def test_a_training_job_is_told_its_name_and_arn(sess, trained):
    spec = json.loads((sess.cloud.home / "jobs" / trained["name"] / "spec.json").read_text())
    assert spec["env"]["TRAINING_JOB_NAME"] == trained["name"]
    assert spec["env"]["TRAINING_JOB_ARN"] == trained["described"]["TrainingJobArn"]
    assert spec["env"]["AWS_REGION"] == sess.boto_region_name


def test_the_sagemaker_sdk_in_a_job_uses_the_local_services(sess, plain_session, tmp_path, monkeypatch):
    monkeypatch.setattr(sess.cloud, "log_sink", lambda line: None)
    described, out = run_sdk_script(sess, plain_session, tmp_path, """
        import json
        import sagemaker
        session = sagemaker.Session()
        pipelines = session.sagemaker_client.list_pipelines()["PipelineSummaries"]
        report = {"bucket": session.default_bucket(), "region": session.boto_region_name,
                  "account": session.account_id(), "pipelines": [p["PipelineName"] for p in pipelines]}
        json.dump(report, open("/opt/ml/processing/output/report.json", "w"))
    """)
    assert described["ProcessingJobStatus"] == "Completed", described.get("FailureReason")
    report = json.loads(get_bytes(sess, f"{out}/report.json"))
    assert report == {"bucket": sess.default_bucket(), "region": sess.boto_region_name, "account": "000000000000",
                      "pipelines": [p["PipelineName"] for p in
                                    sess.sagemaker_client.list_pipelines()["PipelineSummaries"]]}


def test_without_a_bridge_aws_calls_in_a_job_fail_and_never_reach_the_network(sess, plain_session, tmp_path,
                                                                              monkeypatch):
    monkeypatch.setattr(sess.cloud, "log_sink", lambda line: None)
    monkeypatch.setattr(sess.cloud.runtime, "bridge", None)  # as if the kit could not open the job's socket
    described, out = run_sdk_script(sess, plain_session, tmp_path, GUARD + """
import json
import boto3
try:
    boto3.client("s3").list_buckets()
    outcome = ["answered", ""]
except Exception as exc:
    outcome = [type(exc).__name__, str(exc)]
json.dump({"outcome": outcome, "control": control, "attempts": attempts},
          open("/opt/ml/processing/output/report.json", "w"))
""")
    assert described["ProcessingJobStatus"] == "Completed", described.get("FailureReason")
    report = json.loads(get_bytes(sess, f"{out}/report.json"))
    assert report["control"] and report["attempts"] == [], report
    assert report["outcome"][0] == "BridgeError" and "no AWS bridge" in report["outcome"][1], report
