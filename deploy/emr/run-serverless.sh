#!/usr/bin/env bash
# Run moru's stages on EMR Serverless one after another: each request of serverless-job-run.json (generated, in
# pipeline order) is started once the previous job run SUCCEEDED; a failed run (a failed gate exits 1) stops here.
#   deploy/emr/run-serverless.sh APPLICATION_ID EXECUTION_ROLE_ARN [serverless-job-run.json] [first-stage]
# Needs the aws CLI and jq. The application must be of the release the file names (Spark 4.0).
set -euo pipefail
app="$1"; role="$2"
file="${3:-$(dirname "${BASH_SOURCE[0]}")/serverless-job-run.json}"
from="${4:-}"
n="$(jq '.jobRuns | length' "$file")"
started=""
for i in $(seq 0 $((n - 1))); do
  req="$(jq --arg app "$app" --arg role "$role" ".jobRuns[$i] + {applicationId: \$app, executionRoleArn: \$role}" "$file")"
  name="$(jq -r .name <<<"$req")"
  if [ -n "$from" ] && [ -z "$started" ] && [ "$name" != "moru-$from" ]; then continue; fi
  started=1
  id="$(aws emr-serverless start-job-run --cli-input-json "$req" --query jobRunId --output text)"
  echo "$name: job run $id"
  while :; do
    state="$(aws emr-serverless get-job-run --application-id "$app" --job-run-id "$id" --query jobRun.state --output text)"
    case "$state" in
      SUCCESS) echo "$name: done"; break ;;
      FAILED|CANCELLED) echo "$name: $state (logs under the logUri of $file)" >&2; exit 1 ;;
      *) sleep 30 ;;
    esac
  done
done
