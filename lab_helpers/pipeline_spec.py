"""What the lesson's pipelines are made of, whichever SDK builds them: names, image versions, hyperparameters, scripts."""

from pathlib import Path

STEPS_DIR = Path(__file__).resolve().parent / "steps"
XGBOOST_VERSION = "1.7-1"
SKLEARN_VERSION = "1.2-1"
ABALONE_PIPELINE = "AbalonePipeline"
ABALONE_GROUP = "AbaloneModelPackageGroup"
OUTLINE_PIPELINE = "LessonOutlinePipeline"
OUTLINE_GROUP = "PipelineModelPackageGroup"

#: AWS's abalone example's hyperparameters (with the current objective name: reg:linear is deprecated)
HYPERPARAMETERS = {
    "objective": "reg:squarederror",
    "num_round": 50,
    "max_depth": 5,
    "eta": 0.2,
    "gamma": 4,
    "min_child_weight": 6,
    "subsample": 0.7,
}

#: The lesson outline's Step 4 hyperparameters
OUTLINE_HYPERPARAMETERS = {"objective": "reg:squarederror", "num_round": 50, "max_depth": 5, "eta": 0.2, "subsample": 0.7}


def step_script(name):
    """Path of a step script shipped in ``lab_helpers/steps`` (e.g. ``"preprocess.py"``)."""
    path = STEPS_DIR / name
    if not path.is_file():
        raise FileNotFoundError(f"No step script {name} in {STEPS_DIR}.")
    return str(path)
