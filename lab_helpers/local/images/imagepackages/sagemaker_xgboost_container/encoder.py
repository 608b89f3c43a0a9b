"""Stand-in for ``sagemaker_xgboost_container.encoder``: the decoders inference scripts call.

``csv_to_dmatrix``, ``libsvm_to_dmatrix`` and ``decode`` (a DMatrix from ``text/csv`` or
``text/libsvm``) are the kit's serving decoders (:mod:`lab_helpers.local.images.serving`); the
image's other encoders (RecordIO-protobuf, JSON lines) are not emulated.
"""

from lab_helpers.local.images.serving import UnsupportedFormatError, csv_to_dmatrix, libsvm_to_dmatrix
from lab_helpers.local.images.serving import xgboost_decode as decode

__all__ = ["UnsupportedFormatError", "csv_to_dmatrix", "decode", "libsvm_to_dmatrix"]
