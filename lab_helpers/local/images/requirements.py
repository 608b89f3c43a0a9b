"""The main Python libraries each emulated image ships, as its container's build publishes them.

Sources (read, not copied): the ``requirements.txt`` and ``docker/<version>/base/Dockerfile.cpu``
files of github.com/aws/sagemaker-scikit-learn-container and github.com/aws/sagemaker-xgboost-container
(the framework's own version is pinned in the base Dockerfile, the others in requirements.txt).
Only the libraries job scripts import and whose behaviour differs between versions are listed:
everything else a job imports comes from the kit's environment (see :mod:`..jobs.imageenvs`).

The images run Python 3.7 to 3.9; the kit's host Python may be newer, where some of these exact
versions have no wheel.  The environment then gets the nearest later version that installs, and the
job's log says so.
"""

#: (repository, version) -> {distribution: version the image ships}
IMAGE_LIBRARIES = {
    ("sagemaker-scikit-learn", "0.23-1"): {
        "scikit-learn": "0.23.2", "numpy": "1.19.4", "pandas": "1.1.3", "scipy": "1.5.3"},
    ("sagemaker-scikit-learn", "1.0-1"): {
        "scikit-learn": "1.0.2", "numpy": "1.19.5", "pandas": "1.1.3", "scipy": "1.5.3"},
    ("sagemaker-scikit-learn", "1.2-1"): {
        "scikit-learn": "1.2.1", "numpy": "1.24.1", "pandas": "1.1.3", "scipy": "1.8.0"},
    ("sagemaker-xgboost", "1.0-1"): {
        "xgboost": "1.0.0", "numpy": "1.19.2", "pandas": "1.2.4", "scikit-learn": "0.24.1", "scipy": "1.6.2"},
    ("sagemaker-xgboost", "1.2-1"): {
        "xgboost": "1.2.0", "numpy": "1.19.2", "pandas": "1.2.4", "scikit-learn": "0.24.1", "scipy": "1.6.2"},
    ("sagemaker-xgboost", "1.2-2"): {
        "xgboost": "1.2.1", "numpy": "1.19.2", "pandas": "1.2.4", "scikit-learn": "0.24.1", "scipy": "1.6.2"},
    ("sagemaker-xgboost", "1.3-1"): {
        "xgboost": "1.3.3", "numpy": "1.19.2", "pandas": "1.2.4", "scikit-learn": "0.24.1", "scipy": "1.6.2"},
    ("sagemaker-xgboost", "1.5-1"): {
        "xgboost": "1.5.2", "numpy": "1.19.2", "pandas": "1.2.4", "scikit-learn": "0.24.1", "scipy": "1.6.2"},
    ("sagemaker-xgboost", "1.7-1"): {
        "xgboost": "1.7.4", "numpy": "1.19.2", "pandas": "1.2.4", "scikit-learn": "0.24.1", "scipy": "1.6.2"},
}

#: the images the lesson's pipeline runs (``lab_helpers.pipelines``): ``kit.py setup`` builds these ahead
LESSON_IMAGES = (("sagemaker-scikit-learn", "1.2-1"), ("sagemaker-xgboost", "1.7-1"))


def libraries(repo, version):
    """{distribution: version} the image ships, or None for an image without a table."""
    table = IMAGE_LIBRARIES.get((repo, version))
    return dict(table) if table else None
