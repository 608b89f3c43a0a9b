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

from .data import prepare_outline_data  # noqa: F401  (the lessons call it from here)
from .pipeline_spec import (ABALONE_GROUP, ABALONE_PIPELINE, HYPERPARAMETERS, OUTLINE_GROUP,  # noqa: F401
                            OUTLINE_HYPERPARAMETERS, OUTLINE_PIPELINE, SKLEARN_VERSION, STEPS_DIR, XGBOOST_VERSION,
                            abalone_decision, abalone_evaluation, abalone_preprocessing, abalone_registration,
                            abalone_setup, outline_locations, registration_args, step_script)


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

    # The classes the steps alike in both SDKs are built with (lab_helpers.pipeline_spec), by name.
    classes = {cls.__name__: cls for cls in (
        ConditionLessThanOrEqualTo, ConditionStep, ExecutionVariables, FailStep, Join, JsonGet, MetricsSource,
        ModelMetrics, ParameterFloat, ParameterInteger, ParameterString, Pipeline, ProcessingStep, PropertyFile,
        ScriptProcessor, Transformer, TransformStep)}
    # v2's processing inputs and outputs are its own helper classes.
    classes["processing_input"] = lambda source, destination, name: ProcessingInput(
        source=source, destination=destination, input_name=name)
    classes["processing_output"] = lambda name, source, destination: ProcessingOutput(
        output_name=name, source=source, destination=destination)
    role, region, base, run_output, parameters = abalone_setup(classes, session, role, name, input_data, batch_data,
                                                               mse_threshold)

    # 1. Preprocess: split and scale the raw data.
    step_process = abalone_preprocessing(classes, SKLearnProcessor, dict(framework_version=SKLEARN_VERSION),
                                         session, role, parameters, run_output, cache_config)

    # 2. Train: the built-in XGBoost algorithm.
    image_uri = image_uris.retrieve(framework="xgboost", region=region, version=XGBOOST_VERSION,
                                    instance_type="ml.m5.xlarge")
    xgb_train = Estimator(
        image_uri=image_uri,
        instance_type=parameters["TrainingInstanceType"],
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
    step_eval, evaluation_report, evaluation_uri = abalone_evaluation(
        classes, session, role, image_uri, run_output, step_train.properties.ModelArtifacts.S3ModelArtifacts,
        outputs["test"].S3Output.S3Uri, cache_config)

    # 4. If the model is good enough: register it, create it, and batch-score new data.
    model = Model(
        image_uri=image_uri,
        model_data=step_train.properties.ModelArtifacts.S3ModelArtifacts,
        role=role,
        sagemaker_session=session,
    )
    step_register = ModelStep(
        name="AbaloneRegisterModel",
        step_args=model.register(**abalone_registration(classes, evaluation_uri, model_package_group,
                                                        parameters["ModelApprovalStatus"])),
    )
    # No accelerator_type: Elastic Inference reached end of life (no new use since April 2023).
    step_create_model = ModelStep(name="AbaloneCreateModel", step_args=model.create(instance_type="ml.m5.large"))
    return abalone_decision(classes, session, name, parameters, [step_process, step_train, step_eval],
                            evaluation_report, step_register, step_create_model, run_output("AbaloneTransform"),
                            cache_config)


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

    role, train_uri, validation_uri, model_path = outline_locations(session, role, train_uri, validation_uri)
    xgb_image_uri = image_uris.retrieve(framework="xgboost", region=session.boto_region_name, version=XGBOOST_VERSION)

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
        **registration_args(model_package_group, approval_status, ["ml.m5.xlarge"], ["ml.m5.xlarge"]),
    )
    return Pipeline(name=name, steps=[step_train, step_create_model, step_register], sagemaker_session=session)
