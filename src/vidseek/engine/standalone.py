"""A Spark standalone cluster on loopback: one master and N worker JVMs on this machine.

For trying vidseek against a real cluster master URL without a cluster (the tests, ``bench/scaling.py``): the
workers are separate JVMs with their own executors, so tasks really run in other processes than the driver's,
as on a cluster.  Uses the Spark that ships with PySpark (``spark-class``); needs Java, like any Spark use.
"""

from __future__ import annotations

import contextlib
import os
import signal
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator
import urllib.request

from ..net import free_port, wait_for_port
from .session import EngineError


def alive_workers(webui_port: int) -> int:
    """Workers registered with the master whose web UI listens on ``webui_port`` (its /json/ status)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{webui_port}/json/", timeout=2) as r:
            return int(json.load(r).get("aliveworkers", 0))
    except (OSError, ValueError):
        return 0


def wait_for_workers(webui_port: int, workers: int, timeout: float, log: Path) -> None:
    deadline = time.time() + timeout
    while alive_workers(webui_port) < workers:
        if time.time() > deadline:
            raise EngineError(log, f"{workers} worker(s) did not register with the standalone master in {timeout:.0f} s")
        time.sleep(0.5)


@contextlib.contextmanager
def loopback_cluster(folder: str | os.PathLike, workers: int = 2, cores: int = 1, memory: str = "2g",
                     timeout: float = 60.0) -> Iterator[str]:
    """Start a master and ``workers`` workers of ``cores`` cores each on 127.0.0.1 (logs and work files under
    ``folder``); yields the master URL once every worker has registered; stops them all on exit."""
    import pyspark

    home = Path(pyspark.__file__).parent
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    port, webui = free_port(), free_port()
    env = {**os.environ, "SPARK_HOME": str(home), "SPARK_LOCAL_IP": "127.0.0.1", "SPARK_WORKER_DIR": str(folder / "work"),
           "SPARK_LOG_DIR": str(folder / "logs"), "PYSPARK_PYTHON": os.environ.get("PYSPARK_PYTHON", sys.executable)}
    cls = str(home / "bin" / "spark-class")
    procs = [subprocess.Popen([cls, "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1", "--port", str(port),
                               "--webui-port", str(webui)], env=env, stdout=subprocess.DEVNULL,
                              stderr=open(folder / "master.log", "w"), start_new_session=True)]
    try:
        if not wait_for_port(port, timeout):
            raise EngineError(folder / "master.log", f"the standalone master did not open port {port} in {timeout:.0f} s")
        url = f"spark://127.0.0.1:{port}"
        for _ in range(workers):
            procs.append(subprocess.Popen([cls, "org.apache.spark.deploy.worker.Worker", url, "--cores", str(cores),
                                           "--memory", memory, "--host", "127.0.0.1", "--webui-port", str(free_port())],
                                          env=env, stdout=subprocess.DEVNULL,
                                          stderr=open(folder / "worker.log", "a"), start_new_session=True))
        wait_for_workers(webui, workers, timeout, folder / "worker.log")
        yield url
    finally:
        for p in procs:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(p.pid, signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
