"""The abalone data: where it is on disk, and putting it where the pipeline reads it.

The kit ships the UCI Abalone data set in ``data/abalone.csv`` (see ``data/README.md`` for
its source, licence and checksum).  :func:`upload_abalone` puts it - and the batch-transform
input derived from it - under ``s3://<default bucket>/pipelines-lab/data/``: in remote mode
that is your account's S3, in local mode the local twin folder ``LAB_HOME/s3/<bucket>/...``.
"""

import io
import os
from pathlib import Path

from .config import LAB_PREFIX
from .shapes import split_s3_uri

COLUMNS = ["sex", "length", "diameter", "height", "whole_weight", "shucked_weight",
           "viscera_weight", "shell_weight", "rings"]


def abalone_csv() -> Path:
    """Path of the kit's copy of the abalone data (``LAB_DATA_DIR`` overrides the folder)."""
    folder = Path(os.environ.get("LAB_DATA_DIR") or Path(__file__).resolve().parents[1] / "data")
    path = folder / "abalone.csv"
    if not path.is_file():
        raise FileNotFoundError(
            f"The abalone data is not at {path}. Run from a clone of the kit (its data/ folder has it), "
            "or set LAB_DATA_DIR to the folder holding abalone.csv."
        )
    return path


def load_abalone():
    """The data set as a pandas DataFrame with named columns."""
    import pandas as pd

    return pd.read_csv(abalone_csv(), header=None, names=COLUMNS)


def batch_features(random_state=42) -> bytes:
    """The batch-transform input: the test split's features (no label), as the model expects them."""
    from .steps import preprocess

    df = preprocess.load_abalone(str(abalone_csv()))
    _, _, test = preprocess.preprocess(df, random_state=random_state)
    buffer = io.StringIO()
    test.iloc[:, 1:].to_csv(buffer, header=False, index=False)
    return buffer.getvalue().encode()


def data_uris(sess):
    """S3 URIs of the data set (``input``) and of the batch-transform input (``batch``) in the default bucket."""
    bucket = sess.default_bucket()
    base = f"s3://{bucket}/{LAB_PREFIX}/data"
    return {"input": f"{base}/abalone.csv", "batch": f"{base}/batch/abalone-batch.csv"}


def upload_abalone(sess, overwrite=False):
    """Upload the data set and the batch input (once); returns their S3 URIs.

    Idempotent: objects already there are left alone unless ``overwrite=True``.
    """
    uris = data_uris(sess)
    s3 = sess.boto_session.client("s3", region_name=sess.boto_region_name)
    bodies = {"input": abalone_csv().read_bytes, "batch": batch_features}
    for name, uri in uris.items():
        bucket, key = split_s3_uri(uri)
        if not overwrite and _exists(s3, bucket, key):
            continue
        s3.put_object(Bucket=bucket, Key=key, Body=bodies[name](), ContentType="text/csv")
    return uris


def _exists(s3, bucket, key):
    from botocore.exceptions import ClientError

    try:
        s3.head_object(Bucket=bucket, Key=key)
        return True
    except ClientError as exc:
        if exc.response["Error"]["Code"] in ("404", "NoSuchKey", "NotFound"):
            return False
        raise


def prepare_outline_data(session, overwrite=False):
    """The outline's ``pipeline-dataset/train.csv`` and ``validate.csv``: the preprocessed abalone splits.

    The outline assumes "a preprocessed dataset stored in Amazon S3"; the kit makes it with
    the same preprocessing script the full pipeline runs (seeded, so it is the same data
    every time) and uploads it once.  Returns ``{"train": uri, "validation": uri}``.
    """
    bucket = session.default_bucket()
    s3 = session.boto_session.client("s3", region_name=session.boto_region_name)
    keys = {"train": f"{LAB_PREFIX}/pipeline-dataset/train.csv",
            "validation": f"{LAB_PREFIX}/pipeline-dataset/validate.csv"}
    missing = [k for k, key in keys.items() if overwrite or not _exists(s3, bucket, key)]
    if missing:
        from .steps import preprocess  # scikit-learn: imported only when the splits must be made

        frame = preprocess.load_abalone(str(abalone_csv()))
        train, validation, _ = preprocess.preprocess(frame, random_state=42)
        for split, table in (("train", train), ("validation", validation)):
            if split in missing:
                buffer = io.StringIO()
                table.to_csv(buffer, header=False, index=False)
                s3.put_object(Bucket=bucket, Key=keys[split], Body=buffer.getvalue().encode(), ContentType="text/csv")
    return {k: f"s3://{bucket}/{key}" for k, key in keys.items()}
