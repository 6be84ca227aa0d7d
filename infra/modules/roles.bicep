// Every role assignment, each scoped as narrowly as the code or binding that needs it allows.
// docs/infra.md lists them (role, scope, who needs it, why); tests/infra checks both agree.

@description('Principal (object) id of the app\'s user-assigned identity.')
param principalId string

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

@description('Queues the app\'s Service Bus triggers listen on.')
param triggerQueueNames array

@description('Queues the app sends to (replies).')
param senderQueueNames array

@description('Topics the app publishes to (job events).')
param senderTopicNames array

@description('Principal (object) id of the Event Grid system topic\'s system-assigned identity.')
param eventGridPrincipalId string

@description('The container Event Grid dead-letters undeliverable blob events to.')
param deadLetterContainerName string

@description('The Communication Service the app sends notification mail through (modules/email.bicep).')
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

resource namespace 'Microsoft.ServiceBus/namespaces@2022-10-01-preview' existing = {
  name: serviceBusNamespaceName
}

resource triggerQueues 'Microsoft.ServiceBus/namespaces/queues@2022-10-01-preview' existing = [
  for queueName in triggerQueueNames: {
    parent: namespace
    name: queueName
  }
]

resource senderQueues 'Microsoft.ServiceBus/namespaces/queues@2022-10-01-preview' existing = [
  for queueName in senderQueueNames: {
    parent: namespace
    name: queueName
  }
]

resource senderTopics 'Microsoft.ServiceBus/namespaces/topics@2022-10-01-preview' existing = [
  for topicName in senderTopicNames: {
    parent: namespace
    name: topicName
  }
]

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: keyVaultName
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: appInsightsName
}

resource communicationService 'Microsoft.Communication/communicationServices@2025-09-01' existing = {
  name: communicationServiceName
}

// Host storage (AzureWebJobsStorage), the Flex deployment container, blob triggers and the
// app's containers: the Functions docs ask for Blob Data Owner on host storage.
resource blobDataOwner 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, principalId, roleIds.storageBlobDataOwner)
  scope: storage
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.storageBlobDataOwner)
  }
}

// Durable Functions' task hub queues (created by the extension at run time).
resource queueDataContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, principalId, roleIds.storageQueueDataContributor)
  scope: storage
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.storageQueueDataContributor)
  }
}

// Durable Functions' history and instance tables, and the app's own tables.
resource tableDataContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, principalId, roleIds.storageTableDataContributor)
  scope: storage
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.storageTableDataContributor)
  }
}

// The Service Bus triggers receive; their scale controller reads each queue's runtime
// properties (message counts), which needs Manage rights: Data Owner, on those queues only.
resource triggerQueueOwner 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for (queueName, i) in triggerQueueNames: {
    name: guid(triggerQueues[i].id, principalId, roleIds.serviceBusDataOwner)
    scope: triggerQueues[i]
    properties: {
      principalId: principalId
      principalType: 'ServicePrincipal'
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.serviceBusDataOwner)
    }
  }
]

// adapters/messaging.py sends replies to these queues only.
resource replyQueueSender 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for (queueName, i) in senderQueueNames: {
    name: guid(senderQueues[i].id, principalId, roleIds.serviceBusDataSender)
    scope: senderQueues[i]
    properties: {
      principalId: principalId
      principalType: 'ServicePrincipal'
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.serviceBusDataSender)
    }
  }
]

// adapters/messaging.py publishes job events to these topics only.
resource eventTopicSender 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for (topicName, i) in senderTopicNames: {
    name: guid(senderTopics[i].id, principalId, roleIds.serviceBusDataSender)
    scope: senderTopics[i]
    properties: {
      principalId: principalId
      principalType: 'ServicePrincipal'
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.serviceBusDataSender)
    }
  }
]

// Key Vault references (APPROVAL_SIGNING_KEY, WEBHOOK_SIGNING_KEY) resolve with this identity.
resource secretsUser 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vault.id, principalId, roleIds.keyVaultSecretsUser)
  scope: vault
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.keyVaultSecretsUser)
  }
}

// Telemetry with Entra auth (APPLICATIONINSIGHTS_AUTHENTICATION_STRING).
resource metricsPublisher 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(appInsights.id, principalId, roleIds.monitoringMetricsPublisher)
  scope: appInsights
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.monitoringMetricsPublisher)
  }
}

// Sending mail through Azure Communication Services Email with an Entra identity checks
// Microsoft.Communication/CommunicationServices/Read and /Write and EmailServices/write on the
// Communication Service. No built-in role holds only those: the narrowest that does is
// Communication and Email Service Owner (it can also manage, delete and list the keys of that
// resource), so it is scoped to that one Communication Service, never the group. Why not a
// custom role: docs/infra.md, "Roles".
resource mailSender 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(communicationService.id, principalId, roleIds.communicationAndEmailServiceOwner)
  scope: communicationService
  properties: {
    principalId: principalId
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
