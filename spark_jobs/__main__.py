"""``python -m spark_jobs <job> --config moru.yaml [--force]``: any job (or CLI command such as ``dedup``) alone."""

from spark_jobs.entry import main

if __name__ == "__main__":
    main()
