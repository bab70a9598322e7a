"""Spark jobs: each module has ``run(spark, cfg)`` and a ``__main__`` usable with spark-submit."""
