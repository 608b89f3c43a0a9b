"""The lesson's pipelines written with SageMaker Python SDK v3 (sagemaker-core, -train, -serve, -mlops).

:func:`lab_helpers.pipelines.abalone_pipeline` and :func:`~lab_helpers.pipelines.outline_pipeline` call their
namesakes here when SDK v3 is installed.
Same steps, names, parameters and references as the v2 builders; the v3 classes that replace v2's:
``ModelTrainer`` for ``Estimator``, ``ScriptProcessor`` with an image from ``image_uris`` for
``SKLearnProcessor``, ``ModelBuilder(...).register()`` / ``.build()`` for ``Model.register()`` /
``Model.create()`` and for the ``RegisterModel`` step collection, API shapes (``ProcessingInput`` + ``ProcessingS3Input``) for v2's input helpers.
How the two definitions differ is listed in :data:`lab_helpers.sdk.V3_DEFINITION_DIFFERENCES`.
"""

from .config import LAB_PREFIX
from .pipeline_spec import (ABALONE_GROUP, ABALONE_PIPELINE, HYPERPARAMETERS, OUTLINE_GROUP, OUTLINE_HYPERPARAMETERS,
                            OUTLINE_PIPELINE, SKLEARN_VERSION, XGBOOST_VERSION, step_script)


def _processing_input(source, destination, name):
    """A processing input from S3 (v2's ``ProcessingInput(source=, destination=)``, as v3's API shape)."""
    from sagemaker.core.shapes import ProcessingInput, ProcessingS3Input

    return ProcessingInput(input_name=name, s3_input=ProcessingS3Input(
        s3_uri=source, local_path=destination, s3_data_type="S3Prefix", s3_input_mode="File",
        s3_data_distribution_type="FullyReplicated"), app_managed=False)


def _processing_output(name, source, destination):
    """A processing output to S3 (v2's ``ProcessingOutput``, as v3's API shape)."""
    from sagemaker.core.shapes import ProcessingOutput, ProcessingS3Output

    return ProcessingOutput(output_name=name, s3_output=ProcessingS3Output(
        s3_uri=destination, local_path=source, s3_upload_mode="EndOfJob"), app_managed=False)


def abalone_pipeline(session, role=None, name=ABALONE_PIPELINE, model_package_group=ABALONE_GROUP,
                     input_data=None, batch_data=None, mse_threshold=6.0, hyperparameters=None,
                     cache_config=None):
    """Build the full abalone pipeline with SDK v3 (see :func:`lab_helpers.pipelines.abalone_pipeline`)."""
    from sagemaker.core import image_uris
    from sagemaker.core.model_metrics import MetricsSource, ModelMetrics
    from sagemaker.core.processing import ScriptProcessor
    from sagemaker.core.training.configs import Compute, InputData, OutputDataConfig
    from sagemaker.core.transformer import Transformer
    from sagemaker.core.workflow.conditions import ConditionLessThanOrEqualTo
    from sagemaker.core.workflow.execution_variables import ExecutionVariables
    from sagemaker.core.workflow.functions import Join, JsonGet
    from sagemaker.core.workflow.parameters import ParameterFloat, ParameterInteger, ParameterString
    from sagemaker.core.workflow.properties import PropertyFile
    from sagemaker.mlops.workflow.condition_step import ConditionStep
    from sagemaker.mlops.workflow.fail_step import FailStep
    from sagemaker.mlops.workflow.model_step import ModelStep
    from sagemaker.mlops.workflow.pipeline import Pipeline
    from sagemaker.mlops.workflow.steps import ProcessingStep, TrainingStep, TransformStep
    from sagemaker.serve.model_builder import ModelBuilder
    from sagemaker.train.model_trainer import ModelTrainer

    from . import data
    from .sessions import execution_role

    role = role or execution_role(session)
    region = session.boto_region_name
    bucket = session.default_bucket()
    if input_data is None or batch_data is None:
        uris = data.upload_abalone(session)
        input_data = input_data or uris["input"]
        batch_data = batch_data or uris["batch"]
    base = f"s3://{bucket}/{LAB_PREFIX}/{name}"

    def run_output(*parts):
        return Join(on="/", values=[base, ExecutionVariables.PIPELINE_EXECUTION_ID, *parts])

    processing_instance_count = ParameterInteger(name="ProcessingInstanceCount", default_value=1)
    training_instance_type = ParameterString(name="TrainingInstanceType", default_value="ml.m5.xlarge")
    model_approval_status = ParameterString(name="ModelApprovalStatus", default_value="PendingManualApproval")
    input_data_param = ParameterString(name="InputData", default_value=input_data)
    batch_data_param = ParameterString(name="BatchData", default_value=batch_data)
    mse_threshold_param = ParameterFloat(name="MseThreshold", default_value=float(mse_threshold))

    # 1. Preprocess: v3 has no SKLearnProcessor; a ScriptProcessor runs the scikit-learn image.
    sklearn_image = image_uris.retrieve(framework="sklearn", region=region, version=SKLEARN_VERSION,
                                        instance_type="ml.m5.xlarge")
    sklearn_processor = ScriptProcessor(
        image_uri=sklearn_image,
        command=["python3"],
        instance_type="ml.m5.xlarge",
        instance_count=processing_instance_count,
        base_job_name="abalone-process",
        role=role,
        sagemaker_session=session,
    )
    step_process = ProcessingStep(
        name="AbaloneProcess",
        cache_config=cache_config,
        step_args=sklearn_processor.run(
            inputs=[_processing_input(input_data_param, "/opt/ml/processing/input", "input-1")],
            outputs=[_processing_output(split, f"/opt/ml/processing/{split}", run_output("AbaloneProcess", split))
                     for split in ("train", "validation", "test")],
            code=step_script("preprocess.py"),
            arguments=["--random-state", "42"],
        ),
    )

    # 2. Train: the built-in XGBoost algorithm, with ModelTrainer.
    image_uri = image_uris.retrieve(framework="xgboost", region=region, version=XGBOOST_VERSION,
                                    instance_type="ml.m5.xlarge")
    xgb_train = ModelTrainer(
        training_image=image_uri,
        compute=Compute(instance_type=training_instance_type, instance_count=1),
        output_data_config=OutputDataConfig(s3_output_path=f"{base}/models"),
        base_job_name="abalone-train",
        hyperparameters=dict(hyperparameters or HYPERPARAMETERS),
        role=role,
        sagemaker_session=session,
    )
    outputs = step_process.properties.ProcessingOutputConfig.Outputs
    step_train = TrainingStep(
        name="AbaloneTrain",
        cache_config=cache_config,
        step_args=xgb_train.train(input_data_config=[
            InputData(channel_name=split, data_source=outputs[split].S3Output.S3Uri, content_type="text/csv")
            for split in ("train", "validation")
        ]),
    )

    # 3. Evaluate on the test split; the report becomes a property file the condition reads.
    script_eval = ScriptProcessor(
        image_uri=image_uri,
        command=["python3"],
        instance_type="ml.m5.xlarge",
        instance_count=1,
        base_job_name="abalone-eval",
        role=role,
        sagemaker_session=session,
    )
    evaluation_report = PropertyFile(name="EvaluationReport", output_name="evaluation", path="evaluation.json")
    evaluation_uri = run_output("AbaloneEval", "evaluation")
    step_eval = ProcessingStep(
        name="AbaloneEval",
        cache_config=cache_config,
        step_args=script_eval.run(
            inputs=[
                _processing_input(step_train.properties.ModelArtifacts.S3ModelArtifacts,
                                  "/opt/ml/processing/model", "input-1"),
                _processing_input(outputs["test"].S3Output.S3Uri, "/opt/ml/processing/test", "input-2"),
            ],
            outputs=[_processing_output("evaluation", "/opt/ml/processing/evaluation", evaluation_uri)],
            code=step_script("evaluate.py"),
        ),
        property_files=[evaluation_report],
    )

    # 4. If the model is good enough: register it, create it, and batch-score new data.
    def model_builder():
        return ModelBuilder(image_uri=image_uri, s3_model_data_url=step_train.properties.ModelArtifacts.S3ModelArtifacts,
                            role_arn=role, sagemaker_session=session)

    model_metrics = ModelMetrics(model_statistics=MetricsSource(
        s3_uri=Join(on="/", values=[evaluation_uri, "evaluation.json"]), content_type="application/json"))
    step_register = ModelStep(
        name="AbaloneRegisterModel",
        step_args=model_builder().register(
            content_types=["text/csv"],
            response_types=["text/csv"],
            inference_instances=["ml.t2.medium", "ml.m5.large"],
            transform_instances=["ml.m5.large"],
            model_package_group_name=model_package_group,
            approval_status=model_approval_status,
            model_metrics=model_metrics,
        ),
    )
    step_create_model = ModelStep(name="AbaloneCreateModel", step_args=model_builder().build())
    transformer = Transformer(
        model_name=step_create_model.properties.ModelName,
        instance_type="ml.m5.xlarge",
        instance_count=1,
        output_path=run_output("AbaloneTransform"),
        sagemaker_session=session,
    )
    step_transform = TransformStep(
        name="AbaloneTransform",
        cache_config=cache_config,
        step_args=transformer.transform(data=batch_data_param, content_type="text/csv", split_type="Line"),
    )
    mse = JsonGet(step_name=step_eval.name, property_file=evaluation_report, json_path="regression_metrics.mse.value")
    step_fail = FailStep(
        name="AbaloneMSEFail",
        error_message=Join(on=" ", values=["Execution failed: the test MSE", mse,
                                           "is above the threshold MseThreshold =", mse_threshold_param]),
    )
    step_cond = ConditionStep(
        name="AbaloneMSECond",
        conditions=[ConditionLessThanOrEqualTo(left=mse, right=mse_threshold_param)],
        if_steps=[step_register, step_create_model, step_transform],
        else_steps=[step_fail],
    )
    return Pipeline(
        name=name,
        parameters=[processing_instance_count, training_instance_type, model_approval_status,
                    input_data_param, batch_data_param, mse_threshold_param],
        steps=[step_process, step_train, step_eval, step_cond],
        sagemaker_session=session,
    )


def outline_pipeline(session, role=None, name=OUTLINE_PIPELINE, model_package_group=OUTLINE_GROUP,
                     train_uri=None, validation_uri=None, approval_status="Approved"):
    """Build the outline's Step 4 pipeline with SDK v3 (see :func:`lab_helpers.pipelines.outline_pipeline`).

    v3 has no ``RegisterModel`` step collection: the registration is a ``ModelStep`` named ``RegisterModel``
    whose arguments come from ``ModelBuilder(...).register()``, as for the abalone pipeline.
    """
    from sagemaker.core import image_uris
    from sagemaker.core.training.configs import Compute, InputData, OutputDataConfig
    from sagemaker.mlops.workflow.model_step import ModelStep
    from sagemaker.mlops.workflow.pipeline import Pipeline
    from sagemaker.mlops.workflow.steps import TrainingStep
    from sagemaker.serve.model_builder import ModelBuilder
    from sagemaker.train.model_trainer import ModelTrainer

    from .data import prepare_outline_data
    from .sessions import execution_role

    role = role or execution_role(session)
    s3_bucket = session.default_bucket()
    if train_uri is None or validation_uri is None:
        uris = prepare_outline_data(session)
        train_uri, validation_uri = train_uri or uris["train"], validation_uri or uris["validation"]
    xgb_image_uri = image_uris.retrieve(framework="xgboost", region=session.boto_region_name, version=XGBOOST_VERSION)
    model_path = f"s3://{s3_bucket}/{LAB_PREFIX}/pipeline-model/"

    xgb_train = ModelTrainer(
        training_image=xgb_image_uri,
        compute=Compute(instance_type="ml.m5.xlarge", instance_count=1),
        output_data_config=OutputDataConfig(s3_output_path=model_path),
        hyperparameters=dict(OUTLINE_HYPERPARAMETERS),
        role=role,
        sagemaker_session=session,
    )
    step_train = TrainingStep(
        name="Train",
        step_args=xgb_train.train(input_data_config=[
            InputData(channel_name="train", data_source=train_uri, content_type="text/csv"),
            InputData(channel_name="validation", data_source=validation_uri, content_type="text/csv"),
        ]),
    )

    def model_builder():
        return ModelBuilder(image_uri=xgb_image_uri, s3_model_data_url=step_train.properties.ModelArtifacts.S3ModelArtifacts,
                            role_arn=role, sagemaker_session=session)

    step_create_model = ModelStep(name="AbaloneCreateModel", step_args=model_builder().build())
    step_register = ModelStep(
        name="RegisterModel",
        step_args=model_builder().register(
            content_types=["text/csv"],
            response_types=["text/csv"],
            inference_instances=["ml.m5.xlarge"],
            transform_instances=["ml.m5.xlarge"],
            model_package_group_name=model_package_group,
            approval_status=approval_status,
        ),
    )
    return Pipeline(name=name, steps=[step_train, step_create_model, step_register], sagemaker_session=session)
