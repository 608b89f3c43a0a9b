"""Pipelines shaped like AWS's public examples run offline to the end, with only the session line changed.

Two examples, written here in the kit's own words (what each exercises, not their code):

* amazon-sagemaker-examples ``ml_ops/sm-pipelines_preprocess_train_evaluate_batch_transform``: a
  scikit-learn 0.23-1 processing script that splits a shuffled array with ``np.split`` (fine on the
  image's pandas 1.x), the built-in XGBoost 1.0-1 algorithm, an evaluation script on that image that
  unpickles ``xgboost-model``, a PropertyFile read by a ConditionStep, RegisterModel, CreateModel,
  batch transform and a FailStep;
* the SDK's local-mode pipeline example (``ml_ops/sm-pipelines_local_mode``): scikit-learn 1.0-1
  processing, XGBoost *script-mode* training, evaluation, and ``Model(entry_point=...)`` batch
  transform with the script's own ``transform_fn``.

Each uses the kit's abalone data in ``data/`` and the session the kit gives (the examples' only changed line).
"""

import io
import json
import os
import pickle

import numpy as np
import pytest
from conftest import finished, s3_get as get, tar_members as members, unique, write

import lab_helpers

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

pytestmark = pytest.mark.slow


@pytest.fixture()
def sess(local_sess):
    return local_sess


# --------------------------------------------------------------------------------------
# what both examples build alike
# --------------------------------------------------------------------------------------


def preprocessing_step(framework_version, instance_count, input_data, role, session):
    """``(step, its outputs)``: ``code/preprocessing.py`` on scikit-learn ``framework_version`` splits
    ``input_data`` into train, validation and test, as both examples' preprocessing steps do."""
    from sagemaker.processing import ProcessingInput, ProcessingOutput
    from sagemaker.sklearn.processing import SKLearnProcessor
    from sagemaker.workflow.steps import ProcessingStep

    processor = SKLearnProcessor(framework_version=framework_version, instance_type="ml.m5.xlarge",
                                 instance_count=instance_count, base_job_name="sklearn-abalone-process", role=role,
                                 sagemaker_session=session)
    step_process = ProcessingStep(name="AbaloneProcess", step_args=processor.run(
        inputs=[ProcessingInput(source=input_data, destination="/opt/ml/processing/input")],
        outputs=[ProcessingOutput(output_name=n, source=f"/opt/ml/processing/{n}")
                 for n in ("train", "validation", "test")],
        code="code/preprocessing.py"))
    return step_process, step_process.properties.ProcessingOutputConfig.Outputs


def training_step(estimator, outputs):
    """``estimator`` fitted on the preprocessing step's train and validation splits (CSV), as in both examples."""
    from sagemaker.inputs import TrainingInput
    from sagemaker.workflow.steps import TrainingStep

    return TrainingStep(name="AbaloneTrain", step_args=estimator.fit(inputs={
        "train": TrainingInput(s3_data=outputs["train"].S3Output.S3Uri, content_type="text/csv"),
        "validation": TrainingInput(s3_data=outputs["validation"].S3Output.S3Uri, content_type="text/csv")}))


def evaluation_step(image_uri, role, session, step_train, outputs):
    """``(step, report)``: ``code/evaluation.py`` on ``image_uri`` scores the trained model on the test split,
    its report a PropertyFile, as both examples' evaluation steps do."""
    from sagemaker.processing import ProcessingInput, ProcessingOutput, ScriptProcessor
    from sagemaker.workflow.properties import PropertyFile
    from sagemaker.workflow.steps import ProcessingStep

    evaluator = ScriptProcessor(image_uri=image_uri, command=["python3"], instance_type="ml.m5.xlarge",
                                instance_count=1, base_job_name="script-abalone-eval", role=role,
                                sagemaker_session=session)
    evaluation_report = PropertyFile(name="EvaluationReport", output_name="evaluation", path="evaluation.json")
    step_eval = ProcessingStep(name="AbaloneEval", property_files=[evaluation_report], step_args=evaluator.run(
        inputs=[ProcessingInput(source=step_train.properties.ModelArtifacts.S3ModelArtifacts,
                                destination="/opt/ml/processing/model"),
                ProcessingInput(source=outputs["test"].S3Output.S3Uri, destination="/opt/ml/processing/test")],
        outputs=[ProcessingOutput(output_name="evaluation", source="/opt/ml/processing/evaluation")],
        code="code/evaluation.py"))
    return step_eval, evaluation_report


def succeeded_steps(execution, names):
    """The execution's steps by name, once it is asserted Succeeded with exactly the steps ``names``, all Succeeded."""
    status = execution.describe()
    steps = {s["StepName"]: s for s in execution.list_steps()}
    assert status["PipelineExecutionStatus"] == "Succeeded", (status.get("FailureReason"), {
        n: s.get("FailureReason") for n, s in steps.items()})
    assert {n: s["StepStatus"] for n, s in steps.items()} == {n: "Succeeded" for n in names}
    return steps


# --------------------------------------------------------------------------------------
# the SDK's local-mode example, in shape
# --------------------------------------------------------------------------------------


EXAMPLE_PREPROCESS = """
    import numpy as np
    import pandas as pd
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    base = "/opt/ml/processing"
    names = ["sex", "length", "diameter", "height", "whole", "shucked", "viscera", "shell", "rings"]
    frame = pd.read_csv(base + "/input/abalone.csv", header=None, names=names)
    rings = frame.pop("rings").to_numpy().reshape(-1, 1)
    features = ColumnTransformer([
        ("numbers", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), names[1:-1]),
        ("sex", make_pipeline(SimpleImputer(strategy="constant", fill_value="missing"),
                              OneHotEncoder(handle_unknown="ignore")), ["sex"]),
    ]).fit_transform(frame)
    table = np.concatenate([rings, features], axis=1)
    np.random.default_rng(11).shuffle(table)
    parts = np.split(table, [int(0.7 * len(table)), int(0.85 * len(table))])
    for name, part in zip(("train", "validation", "test"), parts):
        pd.DataFrame(part).to_csv(base + "/" + name + "/" + name + ".csv", header=False, index=False)
"""

EXAMPLE_TRAIN = """
    import argparse
    import logging
    import os
    import pickle

    import pandas as pd
    import xgboost as xgb

    logging.basicConfig(level=logging.INFO)

    def matrix(folder, name):
        frame = pd.read_csv(os.path.join(folder, name), header=None)
        return xgb.DMatrix(frame.iloc[:, 1:].values, label=frame.iloc[:, 0].values)

    if __name__ == "__main__":
        parser = argparse.ArgumentParser()
        parser.add_argument("--max_depth", type=int)
        parser.add_argument("--eta", type=float)
        parser.add_argument("--min_child_weight", type=int)
        parser.add_argument("--subsample", type=float)
        parser.add_argument("--num_round", type=int)
        parser.add_argument("--objective", type=str)
        parser.add_argument("--model_dir", type=str, default=os.environ.get("SM_MODEL_DIR"))
        parser.add_argument("--train", type=str, default=os.environ.get("SM_CHANNEL_TRAIN"))
        parser.add_argument("--validation", type=str, default=os.environ.get("SM_CHANNEL_VALIDATION"))
        args, _ = parser.parse_known_args()
        train, validation = matrix(args.train, "train.csv"), matrix(args.validation, "validation.csv")
        params = {"objective": args.objective, "max_depth": args.max_depth, "eta": args.eta,
                  "min_child_weight": args.min_child_weight, "subsample": args.subsample, "eval_metric": "rmse"}
        booster = xgb.train(params, train, num_boost_round=args.num_round,
                            evals=[(train, "train"), (validation, "validation")])
        with open(args.model_dir + "/xgboost-model", "wb") as handle:
            pickle.dump(booster, handle)
        logging.info("model written")
"""

#: How both examples' evaluation scripts begin, after their imports: unpack model.tar.gz where they run,
#: unpickle the built-in algorithm's ``xgboost-model``, read the test split (its label first).
EVALUATE_LOAD = """\
    with tarfile.open("/opt/ml/processing/model/model.tar.gz") as archive:
        archive.extractall(path=".")
    booster = pickle.load(open("xgboost-model", "rb"))
    frame = pd.read_csv("/opt/ml/processing/test/test.csv", header=None)
    truth = frame.iloc[:, 0].to_numpy()
"""

EXAMPLE_EVALUATE = """
    import json
    import pathlib
    import pickle
    import tarfile

    import numpy as np
    import pandas as pd
    import xgboost

""" + EVALUATE_LOAD + """    errors = truth - booster.predict(xgboost.DMatrix(frame.iloc[:, 1:].values))
    pathlib.Path("/opt/ml/processing/evaluation").mkdir(parents=True, exist_ok=True)
    with open("/opt/ml/processing/evaluation/evaluation.json", "w") as handle:
        json.dump({"regression_metrics": {"mse": {"value": float(np.mean(errors ** 2)),
                                                  "standard_deviation": float(np.std(errors))}}}, handle)
"""

EXAMPLE_INFERENCE = """
    import io
    import os
    import pickle

    import numpy as np
    import pandas as pd
    import sagemaker_xgboost_container.encoder as xgb_encoders
    import xgboost as xgb

    def model_fn(model_dir):
        with open(os.path.join(model_dir, "xgboost-model"), "rb") as handle:
            return pickle.load(handle)

    def transform_fn(model, request_body, request_content_type, accept):
        if request_content_type == "text/libsvm":
            data = xgb_encoders.libsvm_to_dmatrix(request_body)
        elif request_content_type == "text/csv":
            frame = pd.read_csv(io.StringIO(request_body.strip("\\n")), header=None)
            frame.drop(0, axis=1, inplace=True)  # test.csv still has the label column
            data = xgb.DMatrix(data=frame)
        else:
            raise ValueError("Content type {} is not supported.".format(request_content_type))
        prediction = model.predict(data)
        contributions = model.predict(data, pred_contribs=True, validate_features=False)
        table = np.hstack((prediction[:, np.newaxis], contributions))
        return "\\n".join(",".join(str(v) for v in row) for row in table)
"""


def test_a_pipeline_shaped_like_the_sdks_local_mode_example_runs_offline_to_the_end(sess, tmp_path, monkeypatch):
    import sagemaker
    import xgboost as xgb
    from sagemaker.estimator import Estimator
    from sagemaker.model import Model
    from sagemaker.transformer import Transformer
    from sagemaker.workflow.condition_step import ConditionStep
    from sagemaker.workflow.conditions import ConditionLessThanOrEqualTo
    from sagemaker.workflow.fail_step import FailStep
    from sagemaker.workflow.functions import Join, JsonGet
    from sagemaker.workflow.model_step import ModelStep
    from sagemaker.workflow.parameters import ParameterFloat, ParameterString
    from sagemaker.workflow.pipeline import Pipeline
    from sagemaker.workflow.steps import TransformStep

    monkeypatch.chdir(tmp_path)
    for name, text in (("preprocessing.py", EXAMPLE_PREPROCESS), ("abalone.py", EXAMPLE_TRAIN),
                       ("evaluation.py", EXAMPLE_EVALUATE), ("inference.py", EXAMPLE_INFERENCE)):
        write(tmp_path / "code", name, text)

    local_pipeline_session = sess  # the one line that differs: LocalPipelineSession() in the SDK's example
    region = local_pipeline_session.boto_region_name
    default_bucket = local_pipeline_session.default_bucket()
    prefix = "sagemaker-pipelines-local-mode-example"
    role = lab_helpers.execution_role(local_pipeline_session)
    instance_type = "ml.m5.xlarge"
    input_data_uri = sagemaker.s3.S3Uploader.upload(  # the example downloads abalone.csv from AWS first
        local_path=os.path.join(ROOT, "data", "abalone.csv"), desired_s3_uri=f"s3://{default_bucket}/{prefix}/data",
        sagemaker_session=local_pipeline_session)
    input_data = ParameterString(name="InputData", default_value=input_data_uri)
    mse_threshold = ParameterFloat(name="MseThreshold", default_value=7.0)

    step_process, outputs = preprocessing_step("1.0-1", 1, input_data, role, local_pipeline_session)

    image_uri = sagemaker.image_uris.retrieve(framework="xgboost", region=region, version="1.5-1",
                                              instance_type=instance_type)
    xgb_train = Estimator(image_uri=image_uri, entry_point="code/abalone.py", instance_type=instance_type,
                          instance_count=1, output_path=f"s3://{default_bucket}/{prefix}/model", role=role,
                          sagemaker_session=local_pipeline_session)
    xgb_train.set_hyperparameters(objective="reg:squarederror", num_round=30, max_depth=5, eta=0.2,
                                  min_child_weight=6, subsample=0.7)
    step_train = training_step(xgb_train, outputs)

    step_eval, evaluation_report = evaluation_step(image_uri, role, local_pipeline_session, step_train, outputs)

    model = Model(image_uri=image_uri, model_data=step_train.properties.ModelArtifacts.S3ModelArtifacts,
                  source_dir="code", entry_point="inference.py", role=role, sagemaker_session=local_pipeline_session)
    step_create_model = ModelStep(name="AbaloneCreateModel", step_args=model.create(instance_type=instance_type))
    transformer = Transformer(model_name=step_create_model.properties.ModelName, instance_type=instance_type,
                              instance_count=1, output_path=f"s3://{default_bucket}/{prefix}/transform",
                              sagemaker_session=local_pipeline_session)
    transform_data = Join(on="/", values=[outputs["test"].S3Output.S3Uri, "test.csv"])
    step_transform = TransformStep(name="AbaloneTransform",
                                   step_args=transformer.transform(transform_data, content_type="text/csv"))
    step_fail = FailStep(name="AbaloneMSEFail",
                         error_message=Join(on=" ", values=["Execution failed due to MSE >", mse_threshold]))
    step_cond = ConditionStep(name="AbaloneMSECond", conditions=[ConditionLessThanOrEqualTo(
        left=JsonGet(step_name=step_eval.name, property_file=evaluation_report, json_path="regression_metrics.mse.value"),
        right=mse_threshold)], if_steps=[step_create_model, step_transform], else_steps=[step_fail])
    pipeline = Pipeline(name=unique("LocalModelPipeline"), parameters=[input_data, mse_threshold],
                        steps=[step_process, step_train, step_eval, step_cond], sagemaker_session=local_pipeline_session)
    pipeline.upsert(role_arn=role)
    execution = pipeline.start()
    execution.wait()

    steps = succeeded_steps(execution, (
        "AbaloneProcess", "AbaloneTrain", "AbaloneEval", "AbaloneMSECond", "AbaloneCreateModel-RepackModel-0",
        "AbaloneCreateModel-CreateModel", "AbaloneTransform"))
    sm = local_pipeline_session.sagemaker_client

    def job_of(step, kind):  # SageMaker's Describe calls take the name, not the ARN the step metadata holds
        return steps[step]["Metadata"][kind]["Arn"].rsplit("/", 1)[-1]

    trained = sm.describe_training_job(TrainingJobName=job_of("AbaloneTrain", "TrainingJob"))
    assert json.loads(trained["HyperParameters"]["sagemaker_program"]) == "abalone.py"
    repack = sm.describe_training_job(TrainingJobName=job_of("AbaloneCreateModel-RepackModel-0", "TrainingJob"))
    assert "sagemaker-scikit-learn" in repack["AlgorithmSpecification"]["TrainingImage"]
    repacked = members(get(sess, repack["ModelArtifacts"]["S3ModelArtifacts"]))
    assert {"xgboost-model", "code/inference.py", "code/abalone.py"} <= set(repacked)
    created = sm.describe_model(ModelName=job_of("AbaloneCreateModel-CreateModel", "Model"))
    assert created["PrimaryContainer"]["Environment"]["SAGEMAKER_PROGRAM"] == "inference.py"
    assert created["PrimaryContainer"]["ModelDataUrl"] == repack["ModelArtifacts"]["S3ModelArtifacts"]

    booster = pickle.loads(members(get(sess, trained["ModelArtifacts"]["S3ModelArtifacts"]))["xgboost-model"])
    processed = sm.describe_processing_job(ProcessingJobName=job_of("AbaloneProcess", "ProcessingJob"))
    test_uri = next(o["S3Output"]["S3Uri"] for o in processed["ProcessingOutputConfig"]["Outputs"]
                    if o["OutputName"] == "test")
    test = np.loadtxt(io.StringIO(get(sess, test_uri + "/test.csv").decode()), delimiter=",")
    expected = booster.predict(xgb.DMatrix(test[:, 1:]))
    lines = get(sess, f"s3://{default_bucket}/{prefix}/transform/test.csv.out").decode().splitlines()
    assert len(lines) == len(test)
    assert np.allclose([float(line.split(",")[0]) for line in lines], expected, rtol=1e-5)


# --------------------------------------------------------------------------------------
# AWS's abalone pipeline: preprocess, train, evaluate, condition, register, model, transform, fail
# --------------------------------------------------------------------------------------

#: The processing script, as that example's is shaped: a ColumnTransformer, the label put first, a
#: shuffled array split in three with np.split - which the example applies to what the 0.23-1 image's
#: pandas 1.x accepts - and the CSVs written without header or index.
ABALONE_PREPROCESS = """
    import numpy as np
    import pandas as pd
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    columns = ["sex", "length", "diameter", "height", "whole_weight", "shucked_weight", "viscera_weight",
               "shell_weight"]
    types = dict({c: np.float64 for c in columns[1:]}, sex=str, rings=np.float64)
    frame = pd.read_csv("/opt/ml/processing/input/abalone-dataset.csv", header=None, names=columns + ["rings"],
                        dtype=types)
    label = frame.pop("rings")
    encode = ColumnTransformer([
        ("num", Pipeline([("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())]), columns[1:]),
        ("cat", Pipeline([("impute", SimpleImputer(strategy="constant", fill_value="missing")),
                          ("onehot", OneHotEncoder(handle_unknown="ignore"))]), ["sex"]),
    ])
    table = pd.DataFrame(np.concatenate((label.to_numpy().reshape(-1, 1), encode.fit_transform(frame)), axis=1))
    table = table.sample(frac=1.0, random_state=3)
    train, validation, test = np.split(table, [int(0.7 * len(table)), int(0.85 * len(table))])  # DataFrames
    for name, part in (("train", train), ("validation", validation), ("test", test)):
        part.to_csv(f"/opt/ml/processing/{name}/{name}.csv", header=False, index=False)
"""

#: The evaluation script, as that example's: unpack model.tar.gz where it runs, unpickle the built-in
#: algorithm's ``xgboost-model`` (a pickle in the 1.0-1 image), write the report a PropertyFile reads.
ABALONE_EVALUATE = """
    import json
    import os
    import pickle
    import tarfile

    import numpy as np
    import pandas as pd
    import xgboost
    from sklearn.metrics import mean_squared_error

""" + EVALUATE_LOAD + """    predicted = booster.predict(xgboost.DMatrix(frame.drop(frame.columns[0], axis=1).values))
    os.makedirs("/opt/ml/processing/evaluation", exist_ok=True)
    with open("/opt/ml/processing/evaluation/evaluation.json", "w") as handle:
        json.dump({"regression_metrics": {"mse": {"value": mean_squared_error(truth, predicted),
                                                  "standard_deviation": float(np.std(truth - predicted))}},
                   "xgboost": xgboost.__version__}, handle)
"""


def batch_rows(count=40):
    """Rows the way the example's batch file has them: the model's features, no label (numbers only)."""
    rng = np.random.default_rng(5)
    return "\n".join(",".join(f"{v:.5f}" for v in row) for row in rng.normal(size=(count, 10))) + "\n"


def test_a_pipeline_shaped_like_the_abalone_batch_transform_example_runs_offline_to_the_end(sess, tmp_path,
                                                                                             monkeypatch):
    import sagemaker
    import xgboost as xgb
    from sagemaker.estimator import Estimator
    from sagemaker.inputs import TransformInput
    from sagemaker.model import Model
    from sagemaker.model_metrics import MetricsSource, ModelMetrics
    from sagemaker.transformer import Transformer
    from sagemaker.workflow.condition_step import ConditionStep
    from sagemaker.workflow.conditions import ConditionLessThanOrEqualTo
    from sagemaker.workflow.fail_step import FailStep
    from sagemaker.workflow.functions import Join, JsonGet
    from sagemaker.workflow.model_step import ModelStep
    from sagemaker.workflow.parameters import ParameterFloat, ParameterInteger, ParameterString
    from sagemaker.workflow.pipeline import Pipeline
    from sagemaker.workflow.steps import TransformStep

    monkeypatch.chdir(tmp_path)
    write(tmp_path / "code", "preprocessing.py", ABALONE_PREPROCESS)
    write(tmp_path / "code", "evaluation.py", ABALONE_EVALUATE)
    write(tmp_path / "data", "abalone-dataset-batch", batch_rows())
    write(tmp_path / "data", "abalone-dataset.csv", open(os.path.join(ROOT, "data", "abalone.csv")).read())

    pipeline_session = sess  # the one line that differs: PipelineSession() in AWS's example
    region = pipeline_session.boto_region_name
    role = lab_helpers.execution_role(pipeline_session)
    bucket = pipeline_session.default_bucket()
    base_uri = f"s3://{bucket}/{unique('abalone')}"
    input_data_uri = sagemaker.s3.S3Uploader.upload("data/abalone-dataset.csv", base_uri,
                                                    sagemaker_session=pipeline_session)
    batch_data_uri = sagemaker.s3.S3Uploader.upload("data/abalone-dataset-batch", base_uri,
                                                    sagemaker_session=pipeline_session)
    processing_instance_count = ParameterInteger(name="ProcessingInstanceCount", default_value=1)
    instance_type = ParameterString(name="TrainingInstanceType", default_value="ml.m5.xlarge")
    model_approval_status = ParameterString(name="ModelApprovalStatus", default_value="PendingManualApproval")
    input_data = ParameterString(name="InputData", default_value=input_data_uri)
    batch_data = ParameterString(name="BatchData", default_value=batch_data_uri)
    mse_threshold = ParameterFloat(name="MseThreshold", default_value=6.0)

    step_process, outputs = preprocessing_step("0.23-1", processing_instance_count, input_data, role,
                                               pipeline_session)

    image_uri = sagemaker.image_uris.retrieve(framework="xgboost", region=region, version="1.0-1", py_version="py3",
                                              instance_type="ml.m5.xlarge")
    xgb_train = Estimator(image_uri=image_uri, instance_type=instance_type, instance_count=1, role=role,
                          output_path=f"{base_uri}/AbaloneTrain", sagemaker_session=pipeline_session)
    xgb_train.set_hyperparameters(objective="reg:linear", num_round=50, max_depth=5, eta=0.2, gamma=4,
                                  min_child_weight=6, subsample=0.7)
    step_train = training_step(xgb_train, outputs)

    step_eval, evaluation_report = evaluation_step(image_uri, role, pipeline_session, step_train, outputs)

    model = Model(image_uri=image_uri, model_data=step_train.properties.ModelArtifacts.S3ModelArtifacts,
                  sagemaker_session=pipeline_session, role=role)
    step_create_model = ModelStep(name="AbaloneCreateModel",
                                  step_args=model.create(instance_type="ml.m5.large", accelerator_type="ml.eia1.medium"))
    transformer = Transformer(model_name=step_create_model.properties.ModelName, instance_type="ml.m5.xlarge",
                              instance_count=1, output_path=f"{base_uri}/AbaloneTransform")
    step_transform = TransformStep(name="AbaloneTransform", transformer=transformer,
                                   inputs=TransformInput(data=batch_data))
    evaluation_uri = step_eval.arguments["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"]
    step_register = ModelStep(name="AbaloneRegisterModel", step_args=model.register(
        content_types=["text/csv"], response_types=["text/csv"], inference_instances=["ml.t2.medium", "ml.m5.xlarge"],
        transform_instances=["ml.m5.xlarge"], model_package_group_name=unique("AbaloneModelPackageGroupName"),
        approval_status=model_approval_status, model_metrics=ModelMetrics(model_statistics=MetricsSource(
            s3_uri=f"{evaluation_uri}/evaluation.json", content_type="application/json"))))
    step_fail = FailStep(name="AbaloneMSEFail",
                         error_message=Join(on=" ", values=["Execution failed due to MSE >", mse_threshold]))
    step_cond = ConditionStep(name="AbaloneMSECond", conditions=[ConditionLessThanOrEqualTo(
        left=JsonGet(step_name=step_eval.name, property_file=evaluation_report, json_path="regression_metrics.mse.value"),
        right=mse_threshold)], if_steps=[step_register, step_create_model, step_transform], else_steps=[step_fail])
    pipeline = Pipeline(name=unique("AbalonePipeline"), steps=[step_process, step_train, step_eval, step_cond],
                        parameters=[processing_instance_count, instance_type, model_approval_status, input_data,
                                    batch_data, mse_threshold], sagemaker_session=pipeline_session)
    json.loads(pipeline.definition())
    pipeline.upsert(role_arn=role)
    execution = finished(pipeline.start())  # wait() raises on a failure: the assertion below says which step's

    steps = succeeded_steps(execution, (
        "AbaloneProcess", "AbaloneTrain", "AbaloneEval", "AbaloneMSECond", "AbaloneRegisterModel-RegisterModel",
        "AbaloneCreateModel-CreateModel", "AbaloneTransform"))
    report = json.loads(sagemaker.s3.S3Downloader.read_file(f"{evaluation_uri}/evaluation.json",
                                                           sagemaker_session=pipeline_session))
    assert report["xgboost"] == "1.0.0"  # the evaluation ran on the 1.0-1 image's XGBoost
    assert 0 < report["regression_metrics"]["mse"]["value"] <= 6.0
    sm = pipeline_session.sagemaker_client
    trained = sm.describe_training_job(
        TrainingJobName=steps["AbaloneTrain"]["Metadata"]["TrainingJob"]["Arn"].rsplit("/", 1)[-1])
    booster = pickle.loads(members(get(pipeline_session, trained["ModelArtifacts"]["S3ModelArtifacts"]))["xgboost-model"])
    batch = np.loadtxt(io.StringIO(batch_rows()), delimiter=",")
    expected = booster.predict(xgb.DMatrix(batch))
    lines = get(pipeline_session, f"{base_uri}/AbaloneTransform/abalone-dataset-batch.out").decode().split()
    assert np.allclose([float(v) for v in lines], expected, rtol=1e-4)
    package = steps["AbaloneRegisterModel-RegisterModel"]["Metadata"]["RegisterModel"]["Arn"]
    assert sm.describe_model_package(ModelPackageName=package)["ModelApprovalStatus"] == "PendingManualApproval"

    # the else branch: a threshold no model meets ends in the FailStep's message
    failing = finished(pipeline.start(parameters={"MseThreshold": 0.01}))
    assert failing.describe()["PipelineExecutionStatus"] == "Failed"
    ran = {s["StepName"]: s for s in failing.list_steps()}
    assert ran["AbaloneMSEFail"]["Metadata"]["Fail"]["ErrorMessage"] == "Execution failed due to MSE > 0.01"
    assert not {"AbaloneRegisterModel-RegisterModel", "AbaloneCreateModel-CreateModel", "AbaloneTransform"} & set(ran)
