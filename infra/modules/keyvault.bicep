// The Key Vault (RBAC mode) that holds the webhook and approval-token signing keys. The secret
// values are never in a template: scripts/hooks/postprovision.sh creates each one once.

param name string
param location string
param tags object

// Purge protection keeps a deleted vault (and its name) for 90 days: after `azd down` the next
// deployment of the environment must recover it. Bicep cannot see deleted vaults, so the deploy
// step decides (scripts/hooks/keyvault_create_mode.sh) and docs/infra.md tells the story.
@description('\'recover\' brings back this environment\'s soft-deleted vault with its secrets; \'default\' creates or updates it.')
@allowed([
  'default'
  'recover'
])
param createMode string = 'default'

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  // checkov:skip=CKV_AZURE_109:A network-restricted vault needs VNet integration of the app, which this template does not set up; access is RBAC only
  // checkov:skip=CKV_AZURE_189:Same as CKV_AZURE_109: public network access stays on, every read needs an Entra identity with a role
  name: name
  location: location
  tags: tags
  properties: {
    // With 'recover' Resource Manager restores the deleted vault as it was; the properties below
    // must still be valid (tenantId and sku are required) and apply from the next deployment.
    createMode: createMode
    tenantId: subscription().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 90
    enablePurgeProtection: true
    // A network-restricted vault needs the app's VNet integration (Key Vault references then
    // resolve through the virtual network); this template sets up no virtual network.
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      defaultAction: 'Allow'
      bypass: 'AzureServices'
    }
  }
}

output name string = vault.name
output id string = vault.id
output uri string = vault.properties.vaultUri
