"""An index in object storage (``s3://bucket/prefix``): its commit protocol, and the local copies work is done on.

Object storage has no atomic rename and no folder, so a remote index commits like this.  Under the prefix:

    model/ videos/ keyframes/ codes/ vectors/ thumbs/   the data files of a local index (gen=N folders)
    manifests/gen-00000007-<uuid>.json                  one immutable manifest per commit, never rewritten
    LATEST                                              the pointer: the name of the current manifest
    .lock                                               present while a writer works: who, since when, lease

A writer (build, add, remove, compact):

1. creates ``.lock`` only if there is none (a conditional PUT, ``If-None-Match: *``) and rewrites it while it works;
   a lock left by a process of this host that no longer runs, or one not rewritten for its lease (another host),
   is taken over (a conditional PUT on the lock's ETag; see :mod:`vidseek.store.remote_lock`);
2. reads ``LATEST`` and copies that generation into a local working copy (files it has already are kept);
3. runs the operation on the working copy, exactly as on a local index (resumable, checksummed);
4. uploads the files of the new generation, then the new manifest under a new unique name;
5. replaces ``LATEST`` with a PUT conditional on the ETag it read in step 2 (the commit point: one object
   written whole; a reader sees the old pointer or the new one);
6. deletes files of its own folders that no manifest of the current or previous generation names, then the lock.

A new index is refused under a prefix that holds anything else (as a folder with other files is on disk).

A crash (or ``kill -9``) before step 5 leaves ``LATEST`` naming the old manifest, whose files were not touched:
readers keep seeing the old generation whole, and the next writer deletes the orphans.  Readers never list: they
read ``LATEST``, the manifest it names and the files that manifest lists, into a local cache checked against the
manifest's sha256 sums, and search that copy.  The cache lives in ``$VIDSEEK_CACHE`` (default
``~/.cache/vidseek``), one folder per index URI, a ``read`` and a ``write`` copy each.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import time
import uuid
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Iterator

import pyarrow.fs as pafs

from ..atomic import crash_point, write_text
from ..errors import StoreError
from ..hashing import file_sha256
from ..storage import S3Settings, first_line, is_uri, split
from .layout import DATASETS, MANIFEST, IndexLock, Manifest, read_manifest
from .commit import collect_garbage
from .remote_lock import LOCK, acquire_lock, release_lock

log = logging.getLogger(__name__)

POINTER = "LATEST"
FETCHED = ".fetched.json"  # rel path -> sha256 of the files of a local copy known to equal the remote's
OWN_FOLDERS = (*DATASETS, "model", "manifests")  # the only folders of the prefix vidseek writes or deletes in
POINTER_SEEN = ".pointer"  # the manifest a read copy was last brought to


def cache_root(env: dict | os._Environ | None = None) -> Path:
    env = os.environ if env is None else env
    return Path(env.get("VIDSEEK_CACHE") or Path.home() / ".cache" / "vidseek")


@dataclass
class Pointer:
    manifest: str | None  # key of the current manifest, relative to the prefix; None: no index yet
    etag: str | None  # of LATEST as read; None when there is none


class RemoteIndex:
    """The index at ``uri``; :meth:`writing` and :meth:`pull` give local copies to work on."""

    def __init__(self, uri: str):
        if not is_uri(uri):
            raise StoreError(uri, "not an object storage URI")
        self.uri = uri.rstrip("/")
        self.fs, self.root = split(self.uri)
        self.bucket, _, self.prefix = self.root.partition("/")
        self.cache = cache_root() / "indexes" / hashlib.sha256(self.uri.encode()).hexdigest()[:20]
        self._client = None

    # -- objects ----------------------------------------------------------------------------------
    def key(self, rel: str) -> str:
        return f"{self.prefix}/{rel}" if self.prefix else rel

    @property
    def client(self):
        """boto3, for what pyarrow.fs lacks: conditional writes (the lock, the pointer)."""
        if self._client is None:
            try:
                import boto3
            except ImportError:
                raise StoreError(self.uri, "an s3:// index needs boto3: pip install 'vidseek[s3]'") from None

            from botocore.config import Config

            s = S3Settings.from_env()
            self._client = boto3.client("s3", region_name=s.region,
                                        endpoint_url=f"{s.scheme}://{s.endpoint}" if s.endpoint else None,
                                        config=Config(retries={"max_attempts": 3, "mode": "standard"},
                                                      connect_timeout=10, read_timeout=60))
        return self._client

    def _not_an_index(self) -> StoreError:
        return StoreError(self.uri, "not a vidseek index (no LATEST pointer; an interrupted first build leaves none)")

    def _error(self, rel: str, exc: Exception) -> StoreError:
        return StoreError(f"{self.uri}/{rel}", f"object storage refused ({first_line(exc)})")

    def _fetch(self, rel: str) -> tuple[dict, bytes] | None:
        """(GET response, body) of an object, None when absent; any other failure is one line naming it."""
        from botocore.exceptions import ClientError

        try:
            r = self.client.get_object(Bucket=self.bucket, Key=self.key(rel))
            return r, r["Body"].read()
        except ClientError as exc:
            if exc.response["Error"]["Code"] in ("NoSuchKey", "404"):
                return None
            raise self._error(rel, exc) from None
        except Exception as exc:  # noqa: BLE001 - connection errors of every kind: one line naming the object
            raise self._error(rel, exc) from None

    def get(self, rel: str) -> tuple[bytes, str] | None:
        """(body, ETag) of an object, None when absent."""
        got = self._fetch(rel)
        return None if got is None else (got[1], got[0]["ETag"])

    def get_aged(self, rel: str) -> tuple[bytes, str, float] | None:
        """(body, ETag, seconds since it was written) of an object, None when absent.  The age is the service's own
        clock (its Date header minus the object's Last-Modified), so clocks of other hosts do not enter it."""
        got = self._fetch(rel)
        if got is None:
            return None
        r, body = got
        now = parsedate_to_datetime(r["ResponseMetadata"]["HTTPHeaders"]["date"])
        return body, r["ETag"], max(0.0, (now - r["LastModified"]).total_seconds())

    def put_if(self, rel: str, body: bytes, etag: str | None) -> str | None:
        """PUT only if the object is absent (``etag`` None) or still has ``etag``: the new ETag, None when it was
        not written."""
        from botocore.exceptions import ClientError

        cond = {"IfMatch": etag} if etag else {"IfNoneMatch": "*"}
        try:
            return self.client.put_object(Bucket=self.bucket, Key=self.key(rel), Body=body, **cond)["ETag"]
        except ClientError as exc:
            if exc.response["Error"]["Code"] in ("PreconditionFailed", "ConditionalRequestConflict", "412", "409"):
                return None
            raise self._error(rel, exc) from None
        except Exception as exc:  # noqa: BLE001 - connection errors of every kind: one line naming the object
            raise self._error(rel, exc) from None

    def delete(self, rel: str) -> None:
        try:
            self.client.delete_object(Bucket=self.bucket, Key=self.key(rel))
        except Exception as exc:  # noqa: BLE001
            raise self._error(rel, exc) from None

    def upload(self, local: Path, rel: str) -> None:
        try:
            pafs.copy_files(str(local), f"{self.root}/{rel}", source_filesystem=pafs.LocalFileSystem(),
                            destination_filesystem=self.fs)
        except OSError as exc:
            raise self._error(rel, exc) from None

    def download(self, rel: str, local: Path, sha256: str | None) -> None:
        """Copy an object to ``local`` (through a temporary name), checked against its manifest checksum."""
        local.parent.mkdir(parents=True, exist_ok=True)
        tmp = local.with_name(f".{local.name}.part")
        try:
            pafs.copy_files(f"{self.root}/{rel}", str(tmp), source_filesystem=self.fs,
                            destination_filesystem=pafs.LocalFileSystem())
        except FileNotFoundError:
            raise StoreError(f"{self.uri}/{rel}", "index file listed in the manifest is missing") from None
        except OSError as exc:
            raise self._error(rel, exc) from None
        if sha256 and file_sha256(tmp) != sha256:
            tmp.unlink(missing_ok=True)
            raise StoreError(f"{self.uri}/{rel}", "checksum mismatch: the object differs from what the manifest "
                                                  "recorded (damaged or overwritten)")
        os.replace(tmp, local)

    # -- the pointer and the manifests --------------------------------------------------------------
    def read(self, rel: str) -> bytes | None:
        """An object's body through pyarrow.fs (readers need no ETag, and no boto3), None when absent."""
        try:
            with self.fs.open_input_stream(f"{self.root}/{rel}") as f:
                return f.read()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise self._error(rel, exc) from None

    def pointer(self, etag: bool = False) -> Pointer:
        """The pointer; with ``etag`` (a writer, which replaces it conditionally) read through boto3."""
        if etag:
            got = self.get(POINTER)
        else:
            body = self.read(POINTER)
            got = None if body is None else (body, None)
        if got is None:
            return Pointer(None, None)
        try:
            return Pointer(json.loads(got[0])["manifest"], got[1])
        except (ValueError, KeyError, TypeError):
            raise StoreError(f"{self.uri}/{POINTER}", "pointer is corrupt (not the JSON vidseek writes)") from None

    def manifest(self, ptr: Pointer) -> Manifest:
        body = self.read(ptr.manifest)
        if body is None:
            raise StoreError(f"{self.uri}/{ptr.manifest}", "the manifest LATEST names is missing")
        try:
            return Manifest(**json.loads(body))
        except (ValueError, TypeError) as exc:
            raise StoreError(f"{self.uri}/{ptr.manifest}", f"manifest is corrupt ({exc})") from None

    # -- local copies -------------------------------------------------------------------------------
    def pull(self, into: Path | None = None) -> Path:
        """Bring the local copy ``into`` (default: this index's read cache) to the current generation; returns it."""
        into = into or self.cache / "read"
        ptr = self.pointer()
        if ptr.manifest is None:
            raise self._not_an_index()
        if _read_text(into / POINTER_SEEN) == ptr.manifest and (into / MANIFEST).is_file():
            return into  # the copy is of the current generation already: one GET in all
        with _waiting_lock(into):
            self._sync(into, ptr)
            write_text(into / POINTER_SEEN, ptr.manifest)
        return into

    def _sync(self, local: Path, ptr: Pointer) -> Manifest:
        man = self.manifest(ptr)
        fetched = _read_fetched(local)
        todo = [r for r in manifest_files(man) if fetched.get(r) != man.checksums.get(r) or not (local / r).is_file()]
        if todo:
            log.info("fetching %d file(s) of generation %d from %s", len(todo), man.generation, self.uri)
        for rel in todo:
            self.download(rel, local / rel, man.checksums.get(rel))
            fetched[rel] = man.checksums.get(rel, "")
        fetched = {r: s for r, s in fetched.items() if (local / r).is_file()}
        write_text(local / FETCHED, json.dumps(fetched, sort_keys=True))
        if not (local / MANIFEST).is_file() or read_manifest(local).to_json() != man.to_json():
            write_text(local / MANIFEST, man.to_json(), sync=True)
        collect_garbage(local, man)
        return man

    @contextlib.contextmanager
    def writing(self, new: bool = False) -> Iterator[Path]:
        """Lock the remote index, yield a local working copy of its current generation (empty for a new index, which
        only ``new`` allows); when the block ends without error, publish what it committed there (steps 4-6 above)."""
        local = self.cache / "write"
        local.mkdir(parents=True, exist_ok=True)
        keeper = acquire_lock(self).start()
        try:
            with IndexLock(local):
                ptr = self.pointer(etag=True)
                if ptr.manifest is not None:
                    self._sync(local, ptr)
                elif not new:
                    raise self._not_an_index()
                else:  # a new index: an empty working copy (an interrupted first build's staging is kept)
                    self._check_new()
                    _clear(local, keep={".staging", ".lock"})
            yield local
            if (local / MANIFEST).is_file():
                keeper.check()
                self._publish(local, ptr)
        finally:
            release_lock(self, keeper)

    def _publish(self, local: Path, ptr: Pointer) -> None:
        man = read_manifest(local)
        old = self.manifest(ptr) if ptr.manifest else None
        if old is not None and old.to_json() == man.to_json():
            return  # nothing committed (e.g. add of files indexed already)
        fetched = _read_fetched(local)
        new = [r for r in manifest_files(man) if fetched.get(r) != man.checksums.get(r)]
        log.info("uploading %d file(s) of generation %d to %s", len(new), man.generation, self.uri)
        for rel in new:
            self.upload(local / rel, rel)
            fetched[rel] = man.checksums.get(rel, "")
        write_text(local / FETCHED, json.dumps(fetched, sort_keys=True))
        name = f"manifests/gen-{man.generation:08d}-{uuid.uuid4().hex}.json"
        self.upload_bytes(name, man.to_json().encode())
        crash_point("pointer")  # fault injection (tests): die with everything uploaded but the pointer
        if not self.put_if(POINTER, json.dumps({"manifest": name, "generation": man.generation}).encode(), ptr.etag):
            raise StoreError(f"{self.uri}/{POINTER}", "the index changed while this process held the lock (another "
                                                      "writer broke it?); nothing was committed, run again")
        log.info("committed generation %d to %s", man.generation, self.uri)
        self._collect_garbage(man, old, name, ptr.manifest)

    def upload_bytes(self, rel: str, body: bytes) -> None:
        try:
            with self.fs.open_output_stream(f"{self.root}/{rel}") as out:
                out.write(body)
        except OSError as exc:
            raise self._error(rel, exc) from None

    def _collect_garbage(self, man: Manifest, old: Manifest | None, name: str, old_name: str | None) -> None:
        """Delete objects neither the new nor the previous manifest names (orphans of crashed writers included)."""
        keep = {POINTER, LOCK, name, old_name}
        for m in (man, old):
            if m is not None:
                keep.update(manifest_files(m))
        doomed = [f"{self.root}/{rel}" for rel in self._own_objects() if rel not in keep]
        for path in doomed:
            with contextlib.suppress(OSError):
                self.fs.delete_file(path)
        if doomed:
            log.info("deleted %d object(s) no manifest needs from %s", len(doomed), self.uri)

    def _own_objects(self) -> list[str]:
        """Relative names of the objects under vidseek's own folders (never anything else under the prefix)."""
        out = []
        for folder in OWN_FOLDERS:
            sel = pafs.FileSelector(f"{self.root}/{folder}", recursive=True, allow_not_found=True)
            try:
                infos = self.fs.get_file_info(sel)
            except OSError as exc:
                raise self._error(folder, exc) from None
            out += [i.path[len(self.root) + 1:] for i in infos if i.type == pafs.FileType.File]
        return out

    def _check_new(self) -> None:
        """A new index goes only where nothing is, or where a first build was interrupted (vidseek's folders)."""
        try:
            infos = self.fs.get_file_info(pafs.FileSelector(self.root, recursive=False, allow_not_found=True))
        except OSError as exc:
            raise self._error("", exc) from None
        other = [i.base_name for i in infos if i.base_name not in (*OWN_FOLDERS, LOCK)]
        if other:
            raise StoreError(self.uri, f"holds other objects ({', '.join(sorted(other)[:3])}) and is not a vidseek "
                                       f"index; choose a new or empty prefix for the index")


def manifest_files(man: Manifest) -> list[str]:
    """Every file a manifest names: its datasets' parts and its model folder's files."""
    return [r for d in DATASETS for r in man.files.get(d, [])] + [r for r in man.checksums
                                                                   if r.startswith(man.model_dir + "/")]


def _clear(local: Path, keep: set[str]) -> None:
    for p in local.iterdir():
        if p.name not in keep:
            shutil.rmtree(p) if p.is_dir() else p.unlink()


def _read_text(path: Path) -> str | None:
    try:
        return path.read_text()
    except OSError:
        return None


def _read_fetched(local: Path) -> dict[str, str]:
    try:
        return json.loads((local / FETCHED).read_text())
    except (OSError, ValueError):
        return {}


@contextlib.contextmanager
def _waiting_lock(local: Path, timeout: float = 600.0) -> Iterator[None]:
    """The local copy's lock, waited for (two searches on one machine pull one after the other)."""
    local.mkdir(parents=True, exist_ok=True)
    deadline = time.time() + timeout
    lock = IndexLock(local)
    while True:
        try:
            lock.__enter__()
            break
        except StoreError:
            if time.time() > deadline:
                raise
            time.sleep(0.2)
    try:
        yield
    finally:
        lock.__exit__(None, None, None)


def readable_index(index: str | os.PathLike) -> Path:
    """A local folder holding the index at ``index``: the folder itself, or for a URI its read cache, brought to the
    current generation."""
    return RemoteIndex(index).pull() if is_uri(str(index)) else Path(index).absolute()


@contextlib.contextmanager
def writable_index(index: str | os.PathLike, new: bool = False) -> Iterator[Path]:
    """A local folder to run a writing operation on: the folder itself, or for a URI a locked working copy that is
    published when the block ends without error (``new``: the index may not exist yet, as for a build)."""
    if not is_uri(str(index)):
        yield Path(index).absolute()
        return
    with RemoteIndex(str(index)).writing(new) as local:
        yield local
