"""moru's benchmark tasks as lm-eval YAML over local files (rendered with the data folder by eval.harness), the
functions those YAMLs name (moru_task_utils.py), and the judged two-turn benchmarks (judged/*.yaml)."""
