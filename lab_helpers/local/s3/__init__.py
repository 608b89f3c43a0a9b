"""Amazon S3 emulated in-process on a plain folder (see :mod:`.service`)."""

from .service import LocalS3, S3Error

__all__ = ["LocalS3", "S3Error"]
