#!/usr/bin/env bash
# After the code is deployed (azd's postdeploy hook; scripts/deploy.sh runs it too): subscribes
# each Event Grid blob trigger to BlobCreated events (infra/eventgrid.bicep). The webhook needs
# the blob extension's system key, which the host creates only once the code with a blob
# trigger runs. The key is passed as a @secure parameter in a private temp file: never on a
# command line, and the template has no outputs.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

: "${AZURE_RESOURCE_GROUP:?AZURE_RESOURCE_GROUP is not set}"
: "${AZURE_FUNCTION_APP_NAME:?AZURE_FUNCTION_APP_NAME is not set (an output of infra/main.bicep)}"
: "${AZURE_STORAGE_ACCOUNT_NAME:?AZURE_STORAGE_ACCOUNT_NAME is not set (an output of infra/main.bicep)}"
PYTHON="${PYTHON:-$(command -v .venv/bin/python || command -v python3)}"
RETRIES="${HOOK_RETRIES:-10}"
RETRY_SECONDS="${HOOK_RETRY_SECONDS:-30}"

# EVENTGRID_BLOB_TRIGGERS (JSON) overrides discovery, e.g. where the app cannot be imported.
triggers="${EVENTGRID_BLOB_TRIGGERS:-$("$PYTHON" scripts/blob_triggers.py .)}"
if [[ "$triggers" == "[]" ]]; then
  echo "No Event Grid blob triggers: no event subscription to create"
  exit 0
fi
echo "Event Grid blob triggers: $triggers"

attempt=1
while :; do
  key="$(az functionapp keys list --resource-group "$AZURE_RESOURCE_GROUP" \
    --name "$AZURE_FUNCTION_APP_NAME" --query systemKeys.blobs_extension --output tsv)" || key=""
  [[ -n "$key" ]] && break
  if [[ $attempt -ge $RETRIES ]]; then
    echo "The blob extension key did not appear: is the code with the blob trigger deployed?" >&2
    exit 1
  fi
  echo "Waiting for the blob extension key ($attempt/$RETRIES)..."
  attempt=$((attempt + 1))
  sleep "$RETRY_SECONDS"
done

tmp_dir="$(mktemp -d)"
trap 'rm -rf "$tmp_dir"' EXIT
chmod 700 "$tmp_dir"
parameters="$tmp_dir/eventgrid.parameters.json"
(umask 077 && BLOB_EXTENSION_KEY="$key" BLOB_TRIGGERS="$triggers" "$PYTHON" -c '
import json, os, sys
values = {
    "storageAccountName": os.environ["AZURE_STORAGE_ACCOUNT_NAME"],
    "functionAppName": os.environ["AZURE_FUNCTION_APP_NAME"],
    "blobExtensionKey": os.environ["BLOB_EXTENSION_KEY"],
    "blobTriggers": json.loads(os.environ["BLOB_TRIGGERS"]),
}
json.dump({
    "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentParameters.json#",
    "contentVersion": "1.0.0.0",
    "parameters": {name: {"value": value} for name, value in values.items()},
}, sys.stdout)
' >"$parameters")

az deployment group create --resource-group "$AZURE_RESOURCE_GROUP" \
  --name eventgrid-blob-triggers --template-file infra/eventgrid.bicep \
  --parameters "@$parameters" --output none
echo "Event Grid subscriptions created for: $triggers"
