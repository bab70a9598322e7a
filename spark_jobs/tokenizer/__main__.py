"""``python -m spark_jobs.tokenizer --config moru.yaml`` (also as a spark-submit module): the tokenizer job alone."""

from spark_jobs.entry import main

if __name__ == "__main__":
    main("tokenizer")
