"""Moving a job's data between the local S3 folder and the job's container folder.

Inputs are copied in before the job starts (as SageMaker downloads ``File``-mode channels and
processing inputs); outputs are copied back when it ends (``S3UploadMode: EndOfJob``), and only
when it succeeded; models and output data are packed as ``.tar.gz`` objects written whole or
not at all.
"""

import os
import shutil
import tarfile
import tempfile
from pathlib import Path

from ...shapes import split_s3_uri


class JobFailed(Exception):
    """The job failed; the message is the FailureReason."""


def split(uri):
    """``(bucket, key)`` of an s3:// URI in a job request; JobFailed (a ClientError) if it is not one."""
    try:
        return split_s3_uri(uri)
    except ValueError as exc:
        raise JobFailed(f"ClientError: {exc}") from None


def relative_key(prefix, key):
    """Where an object lands under a channel/LocalPath, as SageMaker places S3Prefix inputs."""
    if key == prefix:
        return key.rsplit("/", 1)[-1]
    if prefix == "" or prefix.endswith("/"):
        return key[len(prefix):]
    if key.startswith(prefix + "/"):
        return key[len(prefix) + 1:]
    return key[len(prefix.rsplit("/", 1)[0]) + 1:] if "/" in prefix else key


class Staging:
    """Copies between one local S3 and job folders."""

    def __init__(self, s3, region, scratch):
        self.s3 = s3
        self.region = region
        self.scratch = Path(scratch)  # where half-written archives live until they are complete

    def download(self, uri, dest, data_type="S3Prefix"):
        """Copy the objects an S3 input names into ``dest``; returns how many."""
        bucket, prefix = split(uri)
        if data_type not in ("S3Prefix", None):
            raise JobFailed(f"ClientError: S3DataType {data_type} is not supported by the kit's local mode; use S3Prefix.")
        keys = self.s3.list_keys(bucket, prefix)
        if not keys:
            raise JobFailed(
                f'ClientError: No S3 objects found under S3 URL "{uri}" given in input data source. '
                f"Please ensure that the bucket exists in the selected region ({self.region}), "
                "that objects exist under that S3 prefix. In local mode that is the folder "
                f"{self.s3.path_for(bucket, prefix)}."
            )
        dest.mkdir(parents=True, exist_ok=True)
        root = os.path.realpath(dest)
        for key in keys:
            target = dest / relative_key(prefix, key)
            if not _within(root, target):
                raise JobFailed(f"ClientError: s3://{bucket}/{key} would be copied to {target}, outside the job's "
                                f"input folder {dest}; the kit refuses it.")
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(self._object(bucket, key), target)
        return len(keys)

    def _object(self, bucket, key):
        """The file of an object; JobFailed if a symbolic link leads it out of the local S3 folder."""
        try:
            return self.s3.object_path(bucket, key)
        except ValueError as exc:
            raise JobFailed(f"ClientError: {exc}") from None

    def upload_dir(self, source, uri):
        """Put every file under ``source`` below the S3 prefix ``uri``; returns how many."""
        bucket, prefix = split(uri)
        prefix = prefix.rstrip("/")
        count = 0
        for path in output_files(source):
            relative = path.relative_to(source).as_posix()
            self.s3.put_file(bucket, f"{prefix}/{relative}" if prefix else relative, path)
            count += 1
        return count

    def upload_tar(self, folder, bucket, key):
        """Pack ``folder`` as a .tar.gz object - written whole or not at all."""
        self.scratch.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=str(self.scratch), prefix=".partial-", suffix=".tar.gz")
        os.close(fd)
        try:
            output_files(folder)  # refuses links that lead out of the folder
            with tarfile.open(tmp, "w:gz") as tar:
                for path in sorted(folder.iterdir()):
                    tar.add(str(path), arcname=path.name)
            self.s3.put_file(bucket, key, Path(tmp))
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)

    def unpack_code(self, source, dest):
        """Put a job's code in ``dest``: ``sourcedir.tar.gz`` (an s3:// object, or a host file) unpacked, or a folder copied.

        ``source`` is an s3:// URI or a host path.  JobFailed (a ClientError) if there is nothing there
        or it is not a tar archive.
        """
        dest.mkdir(parents=True, exist_ok=True)
        path = Path(source)
        if str(source).startswith("s3://"):
            bucket, key = split(source)
            path = self._object(bucket, key)
            if not path.is_file():
                prefix = key.rstrip("/") + "/"
                if key and self.s3.list_keys(bucket, prefix):
                    self.download(f"s3://{bucket}/{prefix}", dest)
                    return
                raise JobFailed(f"ClientError: the job's source code {source} does not exist (in local mode, the "
                                f"file {path}). Upload it (the SDK does when it is given entry_point/source_dir) "
                                "or fix sagemaker_submit_directory / SAGEMAKER_SUBMIT_DIRECTORY.")
        if path.is_dir():
            shutil.copytree(path, dest, dirs_exist_ok=True)
            return
        if not path.is_file():
            raise JobFailed(f"ClientError: the job's source code {source} does not exist.")
        try:
            with tarfile.open(path) as tar:
                safe_extract(tar, dest, "the job's code archive " + str(source))
        except tarfile.TarError as exc:
            raise JobFailed(f"ClientError: the job's source code {source} is not a tar.gz archive "
                            f"(sourcedir.tar.gz): {exc}") from None


def _within(root, path):
    """Whether ``path`` (links followed) is ``root`` (a real path) or below it."""
    real = os.path.realpath(path)
    return real == root or real.startswith(root + os.sep)


def output_files(folder):
    """The files under a job's output ``folder``, sorted; JobFailed for a link that leads out of the folder."""
    folder = Path(folder)
    root = os.path.realpath(folder)
    found = []
    for path in sorted(folder.rglob("*")):
        if path.is_symlink() and not _within(root, path):
            raise JobFailed(f"ClientError: the job's output {path} is a symbolic link to {os.path.realpath(path)}, "
                            f"outside its output folder {folder}; the kit does not upload what a link points to "
                            "outside the job. Write the file itself into the output folder.")
        if path.is_file():
            found.append(path)
    return found


def _member_problem(member, root, dest, links):
    """Why an archive member may not be extracted below ``dest`` (None if it may); ``links``: link members so far."""
    name = member.name
    parts = name.replace("\\", "/").strip("/").split("/")
    for i in range(1, len(parts)):
        if "/".join(parts[:i]) in links:
            return f"it lies below the link member {'/'.join(parts[:i])!r}"
    if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        return "it has an absolute path"
    if ".." in name.replace("\\", "/").split("/"):
        return "its path holds '..'"
    if not _within(root, os.path.join(dest, name)):
        return "it would land outside the folder"
    if member.issym() or member.islnk():
        link = member.linkname
        base = os.path.dirname(os.path.join(dest, name)) if member.issym() else dest
        if os.path.isabs(link) or not _within(root, os.path.join(base, link)):
            return f"it is a link to {link!r}, outside the folder"
    if member.isdev():
        return "it is a device file"
    return None


def safe_extract(tar, dest, what):
    """Extract ``tar`` below ``dest`` only; JobFailed naming ``what`` and the member for '..', '/...' or a link out."""
    # Every member is checked first (nothing is written when one is refused); then Python's "data"
    # filter is used where it exists (3.12, and 3.9-3.11 security releases), which also drops set-uid bits.
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    root = os.path.realpath(dest)
    links = set()
    for member in tar.getmembers():
        problem = _member_problem(member, root, str(dest), links)
        if member.issym() or member.islnk():
            links.add(member.name.replace("\\", "/").strip("/"))
        if problem:
            raise JobFailed(f"ClientError: {what} holds the member {member.name!r}, which the kit refuses to "
                            f"extract: {problem} (extraction stays inside {dest}).")
    if hasattr(tarfile, "data_filter"):
        try:
            tar.extractall(dest, filter="data")
        except tarfile.FilterError as exc:
            raise JobFailed(f"ClientError: {what} holds a member the kit refuses to extract: {exc}.") from None
        return
    tar.extractall(dest)
