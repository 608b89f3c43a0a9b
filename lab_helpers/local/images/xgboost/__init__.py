"""The SageMaker built-in XGBoost algorithm (``sagemaker-xgboost`` images), emulated for local mode.

Local mode runs training jobs and batch transforms whose image is
``sagemaker-xgboost:<version>`` (1.0-1, 1.2-1, 1.2-2, 1.3-1, 1.5-1, 1.7-1) without Docker,
as plain Python functions in the job's process.  They honour the same contract as that
container in "algorithm mode" (no entry point script), as documented by AWS ("XGBoost
hyperparameters", "Common data formats for training / inference") and as the open-source
``aws/sagemaker-xgboost-container`` behaves.  The modules follow that container's cut:

===================  ===================================================================
``common``           AlgorithmError, the image versions, log lines, message helpers
``hyperparameters``  the per-version validation table, aliases, coercion of the strings
``data``             content types, channel checks, CSV/LIBSVM/Parquet readers, DMatrix
``metrics``          container-computed metrics (feval), maximize/minimize tables
``train``            a training job: config in, ``#011`` log lines, ``xgboost-model`` out
``serve``            model loading, content negotiation, predictions, batch transform
===================  ===================================================================

Each module says where it differs from the container, and why.  Across all of them: the
job runs on its image's own environment (:mod:`lab_helpers.local.jobs.imageenvs`), so the
1.0-1 image trains with xgboost 1.0 and the 1.7-1 image with 1.7 (or, on the kit's own
libraries, xgboost 1.7.x for every version, where that environment could not be built);
the code here therefore runs on xgboost 1.0 to 1.7.  The version also changes the
hyperparameter table, the metric lists and the early-stopping style.  Importing this package imports neither xgboost nor scipy; training and serving
import them when they run (the fork server preloads xgboost on its own).
"""

from .common import MODEL_FILENAME, SUPPORTED_VERSIONS, AlgorithmError
from .hyperparameters import validate_hyperparameters
from .serve import load_model, predict, transform_file
from .train import run_training

__all__ = ["AlgorithmError", "MODEL_FILENAME", "SUPPORTED_VERSIONS", "load_model", "predict", "run_training",
           "transform_file", "validate_hyperparameters"]
