// Operational alerts and the action group they notify: dead letters on any queue, queue backlog
// age, a missed scheduled run, the job failure rate, stuck jobs the supervisor reports,
// notification mail the app gave up on and express orders slower than their target.
//
// Log alerts query only what the app's own worker exports (adapters/telemetry.py, through
// azure-monitor-opentelemetry): its metrics in customMetrics (`name`, `value`, `valueCount`,
// attributes in `customDimensions`) and its log lines in traces (`message`). What the Functions
// host writes in OpenTelemetry mode (host.json telemetryMode) differs from the classic logger
// and depends on the host's exporter version, so no alert relies on it (docs/operations.md).
// tests/infra/test_alerts.py checks every name a query uses against adapters/telemetry.py.

param namePrefix string
param location string
param tags object

@description('Email address alerts go to; empty creates the action group without a receiver.')
param alertEmail string = ''

param serviceBusNamespaceId string
param appInsightsId string

@description('Scheduled jobs whose heartbeat (adapters/telemetry.py heartbeat()) must keep coming.')
param heartbeatJobNames array

@description('Per scheduled job: the longest gap between two heartbeats, as a KQL timespan.')
param heartbeatMaxAge object = {
  nightly_report: '25h'
  retention: '25h'
  supervisor: '1h'
}

@description('Alert when more than this percentage of one job type\'s finished jobs failed in an hour.')
@minValue(1)
@maxValue(100)
param jobFailurePercent int = 5

@description('Alert when a queue kept at least one active message for this whole window.')
@allowed([
  'PT15M'
  'PT30M'
  'PT1H'
])
param backlogWindow string = 'PT30M'

@description('Alert when express orders take longer than this on average, in seconds, from their message\'s enqueue to their orchestration\'s end (orders.express_latency), over 5 minutes.')
@minValue(1)
param expressLatencyTargetSeconds int = 5

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

// One per scheduled job: no heartbeat (the jobs.heartbeat metric or the "Heartbeat: scheduled
// job <job> ran at ..." log line, adapters/telemetry.py heartbeat()) within its heartbeatMaxAge.
resource missedRun 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = [
  for job in heartbeatJobNames: {
    name: 'alert-${namePrefix}-missed-${job}'
    location: location
    tags: tags
    properties: {
      displayName: 'Missed scheduled run: ${job}'
      description: 'No heartbeat from the scheduled job ${job} in the last ${heartbeatMaxAge[job]}.'
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
            query: 'union (customMetrics | where name == "jobs.heartbeat" and tostring(customDimensions["job"]) == "${job}"), (traces | where message startswith "Heartbeat: scheduled job ${job} ran at ") | where timestamp > ago(${heartbeatMaxAge[job]})'
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

// Per job type: the share of jobs that ended failed (after their retries and compensation).
// Every job end records jobs.duration (valueCount = jobs ended) and a failed one also
// jobs.failures with job.outcome "Failed" or "failed"; cancelled, rejected or expired jobs are
// not failures. Jobs are the orchestrations that report through orchestrators/job_results.py
// (orders, thumbnails, monitors); the scheduled jobs are watched by their heartbeats.
resource jobFailures 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = {
  name: 'alert-${namePrefix}-job-failures'
  location: location
  tags: tags
  properties: {
    displayName: 'Job failure rate'
    description: 'More than ${jobFailurePercent}% of the jobs of one type that ended in the last hour failed.'
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
          query: 'customMetrics | where name in ("jobs.duration", "jobs.failures") | extend jobType = tostring(customDimensions["job.type"]), outcome = tostring(customDimensions["job.outcome"]) | summarize finished = sumif(valueCount, name == "jobs.duration"), failed = sumif(value, name == "jobs.failures" and outcome =~ "failed") by jobType | extend failurePercent = iff(finished > 0, 100.0 * failed / finished, 0.0)'
          timeAggregation: 'Maximum'
          metricMeasureColumn: 'failurePercent'
          dimensions: [
            {
              name: 'jobType'
              operator: 'Include'
              values: [
                '*'
              ]
            }
          ]
          operator: 'GreaterThan'
          threshold: jobFailurePercent
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

// The supervisor (every 15 minutes) counts each stuck or overdue job in
// jobs.supervisor.findings: alert on those a human must decide (action "report") and on those
// whose cancel, terminate or rewind failed (outcome "failed"). A job stays reported on every
// run until someone acts.
resource stuckJobs 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = {
  name: 'alert-${namePrefix}-stuck-jobs'
  location: location
  tags: tags
  properties: {
    displayName: 'Stuck jobs'
    description: 'The supervisor found jobs it reports to a human, or could not act on.'
    severity: 3
    enabled: true
    scopes: [
      appInsightsId
    ]
    evaluationFrequency: 'PT15M'
    windowSize: 'PT30M'
    criteria: {
      allOf: [
        {
          query: 'customMetrics | where name == "jobs.supervisor.findings" | extend supervisorAction = tostring(customDimensions["supervisor.action"]), supervisorOutcome = tostring(customDimensions["supervisor.outcome"]) | where supervisorAction == "report" or supervisorOutcome == "failed" | summarize findings = sum(value) by orchestrator = tostring(customDimensions["job.orchestrator"])'
          timeAggregation: 'Total'
          metricMeasureColumn: 'findings'
          dimensions: [
            {
              name: 'orchestrator'
              operator: 'Include'
              values: [
                '*'
              ]
            }
          ]
          operator: 'GreaterThan'
          threshold: 0
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

// The outbox sender counts each notification it gives up on (its last attempt failed, or the
// transport refused it for good) in notifications.dead: someone (an approver, a customer) was
// never told. Any one in the window alerts, per notification kind.
resource deadNotifications 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = {
  name: 'alert-${namePrefix}-dead-notifications'
  location: location
  tags: tags
  properties: {
    displayName: 'Dead notifications'
    description: 'Notification mail was given up on after its last attempt: its recipient was never told.'
    severity: 2
    enabled: true
    scopes: [
      appInsightsId
    ]
    evaluationFrequency: 'PT15M'
    windowSize: 'PT15M'
    criteria: {
      allOf: [
        {
          query: 'customMetrics | where name == "notifications.dead" | summarize dead = sum(value) by kind = tostring(customDimensions["notification.kind"])'
          timeAggregation: 'Total'
          metricMeasureColumn: 'dead'
          dimensions: [
            {
              name: 'kind'
              operator: 'Include'
              values: [
                '*'
              ]
            }
          ]
          operator: 'GreaterThan'
          threshold: 0
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

// The express app serves express orders from their own task hub and instances (docs/infra.md,
// "The express app") so that they finish quickly: orders.express_latency records, per express
// order, the seconds from its message's enqueue to its orchestration's end. A histogram is a
// customMetrics row per export with the sum in `value` and the count in `valueCount`: their
// ratio over the window is the average. No express order in the window: no row, no alert.
resource expressLatency 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = {
  name: 'alert-${namePrefix}-express-latency'
  location: location
  tags: tags
  properties: {
    displayName: 'Express orders slow'
    description: 'Express orders took more than ${expressLatencyTargetSeconds} s on average from enqueue to completion in the last 5 minutes.'
    severity: 2
    enabled: true
    scopes: [
      appInsightsId
    ]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT5M'
    criteria: {
      allOf: [
        {
          query: 'customMetrics | where name == "orders.express_latency" | summarize total = sum(value), orders = sum(valueCount) | where orders > 0 | extend latency = total / orders'
          timeAggregation: 'Average'
          metricMeasureColumn: 'latency'
          operator: 'GreaterThan'
          threshold: expressLatencyTargetSeconds
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
