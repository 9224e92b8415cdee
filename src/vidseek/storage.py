"""Where files live: local paths, or object storage URIs (``s3://bucket/key``) read through ``pyarrow.fs``.

Object storage is configured the standard AWS way, from the environment: ``AWS_ACCESS_KEY_ID`` and
``AWS_SECRET_ACCESS_KEY`` (or any credential source the AWS SDK knows), ``AWS_REGION`` and, for an
S3-compatible service other than AWS (MinIO, Ceph, ...), ``AWS_ENDPOINT_URL`` (e.g. ``http://minio:9000``).
Every process reads the same variables, Spark executors included: a task opens the objects it needs itself.

A video in object storage is decoded from a seekable stream (ranged GETs as the demuxer asks), never copied whole.
"""

from __future__ import annotations

import os
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

import pyarrow.fs as pafs

from .errors import InputError

SCHEMES = ("s3://",)


def is_uri(path: str | os.PathLike) -> bool:
    """True for an object storage URI (``s3://...``); False for a local path."""
    return isinstance(path, str) and path.startswith(SCHEMES)


@dataclass(frozen=True)
class S3Settings:
    """Connection settings of the S3 service, from the standard AWS environment variables."""

    endpoint: str | None = None  # host:port of an S3-compatible service; None: AWS
    scheme: str = "https"
    region: str | None = None

    @classmethod
    def from_env(cls, env: os._Environ | dict | None = None) -> S3Settings:
        env = os.environ if env is None else env
        url = env.get("AWS_ENDPOINT_URL_S3") or env.get("AWS_ENDPOINT_URL")
        region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION")
        if not url:
            return cls(region=region)
        parsed = urllib.parse.urlparse(url if "://" in url else f"https://{url}")
        return cls(endpoint=parsed.netloc, scheme=parsed.scheme or "https", region=region)

    def filesystem(self) -> pafs.S3FileSystem:
        kw = {"region": self.region} if self.region else {}
        if self.endpoint:
            kw.update(endpoint_override=self.endpoint, scheme=self.scheme)
        return pafs.S3FileSystem(**kw)


def split(uri: str) -> tuple[pafs.FileSystem, str]:
    """(file system, path inside it) of a URI or a local path."""
    if is_uri(uri):
        rest = uri[len("s3://"):].strip("/")
        if not rest:
            raise InputError(uri, "an s3:// URI needs a bucket (s3://BUCKET/KEY)")
        return S3Settings.from_env().filesystem(), rest
    return pafs.LocalFileSystem(), str(Path(uri).absolute())


def join(base: str, *parts: str) -> str:
    """``base`` (a URI or a local path) with ``parts`` appended."""
    if is_uri(base):
        return "/".join([base.rstrip("/"), *(p.strip("/") for p in parts)])
    return str(Path(base, *parts))


def canonical(path: str | os.PathLike) -> str:
    """The name under which a file is indexed: a URI as given (without a trailing slash), a local path made absolute
    with its symbolic links resolved."""
    if is_uri(path):
        return str(path).rstrip("/")
    return os.path.realpath(path)


def object_info(uri: str) -> pafs.FileInfo:
    fs, path = split(uri)
    try:
        return fs.get_file_info(path)
    except OSError as exc:
        raise InputError(uri, f"object storage unreachable or refused ({first_line(exc)})") from None


def check_object(uri: str) -> None:
    """An InputError naming ``uri`` unless it is a readable, non-empty object."""
    info = object_info(uri)
    if info.type == pafs.FileType.NotFound:
        raise InputError(uri, "no such object")
    if info.type == pafs.FileType.Directory:
        raise InputError(uri, "is a prefix (folder), not a media file")
    if info.size == 0:
        raise InputError(uri, "empty file (0 bytes)")


def open_object(uri: str) -> pafs.NativeFile:
    """A seekable file object over ``uri`` (reads are ranged GETs): what PyAV and PIL read from."""
    fs, path = split(uri)
    try:
        return fs.open_input_file(path)
    except FileNotFoundError:
        raise InputError(uri, "no such object") from None
    except OSError as exc:
        raise InputError(uri, f"cannot open ({first_line(exc)})") from None


def list_objects(uri: str) -> list[str]:
    """URIs of every object under the prefix ``uri`` (recursively), sorted; [] when there is none."""
    fs, path = split(uri)
    try:
        infos = fs.get_file_info(pafs.FileSelector(path, recursive=True, allow_not_found=True))
    except OSError as exc:
        raise InputError(uri, f"cannot list ({first_line(exc)})") from None
    return sorted("s3://" + i.path for i in infos if i.type == pafs.FileType.File)


def first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
