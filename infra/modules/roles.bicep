// Every role assignment, each scoped as narrowly as the code or binding that needs it allows:
// here those of one principal (the main app's mail, Event Grid's dead letters, the deployer's
// secrets), and through app-roles.bicep those every app's identity holds, once per app (main,
// express). docs/infra.md lists them (role, scope, who needs it, why); tests/infra checks both
// agree.

@description('Principal (object) id of the main app\'s user-assigned identity.')
param mainPrincipalId string

@description('Principal (object) id of the express app\'s user-assigned identity.')
param expressPrincipalId string

@description('Object id of the person or pipeline that deploys; empty to assign nothing.')
param deployerPrincipalId string = ''

@allowed([
  'User'
  'ServicePrincipal'
  'Group'
])
param deployerPrincipalType string = 'User'

param storageAccountName string
param serviceBusNamespaceName string
param keyVaultName string
param appInsightsName string

@description('Queues the main app\'s Service Bus triggers listen on.')
param mainTriggerQueueNames array

@description('Queues the express app\'s Service Bus triggers listen on.')
param expressTriggerQueueNames array

@description('Queues both apps send to (replies: publish_job_update runs in both).')
param senderQueueNames array

@description('Topics both apps publish to (job events).')
param senderTopicNames array

@description('Principal (object) id of the Event Grid system topic\'s system-assigned identity.')
param eventGridPrincipalId string

@description('The container Event Grid dead-letters undeliverable blob events to.')
param deadLetterContainerName string

@description('The Communication Service the main app sends notification mail through (modules/email.bicep).')
param communicationServiceName string

// Built-in role definition ids (the same in every subscription).
var roleIds = {
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
  storageBlobDataContributor: 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'
  storageQueueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
  storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
  serviceBusDataOwner: '090c5cfd-751d-490a-894a-3ce6f1109419'
  serviceBusDataSender: '69a216fc-b8fb-44d8-bc22-1f3c2cd27a39'
  keyVaultSecretsUser: '4633458b-17de-408a-b874-0445c86b69e6'
  keyVaultSecretsOfficer: 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7'
  monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb'
  communicationAndEmailServiceOwner: '09976791-48a7-449e-bb21-39d1a415f350'
}

resource storage 'Microsoft.Storage/storageAccounts@2024-01-01' existing = {
  name: storageAccountName
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2024-01-01' existing = {
  parent: storage
  name: 'default'
}

resource deadLetterContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2024-01-01' existing = {
  parent: blobService
  name: deadLetterContainerName
}

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: keyVaultName
}

resource communicationService 'Microsoft.Communication/communicationServices@2025-09-01' existing = {
  name: communicationServiceName
}

// Each app's identity and the queues its triggers read. Both apps run the order path, so both
// send replies and publish job events; app-roles.bicep gives each the same roles otherwise.
var apps = [
  {
    role: 'main'
    principalId: mainPrincipalId
    triggerQueueNames: mainTriggerQueueNames
  }
  {
    role: 'express'
    principalId: expressPrincipalId
    triggerQueueNames: expressTriggerQueueNames
  }
]

module appRoles 'app-roles.bicep' = [
  for app in apps: {
    name: 'app-roles-${app.role}'
    params: {
      roleIds: roleIds
      principalId: app.principalId
      storageAccountName: storageAccountName
      serviceBusNamespaceName: serviceBusNamespaceName
      keyVaultName: keyVaultName
      appInsightsName: appInsightsName
      triggerQueueNames: app.triggerQueueNames
      senderQueueNames: senderQueueNames
      senderTopicNames: senderTopicNames
    }
  }
]

// The main app's outbox sender mails notifications (the express app only queues them).
// Sending mail through Azure Communication Services Email with an Entra identity checks
// Microsoft.Communication/CommunicationServices/Read and /Write and EmailServices/write on the
// Communication Service. No built-in role holds only those: the narrowest that does is
// Communication and Email Service Owner (it can also manage, delete and list the keys of that
// resource), so it is scoped to that one Communication Service, never the group. Why not a
// custom role: docs/infra.md, "Roles".
resource mailSender 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(communicationService.id, mainPrincipalId, roleIds.communicationAndEmailServiceOwner)
  scope: communicationService
  properties: {
    principalId: mainPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.communicationAndEmailServiceOwner)
  }
}

// Event Grid writes blob events it could not deliver here with the system topic's own identity
// (deadLetterWithResourceIdentity; shared keys are off): that container only.
resource deadLetterWriter 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(deadLetterContainer.id, eventGridPrincipalId, roleIds.storageBlobDataContributor)
  scope: deadLetterContainer
  properties: {
    principalId: eventGridPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.storageBlobDataContributor)
  }
}

// The deployer creates each signing key once (scripts/hooks/postprovision.sh).
resource deployerSecretsOfficer 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(deployerPrincipalId)) {
  name: guid(vault.id, deployerPrincipalId, roleIds.keyVaultSecretsOfficer)
  scope: vault
  properties: {
    principalId: deployerPrincipalId
    principalType: deployerPrincipalType
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.keyVaultSecretsOfficer)
  }
}
