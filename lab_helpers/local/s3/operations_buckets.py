"""The bucket operations: ListBuckets, CreateBucket, HeadBucket, DeleteBucket, GetBucketLocation."""

from __future__ import annotations

from ..wire.xml import child_text, sub
from .errors import S3Error
from .folder_store import FolderStore
from .names import validate_new_bucket_name
from .request import Request, decode_token, encode_token, int_param, parse_xml
from .response import OWNER_ID, OWNER_NAME, Result, iso, s3_xml, xml_result

__all__ = ["create_bucket", "delete_bucket", "get_bucket_location", "head_bucket", "list_buckets"]


def list_buckets(store: FolderStore, req: Request) -> Result:
    """ListBuckets: every bucket folder, filtered by prefix and paginated by continuation token."""
    names = store.bucket_names()
    prefix = req.query.get("prefix", "")
    names = [n for n in names if n.startswith(prefix)]
    token = req.query.get("continuation-token")
    if token:
        after = decode_token(token, "continuation token")
        names = [n for n in names if n > after]
    limit = int_param(req.query, "max-buckets", 10000, 1, 10000)
    page, truncated = names[:limit], len(names) > limit
    root = s3_xml("ListAllMyBucketsResult")
    owner = sub(root, "Owner")
    sub(owner, "ID", OWNER_ID)
    sub(owner, "DisplayName", OWNER_NAME)
    buckets = sub(root, "Buckets")
    for name in page:
        info = store.bucket_info(name, req.region)
        element = sub(buckets, "Bucket")
        sub(element, "Name", name)
        sub(element, "CreationDate", iso(info["created_ns"]))
        sub(element, "BucketRegion", info["region"])
    if truncated:
        sub(root, "ContinuationToken", encode_token(page[-1]))
    if "prefix" in req.query:
        sub(root, "Prefix", prefix)
    return xml_result(root)


def create_bucket(store: FolderStore, req: Request) -> Result:
    """CreateBucket: a new bucket folder, with AWS's LocationConstraint rules for the endpoint's region."""
    bucket = req.bucket
    validate_new_bucket_name(bucket)
    body = req.read_body()
    constraint = None
    if body.strip():
        constraint = child_text(parse_xml(body), "LocationConstraint") or None
    endpoint_region = req.region
    if constraint == "us-east-1":
        raise S3Error("InvalidLocationConstraint", "The specified location-constraint is not valid",
                      LocationConstraint=constraint)
    if endpoint_region != "us-east-1":
        region_of_constraint = "eu-west-1" if constraint == "EU" else constraint
        if region_of_constraint != endpoint_region:
            described = "unspecified" if constraint is None else constraint
            raise S3Error(
                "IllegalLocationConstraintException",
                f"The {described} location constraint is incompatible for the region specific endpoint "
                "this request was sent to.",
            )
    path = store.root / bucket
    if path.exists() and not path.is_dir():
        raise S3Error("BucketAlreadyExists",
                      "The requested bucket name is not available: a file with that name is in the local S3 root.",
                      409, BucketName=bucket)
    try:
        path.mkdir(parents=False, exist_ok=False)
    except FileExistsError:
        raise S3Error("BucketAlreadyOwnedByYou",
                      "Your previous request to create the named bucket succeeded and you already own it.",
                      409, BucketName=bucket) from None
    region = "eu-west-1" if constraint == "EU" else (constraint or "us-east-1")
    store.record_bucket(bucket, region, constraint)
    location = f"/{bucket}" if region == "us-east-1" else f"http://{bucket}.s3.amazonaws.com/"
    return 200, {"Location": location, "x-amz-bucket-arn": f"arn:aws:s3:::{bucket}"}, b""


def head_bucket(store: FolderStore, req: Request) -> Result:
    """HeadBucket: 200 with the bucket's region if it exists."""
    store.bucket_dir(req.bucket)
    info = store.bucket_info(req.bucket, req.region)
    return 200, {"x-amz-bucket-region": info["region"], "x-amz-access-point-alias": "false",
                 "x-amz-bucket-arn": f"arn:aws:s3:::{req.bucket}"}, b""


def delete_bucket(store: FolderStore, req: Request) -> Result:
    """DeleteBucket: remove the bucket folder if it holds no object (``BucketNotEmpty`` otherwise)."""
    bucket_dir = store.bucket_dir(req.bucket)
    if store.contains_object(bucket_dir):
        raise S3Error("BucketNotEmpty", "The bucket you tried to delete is not empty", 409, BucketName=req.bucket)
    store.remove_bucket(bucket_dir, req.bucket)
    return 204, {}, b""


def get_bucket_location(store: FolderStore, req: Request) -> Result:
    """GetBucketLocation: the bucket's LocationConstraint (empty for us-east-1)."""
    store.bucket_dir(req.bucket)
    info = store.bucket_info(req.bucket, req.region)
    root = s3_xml("LocationConstraint")
    constraint = info["constraint"]
    if constraint and constraint != "us-east-1":
        root.text = constraint
    return xml_result(root)
