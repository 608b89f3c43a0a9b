"""Local S3 emulation: real boto3 clients/resources/s3transfer against a folder, no network."""

import base64
import hashlib
import os
import zlib
from pathlib import Path

import boto3
import botocore.loaders
import botocore.session
import pytest
from conftest import refuse_network
from boto3.s3.transfer import TransferConfig
from botocore.awsrequest import AWSPreparedRequest
from botocore.config import Config
from botocore.exceptions import ClientError

from lab_helpers.local.s3 import LocalS3
from lab_helpers.local.sts import handle as sts_handle
from lab_helpers.local.wire import Router

ACCOUNT = "123456789012"
REGION = "eu-west-1"
MiB = 1024 * 1024


# ----------------------------------------------------------------------------- fixtures


@pytest.fixture(autouse=True)
def isolated_aws_env(monkeypatch, tmp_path):
    """No profile, endpoint override or config file from the machine running the tests."""
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Every test fails if anything tries to resolve a host name or open a connection."""
    attempts = refuse_network(monkeypatch)
    yield attempts
    assert attempts == [], f"a network connection was attempted: {attempts}"


@pytest.fixture
def s3(tmp_path):
    return LocalS3(tmp_path / "s3")


@pytest.fixture
def sent(s3):
    """Prepared requests botocore handed to the emulator (to check URLs and headers)."""
    return []


@pytest.fixture(scope="module")
def data_loader():
    """botocore's model loader, shared so each test's fresh session does not re-read the JSON models."""
    return botocore.loaders.create_loader()


def serve_s3(s3, sent):
    """A ``before-send.s3`` handler: ``s3`` answers the operation named by the event, ``sent`` records the request."""

    def serve(request, event_name, **kwargs):
        sent.append(request)
        return s3.handle(request, event_name.split(".")[2])

    return serve


def new_session(data_loader, region=REGION):
    core = botocore.session.Session()
    core.register_component("data_loader", data_loader)
    return boto3.Session(aws_access_key_id="local", aws_secret_access_key="local", region_name=region,
                         botocore_session=core)


@pytest.fixture
def session(s3, sent, data_loader):
    # The kit's wiring (LocalCloud.boto_session): a Router on before-send answers S3 and STS.
    session = new_session(data_loader)
    router = Router()
    router.add("s3", lambda request, operation: (sent.append(request), s3.handle(request, operation))[1])
    router.add("sts", lambda request, operation: sts_handle(request, ACCOUNT))
    session.events.register("before-send", router)
    return session


@pytest.fixture(params=["path", "virtual"])
def client(request, session):
    return session.client("s3", config=Config(s3={"addressing_style": request.param}))


@pytest.fixture
def bucket(client):
    client.create_bucket(Bucket="lab-bucket", CreateBucketConfiguration={"LocationConstraint": REGION})
    return "lab-bucket"


def error_code(excinfo):
    return excinfo.value.response["Error"]["Code"]


def crc32_b64(data):
    return base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()


def no_temp_files(root):
    return [p for p in Path(root).rglob("*") if p.name.startswith(".s3tmp-")]


# ----------------------------------------------------------------------------- wiring


def test_network_guard_really_blocks_unwired_clients(no_network):
    """The guard used by every test catches a client that is not wired to the emulator."""
    plain = boto3.Session(aws_access_key_id="x", aws_secret_access_key="x", region_name=REGION)
    client = plain.client("s3", config=Config(retries={"max_attempts": 1, "mode": "standard"}))
    with pytest.raises(Exception):
        client.list_buckets()
    assert no_network, "the socket guard did not see the connection attempt"
    no_network.clear()


@pytest.mark.parametrize("style", ["path", "virtual"])
@pytest.mark.parametrize("region", ["eu-west-1", "us-east-1", "ap-southeast-2"])
def test_addressing_styles_and_regions(s3, sent, data_loader, style, region):
    session = new_session(data_loader, region)
    session.events.register("before-send.s3", serve_s3(s3, sent))
    client = session.client("s3", config=Config(s3={"addressing_style": style}))
    kwargs = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
    client.create_bucket(Bucket="styled-bucket", **kwargs)
    client.put_object(Bucket="styled-bucket", Key="dir/file.txt", Body=b"abc")
    assert client.get_object(Bucket="styled-bucket", Key="dir/file.txt")["Body"].read() == b"abc"
    assert (s3.root / "styled-bucket" / "dir" / "file.txt").read_bytes() == b"abc"
    put_url = next(r.url for r in sent if r.method == "PUT" and "file.txt" in r.url)
    if style == "virtual":
        assert put_url.startswith("https://styled-bucket.s3."), put_url
    else:
        assert "/styled-bucket/dir/file.txt" in put_url and not put_url.startswith("https://styled-bucket."), put_url
    location = client.get_bucket_location(Bucket="styled-bucket")["LocationConstraint"]
    assert location == (None if region == "us-east-1" else region)


# ----------------------------------------------------------------------------- buckets


def test_bucket_create_head_list_delete(client, s3):
    assert client.list_buckets()["Buckets"] == []
    client.create_bucket(Bucket="alpha-bucket", CreateBucketConfiguration={"LocationConstraint": REGION})
    client.create_bucket(Bucket="beta-bucket", CreateBucketConfiguration={"LocationConstraint": REGION})
    assert (s3.root / "alpha-bucket").is_dir()
    head = client.head_bucket(Bucket="alpha-bucket")
    assert head["BucketRegion"] == REGION
    listed = client.list_buckets()["Buckets"]
    assert [b["Name"] for b in listed] == ["alpha-bucket", "beta-bucket"]
    assert all(b["BucketRegion"] == REGION and b["CreationDate"] for b in listed)

    with pytest.raises(ClientError) as exc:
        client.create_bucket(Bucket="alpha-bucket", CreateBucketConfiguration={"LocationConstraint": REGION})
    assert error_code(exc) == "BucketAlreadyOwnedByYou"
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409

    client.put_object(Bucket="alpha-bucket", Key="x", Body=b"1")
    with pytest.raises(ClientError) as exc:
        client.delete_bucket(Bucket="alpha-bucket")
    assert error_code(exc) == "BucketNotEmpty"
    client.delete_object(Bucket="alpha-bucket", Key="x")
    client.delete_bucket(Bucket="alpha-bucket")
    assert not (s3.root / "alpha-bucket").exists()
    with pytest.raises(ClientError) as exc:
        client.head_bucket(Bucket="alpha-bucket")
    assert error_code(exc) == "404"


def test_create_bucket_location_rules(client):
    with pytest.raises(ClientError) as exc:
        client.create_bucket(Bucket="no-location")  # eu-west-1 client without LocationConstraint
    assert error_code(exc) == "IllegalLocationConstraintException"
    with pytest.raises(ClientError) as exc:
        client.create_bucket(Bucket="wrong-location", CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
    assert error_code(exc) == "IllegalLocationConstraintException"
    with pytest.raises(ClientError) as exc:
        client.create_bucket(Bucket="Bad_Name", CreateBucketConfiguration={"LocationConstraint": REGION})
    assert error_code(exc) == "InvalidBucketName"


def test_folder_made_by_hand_is_a_bucket(client, s3):
    (s3.root / "hand-made").mkdir()
    (s3.root / "hand-made" / "data.csv").write_bytes(b"a,b\n1,2\n")
    assert "hand-made" in [b["Name"] for b in client.list_buckets()["Buckets"]]
    client.head_bucket(Bucket="hand-made")
    assert client.get_object(Bucket="hand-made", Key="data.csv")["Body"].read() == b"a,b\n1,2\n"


# ----------------------------------------------------------------------------- objects


def test_put_get_head_delete(client, bucket, s3, sent):
    body = b"hello, local twin"
    put = client.put_object(Bucket=bucket, Key="docs/hello.txt", Body=body, ContentType="text/plain",
                            Metadata={"Owner": "learner", "step": "1"})
    assert put["ETag"] == '"%s"' % hashlib.md5(body).hexdigest()
    assert put["ChecksumCRC32"] == crc32_b64(body)
    # botocore sent the body aws-chunked with a CRC32 trailer; the file holds only the payload.
    put_request = next(r for r in sent if r.method == "PUT" and "hello.txt" in r.url)
    assert "aws-chunked" in put_request.headers["Content-Encoding"].decode()
    assert s3.path_for(bucket, "docs/hello.txt") == s3.root / bucket / "docs" / "hello.txt"
    assert (s3.root / bucket / "docs" / "hello.txt").read_bytes() == body

    got = client.get_object(Bucket=bucket, Key="docs/hello.txt")
    assert got["Body"].read() == body
    assert got["ContentType"] == "text/plain"
    assert got["Metadata"] == {"owner": "learner", "step": "1"}
    assert got["ETag"] == put["ETag"]
    assert got["ContentLength"] == len(body)
    assert got["ChecksumCRC32"] == crc32_b64(body)  # botocore validated it while reading

    head = client.head_object(Bucket=bucket, Key="docs/hello.txt")
    assert head["ContentLength"] == len(body)
    assert head["ETag"] == put["ETag"]
    assert head["Metadata"]["owner"] == "learner"
    assert head["LastModified"].year >= 2024

    client.delete_object(Bucket=bucket, Key="docs/hello.txt")
    assert not (s3.root / bucket / "docs").exists()  # the emptied folder goes, as the prefix does on S3
    with pytest.raises(ClientError) as exc:
        client.head_object(Bucket=bucket, Key="docs/hello.txt")
    assert error_code(exc) == "404"
    client.delete_object(Bucket=bucket, Key="docs/hello.txt")  # deleting a missing key is fine
    assert no_temp_files(s3.root) == []


def test_body_without_checksum_and_over_plain_http(session, s3):
    """Also correct when the body is not aws-chunked: no checksum, and a signed-payload http endpoint."""
    quiet = session.client("s3", config=Config(request_checksum_calculation="when_required",
                                               response_checksum_validation="when_required"))
    quiet.create_bucket(Bucket="plain-body", CreateBucketConfiguration={"LocationConstraint": REGION})
    quiet.put_object(Bucket="plain-body", Key="a.bin", Body=b"\x00\x01" * 1000)
    assert (s3.root / "plain-body" / "a.bin").read_bytes() == b"\x00\x01" * 1000
    http = session.client("s3", endpoint_url=f"http://s3.{REGION}.amazonaws.com")
    http.put_object(Bucket="plain-body", Key="b.txt", Body=b"signed payload")
    assert (s3.root / "plain-body" / "b.txt").read_bytes() == b"signed payload"
    assert http.get_object(Bucket="plain-body", Key="b.txt")["Body"].read() == b"signed payload"


def test_digests_are_verified(client, bucket, s3):
    with pytest.raises(ClientError) as exc:
        client.put_object(Bucket=bucket, Key="bad-crc", Body=b"data", ChecksumCRC32="AAAAAA==")
    assert error_code(exc) == "BadDigest"
    with pytest.raises(ClientError) as exc:
        client.put_object(Bucket=bucket, Key="bad-md5", Body=b"data",
                          ContentMD5=base64.b64encode(hashlib.md5(b"other").digest()).decode())
    assert error_code(exc) == "BadDigest"
    client.put_object(Bucket=bucket, Key="good-md5", Body=b"data",
                      ContentMD5=base64.b64encode(hashlib.md5(b"data").digest()).decode())
    assert not (s3.root / bucket / "bad-crc").exists() and not (s3.root / bucket / "bad-md5").exists()
    assert (s3.root / bucket / "good-md5").read_bytes() == b"data"
    assert no_temp_files(s3.root) == []


def test_range_requests(client, bucket):
    data = bytes(range(256)) * 4
    client.put_object(Bucket=bucket, Key="r.bin", Body=data)
    part = client.get_object(Bucket=bucket, Key="r.bin", Range="bytes=10-19")
    assert part["Body"].read() == data[10:20]
    assert part["ContentRange"] == f"bytes 10-19/{len(data)}"
    assert part["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert client.get_object(Bucket=bucket, Key="r.bin", Range="bytes=-5")["Body"].read() == data[-5:]
    assert client.get_object(Bucket=bucket, Key="r.bin", Range="bytes=1000-")["Body"].read() == data[1000:]
    past_end = client.get_object(Bucket=bucket, Key="r.bin", Range="bytes=1000-99999")
    assert past_end["Body"].read() == data[1000:]
    assert past_end["ContentRange"] == f"bytes 1000-{len(data) - 1}/{len(data)}"
    assert past_end["ContentLength"] == len(data) - 1000
    with pytest.raises(ClientError) as exc:
        client.get_object(Bucket=bucket, Key="r.bin", Range=f"bytes={len(data)}-")
    assert error_code(exc) == "InvalidRange"
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 416


def test_conditional_requests(client, bucket):
    etag = client.put_object(Bucket=bucket, Key="c.txt", Body=b"v1")["ETag"]
    assert client.get_object(Bucket=bucket, Key="c.txt", IfMatch=etag)["Body"].read() == b"v1"
    with pytest.raises(ClientError) as exc:
        client.get_object(Bucket=bucket, Key="c.txt", IfMatch='"0000"')
    assert error_code(exc) == "PreconditionFailed"
    with pytest.raises(ClientError) as exc:
        client.head_object(Bucket=bucket, Key="c.txt", IfNoneMatch=etag)
    assert error_code(exc) == "304"
    with pytest.raises(ClientError) as exc:
        client.put_object(Bucket=bucket, Key="c.txt", Body=b"v2", IfNoneMatch="*")
    assert error_code(exc) == "PreconditionFailed"


def test_error_codes(client, bucket):
    with pytest.raises(ClientError) as exc:
        client.get_object(Bucket=bucket, Key="missing.txt")
    assert error_code(exc) == "NoSuchKey"
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    with pytest.raises(client.exceptions.NoSuchKey):
        client.get_object(Bucket=bucket, Key="missing.txt")
    with pytest.raises(ClientError) as exc:
        client.head_object(Bucket=bucket, Key="missing.txt")
    assert error_code(exc) == "404"
    with pytest.raises(ClientError) as exc:
        client.get_object(Bucket="no-such-bucket", Key="k")
    assert error_code(exc) == "NoSuchBucket"
    with pytest.raises(ClientError) as exc:
        client.list_objects_v2(Bucket="no-such-bucket")
    assert error_code(exc) == "NoSuchBucket"
    with pytest.raises(ClientError) as exc:
        client.put_object(Bucket="no-such-bucket", Key="k", Body=b"x")
    assert error_code(exc) == "NoSuchBucket"


def test_unemulated_operation_is_501_naming_it(client, bucket):
    with pytest.raises(ClientError) as exc:
        client.get_bucket_tagging(Bucket=bucket)
    assert error_code(exc) == "NotImplemented"
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 501
    assert "GetBucketTagging" in exc.value.response["Error"]["Message"]
    assert "local mode" in exc.value.response["Error"]["Message"]
    client.put_object(Bucket=bucket, Key="t.txt", Body=b"x")
    with pytest.raises(ClientError) as exc:
        client.put_object_tagging(Bucket=bucket, Key="t.txt", Tagging={"TagSet": [{"Key": "a", "Value": "b"}]})
    assert error_code(exc) == "NotImplemented" and "PutObjectTagging" in str(exc.value)


@pytest.mark.parametrize("key", ["a b.txt", "plus+sign/x+y.csv", "unicodé/数据/ファイル.txt", "percent%20literal", "tilde~/q?&=.txt"])
def test_special_keys_round_trip(client, bucket, s3, key):
    client.put_object(Bucket=bucket, Key=key, Body=key.encode())
    assert s3.path_for(bucket, key).read_bytes() == key.encode()
    assert s3.uri_for_path(s3.path_for(bucket, key)) == f"s3://{bucket}/{key}"
    assert client.get_object(Bucket=bucket, Key=key)["Body"].read() == key.encode()
    assert [o["Key"] for o in client.list_objects_v2(Bucket=bucket)["Contents"]] == [key]
    assert [o["Key"] for o in client.list_objects(Bucket=bucket)["Contents"]] == [key]
    client.copy_object(Bucket=bucket, Key=key + ".copy", CopySource={"Bucket": bucket, "Key": key})
    assert s3.path_for(bucket, key + ".copy").read_bytes() == key.encode()


@pytest.mark.parametrize("key, needle", [
    ("a/../escape.txt", "'..'"),
    ("./dot.txt", "'.'"),
    ("/leading.txt", "starts with '/'"),
    ("double//slash.txt", "'//'"),
])
def test_keys_that_cannot_be_files(client, bucket, s3, key, needle):
    with pytest.raises(ClientError) as exc:
        client.put_object(Bucket=bucket, Key=key, Body=b"x")
    assert error_code(exc) == "InvalidArgument"
    message = exc.value.response["Error"]["Message"]
    assert key in message and needle in message
    assert not (s3.root / "escape.txt").exists()
    assert list((s3.root / bucket).rglob("*")) == []


def test_object_and_folder_cannot_share_a_name(client, bucket):
    client.put_object(Bucket=bucket, Key="a/b", Body=b"x")
    with pytest.raises(ClientError) as exc:
        client.put_object(Bucket=bucket, Key="a", Body=b"y")
    assert error_code(exc) == "InvalidArgument" and "'a'" in exc.value.response["Error"]["Message"]
    client.put_object(Bucket=bucket, Key="file", Body=b"x")
    with pytest.raises(ClientError) as exc:
        client.put_object(Bucket=bucket, Key="file/child", Body=b"y")
    assert error_code(exc) == "InvalidArgument" and "file/child" in exc.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as exc:
        client.put_object(Bucket=bucket, Key="folder/", Body=b"data")
    assert error_code(exc) == "InvalidArgument"
    client.put_object(Bucket=bucket, Key="empty-folder/", Body=b"")  # a folder marker is just a folder
    assert client.head_object(Bucket=bucket, Key="empty-folder/")["ContentLength"] == 0
    with pytest.raises(ClientError) as exc:
        client.get_object(Bucket=bucket, Key="a")  # a folder is not an object
    assert error_code(exc) == "NoSuchKey"


def test_file_dropped_in_by_hand_is_an_object(client, bucket, s3):
    path = s3.root / bucket / "raw" / "abalone.csv"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"sex,length\nM,0.455\n")
    listed = client.list_objects_v2(Bucket=bucket, Prefix="raw/")["Contents"]
    assert [(o["Key"], o["Size"]) for o in listed] == [("raw/abalone.csv", 19)]
    assert listed[0]["ETag"] == '"%s"' % hashlib.md5(path.read_bytes()).hexdigest()
    got = client.get_object(Bucket=bucket, Key="raw/abalone.csv")
    assert got["Body"].read() == path.read_bytes()
    assert got["ContentType"] == "application/octet-stream"

    # Uploaded, then edited by hand: the file wins over the stale sidecar.
    client.put_object(Bucket=bucket, Key="raw/edited.txt", Body=b"old", ContentType="text/plain")
    edited = s3.root / bucket / "raw" / "edited.txt"
    edited.write_bytes(b"new content")
    head = client.head_object(Bucket=bucket, Key="raw/edited.txt")
    assert head["ETag"] == '"%s"' % hashlib.md5(b"new content").hexdigest()
    assert head["ContentLength"] == len(b"new content")
    assert client.get_object(Bucket=bucket, Key="raw/edited.txt")["Body"].read() == b"new content"


def test_bucket_folder_holds_only_objects(client, bucket, s3):
    client.put_object(Bucket=bucket, Key="k1", Body=b"1", Metadata={"a": "b"})
    client.upload_file(__file__, bucket, "code/test.py")
    names = sorted(p.relative_to(s3.root / bucket).as_posix() for p in (s3.root / bucket).rglob("*"))
    assert names == ["code", "code/test.py", "k1"]


# ----------------------------------------------------------------------------- listing


@pytest.fixture
def tree(client, bucket):
    keys = ["data/train/part-0.csv", "data/train/part-1.csv", "data/validation/part-0.csv",
            "data/test.csv", "readme.md", "models/model.tar.gz", "z-last"]
    for key in keys:
        client.put_object(Bucket=bucket, Key=key, Body=key.encode())
    return sorted(keys)


def test_list_v2_paginated_and_delimited(client, bucket, tree):
    paginator = client.get_paginator("list_objects_v2")
    pages = list(paginator.paginate(Bucket=bucket, PaginationConfig={"PageSize": 2}))
    assert [o["Key"] for p in pages for o in p.get("Contents", [])] == tree
    assert len(pages) == 4 and all(p["KeyCount"] <= 2 for p in pages)
    assert pages[0]["IsTruncated"] and not pages[-1]["IsTruncated"]

    top = client.list_objects_v2(Bucket=bucket, Delimiter="/")
    assert [c["Prefix"] for c in top["CommonPrefixes"]] == ["data/", "models/"]
    assert [o["Key"] for o in top["Contents"]] == ["readme.md", "z-last"]
    assert top["KeyCount"] == 4

    data = client.list_objects_v2(Bucket=bucket, Prefix="data/", Delimiter="/")
    assert [c["Prefix"] for c in data["CommonPrefixes"]] == ["data/train/", "data/validation/"]
    assert [o["Key"] for o in data["Contents"]] == ["data/test.csv"]

    partial = client.list_objects_v2(Bucket=bucket, Prefix="data/tr")
    assert [o["Key"] for o in partial["Contents"]] == ["data/train/part-0.csv", "data/train/part-1.csv"]
    after = client.list_objects_v2(Bucket=bucket, StartAfter="models/model.tar.gz")
    assert [o["Key"] for o in after["Contents"]] == ["readme.md", "z-last"]

    delimited_pages = list(paginator.paginate(Bucket=bucket, Delimiter="/", PaginationConfig={"PageSize": 1}))
    seen = [(c["Prefix"]) for p in delimited_pages for c in p.get("CommonPrefixes", [])]
    seen += [o["Key"] for p in delimited_pages for o in p.get("Contents", [])]
    assert sorted(seen) == ["data/", "models/", "readme.md", "z-last"]


def test_list_v1_paginated_and_delimited(client, bucket, tree):
    paginator = client.get_paginator("list_objects")
    pages = list(paginator.paginate(Bucket=bucket, PaginationConfig={"PageSize": 3}))
    assert [o["Key"] for p in pages for o in p.get("Contents", [])] == tree
    assert len(pages) == 3
    first = client.list_objects(Bucket=bucket, MaxKeys=3)
    assert first["IsTruncated"] is True and len(first["Contents"]) == 3
    rest = client.list_objects(Bucket=bucket, Marker=first["Contents"][-1]["Key"])
    assert [o["Key"] for o in rest["Contents"]] == tree[3:]

    delimited = client.list_objects(Bucket=bucket, Delimiter="/", MaxKeys=1)
    assert delimited["IsTruncated"] and delimited["NextMarker"] == "data/"
    pages = list(paginator.paginate(Bucket=bucket, Delimiter="/", PaginationConfig={"PageSize": 1}))
    prefixes = [c["Prefix"] for p in pages for c in p.get("CommonPrefixes", [])]
    keys = [o["Key"] for p in pages for o in p.get("Contents", [])]
    assert prefixes == ["data/", "models/"] and keys == ["readme.md", "z-last"]


def test_resource_api(session, s3):
    resource = session.resource("s3")
    bucket = resource.create_bucket(Bucket="res-bucket", CreateBucketConfiguration={"LocationConstraint": REGION})
    bucket.put_object(Key="in/one.txt", Body=b"one")
    resource.Object("res-bucket", "in/two.txt").put(Body=b"two", ContentType="text/plain")
    assert sorted(o.key for o in bucket.objects.filter(Prefix="in/")) == ["in/one.txt", "in/two.txt"]
    obj = resource.Object("res-bucket", "in/two.txt")
    assert obj.get()["Body"].read() == b"two" and obj.content_type == "text/plain"
    assert [b.name for b in resource.buckets.all()] == ["res-bucket"]
    assert resource.Bucket("res-bucket").creation_date is not None
    resource.Object("res-bucket", "in/copy.txt").copy_from(CopySource={"Bucket": "res-bucket", "Key": "in/one.txt"})
    assert (s3.root / "res-bucket" / "in" / "copy.txt").read_bytes() == b"one"
    bucket.objects.all().delete()
    assert list(bucket.objects.all()) == []
    bucket.delete()
    assert not (s3.root / "res-bucket").exists()


# ----------------------------------------------------------------------------- batch delete, copy


def test_delete_objects_verbose_and_quiet(client, bucket, s3, tree):
    result = client.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "readme.md"}, {"Key": "z-last"},
                                                                      {"Key": "never-existed"}]})
    assert sorted(d["Key"] for d in result["Deleted"]) == ["never-existed", "readme.md", "z-last"]
    assert "Errors" not in result
    quiet = client.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "data/test.csv"}, {"Key": "../x"}],
                                                         "Quiet": True})
    assert "Deleted" not in quiet
    assert [(e["Key"], e["Code"]) for e in quiet["Errors"]] == [("../x", "InvalidArgument")]
    remaining = [o["Key"] for o in client.list_objects_v2(Bucket=bucket)["Contents"]]
    assert remaining == [k for k in tree if k not in ("readme.md", "z-last", "data/test.csv")]
    assert not (s3.root / bucket / "readme.md").exists()


def test_copy_object(client, bucket, s3):
    client.put_object(Bucket=bucket, Key="src dir/a+b é.txt", Body=b"payload", ContentType="text/csv",
                      Metadata={"origin": "upload"})
    client.create_bucket(Bucket="other-bucket", CreateBucketConfiguration={"LocationConstraint": REGION})
    copied = client.copy_object(Bucket="other-bucket", Key="dst/copy.txt",
                                CopySource={"Bucket": bucket, "Key": "src dir/a+b é.txt"})
    assert copied["CopyObjectResult"]["ETag"] == '"%s"' % hashlib.md5(b"payload").hexdigest()
    assert (s3.root / "other-bucket" / "dst" / "copy.txt").read_bytes() == b"payload"
    head = client.head_object(Bucket="other-bucket", Key="dst/copy.txt")
    assert head["ContentType"] == "text/csv" and head["Metadata"] == {"origin": "upload"}

    client.copy_object(Bucket=bucket, Key="src dir/a+b é.txt", CopySource=f"{bucket}/src dir/a+b é.txt",
                       MetadataDirective="REPLACE", ContentType="text/plain", Metadata={"origin": "replaced"})
    head = client.head_object(Bucket=bucket, Key="src dir/a+b é.txt")
    assert head["ContentType"] == "text/plain" and head["Metadata"] == {"origin": "replaced"}

    with pytest.raises(ClientError) as exc:
        client.copy_object(Bucket=bucket, Key="src dir/a+b é.txt", CopySource={"Bucket": bucket, "Key": "src dir/a+b é.txt"})
    assert error_code(exc) == "InvalidRequest"
    with pytest.raises(ClientError) as exc:
        client.copy_object(Bucket=bucket, Key="x", CopySource={"Bucket": bucket, "Key": "nope"})
    assert error_code(exc) == "NoSuchKey"


# ----------------------------------------------------------------------------- transfers


def test_upload_and_download_small_file(client, bucket, s3, tmp_path):
    source = tmp_path / "small.csv"
    source.write_bytes(b"1,2,3\n" * 100)
    client.upload_file(str(source), bucket, "small/small.csv")
    assert (s3.root / bucket / "small" / "small.csv").read_bytes() == source.read_bytes()
    target = tmp_path / "back.csv"
    client.download_file(bucket, "small/small.csv", str(target))
    assert target.read_bytes() == source.read_bytes()


def test_multipart_upload_and_download(client, bucket, s3, tmp_path, sent):
    data = os.urandom(12 * MiB + 12345)
    source = tmp_path / "big.bin"
    source.write_bytes(data)
    config = TransferConfig(multipart_threshold=5 * MiB)
    client.upload_file(str(source), bucket, "big/big.bin", Config=config)
    assert any("uploadId=" in r.url for r in sent), "s3transfer did not use a multipart upload"
    assert (s3.root / bucket / "big" / "big.bin").read_bytes() == data

    head = client.head_object(Bucket=bucket, Key="big/big.bin", ChecksumMode="ENABLED")
    part_md5s = [hashlib.md5(data[i:i + 8 * MiB]).digest() for i in range(0, len(data), 8 * MiB)]
    assert head["ETag"] == '"%s-%d"' % (hashlib.md5(b"".join(part_md5s)).hexdigest(), len(part_md5s))
    assert head["ContentLength"] == len(data)
    assert head["ChecksumType"] == "COMPOSITE" and head["ChecksumCRC32"].endswith("-2")
    assert client.head_object(Bucket=bucket, Key="big/big.bin", PartNumber=2)["ContentLength"] == len(data) - 8 * MiB

    target = tmp_path / "big.out"
    client.download_file(bucket, "big/big.bin", str(target), Config=config)
    assert target.read_bytes() == data
    assert client.get_object(Bucket=bucket, Key="big/big.bin")["Body"].read() == data  # streamed from the file
    assert not any((s3.root / ".s3meta" / "uploads").iterdir())
    assert no_temp_files(s3.root) == []


def test_multipart_upload_with_low_level_calls(client, bucket, s3):
    created = client.create_multipart_upload(Bucket=bucket, Key="mpu.bin", ContentType="application/x-test")
    upload_id = created["UploadId"]
    first, second = b"a" * (5 * MiB), b"tail"
    e1 = client.upload_part(Bucket=bucket, Key="mpu.bin", UploadId=upload_id, PartNumber=1, Body=first)["ETag"]
    e2 = client.upload_part(Bucket=bucket, Key="mpu.bin", UploadId=upload_id, PartNumber=2, Body=second)["ETag"]
    assert not (s3.root / bucket / "mpu.bin").exists()  # nothing visible before completion
    with pytest.raises(ClientError) as exc:
        client.complete_multipart_upload(Bucket=bucket, Key="mpu.bin", UploadId=upload_id,
                                         MultipartUpload={"Parts": [{"PartNumber": 2, "ETag": e2},
                                                                    {"PartNumber": 1, "ETag": e1}]})
    assert error_code(exc) == "InvalidPartOrder"
    done = client.complete_multipart_upload(Bucket=bucket, Key="mpu.bin", UploadId=upload_id,
                                            MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": e1},
                                                                       {"PartNumber": 2, "ETag": e2}]})
    assert done["ETag"].endswith('-2"')
    assert (s3.root / bucket / "mpu.bin").read_bytes() == first + second
    assert client.head_object(Bucket=bucket, Key="mpu.bin")["ContentType"] == "application/x-test"

    small = client.create_multipart_upload(Bucket=bucket, Key="small-parts")["UploadId"]
    p1 = client.upload_part(Bucket=bucket, Key="small-parts", UploadId=small, PartNumber=1, Body=b"x")["ETag"]
    p2 = client.upload_part(Bucket=bucket, Key="small-parts", UploadId=small, PartNumber=2, Body=b"y")["ETag"]
    with pytest.raises(ClientError) as exc:
        client.complete_multipart_upload(Bucket=bucket, Key="small-parts", UploadId=small,
                                         MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": p1},
                                                                    {"PartNumber": 2, "ETag": p2}]})
    assert error_code(exc) == "EntityTooSmall"
    client.abort_multipart_upload(Bucket=bucket, Key="small-parts", UploadId=small)
    with pytest.raises(ClientError) as exc:
        client.upload_part(Bucket=bucket, Key="small-parts", UploadId=small, PartNumber=3, Body=b"z")
    assert error_code(exc) == "NoSuchUpload"


def test_managed_copy_uses_part_copies(client, bucket, s3):
    data = os.urandom(6 * MiB)
    client.put_object(Bucket=bucket, Key="orig.bin", Body=data)
    client.copy({"Bucket": bucket, "Key": "orig.bin"}, bucket, "copies/orig.bin",
                Config=TransferConfig(multipart_threshold=5 * MiB, multipart_chunksize=5 * MiB))
    assert (s3.root / bucket / "copies" / "orig.bin").read_bytes() == data
    assert client.head_object(Bucket=bucket, Key="copies/orig.bin")["ETag"].endswith('-2"')


# ----------------------------------------------------------------------------- STS, helpers, raw requests


def test_sts_get_caller_identity(session):
    identity = session.client("sts").get_caller_identity()
    assert identity["Account"] == ACCOUNT
    assert identity["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/LabLocalExecutionRole/local"
    assert identity["UserId"].endswith(":local")
    with pytest.raises(ClientError) as exc:
        session.client("sts").get_session_token()
    assert error_code(exc) == "NotImplemented"


def test_path_helpers_and_python_api(s3, client, bucket, tmp_path):
    assert s3.path_for(bucket, "a/b/c.txt") == s3.root / bucket / "a" / "b" / "c.txt"
    assert s3.uri_for_path(s3.root / bucket / "a" / "b" / "c.txt") == f"s3://{bucket}/a/b/c.txt"
    assert s3.uri_for_path(s3.root / bucket) == f"s3://{bucket}/"
    with pytest.raises(ValueError):
        s3.path_for(bucket, "../outside")
    with pytest.raises(ValueError):
        s3.uri_for_path(tmp_path / "elsewhere.txt")

    local = tmp_path / "evaluation.json"
    local.write_text('{"mse": 1.5}')
    etag = s3.put_file(bucket, "eval/evaluation.json", local)
    assert etag == '"%s"' % hashlib.md5(local.read_bytes()).hexdigest()
    assert s3.read_uri(f"s3://{bucket}/eval/evaluation.json") == b'{"mse": 1.5}'
    assert s3.list_keys(bucket, "eval/") == ["eval/evaluation.json"]
    assert client.get_object(Bucket=bucket, Key="eval/evaluation.json")["Body"].read() == b'{"mse": 1.5}'
    with pytest.raises(FileNotFoundError):
        s3.read_uri(f"s3://{bucket}/eval/missing.json")
    assert s3.list_keys("no-such-bucket") == []


def test_handle_never_raises_on_odd_requests(s3):
    odd = AWSPreparedRequest("PATCH", "https://s3.eu-west-1.amazonaws.com/some-bucket/k", {}, None, False)
    response = s3.handle(odd)  # no operation named (no botocore event): nothing to serve
    assert response.status_code == 501 and b"NotImplemented" in response.content
    missing = s3.handle(AWSPreparedRequest("GET", "https://s3.amazonaws.com/nobucket/k", {}, None, False), "GetObject")
    assert missing.status_code == 404 and b"<Code>NoSuchBucket</Code>" in missing.content
    s3.create_bucket("raw-bucket")
    for body in (b"zz\r\nbroken", b"5\r\nhel"):  # bad chunk size; body ends mid-chunk
        chunked = AWSPreparedRequest(
            "PUT", "https://s3.amazonaws.com/raw-bucket/k",
            {"Content-Encoding": "aws-chunked", "X-Amz-Decoded-Content-Length": "5"}, body, False)
        response = s3.handle(chunked, "PutObject")
        assert response.status_code == 400, response.content
        assert b"<Code>InvalidRequest</Code>" in response.content or b"<Code>IncompleteBody</Code>" in response.content
    assert list((s3.root / "raw-bucket").iterdir()) == []
    good = AWSPreparedRequest(
        "PUT", "https://s3.amazonaws.com/raw-bucket/k",
        {"Content-Encoding": "aws-chunked", "X-Amz-Trailer": "x-amz-checksum-crc32"},
        b"3\r\nabc\r\n2\r\nde\r\n0\r\nx-amz-checksum-crc32:" + crc32_b64(b"abcde").encode() + b"\r\n\r\n", False)
    assert s3.handle(good, "PutObject").status_code == 200
    assert (s3.root / "raw-bucket" / "k").read_bytes() == b"abcde"
