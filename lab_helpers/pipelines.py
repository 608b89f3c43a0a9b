"""The lesson's pipelines, as builders the notebooks, the CLI and the tests share.

* :func:`abalone_pipeline` - AWS's abalone example, end to end: preprocess -> train ->
  evaluate -> condition (MSE <= threshold) -> register + create model + batch transform,
  else fail.
* :func:`outline_pipeline` - the lesson outline's Step 4 pipeline (Train -> CreateModel ->
  RegisterModel), corrected: nothing account-specific is hard-coded, and the end-of-life
  Elastic Inference ``accelerator_type`` is gone.

Both take a session from :func:`lab_helpers.session` and work unchanged in local and
remote mode.
"""

from .config import LAB_PREFIX
from .data import prepare_outline_data  # noqa: F401  (the lessons call it from here)
from .pipeline_spec import (ABALONE_GROUP, ABALONE_PIPELINE, HYPERPARAMETERS, OUTLINE_GROUP,  # noqa: F401
                            OUTLINE_HYPERPARAMETERS, OUTLINE_PIPELINE, SKLEARN_VERSION, STEPS_DIR, XGBOOST_VERSION,
                            step_script)


def abalone_pipeline(
    session,
    role=None,
    name=ABALONE_PIPELINE,
    model_package_group=ABALONE_GROUP,
    input_data=None,
    batch_data=None,
    mse_threshold=6.0,
    hyperparameters=None,
    cache_config=None,
):
    """Build the full abalone pipeline (not yet created in SageMaker: call ``upsert``).

    ``input_data``/``batch_data`` are the S3 URIs the parameters default to; by default the
    kit's copies uploaded by :func:`lab_helpers.data.upload_abalone`.  ``cache_config`` (a
    ``sagemaker.workflow.steps.CacheConfig``) is given to every cacheable step (processing,
    training, transform); by default none, which is the lesson's definition.  With SDK v3
    installed, the same pipeline is built with v3's classes (:mod:`lab_helpers.pipelines_v3`).
    """
    from . import sdk

    if sdk.is_v3():
        from . import pipelines_v3

        return pipelines_v3.abalone_pipeline(session, role=role, name=name, model_package_group=model_package_group,
                                             input_data=input_data, batch_data=batch_data,
                                             mse_threshold=mse_threshold, hyperparameters=hyperparameters,
                                             cache_config=cache_config)
    from sagemaker import image_uris
    from sagemaker.estimator import Estimator
    from sagemaker.inputs import TrainingInput
    from sagemaker.model import Model
    from sagemaker.model_metrics import MetricsSource, ModelMetrics
    from sagemaker.processing import ProcessingInput, ProcessingOutput, ScriptProcessor
    from sagemaker.sklearn.processing import SKLearnProcessor
    from sagemaker.transformer import Transformer
    from sagemaker.workflow.condition_step import ConditionStep
    from sagemaker.workflow.conditions import ConditionLessThanOrEqualTo
    from sagemaker.workflow.execution_variables import ExecutionVariables
    from sagemaker.workflow.fail_step import FailStep
    from sagemaker.workflow.functions import Join, JsonGet
    from sagemaker.workflow.model_step import ModelStep
    from sagemaker.workflow.parameters import ParameterFloat, ParameterInteger, ParameterString
    from sagemaker.workflow.pipeline import Pipeline
    from sagemaker.workflow.properties import PropertyFile
    from sagemaker.workflow.steps import ProcessingStep, TrainingStep, TransformStep

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

    # Parameters: values you can change per execution without editing the pipeline.
    processing_instance_count = ParameterInteger(name="ProcessingInstanceCount", default_value=1)
    training_instance_type = ParameterString(name="TrainingInstanceType", default_value="ml.m5.xlarge")
    model_approval_status = ParameterString(name="ModelApprovalStatus", default_value="PendingManualApproval")
    input_data_param = ParameterString(name="InputData", default_value=input_data)
    batch_data_param = ParameterString(name="BatchData", default_value=batch_data)
    mse_threshold_param = ParameterFloat(name="MseThreshold", default_value=float(mse_threshold))

    # 1. Preprocess: split and scale the raw data.
    sklearn_processor = SKLearnProcessor(
        framework_version=SKLEARN_VERSION,
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
            inputs=[ProcessingInput(source=input_data_param, destination="/opt/ml/processing/input")],
            outputs=[
                ProcessingOutput(output_name=split, source=f"/opt/ml/processing/{split}",
                                 destination=run_output("AbaloneProcess", split))
                for split in ("train", "validation", "test")
            ],
            code=step_script("preprocess.py"),
            arguments=["--random-state", "42"],
        ),
    )

    # 2. Train: the built-in XGBoost algorithm.
    image_uri = image_uris.retrieve(framework="xgboost", region=region, version=XGBOOST_VERSION,
                                    instance_type="ml.m5.xlarge")
    xgb_train = Estimator(
        image_uri=image_uri,
        instance_type=training_instance_type,
        instance_count=1,
        output_path=f"{base}/models",
        base_job_name="abalone-train",
        role=role,
        sagemaker_session=session,
    )
    xgb_train.set_hyperparameters(**(hyperparameters or HYPERPARAMETERS))
    outputs = step_process.properties.ProcessingOutputConfig.Outputs
    step_train = TrainingStep(
        name="AbaloneTrain",
        cache_config=cache_config,
        step_args=xgb_train.fit(inputs={
            "train": TrainingInput(s3_data=outputs["train"].S3Output.S3Uri, content_type="text/csv"),
            "validation": TrainingInput(s3_data=outputs["validation"].S3Output.S3Uri, content_type="text/csv"),
        }),
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
                ProcessingInput(source=step_train.properties.ModelArtifacts.S3ModelArtifacts,
                                destination="/opt/ml/processing/model"),
                ProcessingInput(source=outputs["test"].S3Output.S3Uri, destination="/opt/ml/processing/test"),
            ],
            outputs=[ProcessingOutput(output_name="evaluation", source="/opt/ml/processing/evaluation",
                                      destination=evaluation_uri)],
            code=step_script("evaluate.py"),
        ),
        property_files=[evaluation_report],
    )

    # 4. If the model is good enough: register it, create it, and batch-score new data.
    model = Model(
        image_uri=image_uri,
        model_data=step_train.properties.ModelArtifacts.S3ModelArtifacts,
        role=role,
        sagemaker_session=session,
    )
    model_metrics = ModelMetrics(model_statistics=MetricsSource(
        s3_uri=Join(on="/", values=[evaluation_uri, "evaluation.json"]), content_type="application/json"))
    step_register = ModelStep(
        name="AbaloneRegisterModel",
        step_args=model.register(
            content_types=["text/csv"],
            response_types=["text/csv"],
            inference_instances=["ml.t2.medium", "ml.m5.large"],
            transform_instances=["ml.m5.large"],
            model_package_group_name=model_package_group,
            approval_status=model_approval_status,
            model_metrics=model_metrics,
        ),
    )
    # No accelerator_type: Elastic Inference reached end of life (no new use since April 2023).
    step_create_model = ModelStep(name="AbaloneCreateModel", step_args=model.create(instance_type="ml.m5.large"))
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
    """The lesson outline's Step 4 pipeline: Train -> AbaloneCreateModel -> RegisterModel.

    The outline's code, corrected: the role, bucket and region come from the session (the
    outline typed an account id and a bucket by hand), the image is retrieved for the
    session's region, and ``model.create`` has no ``accelerator_type`` (Elastic Inference
    is end-of-life).  ``train_uri``/``validation_uri`` default to the kit's prepared splits
    (see :func:`prepare_outline_data`).  With SDK v3 installed, the same pipeline is built with v3's
    classes (:func:`lab_helpers.pipelines_v3.outline_pipeline`).
    """
    from . import sdk

    if sdk.is_v3():
        from . import pipelines_v3

        return pipelines_v3.outline_pipeline(session, role=role, name=name, model_package_group=model_package_group,
                                             train_uri=train_uri, validation_uri=validation_uri,
                                             approval_status=approval_status)
    from sagemaker import image_uris
    from sagemaker.estimator import Estimator
    from sagemaker.inputs import TrainingInput
    from sagemaker.model import Model
    from sagemaker.workflow.model_step import ModelStep
    from sagemaker.workflow.pipeline import Pipeline
    from sagemaker.workflow.step_collections import RegisterModel
    from sagemaker.workflow.steps import TrainingStep

    from .sessions import execution_role

    role = role or execution_role(session)
    s3_bucket = session.default_bucket()
    if train_uri is None or validation_uri is None:
        uris = prepare_outline_data(session)
        train_uri, validation_uri = train_uri or uris["train"], validation_uri or uris["validation"]
    xgb_image_uri = image_uris.retrieve(framework="xgboost", region=session.boto_region_name, version=XGBOOST_VERSION)
    model_path = f"s3://{s3_bucket}/{LAB_PREFIX}/pipeline-model/"

    xgb_train = Estimator(
        image_uri=xgb_image_uri,
        instance_type="ml.m5.xlarge",
        instance_count=1,
        output_path=model_path,
        role=role,
        sagemaker_session=session,
    )
    xgb_train.set_hyperparameters(**OUTLINE_HYPERPARAMETERS)
    step_train = TrainingStep(
        name="Train",
        step_args=xgb_train.fit(inputs={
            "train": TrainingInput(s3_data=train_uri, content_type="text/csv"),
            "validation": TrainingInput(s3_data=validation_uri, content_type="text/csv"),
        }),
    )
    model = Model(
        image_uri=xgb_image_uri,
        sagemaker_session=session,
        model_data=step_train.properties.ModelArtifacts.S3ModelArtifacts,
        role=role,
    )
    step_create_model = ModelStep(name="AbaloneCreateModel", step_args=model.create(instance_type="ml.m5.large"))
    step_register = RegisterModel(
        name="RegisterModel",
        estimator=xgb_train,
        model_data=step_train.properties.ModelArtifacts.S3ModelArtifacts,
        content_types=["text/csv"],
        response_types=["text/csv"],
        inference_instances=["ml.m5.xlarge"],
        transform_instances=["ml.m5.xlarge"],
        model_package_group_name=model_package_group,
        approval_status=approval_status,
    )
    return Pipeline(name=name, steps=[step_train, step_create_model, step_register], sagemaker_session=session)
