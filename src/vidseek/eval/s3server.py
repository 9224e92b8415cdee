"""An S3-protocol server on loopback (moto in server mode), for tests and benchmarks of object storage.

``moto`` (``pip install 'moto[server]'``) answers the S3 API from memory: uploads, ranged GETs, listings and
conditional writes behave as on AWS.  Nothing is reachable from outside 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Iterator

from ..errors import VidseekError
from ..net import free_port, wait_for_port


def s3_env(endpoint: str) -> dict[str, str]:
    """The environment variables that point vidseek (and boto3, and pyarrow) at ``endpoint``."""
    return {"AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "vidseek-test", "AWS_SECRET_ACCESS_KEY": "vidseek-test",
            "AWS_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true"}


@contextlib.contextmanager
def loopback_s3(log: str | os.PathLike, timeout: float = 30.0) -> Iterator[dict[str, str]]:
    """Run a moto S3 server on a free loopback port until the block ends; yields its environment (:func:`s3_env`)."""
    port = free_port()
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        if not wait_for_port(port, timeout):
            raise VidseekError(Path(log), f"the S3 server did not open port {port} in {timeout:.0f} s")
        yield s3_env(f"http://127.0.0.1:{port}")
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def make_bucket(env: dict[str, str], bucket: str) -> None:
    import boto3

    boto3.client("s3", endpoint_url=env["AWS_ENDPOINT_URL"], region_name=env["AWS_REGION"],
                 aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
                 aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"]).create_bucket(Bucket=bucket)
