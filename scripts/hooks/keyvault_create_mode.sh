#!/usr/bin/env bash
# Prints how infra/main.bicep must create this environment's Key Vault: "recover" when the
# vault is soft-deleted (after `azd down` or a deleted resource group: purge protection keeps it,
# and reserves its name, for 90 days), "default" otherwise. Resource Manager refuses "default"
# while the deleted vault exists and "recover" when none does, and Bicep cannot see deleted
# vaults, so this runs before EVERY provisioning: azd's preprovision hook (preprovision.sh) and
# scripts/deploy.sh. The vault's name comes from uniqueString() (not computable here), so the
# deleted vault is found by what it keeps: its resource group (in vaultId) and the tags
# infra/main.bicep gives every resource. Messages go to stderr; stdout is the mode only.
set -euo pipefail

: "${AZURE_RESOURCE_GROUP:?AZURE_RESOURCE_GROUP is not set}"
: "${AZURE_ENV_NAME:?AZURE_ENV_NAME is not set}"
PYTHON="${PYTHON:-python3}"
APP_TAG="durable-background-jobs" # tags.app in infra/main.bicep

# azd deploys to AZURE_SUBSCRIPTION_ID, which need not be az's default subscription.
subscription=()
if [[ -n "${AZURE_SUBSCRIPTION_ID:-}" ]]; then
  subscription=(--subscription "$AZURE_SUBSCRIPTION_ID")
fi

# One line per deleted vault of this environment: name, location, scheduled purge date.
matches="$(az keyvault list-deleted --resource-type vault ${subscription[@]+"${subscription[@]}"} \
  --output json | APP_TAG="$APP_TAG" "$PYTHON" -c '
import json, os, sys
group = os.environ["AZURE_RESOURCE_GROUP"].lower()
text = sys.stdin.read().strip()
for vault in json.loads(text) if text else []:
    properties = vault.get("properties") or {}
    tags = properties.get("tags") or {}
    # /subscriptions/<id>/resourceGroups/<group>/providers/Microsoft.KeyVault/vaults/<name>
    parts = (properties.get("vaultId") or "").lower().split("/")
    in_group = "resourcegroups" in parts[:-1] and parts[parts.index("resourcegroups") + 1] == group
    if (
        in_group
        and vault.get("name", "").startswith("kv")
        and tags.get("azd-env-name") == os.environ["AZURE_ENV_NAME"]
        and tags.get("app") == os.environ["APP_TAG"]
    ):
        location = properties.get("location") or "?"
        purge_date = properties.get("scheduledPurgeDate") or "?"
        print(vault["name"], location.replace(" ", "").lower(), purge_date)
')"

if [[ -z "$matches" ]]; then
  echo "No soft-deleted Key Vault of environment '$AZURE_ENV_NAME' in $AZURE_RESOURCE_GROUP: createMode 'default'" >&2
  echo default
  exit 0
fi
if [[ "$(wc -l <<<"$matches")" -gt 1 ]]; then
  {
    echo "More than one soft-deleted Key Vault of environment '$AZURE_ENV_NAME' in $AZURE_RESOURCE_GROUP:"
    echo "$matches"
    echo "Recover the one infra/main.bicep names (az deployment group what-if shows it) with"
    echo "'az keyvault recover --name <name>', then run this again. docs/infra.md, 'azd down'."
  } >&2
  exit 1
fi

read -r name vault_location purge_date <<<"$matches"
echo "Key Vault $name of environment '$AZURE_ENV_NAME' is soft-deleted (kept until $purge_date): createMode 'recover' brings it back with its secrets" >&2
wanted_location="$(tr -d ' ' <<<"${AZURE_LOCATION:-}" | tr '[:upper:]' '[:lower:]')"
if [[ -n "$wanted_location" && "$wanted_location" != "$vault_location" ]]; then
  echo "Warning: the deleted vault is in $vault_location, AZURE_LOCATION is $wanted_location: a vault is recovered only in its own region, so the resource group must be in $vault_location" >&2
fi
echo recover
