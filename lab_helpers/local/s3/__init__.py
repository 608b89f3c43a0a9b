"""Amazon S3 emulated in-process, backed by a plain folder.

``s3://bucket/key`` is the file ``<root>/bucket/key``: the object's bytes are exactly that file,
so a learner can open, edit or drop in files with any tool and the S3 APIs see them.

How it is wired: botocore emits ``before-send.s3.<Operation>`` just before it would open a
connection; a handler that returns an :class:`~botocore.awsrequest.AWSResponse` makes botocore
skip the HTTP send and parse that response with its normal parsers (``endpoint.py``,
``Endpoint._do_get_response``). So real boto3 clients, resources and s3transfer work unchanged.
The kit's :class:`~lab_helpers.local.wire.Router` reads the operation from the event name and
calls ``handle(request, operation)``; without the Router::

    s3 = LocalS3(root)
    session.events.register(
        "before-send.s3", lambda request, event_name, **kw: s3.handle(request, event_name.split(".")[2]))

The request is served like a server would: the bucket and key come from the URL (path-style
``https://s3.<region>.amazonaws.com/bucket/key`` or virtual-hosted
``https://bucket.s3.<region>.amazonaws.com/key``), the operation is the one botocore named, and
bodies are decoded as sent on the wire, including ``aws-chunked`` bodies with checksum trailers
(botocore's default since 1.36).

On disk::

    <root>/<bucket>/<key>                  the object's bytes (keys with '/' are folders)
    <root>/.s3meta/objects/<bucket>/<key>  JSON sidecar: content type, user metadata, ETag, checksum
    <root>/.s3meta/buckets/<bucket>.json   bucket region and creation date
    <root>/.s3meta/uploads/<upload-id>/    parts of multipart uploads in progress

A sidecar is trusted only while the file's size and mtime are the ones the emulator wrote; a file
without one (dropped in by hand) or changed since is still an object: ETag = MD5 of its content,
Last-Modified = file mtime, Content-Type ``application/octet-stream``, no user metadata.
Writes go to a temporary file in the target folder, then ``os.replace``: readers never see a
half-written object.

Where local mode differs from AWS (all deliberate, see also the tests in tests/test_local_s3.py):

* One owner, no authentication or ACLs; signatures are not checked. Any region works; the
  region only matters for CreateBucket's LocationConstraint check and GetBucketLocation.
* Keys must be valid relative file paths: no leading '/', no empty, '.' or '..' segments,
  segments up to 255 bytes, and a key cannot be both an object and a folder ('a' and 'a/b').
  Such keys get an ``InvalidArgument`` error naming the key. A key ending in '/' is a folder:
  PUT with an empty body creates it (HEAD/GET then answer with an empty object), but folders are
  not listed as objects - only files are. Deleting the last object in a folder removes the folder.
* On case-insensitive file systems (macOS, Windows) keys differing only in case collide.
* Listings skip editor/OS noise (``.ipynb_checkpoints`` folders, ``.DS_Store``) and temporary files.
* No versioning, tagging, ACLs, policies, lifecycle, SSE-C/KMS, presigned-URL serving, object
  lock, select or restore: such operations answer HTTP 501 ``NotImplemented`` naming the operation.
* Checksums: CRC32, SHA1, SHA256, SHA512 and MD5 are verified; CRC32C/CRC64NVME only when
  ``awscrt`` is installed (otherwise stored as sent). No default CRC64NVME is added to objects
  uploaded without a checksum.

The modules, each importing only those listed below it::

    service             LocalS3: handle(), the operation table, the Python-level helpers
    multipart           CreateMultipartUpload ... CompleteMultipartUpload, AbortMultipartUpload
    operations_objects  PutObject, GetObject, HeadObject, DeleteObject(s), CopyObject
    operations_listing  ListObjects, ListObjectsV2
    operations_buckets  ListBuckets, CreateBucket, HeadBucket, DeleteBucket, GetBucketLocation
    conditions          If-Match / If-None-Match / If-(Un)Modified-Since
    response            AWSResponses for results and errors; S3's date and ETag formats
    request             bucket/key/region from a prepared request; query parameters; XML bodies
    folder_store        files, sidecars, atomic writes, the listing walk
    bodies              aws-chunked decoding; the checks on uploaded bytes
    names checksums     which keys and bucket names work; checksum algorithms, Content-MD5
    errors              S3Error
"""

from .errors import S3Error
from .service import LocalS3

__all__ = ["LocalS3", "S3Error"]
