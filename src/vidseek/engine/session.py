"""The one place a SparkSession is built.

Master: ``--master`` > ``$VIDSEEK_SPARK_MASTER`` > ``local[*]``.  In local mode the driver binds to
127.0.0.1 (``SPARK_LOCAL_IP``) unless told otherwise.  Python workers run the driver's interpreter
(``PYSPARK_PYTHON = sys.executable``), otherwise they fail with missing modules.  Arrow is on, logs are
quiet, the UI is off.

Memory: ``--driver-memory`` (default 1g) is the driver JVM's heap, which in local mode also runs the
executors' side of every task: Arrow batches of 256 rows, 16 MB Parquet row groups and the PQ training
sample (the wide whitening sample never enters the JVM).  A larger heap is not needed, only filled more
lazily by the garbage collector.  ``--executor-memory`` (cluster mode; default Spark's 1g) holds one CNN
plus one batch of key frames at a time.  Java 17 or newer is required.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import threading
from contextlib import contextmanager
from typing import Callable
from dataclasses import dataclass, field

from ..errors import VidseekError
from ..progress import Progress

DEFAULT_MASTER = "local[*]"
LOG4J_CONFIG = os.path.join(os.path.dirname(os.path.abspath(__file__)), "log4j2.properties")


class EngineError(VidseekError):
    """Spark could not be started or a job failed."""


@dataclass(frozen=True)
class SparkConfig:
    master: str | None = None
    app_name: str = "vidseek"
    driver_memory: str = "1g"
    executor_memory: str | None = None
    conf: dict[str, str] = field(default_factory=dict)

    @property
    def resolved_master(self) -> str:
        return self.master or os.environ.get("VIDSEEK_SPARK_MASTER") or DEFAULT_MASTER

    @property
    def local(self) -> bool:
        return self.resolved_master.startswith("local")


def java_major_version() -> int | None:
    """Major version of the ``java`` Spark will use ($JAVA_HOME/bin/java, else PATH), or None."""
    home = os.environ.get("JAVA_HOME")
    java = os.path.join(home, "bin", "java") if home else shutil.which("java")
    if not java or not os.path.exists(java):
        return None
    try:
        out = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=30).stderr
    except (OSError, subprocess.TimeoutExpired):
        return None
    m = re.search(r'version "(\d+)(?:\.(\d+))?', out)
    if not m:
        return None
    major = int(m.group(1))
    return int(m.group(2)) if major == 1 and m.group(2) else major


def check_java() -> None:
    major = java_major_version()
    if major is None:
        raise EngineError(None, "Java not found: vidseek's Spark engine needs Java 17 or newer "
                                "(install e.g. openjdk-17-jre-headless, or set JAVA_HOME)")
    if major < 17:
        raise EngineError(None, f"Java {major} found, but Spark 4 needs Java 17 or newer (set JAVA_HOME)")


#: lines the JVM and Spark print at start-up that tell a vidseek user nothing
_JVM_NOISE = ("WARNING: Using incubator modules", "Setting default log level to", "To adjust logging level use",
              "For SparkR, use setLogLevel")


@contextmanager
def _filtered_jvm_stderr():
    """Launch the JVM with its standard error on a pipe that a thread filters: start-up noise is dropped,
    everything else (Spark's ERROR lines) reaches our standard error.  The JVM keeps the pipe for its life."""
    try:
        sys.stderr.flush()
        read_fd, write_fd = os.pipe()
        saved = os.dup(2)
    except OSError:
        yield
        return
    os.dup2(write_fd, 2)
    os.close(write_fd)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)

    def forward() -> None:
        with os.fdopen(read_fd, "rb", buffering=0) as pipe:
            for raw in iter(pipe.readline, b""):
                line = raw.decode(errors="replace").rstrip()
                if line and not line.startswith(_JVM_NOISE):
                    try:
                        os.write(2, (line + "\n").encode())
                    except OSError:
                        pass

    threading.Thread(target=forward, name="vidseek-jvm-stderr", daemon=True).start()


def spark_session(config: SparkConfig = SparkConfig()):
    """Start (or reuse) the SparkSession for ``config``."""
    check_java()
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    if config.local:
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    from pyspark.sql import SparkSession

    builder = (
        SparkSession.builder.master(config.resolved_master)
        .appName(config.app_name)
        .config("spark.driver.memory", config.driver_memory)
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.sql.execution.arrow.maxRecordsPerBatch", "256")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.python.worker.reuse", "true")
        .config("spark.sql.adaptive.enabled", "false")  # keep our partitioning as asked
        .config("spark.sql.parquet.compression.codec", "zstd")
        # Parquet writers buffer a whole row group: 16 MB instead of 128 MB keeps the JVM's memory flat
        .config("spark.hadoop.parquet.block.size", str(16 << 20))
        .config("spark.executorEnv.PYSPARK_PYTHON", os.environ["PYSPARK_PYTHON"])
        .config("spark.driver.extraJavaOptions", f"-Dlog4j2.configurationFile=file:{LOG4J_CONFIG}")
    )
    if config.local:
        builder = builder.config("spark.driver.host", "127.0.0.1").config("spark.driver.bindAddress", "127.0.0.1")
    if config.executor_memory:
        builder = builder.config("spark.executor.memory", config.executor_memory)
    for k, v in config.conf.items():
        builder = builder.config(k, v)
    try:
        with _filtered_jvm_stderr():
            spark = builder.getOrCreate()
    except Exception as exc:  # noqa: BLE001 - JVM start failures come in many types
        raise EngineError(None, f"could not start Spark with master {config.resolved_master}: "
                                f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def default_parallelism(spark) -> int:
    return max(1, int(spark.sparkContext.defaultParallelism))


@contextmanager
def job_progress(spark, desc: str, unit: str = "task", quiet: bool = False, total: int | None = None,
                 counter: Callable[[], tuple[int, int]] | None = None, extra_unit: str | None = None):
    """Progress of the Spark jobs run inside the block (a bar on a terminal, log lines otherwise).

    Without ``counter``, Spark tasks done / total from the status tracker; with it, ``counter()`` gives
    (units done, extra count) of ``total`` units (the extraction counts files and key frames).
    """
    sc = spark.sparkContext
    group = f"vidseek-{desc}-{id(object())}"
    sc.setJobGroup(group, desc)
    stop = threading.Event()
    progress = Progress(desc, total=total, unit=unit, extra_unit=extra_unit, quiet=quiet)

    def tasks_done() -> tuple[int, int]:
        tracker = sc.statusTracker()
        n = done = 0
        for job_id in tracker.getJobIdsForGroup(group):
            job = tracker.getJobInfo(job_id)
            for sid in job.stageIds if job is not None else ():
                st = tracker.getStageInfo(sid)
                if st is not None:
                    n += st.numTasks
                    done += st.numCompletedTasks
        progress.total = n or None
        return done, 0

    def poll() -> None:
        while not stop.wait(0.5):
            try:
                done, extra = (counter or tasks_done)()
                progress.update(done, extra)
            except Exception:  # noqa: BLE001 - progress is best effort
                pass

    t = threading.Thread(target=poll, daemon=True)
    t.start()
    try:
        yield progress
    finally:
        stop.set()
        t.join(timeout=2)
        try:
            progress.update(*(counter or tasks_done)())
        except Exception:  # noqa: BLE001
            pass
        progress.close()
        sc.setLocalProperty("spark.jobGroup.id", None)
