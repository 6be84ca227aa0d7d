#!/usr/bin/env bash
# Who deploys: the identity az is signed in as, since it is the one that writes the signing keys
# (scripts/hooks/postprovision.sh) and so gets Key Vault Secrets Officer (modules/roles.bicep).
# A role assignment must name the principal's type, and Resource Manager refuses a wrong one, so
# both come from the sign-in (`az account show`, user.type and user.name):
#
#   user               principalType User; object id from Graph (az ad signed-in-user show)
#   servicePrincipal   principalType ServicePrincipal; user.name is the application (client) id
#   managed identity   principalType ServicePrincipal; user.type is servicePrincipal and user.name
#                      is systemAssignedIdentity or userAssignedIdentity
#
# The object id of a service principal or managed identity is the oid claim of its own access
# token, as azd reads AZURE_PRINCIPAL_ID: `az ad signed-in-user show` works for users only, `az ad
# sp show` needs a directory permission pipeline identities seldom hold, and a system-assigned
# identity shows no client id to look up. The token goes through a pipe, never a command line.
#
# Sourced (scripts/deploy.sh): defines signed_in_principal and deployer_principal.
# Run (azd's preprovision hook, through preprovision.sh): stores AZURE_PRINCIPAL_ID and
# AZURE_PRINCIPAL_TYPE in the azd environment, where infra/main.bicepparam reads them.
# docs/infra.md, "Who deploys: a person, a pipeline or a managed identity".

# Sets PRINCIPAL_ID, PRINCIPAL_TYPE and PRINCIPAL_KIND for the identity az is signed in as.
signed_in_principal() {
  local account user_type user_name
  account="$(az account show --query "[user.type, user.name]" --output tsv)"
  { read -r user_type; read -r user_name || true; } <<<"$account" # one value a line
  case "$user_type" in
    user)
      PRINCIPAL_KIND="user $user_name"
      PRINCIPAL_TYPE=User
      PRINCIPAL_ID="$(az ad signed-in-user show --query id --output tsv)"
      ;;
    servicePrincipal)
      case "$user_name" in
        systemAssignedIdentity | userAssignedIdentity)
          PRINCIPAL_KIND="managed identity ($user_name)"
          ;;
        *) PRINCIPAL_KIND="service principal $user_name" ;;
      esac
      PRINCIPAL_TYPE=ServicePrincipal
      PRINCIPAL_ID="$(token_object_id)"
      ;;
    *)
      echo "az is signed in as '$user_type', not a user or a service principal: run az login" >&2
      return 1
      ;;
  esac
  if [[ -z "$PRINCIPAL_ID" ]]; then
    echo "Could not read the object id of the $PRINCIPAL_KIND az is signed in as" >&2
    return 1
  fi
}

# The oid claim of an access token for Resource Manager: the signed-in principal's object id.
token_object_id() {
  az account get-access-token --query accessToken --output tsv | "${PYTHON:-python3}" -c '
import base64, json, sys
payload = sys.stdin.read().strip().split(".")[1]
print(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["oid"])'
}

# Sets and exports AZURE_PRINCIPAL_ID and AZURE_PRINCIPAL_TYPE for scripts/deploy.sh: the
# signed-in identity, unless both are already set (a principal named on purpose). One without
# the other is refused: the type of an object id cannot be guessed, and a wrong one fails the
# deployment.
deployer_principal() {
  if [[ -n "${AZURE_PRINCIPAL_ID:-}" && -n "${AZURE_PRINCIPAL_TYPE:-}" ]]; then
    case "$AZURE_PRINCIPAL_TYPE" in
      User | ServicePrincipal | Group) ;;
      *)
        echo "AZURE_PRINCIPAL_TYPE must be User, ServicePrincipal or Group: $AZURE_PRINCIPAL_TYPE" >&2
        return 1
        ;;
    esac
    echo "Deployer: $AZURE_PRINCIPAL_ID (principalType $AZURE_PRINCIPAL_TYPE, as set)"
  elif [[ -n "${AZURE_PRINCIPAL_ID:-}${AZURE_PRINCIPAL_TYPE:-}" ]]; then
    echo "Set both AZURE_PRINCIPAL_ID and AZURE_PRINCIPAL_TYPE, or neither" \
      "to use the identity az is signed in as" >&2
    return 1
  else
    signed_in_principal
    AZURE_PRINCIPAL_ID="$PRINCIPAL_ID" AZURE_PRINCIPAL_TYPE="$PRINCIPAL_TYPE"
    echo "Deployer: $PRINCIPAL_KIND, object id $PRINCIPAL_ID (principalType $PRINCIPAL_TYPE)"
  fi
  export AZURE_PRINCIPAL_ID AZURE_PRINCIPAL_TYPE
}

# Run as a hook: always the identity signed in now. Values an earlier run stored in the azd
# environment are replaced, so a switch between a person and a pipeline never keeps a stale type.
if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  set -euo pipefail
  signed_in_principal
  azd env set AZURE_PRINCIPAL_ID "$PRINCIPAL_ID"
  azd env set AZURE_PRINCIPAL_TYPE "$PRINCIPAL_TYPE"
  echo "Deployer: $PRINCIPAL_KIND, object id $PRINCIPAL_ID (principalType $PRINCIPAL_TYPE)"
fi
