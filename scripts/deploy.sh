#!/usr/bin/env bash
# Provisions infra/main.bicep with `az deployment group create`, publishes the one package to
# both apps (the main app and the express app) with `func azure functionapp publish`, and runs
# the same post-provision and post-deploy steps azd
# runs as hooks (signing keys in Key Vault, Event Grid subscriptions). Prints its plan first.
# `--azd` runs `azd up` instead, which does the same through azure.yaml. docs/infra.md.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

usage() {
  cat <<'USAGE'
Usage: scripts/deploy.sh -g RESOURCE_GROUP [-e ENV_NAME] [-l LOCATION] [--alert-email EMAIL]
                         [--azd] [--yes] [--dry-run]

  -g, --resource-group  the resource group to deploy into (created when -l is given)
  -e, --env             environment name, part of every resource name (default: $AZURE_ENV_NAME or "jobs")
  -l, --location        Azure region; creates the resource group if needed
      --alert-email     where alerts go (default: $ALERT_EMAIL, may be empty)
      --azd             provision and deploy with `azd up` instead of az + func
  -y, --yes             do not ask for confirmation
      --dry-run         print the plan and stop
USAGE
}

resource_group="" location="" use_azd=0 assume_yes=0 dry_run=0
env_name="${AZURE_ENV_NAME:-jobs}"
alert_email="${ALERT_EMAIL:-}"
while [[ $# -gt 0 ]]; do
  case "$1" in
    -g | --resource-group) resource_group="${2:?$1 needs a value}"; shift 2 ;;
    -e | --env) env_name="${2:?$1 needs a value}"; shift 2 ;;
    -l | --location) location="${2:?$1 needs a value}"; shift 2 ;;
    --alert-email) alert_email="${2:?$1 needs a value}"; shift 2 ;;
    --azd) use_azd=1; shift ;;
    -y | --yes) assume_yes=1; shift ;;
    --dry-run) dry_run=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) echo "Unknown argument: $1" >&2; usage >&2; exit 2 ;;
  esac
done
if [[ -z "$resource_group" ]]; then
  echo "A resource group is required (-g)." >&2
  usage >&2
  exit 2
fi
if [[ ! "$env_name" =~ ^[a-z0-9][a-z0-9-]{0,15}$ ]]; then
  echo "The environment name must be 1-16 lowercase letters, digits or hyphens: $env_name" >&2
  exit 2
fi

deployment="main-$env_name"
PYTHON="${PYTHON:-$(command -v .venv/bin/python || command -v python3)}"
export PYTHON

if [[ $use_azd -eq 1 ]]; then
  plan=(
    "azd env new $env_name (if it does not exist)"
    "azd env set AZURE_RESOURCE_GROUP $resource_group${location:+ and AZURE_LOCATION $location}"
    "azd up --no-prompt: provision infra/main.bicep, deploy the code, run the hooks in azure.yaml"
  )
else
  plan=(
    "az account show (check the sign-in)"
    "${location:+az group create --name $resource_group --location $location}"
    "scripts/hooks/principal.sh: the deployer's object id and principalType from the sign-in (user, service principal or managed identity)"
    "scripts/hooks/keyvault_create_mode.sh: recover this environment's Key Vault if it is soft-deleted (az keyvault list-deleted)"
    "az deployment group create --resource-group $resource_group --name $deployment --parameters infra/main.bicepparam"
    "scripts/hooks/postprovision.sh: create the signing keys in Key Vault if missing"
    "func azure functionapp publish <main app from the deployment outputs> --python"
    "func azure functionapp publish <express app from the deployment outputs> --python (the same package; APP_ROLE=express)"
    "scripts/hooks/postdeploy.sh: Event Grid subscriptions for the blob triggers"
  )
fi
echo "Plan for environment '$env_name' in resource group '$resource_group':"
step=1
for line in "${plan[@]}"; do
  [[ -z "$line" ]] && continue
  echo "  $step. $line"
  step=$((step + 1))
done
if [[ $dry_run -eq 1 ]]; then
  exit 0
fi
if [[ $assume_yes -ne 1 ]]; then
  read -r -p "Go ahead? [y/N] " answer
  [[ "$answer" == [yY]* ]] || { echo "Stopped."; exit 1; }
fi

require() {
  command -v "$1" >/dev/null || { echo "$1 is not on PATH: $2" >&2; exit 1; }
}

if [[ $use_azd -eq 1 ]]; then
  require azd "install the Azure Developer CLI"
  azd env select "$env_name" >/dev/null 2>&1 || azd env new "$env_name" --no-prompt
  azd env set AZURE_RESOURCE_GROUP "$resource_group"
  [[ -n "$location" ]] && azd env set AZURE_LOCATION "$location"
  [[ -n "$alert_email" ]] && azd env set ALERT_EMAIL "$alert_email"
  azd up --no-prompt
  exit 0
fi

require az "install the Azure CLI and run az login"
require func "install Azure Functions Core Tools v4"
az account show --query id --output tsv >/dev/null

if [[ -n "$location" ]]; then
  az group create --name "$resource_group" --location "$location" --output none
fi

# main.bicepparam reads these, as it does under azd.
export AZURE_ENV_NAME="$env_name" ALERT_EMAIL="$alert_email"
# The deployer (Key Vault Secrets Officer, for postprovision.sh): the identity az is signed in as,
# a user, a service principal or a managed identity, with its object id and principalType.
source scripts/hooks/principal.sh
deployer_principal
# 'recover' when this environment's vault is soft-deleted (after `azd down`), else 'default':
# decided for this deployment only (Resource Manager refuses a stale value either way), in
# az's default subscription, the one `az deployment group create` uses.
AZURE_KEY_VAULT_CREATE_MODE="$(AZURE_RESOURCE_GROUP="$resource_group" AZURE_LOCATION="$location" \
  AZURE_SUBSCRIPTION_ID="" bash scripts/hooks/keyvault_create_mode.sh)"
export AZURE_KEY_VAULT_CREATE_MODE

az deployment group create --resource-group "$resource_group" --name "$deployment" \
  --parameters infra/main.bicepparam --output none

outputs="$(az deployment group show --resource-group "$resource_group" --name "$deployment" \
  --query properties.outputs --output json)"
output() {
  OUTPUTS="$outputs" "$PYTHON" -c 'import json, os, sys; print(json.loads(os.environ["OUTPUTS"])[sys.argv[1]]["value"])' "$1"
}
AZURE_FUNCTION_APP_NAME="$(output AZURE_FUNCTION_APP_NAME)"
AZURE_EXPRESS_FUNCTION_APP_NAME="$(output AZURE_EXPRESS_FUNCTION_APP_NAME)"
AZURE_STORAGE_ACCOUNT_NAME="$(output AZURE_STORAGE_ACCOUNT_NAME)"
AZURE_KEY_VAULT_NAME="$(output AZURE_KEY_VAULT_NAME)"
export AZURE_RESOURCE_GROUP="$resource_group" AZURE_FUNCTION_APP_NAME AZURE_EXPRESS_FUNCTION_APP_NAME \
  AZURE_STORAGE_ACCOUNT_NAME AZURE_KEY_VAULT_NAME

scripts/hooks/postprovision.sh
# Remote build (the default for Python): requirements.txt is installed by the platform. The main
# app first: its new code stops reading the express queue, then the express app starts reading
# it (in between, express messages wait in the queue; none is lost or taken twice).
for app in "$AZURE_FUNCTION_APP_NAME" "$AZURE_EXPRESS_FUNCTION_APP_NAME"; do
  func azure functionapp publish "$app" --python
done
scripts/hooks/postdeploy.sh
echo "Deployed $AZURE_FUNCTION_APP_NAME: https://$AZURE_FUNCTION_APP_NAME.azurewebsites.net/api/health"
echo "Deployed $AZURE_EXPRESS_FUNCTION_APP_NAME (express orders; no HTTP routes)"
