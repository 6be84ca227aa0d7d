// Operational alerts and the action group they notify: dead letters on any queue, a missed
// nightly run, the orchestration failure rate and queue backlog age.

param namePrefix string
param location string
param tags object

@description('Email address alerts go to; empty creates the action group without a receiver.')
param alertEmail string = ''

param serviceBusNamespaceId string
param appInsightsId string

@description('Scheduled jobs whose heartbeat (adapters/telemetry.py heartbeat()) must appear daily.')
param heartbeatJobNames array

@description('Alert when more than this percentage of finished orchestrations failed in an hour.')
@minValue(1)
@maxValue(100)
param orchestrationFailurePercent int = 5

@description('Alert when a queue kept at least one active message for this whole window.')
@allowed([
  'PT15M'
  'PT30M'
  'PT1H'
])
param backlogWindow string = 'PT30M'

var emailReceivers = [
  {
    name: 'operator'
    emailAddress: alertEmail
    useCommonAlertSchema: true
  }
]

resource actionGroup 'Microsoft.Insights/actionGroups@2023-01-01' = {
  name: 'ag-${namePrefix}'
  location: 'global'
  tags: tags
  properties: {
    groupShortName: take('jobs${namePrefix}', 12)
    enabled: true
    emailReceivers: empty(alertEmail) ? [] : emailReceivers
  }
}

// Service Bus dead-letters after a queue's maxDeliveryCount (infra/servicebus.json); any dead
// letter on any entity needs a look (docs/order-workflow.md, the dead-letters tool).
resource deadLetters 'Microsoft.Insights/metricAlerts@2018-03-01' = {
  name: 'alert-${namePrefix}-dead-letters'
  location: 'global'
  tags: tags
  properties: {
    description: 'A Service Bus queue or subscription holds dead-lettered messages.'
    severity: 2
    enabled: true
    scopes: [
      serviceBusNamespaceId
    ]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT5M'
    criteria: {
      'odata.type': 'Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria'
      allOf: [
        {
          criterionType: 'StaticThresholdCriterion'
          name: 'DeadLetteredMessages'
          metricNamespace: 'Microsoft.ServiceBus/namespaces'
          metricName: 'DeadletteredMessages'
          dimensions: [
            {
              name: 'EntityName'
              operator: 'Include'
              values: [
                '*'
              ]
            }
          ]
          operator: 'GreaterThan'
          threshold: 0
          timeAggregation: 'Maximum'
        }
      ]
    }
    actions: [
      {
        actionGroupId: actionGroup.id
      }
    ]
  }
}

// Service Bus has no "oldest message age" metric: a queue whose active-message count never
// dropped to zero for the whole window holds a message at least that old.
resource backlogAge 'Microsoft.Insights/metricAlerts@2018-03-01' = {
  name: 'alert-${namePrefix}-backlog-age'
  location: 'global'
  tags: tags
  properties: {
    description: 'A Service Bus queue has not drained for the whole window: its backlog is getting old.'
    severity: 3
    enabled: true
    scopes: [
      serviceBusNamespaceId
    ]
    evaluationFrequency: 'PT5M'
    windowSize: backlogWindow
    criteria: {
      'odata.type': 'Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria'
      allOf: [
        {
          criterionType: 'StaticThresholdCriterion'
          name: 'ActiveMessagesNeverZero'
          metricNamespace: 'Microsoft.ServiceBus/namespaces'
          metricName: 'ActiveMessages'
          dimensions: [
            {
              name: 'EntityName'
              operator: 'Include'
              values: [
                '*'
              ]
            }
          ]
          operator: 'GreaterThan'
          threshold: 0
          timeAggregation: 'Minimum'
        }
      ]
    }
    actions: [
      {
        actionGroupId: actionGroup.id
      }
    ]
  }
}

// One per scheduled job: no heartbeat (log line or jobs.heartbeat metric) in the last 25 hours.
resource missedRun 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = [
  for job in heartbeatJobNames: {
    name: 'alert-${namePrefix}-missed-${job}'
    location: location
    tags: tags
    properties: {
      displayName: 'Missed scheduled run: ${job}'
      description: 'No heartbeat from the scheduled job ${job} in the last 25 hours.'
      severity: 2
      enabled: true
      scopes: [
        appInsightsId
      ]
      evaluationFrequency: 'PT1H'
      windowSize: 'P2D'
      criteria: {
        allOf: [
          {
            query: 'union (customMetrics | where name == "jobs.heartbeat" and tostring(customDimensions["job"]) == "${job}"), (traces | where message startswith "Heartbeat: scheduled job ${job} ") | where timestamp > ago(25h)'
            timeAggregation: 'Count'
            operator: 'LessThan'
            threshold: 1
            failingPeriods: {
              numberOfEvaluationPeriods: 1
              minFailingPeriodsToAlert: 1
            }
          }
        ]
      }
      actions: {
        actionGroups: [
          actionGroup.id
        ]
      }
    }
  }
]

// The Durable extension logs each orchestration's end (Category Host.Triggers.DurableTask,
// prop__state Completed or Failed) to Application Insights.
resource orchestrationFailures 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = {
  name: 'alert-${namePrefix}-orchestration-failures'
  location: location
  tags: tags
  properties: {
    displayName: 'Orchestration failure rate'
    description: 'More than ${orchestrationFailurePercent}% of the orchestrations that finished in the last hour failed.'
    severity: 2
    enabled: true
    scopes: [
      appInsightsId
    ]
    evaluationFrequency: 'PT15M'
    windowSize: 'PT1H'
    criteria: {
      allOf: [
        {
          query: 'traces | where tostring(customDimensions["Category"]) == "Host.Triggers.DurableTask" and tostring(customDimensions["prop__functionType"]) == "Orchestrator" | extend state = tostring(customDimensions["prop__state"]) | where state in ("Completed", "Failed") | summarize failed = countif(state == "Failed"), finished = count() | extend failurePercent = 100.0 * failed / finished'
          timeAggregation: 'Maximum'
          metricMeasureColumn: 'failurePercent'
          operator: 'GreaterThan'
          threshold: orchestrationFailurePercent
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    actions: {
      actionGroups: [
        actionGroup.id
      ]
    }
  }
}

output actionGroupId string = actionGroup.id
