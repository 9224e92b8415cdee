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
from dataclasses import dataclass, field

from ..errors import VidseekError

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
        spark = builder.getOrCreate()
    except Exception as exc:  # noqa: BLE001 - JVM start failures come in many types
        raise EngineError(None, f"could not start Spark with master {config.resolved_master}: "
                                f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def default_parallelism(spark) -> int:
    return max(1, int(spark.sparkContext.defaultParallelism))


@contextmanager
def job_progress(spark, desc: str, unit: str = "task", quiet: bool = False):
    """A tqdm bar over the tasks of the Spark jobs run inside the block (polls the status tracker)."""
    from tqdm import tqdm

    sc = spark.sparkContext
    group = f"vidseek-{desc}-{id(object())}"
    sc.setJobGroup(group, desc)
    stop = threading.Event()
    bar = tqdm(desc=desc, unit=unit, disable=quiet or None, file=sys.stderr, dynamic_ncols=True, total=0)

    def poll() -> None:
        tracker = sc.statusTracker()
        while not stop.wait(0.5):
            try:
                total = done = 0
                for job_id in tracker.getJobIdsForGroup(group):
                    job = tracker.getJobInfo(job_id)
                    if job is None:
                        continue
                    for sid in job.stageIds:
                        st = tracker.getStageInfo(sid)
                        if st is not None:
                            total += st.numTasks
                            done += st.numCompletedTasks
                if total:
                    bar.total = total
                    bar.n = done
                    bar.refresh()
            except Exception:  # noqa: BLE001 - progress is best effort
                pass

    t = threading.Thread(target=poll, daemon=True)
    t.start()
    try:
        yield bar
    finally:
        stop.set()
        t.join(timeout=2)
        bar.close()
        sc.setLocalProperty("spark.jobGroup.id", None)
