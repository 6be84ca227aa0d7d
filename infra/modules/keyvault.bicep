// The Key Vault (RBAC mode) that holds the webhook and approval-token signing keys. The secret
// values are never in a template: scripts/hooks/postprovision.sh creates each one once.

param name string
param location string
param tags object

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  // checkov:skip=CKV_AZURE_109:Flex Consumption cannot resolve Key Vault references to a network-restricted vault; access is RBAC only
  // checkov:skip=CKV_AZURE_189:Same as CKV_AZURE_109: public network access stays on, every read needs an Entra identity with a role
  name: name
  location: location
  tags: tags
  properties: {
    tenantId: subscription().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 90
    enablePurgeProtection: true
    // Flex Consumption cannot resolve Key Vault references to a network-restricted vault.
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
