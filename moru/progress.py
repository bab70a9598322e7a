"""Rich progress for Spark work: one line per stage, with the active Spark stages' task counts
read from the SparkContext's status tracker (the local equivalent of watching the Spark UI)."""

from __future__ import annotations

import threading
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn


class SparkProgress:
    def __init__(self, spark, console: Console | None = None):
        self.spark = spark
        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("[bold]{task.description:<12}"),
            BarColumn(),
            TextColumn("{task.fields[detail]}"),
            TimeElapsedColumn(),
            console=console or Console(),
        )

    def __enter__(self):
        self.progress.__enter__()
        return self

    def __exit__(self, *exc):
        return self.progress.__exit__(*exc)

    @contextmanager
    def stage(self, name: str):
        task = self.progress.add_task(name, total=None, detail="")
        stop = threading.Event()
        tracker = self.spark.sparkContext.statusTracker()

        def poll():
            while not stop.wait(0.5):
                done = total = 0
                for sid in tracker.getActiveStageIds():
                    info = tracker.getStageInfo(sid)
                    if info:
                        done += info.numCompletedTasks
                        total += info.numTasks
                if total:
                    self.progress.update(task, total=total, completed=done, detail=f"spark tasks {done}/{total}")

        thread = threading.Thread(target=poll, daemon=True)
        thread.start()
        try:
            yield lambda detail: self.progress.update(task, detail=detail)
        finally:
            stop.set()
            thread.join()
            self.progress.update(task, total=1, completed=1, detail="done")
