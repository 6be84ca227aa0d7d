// Post-deploy: one subscription per Event Grid blob trigger on the storage account's system
// topic (modules/eventgrid-topic.bicep, provisioned by main.bicep), delivering BlobCreated
// events to the blob extension's webhook and dead-lettering what it cannot deliver. The webhook
// needs the extension's system key, which exists only once the code runs, so
// scripts/hooks/postdeploy.sh deploys this after publishing and passes the key as @secure.

param storageAccountName string
param functionAppName string

@secure()
@description('The blobs_extension system key of the function app.')
param blobExtensionKey string

@description('The app\'s Event Grid blob triggers: [{ functionName, container }].')
param blobTriggers array

resource storage 'Microsoft.Storage/storageAccounts@2024-01-01' existing = {
  name: storageAccountName
}

resource app 'Microsoft.Web/sites@2024-04-01' existing = {
  name: functionAppName
}

// main.bicep's container list holds it, and roles.bicep lets the topic's identity write it.
var deadLetterContainerName = 'eventgrid-deadletters'

// Created, with its system-assigned identity, by modules/eventgrid-topic.bicep (same name).
resource systemTopic 'Microsoft.EventGrid/systemTopics@2022-06-15' existing = {
  name: 'evgt-${storageAccountName}'
}

resource blobSubscriptions 'Microsoft.EventGrid/systemTopics/eventSubscriptions@2022-06-15' = [
  for trigger in blobTriggers: {
    parent: systemTopic
    name: take('blob-${replace(trigger.functionName, '_', '-')}', 64)
    properties: {
      destination: {
        endpointType: 'WebHook'
        properties: {
          endpointUrl: 'https://${app.properties.defaultHostName}/runtime/webhooks/blobs?functionName=Host.Functions.${trigger.functionName}&code=${blobExtensionKey}'
          maxEventsPerBatch: 1
          preferredBatchSizeInKilobytes: 64
        }
      }
      filter: {
        includedEventTypes: [
          'Microsoft.Storage.BlobCreated'
        ]
        subjectBeginsWith: '/blobServices/default/containers/${trigger.container}/'
      }
      eventDeliverySchema: 'EventGridSchema'
      retryPolicy: {
        maxDeliveryAttempts: 30
        eventTimeToLiveInMinutes: 1440
      }
      // After the retries (at once on 400 or 413) the event goes to this container, written
      // with the system topic's identity (shared keys are off); docs/operations.md replays it.
      deadLetterWithResourceIdentity: {
        identity: {
          type: 'SystemAssigned'
        }
        deadLetterDestination: {
          endpointType: 'StorageBlob'
          properties: {
            resourceId: storage.id
            blobContainerName: deadLetterContainerName
          }
        }
      }
    }
  }
]
