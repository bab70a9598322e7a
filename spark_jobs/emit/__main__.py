"""``python -m spark_jobs.emit --config moru.yaml [--force]`` (also as a spark-submit module): the emit job alone.
Exits 1 when the gate has not passed."""

from spark_jobs.entry import main

if __name__ == "__main__":
    main("emit")
