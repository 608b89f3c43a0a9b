"""Script mode on the scikit-learn and XGBoost framework images, written as a learner writes it with the SDK.

Training: ``SKLearn``/``XGBoost`` estimators (and an ``Estimator`` with ``entry_point``) whose
script gets its hyperparameters as arguments and ``SM_*`` variables, its channels, and saves to
``SM_MODEL_DIR``.  Serving: ``SKLearnModel``/``XGBoostModel``/``Model(entry_point=...)`` in batch
transform, with each image's default input/predict/output functions or the script's own.  A
pipeline in the shape of the SDK's local-mode example (processing, script-mode training,
evaluation, condition, ``ModelStep`` with the SDK's repack step, transform) runs to the end with
only the session line changed.  ``requirements.txt`` goes into the job's own folder, never the
kit's environment.  Jobs outside a pipeline run through a plain SDK ``Session`` on the local boto3
session (a ``PipelineSession``'s ``fit()`` only records the request), as in tests/test_runtime.py.
"""

import base64
import hashlib
import io
import json
import os
import sys
import sysconfig
import tarfile
import textwrap
import zipfile

import numpy as np
import pytest
from conftest import s3_get as get, tar_members as members, unique, write

import lab_helpers
from lab_helpers.local.images import script_mode, serving

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TRAINING_LOGS = "/aws/sagemaker/TrainingJobs"
TRANSFORM_LOGS = "/aws/sagemaker/TransformJobs"
INSTANCE = "ml.m5.xlarge"


# --------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------


def rows(n, seed):
    """label = 10*x0 + 2*x1 (label FIRST, then 3 features)."""
    x = np.random.default_rng(seed).random((n, 3))
    return np.column_stack([10 * x[:, 0] + 2 * x[:, 1], x])


def to_csv(matrix):
    return "\n".join(",".join(repr(float(v)) for v in row) for row in matrix) + "\n"


def put(sess, key, body):
    """Put one object in the default bucket; returns its s3:// URI."""
    bucket = sess.default_bucket()
    body = body.encode() if isinstance(body, str) else body
    sess.boto_session.client("s3").put_object(Bucket=bucket, Key=key, Body=body)
    return f"s3://{bucket}/{key}"


def log_text(sess, group, job):
    """Every CloudWatch Logs message of ``job`` in ``group``, one per line."""
    logs = sess.boto_session.client("logs")
    streams = logs.describe_log_streams(logGroupName=group, logStreamNamePrefix=job + "/")["logStreams"]
    lines = []
    for stream in streams:
        events = logs.get_log_events(logGroupName=group, logStreamName=stream["logStreamName"], startFromHead=True)
        lines += [e["message"] for e in events["events"]]
    return "\n".join(lines)


def report(text, marker="REPORT "):
    """The JSON a script printed after ``marker``."""
    line = next(line for line in text.splitlines() if line.startswith(marker))
    return json.loads(line[len(marker):])


@pytest.fixture()
def sess(local_sess):
    return local_sess


@pytest.fixture()
def role(sess):
    return lab_helpers.execution_role(sess)


@pytest.fixture()
def plain(sess, monkeypatch):
    """A plain SDK Session on the local boto3 session, so fit()/transform() really run (no first-poll sleep)."""
    import sagemaker.session

    from lab_helpers.config import LOCAL_SDK_CONFIG

    monkeypatch.setattr(sagemaker.session, "_wait_until", lambda fn, poll=5: fn())
    return sagemaker.session.Session(boto_session=sess.boto_session, sagemaker_config=LOCAL_SDK_CONFIG)


@pytest.fixture()
def train_uri(sess):
    tag = unique("data")
    put(sess, f"script-mode/{tag}/train/train.csv", to_csv(rows(80, seed=1)))
    return f"s3://{sess.default_bucket()}/script-mode/{tag}/train"


def image(sess, framework, version):
    from sagemaker import image_uris

    return image_uris.retrieve(framework, sess.boto_region_name, version)


def sourcedir(sess, key, files):
    """Upload a sourcedir.tar.gz holding ``files`` ({name: text}); returns its s3:// URI."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, text in files.items():
            data = textwrap.dedent(text).encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return put(sess, key, buffer.getvalue())


def create_training(sess, name, image_uri, hyperparameters, channels):
    """CreateTrainingJob through boto3 as the SDK sends it; returns DescribeTrainingJob."""
    sm = sess.sagemaker_client
    sm.create_training_job(
        TrainingJobName=name,
        AlgorithmSpecification={"TrainingImage": image_uri, "TrainingInputMode": "File"},
        RoleArn=lab_helpers.execution_role(sess),
        HyperParameters=hyperparameters,
        InputDataConfig=[{"ChannelName": n, "DataSource": {"S3DataSource": {
            "S3DataType": "S3Prefix", "S3Uri": uri, "S3DataDistributionType": "FullyReplicated"}}}
            for n, uri in channels.items()],
        OutputDataConfig={"S3OutputPath": f"s3://{sess.default_bucket()}/script-mode/out"},
        ResourceConfig={"InstanceType": INSTANCE, "InstanceCount": 1, "VolumeSizeInGB": 5},
        StoppingCondition={"MaxRuntimeInSeconds": 3600},
    )
    return sm.describe_training_job(TrainingJobName=name)


# --------------------------------------------------------------------------------------
# the toolkits' rules, unit by unit
# --------------------------------------------------------------------------------------


def test_hyperparameters_become_arguments_and_variables_as_the_training_toolkit_makes_them():
    raw = {"epochs": "10", "lr": "0.5", "name": '"ridge"', "plain": "reg:squarederror", "flag": "true",
           "k": "3", "layers": "[64, 32]", "opts": '{"b": 2, "a": 1}', "sagemaker_program": '"train.py"',
           "sagemaker_submit_directory": '"s3://b/k/sourcedir.tar.gz"', "sagemaker_region": '"us-east-1"',
           "_tuning_objective_metric": "validation:rmse", "sagemaker_mpi_enabled": "false"}
    decoded = script_mode.decode_hyperparameters(raw)
    assert decoded["epochs"] == 10 and decoded["lr"] == 0.5 and decoded["name"] == "ridge"
    assert decoded["plain"] == "reg:squarederror"  # not JSON: kept as the string it was
    user, framework, toolkit = script_mode.split_hyperparameters(decoded)
    assert sorted(user) == ["epochs", "flag", "k", "layers", "lr", "name", "opts", "plain"]
    assert framework == {"sagemaker_mpi_enabled": False}
    assert toolkit["sagemaker_program"] == "train.py" and "_tuning_objective_metric" in toolkit
    assert script_mode.to_cmd_args(user) == [
        "--epochs", "10", "--flag", "True", "-k", "3", "--layers", "[64, 32]", "--lr", "0.5", "--name", "ridge",
        "--opts", "a=1,b=2", "--plain", "reg:squarederror"]
    env = script_mode.to_env_vars({"hps": user, "model_dir": "/opt/ml/model", "hp_layers": [64, 32], "none": None})
    assert env["SM_MODEL_DIR"] == "/opt/ml/model" and env["SM_HP_LAYERS"] == "[64,32]" and env["SM_NONE"] == ""
    assert json.loads(env["SM_HPS"]) == user and " " not in env["SM_HPS"]


def test_requirements_already_in_the_image_are_not_installed_again():
    pip_args, pending, satisfied = script_mode.plan_requirements(textwrap.dedent("""
        # a comment
        --no-index
        --find-links ./wheels
        numpy>=1.0   # the kit has it
        not-a-real-package-for-the-kit==1.0
        pandas ; python_version < "3"
    """))
    assert pip_args == ["--no-index", "--find-links", "./wheels", "not-a-real-package-for-the-kit==1.0"]
    assert pending and len(satisfied) == 1 and satisfied[0].startswith("numpy==")
    assert script_mode.plan_requirements("numpy\n")[1] is False
    assert script_mode.plan_requirements("-r more.txt\n")[1] is True


def test_requests_are_made_from_records_as_batch_transform_sends_them():
    data = b"1,2\n\n3,4\r\n5,6\n"
    records = serving.records_of(data, "Line")
    assert records == [b"1,2", b"3,4", b"5,6"]
    assert serving.records_of(data, "None") == [data]
    assert serving.requests_of(records, "MultiRecord", 6) == [b"1,2\n3,4\n5,6"]
    assert serving.requests_of(records, "SingleRecord", 6) == records
    assert serving.requests_of(records, "MultiRecord", 7 / (1024 * 1024)) == [b"1,2\n3,4", b"5,6"]
    with pytest.raises(script_mode.ScriptModeError, match="larger than MaxPayloadInMB"):
        serving.requests_of([b"x" * 10], "MultiRecord", 5 / (1024 * 1024))


# --------------------------------------------------------------------------------------
# training
# --------------------------------------------------------------------------------------

SKLEARN_TRAIN = """
    import argparse, json, os, sys
    import joblib
    import numpy as np
    from sklearn.linear_model import LinearRegression

    parser = argparse.ArgumentParser()
    parser.add_argument("--alpha", type=float)
    parser.add_argument("--label", type=str)
    parser.add_argument("--model-dir", default=os.environ["SM_MODEL_DIR"])
    args = parser.parse_args()
    data = np.loadtxt(os.path.join(os.environ["SM_CHANNEL_TRAIN"], "train.csv"), delimiter=",")
    model = LinearRegression().fit(data[:, 1:], data[:, 0])
    joblib.dump(model, os.path.join(args.model_dir, "model.joblib"))
    with open(os.path.join(os.environ["SM_OUTPUT_DATA_DIR"], "notes.txt"), "w") as handle:
        handle.write("alpha was %s" % args.alpha)
    print("r2=%.6f" % model.score(data[:, 1:], data[:, 0]))
    names = ("SM_MODEL_DIR", "SM_OUTPUT_DATA_DIR", "SM_NUM_CPUS", "SM_CURRENT_HOST", "SM_HP_ALPHA", "SM_MODULE_NAME")
    print("REPORT " + json.dumps({
        "argv": sys.argv, "hps": json.loads(os.environ["SM_HPS"]), "train": os.environ["SM_CHANNEL_TRAIN"],
        "listing": sorted(os.listdir(os.environ["SM_CHANNEL_TRAIN"])), "channels": json.loads(os.environ["SM_CHANNELS"]),
        "env": {name: os.environ[name] for name in names}, "cwd": os.getcwd(), "helper": __import__("helper").VALUE,
        "training_env": sorted(json.loads(os.environ["SM_TRAINING_ENV"])), "job": os.environ["TRAINING_JOB_NAME"]}))
"""


def test_sklearn_estimator_runs_the_script_with_its_hyperparameters_channels_and_sm_variables(
        sess, plain, role, train_uri, tmp_path):
    import joblib
    from sagemaker.sklearn import SKLearn

    source = tmp_path / "src"
    write(source, "train.py", SKLEARN_TRAIN)
    write(source, "helper.py", "VALUE = 'from the source directory'\n")
    estimator = SKLearn(entry_point="train.py", source_dir=str(source), framework_version="1.2-1", role=role,
                        instance_type=INSTANCE, instance_count=1, sagemaker_session=plain,
                        hyperparameters={"alpha": 0.5, "label": "ridge"},
                        metric_definitions=[{"Name": "train:r2", "Regex": r"r2=([0-9.]+)"}])
    estimator.fit({"train": train_uri}, logs=False)
    job = estimator.latest_training_job.name
    described = sess.sagemaker_client.describe_training_job(TrainingJobName=job)
    assert described["TrainingJobStatus"] == "Completed", described.get("FailureReason")
    seen = report(log_text(sess, TRAINING_LOGS, job))
    assert seen["argv"] == ["train.py", "--alpha", "0.5", "--label", "ridge"]
    assert seen["hps"] == {"alpha": 0.5, "label": "ridge"}  # no sagemaker_* keys: those are the toolkit's
    assert seen["train"] == "/opt/ml/input/data/train" and seen["listing"] == ["train.csv"]
    assert seen["channels"] == ["train"]
    assert seen["env"] == {"SM_MODEL_DIR": "/opt/ml/model", "SM_OUTPUT_DATA_DIR": "/opt/ml/output/data",
                           "SM_NUM_CPUS": str(os.cpu_count()), "SM_CURRENT_HOST": "algo-1", "SM_HP_ALPHA": "0.5",
                           "SM_MODULE_NAME": "train"}
    assert seen["cwd"] == "/opt/ml/code" and seen["helper"] == "from the source directory" and seen["job"] == job
    assert {"channel_input_dirs", "hyperparameters", "model_dir", "module_dir"} <= set(seen["training_env"])
    assert [m["MetricName"] for m in described["FinalMetricDataList"]] == ["train:r2"]
    assert described["FinalMetricDataList"][0]["Value"] == pytest.approx(1.0, abs=1e-6)
    artifacts = members(get(sess, estimator.model_data))
    assert list(artifacts) == ["model.joblib"]
    model = joblib.load(io.BytesIO(artifacts["model.joblib"]))
    assert model.predict(np.array([[0.5, 0.5, 0.9]]))[0] == pytest.approx(6.0, abs=1e-6)
    output = estimator.model_data.replace("model.tar.gz", "output.tar.gz")
    assert members(get(sess, output)) == {"notes.txt": b"alpha was 0.5"}


XGB_TRAIN = """
    import argparse, json, os, sys
    import numpy as np
    import xgboost as xgb

    parser = argparse.ArgumentParser()
    parser.add_argument("--num_round", type=int)
    parser.add_argument("--max_depth", type=int)
    parser.add_argument("--my_own_flag", type=str)  # the built-in algorithm would refuse this name
    args = parser.parse_args()
    data = np.loadtxt(os.path.join(os.environ["SM_CHANNEL_TRAIN"], "train.csv"), delimiter=",")
    booster = xgb.train({"max_depth": args.max_depth, "objective": "reg:squarederror"},
                        xgb.DMatrix(data[:, 1:], label=data[:, 0]), num_boost_round=args.num_round)
    booster.save_model(os.path.join(os.environ["SM_MODEL_DIR"], "xgboost-model"))
    print("REPORT " + json.dumps({"argv": sys.argv[1:], "hps": json.loads(os.environ["SM_HPS"]),
                                  "framework": os.environ["SM_FRAMEWORK_MODULE"]}))
"""


def test_xgboost_framework_estimator_runs_the_script_not_the_built_in_algorithm(sess, plain, role, train_uri, tmp_path):
    import xgboost as xgb
    from sagemaker.xgboost import XGBoost

    source = tmp_path / "src"
    write(source, "train.py", XGB_TRAIN)
    estimator = XGBoost(entry_point="train.py", source_dir=str(source), framework_version="1.7-1", role=role,
                        instance_type=INSTANCE, instance_count=1, sagemaker_session=plain,
                        hyperparameters={"num_round": 7, "max_depth": 3, "my_own_flag": "yes"})
    estimator.fit({"train": train_uri}, logs=False)
    job = estimator.latest_training_job.name
    described = sess.sagemaker_client.describe_training_job(TrainingJobName=job)
    assert described["TrainingJobStatus"] == "Completed", described.get("FailureReason")
    assert described["HyperParameters"]["sagemaker_program"] == '"train.py"'
    seen = report(log_text(sess, TRAINING_LOGS, job))
    assert seen["argv"] == ["--max_depth", "3", "--my_own_flag", "yes", "--num_round", "7"]
    assert seen["hps"] == {"max_depth": 3, "my_own_flag": "yes", "num_round": 7}
    assert seen["framework"] == "sagemaker_xgboost_container.training:main"
    booster = xgb.Booster()
    booster.load_model(bytearray(members(get(sess, estimator.model_data))["xgboost-model"]))
    assert booster.num_boosted_rounds() == 7


def test_python_the_script_starts_is_the_images_and_sees_the_jobs_opt_ml(sess, plain, role, train_uri, tmp_path):
    from sagemaker.sklearn import SKLearn

    from lab_helpers.local.jobs import imageenvs

    source = tmp_path / "src"
    write(source, "train.py", """
        import json, subprocess
        child = "import os, sys; print(os.path.exists('/opt/ml/input/data/train/train.csv'), sys.executable)"
        out = subprocess.run(["python", "-c", child], capture_output=True, text=True, check=True).stdout.split()
        print("REPORT " + json.dumps(out))
    """)
    estimator = SKLearn(entry_point="train.py", source_dir=str(source), framework_version="1.2-1", role=role,
                        instance_type=INSTANCE, instance_count=1, sagemaker_session=plain)
    estimator.fit({"train": train_uri}, logs=False)
    job = estimator.latest_training_job.name
    described = sess.sagemaker_client.describe_training_job(TrainingJobName=job)
    assert described["TrainingJobStatus"] == "Completed", described.get("FailureReason")
    exists, executable = report(log_text(sess, TRAINING_LOGS, job))
    assert exists == "True"
    image_python = imageenvs.for_image("sagemaker-scikit-learn", "1.2-1").python  # the image's own environment
    assert executable == (image_python or sys.executable)


# --------------------------------------------------------------------------------------
# requirements.txt
# --------------------------------------------------------------------------------------


def build_wheel(folder, name, version, source):
    """A pure-Python wheel of one module (written as pip writes wheels: dist-info with WHEEL and RECORD)."""
    dist = f"{name}-{version}.dist-info"
    files = {f"{name}.py": textwrap.dedent(source).encode(),
             f"{dist}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode(),
             f"{dist}/WHEEL": b"Wheel-Version: 1.0\nGenerator: lab-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"}
    record = []
    for path, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(data)}")
    record.append(f"{dist}/RECORD,,")
    files[f"{dist}/RECORD"] = ("\n".join(record) + "\n").encode()
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(str(folder), f"{name}-{version}-py3-none-any.whl")
    with zipfile.ZipFile(path, "w") as archive:
        for name_in_zip, data in files.items():
            archive.writestr(name_in_zip, data)
    return path


def site_packages_listing():
    paths = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    return {path: sorted(os.listdir(path)) for path in paths}


def test_requirements_txt_is_installed_in_the_jobs_own_folder_and_never_in_the_kits(
        sess, plain, role, train_uri, tmp_path, lab_home):
    import importlib.util

    from sagemaker.sklearn import SKLearn

    name = "labkittinypkg"
    assert importlib.util.find_spec(name) is None
    source = tmp_path / "src"
    # the wheel travels in the source folder (sourcedir.tar.gz), as it must in SageMaker: a job sees no host path
    build_wheel(source / "wheels", name, "0.1.0", "GREETING = 'hello from a wheel'\n")
    write(source, "requirements.txt", f"""
        --no-index
        --find-links wheels
        {name}==0.1.0
        numpy
    """)
    write(source, "train.py", f"""
        import json, {name}
        print("REPORT " + json.dumps({{"greeting": {name}.GREETING, "file": {name}.__file__}}))
    """)
    before = site_packages_listing()
    estimator = SKLearn(entry_point="train.py", source_dir=str(source), framework_version="1.2-1", role=role,
                        instance_type=INSTANCE, instance_count=1, sagemaker_session=plain)
    estimator.fit({"train": train_uri}, logs=False)
    job = estimator.latest_training_job.name
    described = sess.sagemaker_client.describe_training_job(TrainingJobName=job)
    assert described["TrainingJobStatus"] == "Completed", described.get("FailureReason")
    text = log_text(sess, TRAINING_LOGS, job)
    assert f"Successfully installed {name}-0.1.0" in text  # pip's own output is the job's log
    assert "Requirement already satisfied (in the image's environment): numpy==" in text
    seen = report(text)
    assert seen["greeting"] == "hello from a wheel"
    private = lab_home / "jobs" / job / "private" / "python-packages"
    # the job's own folder: as the host sees it, or (a confined job) under the job's private /tmp
    inside = ("/tmp/private/python-packages/", os.path.realpath(private) + os.sep)
    assert os.path.realpath(seen["file"]).startswith(inside) or seen["file"].startswith(inside), seen["file"]
    assert not (private / "numpy").exists()  # what the kit has is not installed again
    assert site_packages_listing() == before
    assert importlib.util.find_spec(name) is None


def test_requirements_pip_cannot_install_fail_the_job_with_pips_message(sess, plain, role, train_uri, tmp_path):
    from sagemaker.sklearn import SKLearn

    source = tmp_path / "src"
    write(source, "requirements.txt", "--no-index\nno-such-package-for-lab-tests==9.9\n")
    write(source, "train.py", "raise SystemExit('never runs')\n")
    estimator = SKLearn(entry_point="train.py", source_dir=str(source), framework_version="1.2-1", role=role,
                        instance_type=INSTANCE, instance_count=1, sagemaker_session=plain)
    with pytest.raises(Exception):
        estimator.fit({"train": train_uri}, logs=False)
    described = sess.sagemaker_client.describe_training_job(TrainingJobName=estimator.latest_training_job.name)
    assert described["TrainingJobStatus"] == "Failed"
    reason = described["FailureReason"]
    assert reason.startswith("AlgorithmError: InstallRequirementsError")
    assert "no-such-package-for-lab-tests" in reason and "ERROR:" in reason
    assert "never runs" not in reason


# --------------------------------------------------------------------------------------
# failures that say what went wrong
# --------------------------------------------------------------------------------------


def test_a_script_that_raises_fails_the_job_naming_the_exception(sess, plain, role, train_uri, tmp_path):
    from sagemaker.sklearn import SKLearn

    source = tmp_path / "src"
    write(source, "train.py", """
        def check(alpha):
            raise ValueError("alpha must be below 1, got %s" % alpha)
        check(3)
    """)
    estimator = SKLearn(entry_point="train.py", source_dir=str(source), framework_version="1.2-1", role=role,
                        instance_type=INSTANCE, instance_count=1, sagemaker_session=plain)
    with pytest.raises(Exception) as raised:
        estimator.fit({"train": train_uri}, logs=False)
    job = estimator.latest_training_job.name
    described = sess.sagemaker_client.describe_training_job(TrainingJobName=job)
    assert described["TrainingJobStatus"] == "Failed"
    reason = described["FailureReason"]
    assert reason.startswith("AlgorithmError: ExecuteUserScriptError")
    assert "ValueError: alpha must be below 1, got 3" in reason and "ExitCode 1" in reason
    assert "ValueError: alpha must be below 1" in str(raised.value)  # the SDK shows the reason too
    assert 'line 2, in check' in log_text(sess, TRAINING_LOGS, job)  # the traceback is in the log


def test_an_entry_point_missing_from_the_source_directory_fails_naming_it(sess, train_uri):
    code = sourcedir(sess, f"script-mode/{unique('src')}/sourcedir.tar.gz", {"train.py": "print('hi')\n"})
    described = create_training(sess, unique("missing-entry"), image(sess, "sklearn", "1.2-1"),
                                 {"sagemaker_program": '"trian.py"', "sagemaker_submit_directory": json.dumps(code)},
                                 {"train": train_uri})
    assert described["TrainingJobStatus"] == "Failed"
    reason = described["FailureReason"]
    assert "can't open file '/opt/ml/code/trian.py'" in reason
    assert "the entry point trian.py is not in the source directory, which holds: train.py" in reason


def test_a_missing_sourcedir_archive_fails_before_the_job_runs(sess, train_uri):
    missing = f"s3://{sess.default_bucket()}/script-mode/nowhere/sourcedir.tar.gz"
    described = create_training(sess, unique("no-source"), image(sess, "xgboost", "1.7-1"),
                                {"sagemaker_program": '"train.py"', "sagemaker_submit_directory": json.dumps(missing)},
                                {"train": train_uri})
    assert described["TrainingJobStatus"] == "Failed"
    assert described["FailureReason"].startswith(f"ClientError: the job's source code {missing} does not exist")


def test_the_scikit_learn_image_has_no_built_in_algorithm(sess, train_uri):
    described = create_training(sess, unique("no-entry"), image(sess, "sklearn", "1.2-1"), {"alpha": "1"},
                                {"train": train_uri})
    assert described["TrainingJobStatus"] == "Failed"
    reason = described["FailureReason"]
    assert reason.startswith("ClientError: The sagemaker-scikit-learn image has no built-in algorithm")
    assert "entry_point" in reason


# --------------------------------------------------------------------------------------
# serving in batch transform
# --------------------------------------------------------------------------------------


def model_artifact(sess, files):
    """Upload a model.tar.gz holding ``files`` ({name: bytes}); returns its s3:// URI."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return put(sess, f"script-mode/{unique('model')}/model.tar.gz", buffer.getvalue())


@pytest.fixture()
def sklearn_model(sess, tmp_path):
    """A LinearRegression in model.tar.gz (model.joblib) and the feature rows to serve.

    Pickled by the 1.2-1 image's own scikit-learn, as a model trained on that image is (a pickle of the
    kit's newer numpy and scikit-learn would not load there, as on AWS); the same fit in the kit gives
    the expected predictions.
    """
    import subprocess

    from sklearn.linear_model import LinearRegression

    from lab_helpers.local.jobs import imageenvs

    data = rows(60, seed=3)
    np.save(tmp_path / "rows.npy", data)
    python = imageenvs.for_image("sagemaker-scikit-learn", "1.2-1").python or sys.executable
    fit = ("import sys, joblib, numpy as np; from sklearn.linear_model import LinearRegression; "
           "d = np.load(sys.argv[1]); joblib.dump(LinearRegression().fit(d[:, 1:], d[:, 0]), sys.argv[2])")
    subprocess.run([python, "-c", fit, str(tmp_path / "rows.npy"), str(tmp_path / "model.joblib")], check=True)
    model = LinearRegression().fit(data[:, 1:], data[:, 0])
    features = rows(12, seed=4)[:, 1:]
    return {"uri": model_artifact(sess, {"model.joblib": (tmp_path / "model.joblib").read_bytes()}), "model": model,
            "features": features}


@pytest.fixture()
def xgb_model(sess):
    """An xgboost Booster in model.tar.gz (xgboost-model, as save_model writes it) and the rows to serve."""
    import xgboost as xgb

    data = rows(80, seed=5)
    booster = xgb.train({"max_depth": 3}, xgb.DMatrix(data[:, 1:], label=data[:, 0]), num_boost_round=10)
    raw = booster.save_raw("json")
    return {"uri": model_artifact(sess, {"xgboost-model": bytes(raw)}), "booster": booster,
            "features": rows(9, seed=6)[:, 1:]}


def transform(sess, model, data_uri, content_type, accept, split_type="Line", strategy=None, assemble_with=None):
    """Batch-transform ``data_uri`` with an SDK model; returns (DescribeTransformJob, {output name: bytes})."""
    out = f"s3://{sess.default_bucket()}/script-mode/{unique('out')}"
    transformer = model.transformer(instance_count=1, instance_type=INSTANCE, output_path=out, accept=accept,
                                    strategy=strategy, assemble_with=assemble_with)
    try:
        transformer.transform(data_uri, content_type=content_type, split_type=split_type, wait=True, logs=False)
    except Exception:  # noqa: BLE001 - a failed job: the caller reads its FailureReason
        pass
    described = sess.sagemaker_client.describe_transform_job(TransformJobName=transformer.latest_transform_job.name)
    bucket, _, prefix = out[5:].partition("/")
    listing = sess.boto_session.client("s3").list_objects_v2(Bucket=bucket, Prefix=prefix + "/").get("Contents", [])
    return described, {o["Key"].rsplit("/", 1)[-1]: get(sess, f"s3://{bucket}/{o['Key']}") for o in listing}


MODEL_FN_ONLY_SKLEARN = """
    import os
    import joblib

    def model_fn(model_dir):
        return joblib.load(os.path.join(model_dir, "model.joblib"))
"""


@pytest.mark.parametrize("accept", ["text/csv", "application/json", None])
def test_sklearn_model_serves_csv_with_the_images_default_functions(sess, plain, role, sklearn_model, tmp_path, accept):
    from sagemaker.sklearn import SKLearnModel

    write(tmp_path / "serve", "inference.py", MODEL_FN_ONLY_SKLEARN)
    model = SKLearnModel(model_data=sklearn_model["uri"], entry_point="inference.py", source_dir=str(tmp_path / "serve"),
                         framework_version="1.2-1", role=role, sagemaker_session=plain)
    data = put(sess, f"script-mode/{unique('in')}/batch.csv", to_csv(sklearn_model["features"]))
    described, outputs = transform(sess, model, data, "text/csv", accept)
    assert described["TransformJobStatus"] == "Completed", described.get("FailureReason")
    expected = sklearn_model["model"].predict(sklearn_model["features"].astype(np.float32))
    body = outputs["batch.csv.out"].decode()
    if accept == "text/csv":
        got = [float(line) for line in body.splitlines()]
    else:  # no Accept: the toolkit's default, application/json
        got = json.loads(body)
    assert np.allclose(got, expected, rtol=1e-5)
    model_env = sess.sagemaker_client.describe_model(ModelName=described["ModelName"])["PrimaryContainer"]["Environment"]
    assert model_env["SAGEMAKER_SUBMIT_DIRECTORY"].endswith("sourcedir.tar.gz")  # code beside the model, in S3


def test_sklearn_model_serves_a_json_array_with_the_images_default_functions(sess, plain, role, sklearn_model,
                                                                            tmp_path):
    from sagemaker.sklearn import SKLearnModel

    write(tmp_path / "serve", "inference.py", MODEL_FN_ONLY_SKLEARN)
    model = SKLearnModel(model_data=sklearn_model["uri"], entry_point="inference.py", source_dir=str(tmp_path / "serve"),
                         framework_version="1.2-1", role=role, sagemaker_session=plain)
    data = put(sess, f"script-mode/{unique('in')}/batch.json", json.dumps(sklearn_model["features"].tolist()))
    described, outputs = transform(sess, model, data, "application/json", "application/json", split_type="None")
    assert described["TransformJobStatus"] == "Completed", described.get("FailureReason")
    expected = sklearn_model["model"].predict(sklearn_model["features"].astype(np.float32))
    assert np.allclose(json.loads(outputs["batch.json.out"]), expected, rtol=1e-5)


MODEL_FN_ONLY_XGBOOST = """
    import os
    import xgboost as xgb

    def model_fn(model_dir):
        booster = xgb.Booster()
        booster.load_model(os.path.join(model_dir, "xgboost-model"))
        return booster
"""


def test_xgboost_model_serves_csv_with_the_images_defaults_and_refuses_json(sess, plain, role, xgb_model, tmp_path):
    import xgboost as xgb
    from sagemaker.xgboost import XGBoostModel

    write(tmp_path / "serve", "inference.py", MODEL_FN_ONLY_XGBOOST)
    model = XGBoostModel(model_data=xgb_model["uri"], entry_point="inference.py", source_dir=str(tmp_path / "serve"),
                         framework_version="1.7-1", role=role, sagemaker_session=plain)
    data = put(sess, f"script-mode/{unique('in')}/batch.csv", to_csv(xgb_model["features"]))
    described, outputs = transform(sess, model, data, "text/csv", "text/csv", strategy="SingleRecord",
                                   assemble_with="Line")
    assert described["TransformJobStatus"] == "Completed", described.get("FailureReason")
    expected = xgb_model["booster"].predict(xgb.DMatrix(xgb_model["features"]))
    got = [float(line) for line in outputs["batch.csv.out"].decode().splitlines()]
    assert np.allclose(got, expected, rtol=1e-6)
    # the XGBoost image's default input_fn has no JSON decoder: the job fails saying so
    data = put(sess, f"script-mode/{unique('in')}/batch.json", json.dumps(xgb_model["features"].tolist()))
    described, _ = transform(sess, model, data, "application/json", "text/csv", split_type="None")
    assert described["TransformJobStatus"] == "Failed"
    assert "UnsupportedFormatError: Content type application/json is not supported" in described["FailureReason"]
    assert "inference.py" in described["FailureReason"]


CUSTOM_IO = """
    import json, os
    import numpy as np
    import xgboost as xgb

    def model_fn(model_dir):
        booster = xgb.Booster()
        booster.load_model(os.path.join(model_dir, "xgboost-model"))
        return booster

    def input_fn(body, content_type):
        assert isinstance(body, str), type(body)  # text/csv and application/json arrive decoded
        if content_type == "text/csv":
            return xgb.DMatrix(np.array([[float(v) for v in line.split(",")] for line in body.splitlines()]))
        if content_type == "application/json":
            return xgb.DMatrix(np.array([json.loads(line)["features"] for line in body.splitlines()]))
        raise ValueError("unsupported " + content_type)

    def output_fn(prediction, accept):
        if accept == "application/json":
            return json.dumps({"predictions": [round(float(p), 6) for p in prediction]}), accept
        return "".join("pred=%.6f\\n" % p for p in prediction), accept
"""


@pytest.mark.parametrize("content_type", ["text/csv", "application/json"])
def test_the_scripts_own_input_fn_and_output_fn_serve_csv_and_json(sess, plain, role, xgb_model, tmp_path,
                                                                  content_type):
    import xgboost as xgb
    from sagemaker.model import Model

    write(tmp_path / "serve", "inference.py", CUSTOM_IO)
    model = Model(image_uri=image(sess, "xgboost", "1.7-1"), model_data=xgb_model["uri"], entry_point="inference.py",
                  source_dir=str(tmp_path / "serve"), role=role, sagemaker_session=plain)
    features = xgb_model["features"]
    if content_type == "text/csv":
        body = to_csv(features)
    else:
        body = "".join(json.dumps({"features": row.tolist()}) + "\n" for row in features)
    data = put(sess, f"script-mode/{unique('in')}/batch.txt", body)
    described, outputs = transform(sess, model, data, content_type, content_type)
    assert described["TransformJobStatus"] == "Completed", described.get("FailureReason")
    expected = xgb_model["booster"].predict(xgb.DMatrix(features))
    text = outputs["batch.txt.out"].decode()
    if content_type == "text/csv":
        got = [float(line[len("pred="):]) for line in text.splitlines()]
    else:
        got = json.loads(text)["predictions"]
    assert np.allclose(got, expected, atol=1e-5)
    model_env = sess.sagemaker_client.describe_model(ModelName=described["ModelName"])["PrimaryContainer"]["Environment"]
    assert model_env["SAGEMAKER_SUBMIT_DIRECTORY"] == "/opt/ml/model/code"  # Model(source_dir=...) repacks
