"""The folder behind local S3: objects as plain files, their JSON sidecars, atomic writes, the listing walk.

Layout (see the package docstring)::

    <root>/<bucket>/<key>                  the object's bytes
    <root>/.s3meta/objects/<bucket>/<key>  JSON sidecar: content type, user metadata, ETag, checksum
    <root>/.s3meta/buckets/<bucket>.json   bucket region and creation date
    <root>/.s3meta/uploads/<upload-id>/    multipart uploads in progress (laid out by :mod:`.multipart`)

This module knows files and sidecars, not requests: the operations call it with validated names.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import stat
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator

from ..wire.bodies import READ_SIZE
from .checksums import b64, new_checksum
from .errors import S3Error, no_such_bucket, no_such_key, not_representable, outside_root
from .names import TMP_PREFIX, check_bucket_name, encodable, is_bucket_folder_name, key_parts

__all__ = ["DEFAULT_PUT_CONTENT_TYPE", "META_DIR", "FolderStore", "StoredObject", "silent_unlink"]

logger = logging.getLogger(__name__)

META_DIR = ".s3meta"
DEFAULT_PUT_CONTENT_TYPE = "binary/octet-stream"  # what AWS stores when PutObject sends none
_HAND_MADE_CONTENT_TYPE = "application/octet-stream"
_FOLDER_CONTENT_TYPE = "application/x-directory"
_IGNORED_NAMES = frozenset({".ipynb_checkpoints", ".DS_Store"})
_EMPTY_MD5 = hashlib.md5(b"").hexdigest()


def silent_unlink(path) -> None:
    """Remove the file ``path`` if it can be removed; ignore any OSError."""
    try:
        os.unlink(path)
    except OSError:
        pass


@dataclass
class StoredObject:
    """One object as found on disk: its file, stat and (sidecar or derived) metadata."""

    bucket: str
    key: str
    path: Path
    size: int
    mtime_ns: int
    etag: str  # without quotes
    content_type: str
    metadata: dict = field(default_factory=dict)
    headers: dict = field(default_factory=dict)
    checksum: dict | None = None  # {"algorithm": "CRC32", "value": "...", "type": "FULL_OBJECT"}
    part_sizes: list | None = None
    storage_class: str = "STANDARD"


class FolderStore:
    """Buckets, objects and sidecars under ``root``; thread-safe for the emulator's concurrent requests."""

    def __init__(self, root: Path):
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)
        self.real_root = os.path.realpath(self.root)
        self.meta_root = self.root / META_DIR
        self._etag_cache: dict[str, tuple[int, int, str]] = {}
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ containment

    def inside(self, path) -> bool:
        """Whether ``path``, with every symbolic link on it followed, stays in the local S3 folder."""
        real = os.path.realpath(path)
        return real == self.real_root or real.startswith(self.real_root + os.sep)

    def require_inside(self, path, what: str) -> None:
        """AccessDenied, naming ``what`` and where it leads, if ``path`` leaves the local S3 folder."""
        if not self.inside(path):
            raise outside_root(what, os.path.realpath(path), self.root)

    def _skip_outside(self, entry) -> bool:
        """True (with a warning) for a directory entry that is a link leading out of the local S3 folder."""
        if entry.is_symlink() and not self.inside(entry.path):
            logger.warning("local S3 ignores %s: it is a symbolic link to %s, outside %s", entry.path,
                           os.path.realpath(entry.path), self.root)
            return True
        return False

    # ------------------------------------------------------------------ buckets

    def bucket_dir(self, bucket) -> Path:
        """The folder of an existing bucket; ``NoSuchBucket`` otherwise."""
        check_bucket_name(bucket)
        path = self.root / bucket
        if not path.is_dir():
            raise no_such_bucket(bucket)
        self.require_inside(path, f"Bucket folder '{bucket}'")
        return path

    def bucket_names(self) -> list[str]:
        """The sorted names of all bucket folders in the root."""
        names = []
        try:
            entries = list(os.scandir(self.root))
        except FileNotFoundError:
            entries = []
        for entry in entries:
            if entry.name.startswith(".") or not is_bucket_folder_name(entry.name) or self._skip_outside(entry):
                continue
            if entry.is_dir():
                names.append(entry.name)
        names.sort()
        return names

    def _bucket_meta_path(self, bucket: str) -> Path:
        return self.meta_root / "buckets" / f"{bucket}.json"

    def has_bucket_record(self, bucket: str) -> bool:
        """Whether the bucket's region and creation date are recorded."""
        return self._bucket_meta_path(bucket).exists()

    def record_bucket(self, bucket: str, region: str, constraint: str | None) -> None:
        """Record a new bucket's region, LocationConstraint and creation time."""
        self.write_json(self._bucket_meta_path(bucket),
                        {"region": region, "constraint": constraint, "created_ns": time.time_ns()})

    def bucket_info(self, bucket: str, default_region: str) -> dict:
        """``region``, ``constraint`` and ``created_ns`` of a bucket (defaults for a folder made by hand)."""
        info = self.read_json(self._bucket_meta_path(bucket)) or {}
        region = info.get("region") or default_region
        created = info.get("created_ns")
        if not isinstance(created, int):
            try:
                created = os.stat(self.root / bucket).st_mtime_ns
            except OSError:
                created = time.time_ns()
        return {"region": region, "constraint": info.get("constraint", region), "created_ns": created}

    def remove_bucket(self, bucket_dir: Path, bucket: str) -> None:
        """Remove an (object-less) bucket folder with its sidecars and record."""
        shutil.rmtree(bucket_dir)  # only empty folders / ignored noise are left
        shutil.rmtree(self.meta_root / "objects" / bucket, ignore_errors=True)
        silent_unlink(self._bucket_meta_path(bucket))

    @property
    def uploads_dir(self) -> Path:
        """The folder holding one folder per multipart upload in progress."""
        return self.meta_root / "uploads"

    # ------------------------------------------------------------------ JSON and atomic writes

    @staticmethod
    def read_json(path: Path):
        """The JSON object in ``path``, or None if it is missing, unreadable or not an object."""
        try:
            with open(path, "rb") as fh:
                value = json.load(fh)
            return value if isinstance(value, dict) else None
        except (OSError, ValueError):
            return None

    def write_json(self, path: Path, value: dict) -> None:
        """Write ``value`` as JSON to ``path``, atomically."""
        data = json.dumps(value, sort_keys=True).encode("utf-8")
        self.write_atomic(path, [data])

    @staticmethod
    def _open_temp(directory: Path):
        for attempt in range(3):
            directory.mkdir(parents=True, exist_ok=True)
            tmp = directory / f"{TMP_PREFIX}{uuid.uuid4().hex}"
            try:
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
            except FileNotFoundError:  # folder pruned by a concurrent delete: recreate and retry
                if attempt == 2:
                    raise
                continue
            return os.fdopen(fd, "wb"), tmp
        raise OSError(f"cannot create a temporary file in {directory}")  # pragma: no cover

    def write_atomic(self, dest: Path, chunks: Iterable[bytes], sinks=(), check: Callable | None = None) -> int:
        """Write ``chunks`` to a temp file beside ``dest``, run ``check(size)``, then os.replace."""
        fh, tmp = self._open_temp(dest.parent)
        size = 0
        try:
            with fh:
                for chunk in chunks:
                    if not chunk:
                        continue
                    fh.write(chunk)
                    size += len(chunk)
                    for sink in sinks:
                        sink.update(chunk)
            if check is not None:
                check(size)
            os.replace(tmp, dest)
        except BaseException:
            silent_unlink(tmp)
            raise
        return size

    def write_verified(self, target: Path, chunks: Iterable[bytes], algorithm: str | None,
                       expected_checksum: Callable[[], str | None] | None = None,
                       check: Callable | None = None) -> tuple[int, str, str | None]:
        """Write ``chunks`` atomically, verifying them; returns (size, MD5 hex, checksum or None).

        The ``algorithm`` checksum is computed (if supported here) and compared with
        ``expected_checksum()``; ``check(size, md5)`` may raise S3Error. Nothing is written on error.
        """
        md5 = hashlib.md5()
        hasher = new_checksum(algorithm)
        state = {}

        def validate(size):
            computed = b64(hasher.digest()) if hasher is not None else None
            expected = expected_checksum() if expected_checksum else None
            if computed and expected and computed != expected:
                raise S3Error("BadDigest",
                              f"The {algorithm.upper()} you specified did not match the calculated checksum.")
            if check is not None:
                check(size, md5)
            state["checksum"] = computed or expected

        size = self.write_atomic(target, chunks, [md5] + ([hasher] if hasher is not None else []), validate)
        return size, md5.hexdigest(), state.get("checksum")

    def prune(self, start: Path, stop: Path) -> None:
        """Remove empty folders from ``start`` up to (not including) ``stop``."""
        current = start
        while current != stop and stop in current.parents:
            try:
                current.rmdir()
            except OSError:
                return
            current = current.parent

    # ------------------------------------------------------------------ sidecars

    def _object_meta_path(self, bucket: str, parts: list[str]) -> Path:
        return self.meta_root.joinpath("objects", bucket, *parts)

    def write_object_meta(self, bucket: str, parts: list[str], meta: dict) -> None:
        """Write an object's sidecar (a failure is logged: the object then reads as made by hand)."""
        path = self._object_meta_path(bucket, parts)
        base = self.meta_root / "objects" / bucket
        # The sidecar tree mirrors the bucket tree; clear stale entries that would block it.
        current = base
        for segment in parts[:-1]:
            current = current / segment
            if current.exists() and not current.is_dir():
                silent_unlink(current)
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        try:
            self.write_json(path, meta)
        except OSError:  # the object itself is written; without a sidecar it is derived from the file
            logger.warning("could not write S3 metadata sidecar for s3://%s/%s", bucket, "/".join(parts), exc_info=True)

    def _drop_object_meta(self, bucket: str, parts: list[str]) -> None:
        path = self._object_meta_path(bucket, parts)
        if path.is_file():
            silent_unlink(path)
        self.prune(path.parent, self.meta_root / "objects")

    # ------------------------------------------------------------------ reading objects

    def _content_etag(self, path: Path, st: os.stat_result) -> str:
        cache_key = str(path)
        with self._lock:
            cached = self._etag_cache.get(cache_key)
        if cached and cached[0] == st.st_size and cached[1] == st.st_mtime_ns:
            return cached[2]
        digest = hashlib.md5()
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(READ_SIZE), b""):
                digest.update(chunk)
        etag = digest.hexdigest()
        with self._lock:
            if len(self._etag_cache) > 50_000:
                self._etag_cache.clear()
            self._etag_cache[cache_key] = (st.st_size, st.st_mtime_ns, etag)
        return etag

    def object_from_file(self, bucket: str, key: str, parts: list[str], path: Path, st) -> StoredObject:
        """The object that the file ``path`` (stat ``st``) is: its sidecar if still valid, else derived."""
        meta = self.read_json(self._object_meta_path(bucket, parts))
        if meta and meta.get("size") == st.st_size and meta.get("mtime_ns") == st.st_mtime_ns and meta.get("etag"):
            return StoredObject(
                bucket, key, path, st.st_size, st.st_mtime_ns, meta["etag"],
                meta.get("content_type") or DEFAULT_PUT_CONTENT_TYPE,
                dict(meta.get("metadata") or {}), dict(meta.get("headers") or {}),
                meta.get("checksum"), meta.get("part_sizes"), meta.get("storage_class") or "STANDARD",
            )
        # Dropped in (or edited) by hand: the file alone defines the object.
        return StoredObject(bucket, key, path, st.st_size, st.st_mtime_ns, self._content_etag(path, st),
                            _HAND_MADE_CONTENT_TYPE)

    def get_object(self, bucket_dir: Path, bucket: str, key: str) -> StoredObject | None:
        """The object ``key`` in the bucket folder (a folder key is an empty object), or None."""
        parts, is_folder = key_parts(key)
        path = bucket_dir.joinpath(*parts)
        try:
            st = os.stat(path)
        except (FileNotFoundError, NotADirectoryError):
            return None
        self.require_inside(path, f"Key '{key}'")
        if is_folder:
            if not stat.S_ISDIR(st.st_mode):
                return None
            return StoredObject(bucket, key, path, 0, st.st_mtime_ns, _EMPTY_MD5, _FOLDER_CONTENT_TYPE)
        if not stat.S_ISREG(st.st_mode):
            return None
        return self.object_from_file(bucket, key, parts, path, st)

    def require_object(self, bucket: str, key: str) -> StoredObject:
        """The object ``s3://bucket/key``; ``NoSuchBucket`` / ``NoSuchKey`` if there is none."""
        obj = self.get_object(self.bucket_dir(bucket), bucket, key)
        if obj is None:
            raise no_such_key(key)
        return obj

    # ------------------------------------------------------------------ writing and deleting objects

    def check_writable(self, bucket_dir: Path, key: str, parts: list[str]) -> Path:
        """The file to write ``key`` to; InvalidArgument if a file or folder is in the way, AccessDenied if out."""
        self.require_inside(bucket_dir.joinpath(*parts), f"Key '{key}'")
        current = bucket_dir
        for i, segment in enumerate(parts[:-1]):
            current = current / segment
            if current.exists() and not current.is_dir():
                taken = "/".join(parts[: i + 1])
                raise not_representable(
                    key, f"'{taken}' is already an object (a file), so it cannot also be a folder of other keys")
        target = current / parts[-1]
        if target.is_dir():
            raise not_representable(
                key, f"other keys start with '{key}/', so '{key}' is a folder and cannot also be an object")
        return target

    def write_object(self, bucket: str, key: str, parts: list[str], target: Path, chunks: Iterable[bytes], *,
                     content_type: str | None, metadata: dict, headers: dict, checksum_algorithm: str | None = None,
                     expected_checksum: Callable[[], str | None] | None = None, check: Callable | None = None,
                     checksum_type: str = "FULL_OBJECT", part_sizes: list | None = None,
                     etag: str | None = None, storage_class: str = "STANDARD") -> dict:
        """Write an object's bytes and sidecar; returns the sidecar. ``check(size, md5)`` may raise S3Error."""
        size, md5_hex, checksum_value = self.write_verified(target, chunks, checksum_algorithm, expected_checksum,
                                                            check)
        st = os.stat(target)
        checksum = None
        if checksum_algorithm and checksum_value:
            checksum = {"algorithm": checksum_algorithm.upper(), "value": checksum_value, "type": checksum_type}
        meta = {
            "etag": etag or md5_hex,
            "size": st.st_size,
            "mtime_ns": st.st_mtime_ns,
            "content_type": content_type or DEFAULT_PUT_CONTENT_TYPE,
            "metadata": metadata,
            "headers": headers,
            "checksum": checksum,
            "part_sizes": part_sizes,
            "storage_class": storage_class,
        }
        self.write_object_meta(bucket, parts, meta)
        with self._lock:
            self._etag_cache.pop(str(target), None)
        logger.debug("stored s3://%s/%s (%d bytes)", bucket, key, size)
        return meta

    def make_folder(self, bucket_dir: Path, key: str, parts: list[str]) -> None:
        """Create the folder for a key ending in '/'; InvalidArgument if a file is in the way."""
        self.require_inside(bucket_dir.joinpath(*parts), f"Key '{key}'")
        current = bucket_dir
        for i, segment in enumerate(parts):
            current = current / segment
            if current.exists() and not current.is_dir():
                raise not_representable(
                    key, f"'{'/'.join(parts[: i + 1])}' is already an object (a file), so it cannot be a folder")
        current.mkdir(parents=True, exist_ok=True)

    def delete_key(self, bucket_dir: Path, bucket: str, key: str) -> None:
        """Delete the object ``key`` (or the empty folder of a key ending in '/'); a missing key is no error."""
        parts, is_folder = key_parts(key)
        path = bucket_dir.joinpath(*parts)
        self.require_inside(path.parent if not is_folder else path, f"Key '{key}'")
        if is_folder:
            if path.is_dir():
                try:
                    path.rmdir()  # only an empty folder is a "folder object"
                except OSError:
                    return
                self.prune(path.parent, bucket_dir)
            return
        try:
            st = os.stat(path)
        except (FileNotFoundError, NotADirectoryError):
            return
        if stat.S_ISDIR(st.st_mode):
            return
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        self._drop_object_meta(bucket, parts)
        with self._lock:
            self._etag_cache.pop(str(path), None)
        self.prune(path.parent, bucket_dir)

    # ------------------------------------------------------------------ the listing walk

    @staticmethod
    def _scan(directory: Path):
        try:
            entries = list(os.scandir(directory))
        except (FileNotFoundError, NotADirectoryError, PermissionError):
            return []
        return [e for e in entries
                if not e.name.startswith(TMP_PREFIX) and e.name not in _IGNORED_NAMES and encodable(e.name)]

    def _walk_keys(self, directory: Path, rel: str, seen=None) -> Iterator[str]:
        seen = set() if seen is None else seen
        try:
            st = os.stat(directory)
        except OSError:
            return
        ident = (st.st_dev, st.st_ino)
        if ident in seen:  # a symlink loop
            return
        seen.add(ident)
        for entry in self._scan(directory):
            try:
                if self._skip_outside(entry):
                    continue
                if entry.is_dir():
                    yield from self._walk_keys(Path(entry.path), f"{rel}{entry.name}/", seen)
                elif entry.is_file():
                    yield rel + entry.name
            except OSError:
                continue

    def contains_object(self, directory: Path) -> bool:
        """Whether any file (object) is below ``directory``."""
        return next(iter(self._walk_keys(directory, "")), None) is not None

    def collect(self, bucket_dir: Path, prefix: str, delimiter: str) -> list[tuple[str, bool]]:
        """Sorted ``(name, is_common_prefix)`` for all keys under ``prefix``, rolled up at ``delimiter``."""
        base_rel = prefix.rpartition("/")[0]
        base_parts = base_rel.split("/") if base_rel else []
        if any(p in ("", ".", "..") or p.startswith(TMP_PREFIX) or p in _IGNORED_NAMES for p in base_parts):
            return []
        base_dir = bucket_dir.joinpath(*base_parts)
        if not base_dir.is_dir() or not self.inside(base_dir):
            return []
        rel_base = f"{base_rel}/" if base_rel else ""
        out: list[tuple[str, bool]] = []
        if delimiter == "/":
            for entry in self._scan(base_dir):
                rel = rel_base + entry.name
                if not rel.startswith(prefix):
                    continue
                try:
                    if self._skip_outside(entry):
                        continue
                    if entry.is_dir():
                        if self.contains_object(Path(entry.path)):
                            out.append((rel + "/", True))
                    elif entry.is_file():
                        out.append((rel, False))
                except OSError:
                    continue
            out.sort()
            return out
        keys = sorted(k for k in self._walk_keys(base_dir, rel_base) if k.startswith(prefix))
        if not delimiter:
            return [(k, False) for k in keys]
        last = None
        for key in keys:
            cut = key.find(delimiter, len(prefix))
            if cut >= 0:
                common = key[: cut + len(delimiter)]
                if common != last:
                    out.append((common, True))
                    last = common
            else:
                out.append((key, False))
        out.sort()
        return out
