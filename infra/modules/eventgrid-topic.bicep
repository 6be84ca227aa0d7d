// The Event Grid system topic of the app's storage account, with its own system-assigned
// identity, and the alerts on events Event Grid could not deliver. Provisioned with the rest
// (main.bicep), not post-deploy: Event Grid checks at subscription time that this identity may
// write the dead-letter container, so its role (roles.bicep) must have propagated before
// infra/eventgrid.bicep creates the subscriptions (docs/infra.md, "Event Grid").

@description('The storage account whose blob events the topic publishes.')
param storageAccountName string

param location string
param tags object
param namePrefix string

@description('The action group the alerts notify (alerts.bicep).')
param actionGroupId string

resource storage 'Microsoft.Storage/storageAccounts@2024-01-01' existing = {
  name: storageAccountName
}

// One system topic per source account: infra/eventgrid.bicep finds it by this same name.
resource systemTopic 'Microsoft.EventGrid/systemTopics@2022-06-15' = {
  name: 'evgt-${storageAccountName}'
  location: location
  tags: tags
  // Dead-letters with this identity (deadLetterWithResourceIdentity): shared keys are off. Only
  // a system-assigned identity keeps working once the account's firewall is closed to all but
  // trusted Azure services, and it is Event Grid's alone, not the app's.
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    source: storage.id
    topicType: 'Microsoft.Storage.StorageAccounts'
  }
}

// An event that used up its retries (or was refused with 400/413) is in the dead-letter
// container: its upload has no thumbnails until it is replayed (docs/operations.md).
resource deadLettered 'Microsoft.Insights/metricAlerts@2018-03-01' = {
  name: 'alert-${namePrefix}-eventgrid-dead-letters'
  location: 'global'
  tags: tags
  properties: {
    description: 'Event Grid dead-lettered a blob event: replay it (docs/operations.md, "Replaying a dead-lettered upload").'
    severity: 2
    enabled: true
    scopes: [
      systemTopic.id
    ]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT5M'
    criteria: {
      'odata.type': 'Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria'
      allOf: [
        {
          criterionType: 'StaticThresholdCriterion'
          name: 'DeadLetteredEvents'
          metricNamespace: 'Microsoft.EventGrid/systemTopics'
          metricName: 'DeadLetteredCount'
          dimensions: [
            {
              name: 'EventSubscriptionName'
              operator: 'Include'
              values: [
                '*'
              ]
            }
          ]
          operator: 'GreaterThan'
          threshold: 0
          timeAggregation: 'Total'
        }
      ]
    }
    actions: [
      {
        actionGroupId: actionGroupId
      }
    ]
  }
}

// A dropped event is lost: dead-lettering itself failed (the container was unreachable for
// four hours, or the topic's identity lost its role).
resource dropped 'Microsoft.Insights/metricAlerts@2018-03-01' = {
  name: 'alert-${namePrefix}-eventgrid-dropped'
  location: 'global'
  tags: tags
  properties: {
    description: 'Event Grid dropped a blob event it could neither deliver nor dead-letter: that upload has no thumbnails and no dead letter.'
    severity: 1
    enabled: true
    scopes: [
      systemTopic.id
    ]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT5M'
    criteria: {
      'odata.type': 'Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria'
      allOf: [
        {
          criterionType: 'StaticThresholdCriterion'
          name: 'DroppedEvents'
          metricNamespace: 'Microsoft.EventGrid/systemTopics'
          metricName: 'DroppedEventCount'
          dimensions: [
            {
              name: 'EventSubscriptionName'
              operator: 'Include'
              values: [
                '*'
              ]
            }
          ]
          operator: 'GreaterThan'
          threshold: 0
          timeAggregation: 'Total'
        }
      ]
    }
    actions: [
      {
        actionGroupId: actionGroupId
      }
    ]
  }
}

output name string = systemTopic.name
output principalId string = systemTopic.identity.principalId
