# Alarms on everything that loses or delays changes, or serves errors, all to one SNS topic,
# and a dashboard of the same figures. The README ("Promote to AWS") says what to do when each
# fires.

data "aws_caller_identity" "current" {}
data "aws_region" "current" {}

locals {
  topic_arn = var.alarm_topic_arn != null ? var.alarm_topic_arn : try(aws_sns_topic.this[0].arn, null)
  minutes   = var.thresholds.evaluation_minutes
  domain    = { DomainName = var.domain_name, ClientId = data.aws_caller_identity.current.account_id }
  functions = { for role, name in { sync = var.sync_function_name, search = var.search_function_name } : role => name if name != null }

  # key => what to watch and when to fire (periods of one minute unless said).
  alarms = merge(
    {
      dlq-not-empty = {
        description = "Changes the sync gave up on wait in the dead-letter queue: read them, fix the cause, then `ddb-opensearch-sync replay` or reconcile --repair."
        namespace   = "AWS/SQS", metric = "ApproximateNumberOfMessagesVisible", statistic = "Maximum"
        dimensions  = { QueueName = var.dlq_name }, threshold = 0, periods = 1
      }
      iterator-age = {
        description = "The sync falls behind the table's stream; past 24 h records are lost. Check the sync's errors, throttles and the domain's health."
        namespace   = "AWS/Lambda", metric = "IteratorAge", statistic = "Maximum"
        dimensions  = { FunctionName = var.sync_function_name }, threshold = var.thresholds.iterator_age_ms, periods = local.minutes
      }
      sync-lag = {
        description = "End-to-end lag (item written -> indexed) is high: the index serves old data. Same causes as iterator-age."
        namespace   = var.metrics_namespace, metric = "EndToEndLagMax", statistic = "Maximum"
        dimensions  = { service = var.metrics_service }, threshold = var.thresholds.sync_lag_seconds, periods = local.minutes
      }
      api-5xx = {
        description = "The API answers 5XX: check its execution log and DynamoDB / the search function."
        namespace   = "AWS/ApiGateway", metric = "5XXError", statistic = "Sum"
        dimensions  = { ApiName = var.api_name, Stage = var.api_stage_name }, threshold = 0, periods = local.minutes
      }
      cluster-red = {
        description = "A primary shard is unassigned: writes to it fail and the sync retries, then dead-letters. Check the domain's nodes and disk."
        namespace   = "AWS/ES", metric = "ClusterStatus.red", statistic = "Maximum"
        dimensions  = local.domain, threshold = 0, periods = 1
      }
      cluster-yellow = {
        description = "A replica shard is unassigned: one more node lost loses data. Check node count against the index's replicas."
        namespace   = "AWS/ES", metric = "ClusterStatus.yellow", statistic = "Maximum"
        dimensions  = local.domain, threshold = 0, periods = local.minutes
      }
      free-storage = {
        description = "A node is running out of disk: OpenSearch blocks writes when it is full. Delete old indices (reindex --delete-old) or grow the volumes."
        namespace   = "AWS/ES", metric = "FreeStorageSpace", statistic = "Minimum", comparison = "LessThanThreshold"
        dimensions  = local.domain, threshold = var.thresholds.free_storage_mib, periods = 1
      }
      jvm-memory-pressure = {
        description = "Heap pressure is high: requests get rejected (429) and the sync retries. Use larger instances or fewer shards."
        namespace   = "AWS/ES", metric = "JVMMemoryPressure", statistic = "Maximum"
        dimensions  = local.domain, threshold = var.thresholds.jvm_memory_pressure, periods = local.minutes
      }
    },
    { for role, name in local.functions : "${role}-errors" => {
      description = "The ${role} function fails: read its log group (/aws/lambda/${name})."
      namespace   = "AWS/Lambda", metric = "Errors", statistic = "Sum"
      dimensions  = { FunctionName = name }, threshold = 0, periods = 1
    } },
    { for role, name in local.functions : "${role}-throttles" => {
      description = "The ${role} function is throttled: raise its reserved concurrency or the account's limit."
      namespace   = "AWS/Lambda", metric = "Throttles", statistic = "Sum"
      dimensions  = { FunctionName = name }, threshold = 0, periods = 1
    } },
  )
}

################################################################################
# Topic (unless the caller gives one)
################################################################################

resource "aws_sns_topic" "this" {
  count = var.create && var.alarm_topic_arn == null ? 1 : 0

  name              = "${var.name}-alarms"
  kms_master_key_id = var.topic_kms_key_id
  tags              = var.tags
}

resource "aws_sns_topic_subscription" "email" {
  for_each = var.create && var.alarm_topic_arn == null ? toset(var.alarm_emails) : toset([])

  topic_arn = aws_sns_topic.this[0].arn
  protocol  = "email"
  endpoint  = each.value
}

################################################################################
# Alarms
################################################################################

resource "aws_cloudwatch_metric_alarm" "this" {
  for_each = { for key, alarm in local.alarms : key => alarm if var.create }

  alarm_name          = "${var.name}-${each.key}"
  alarm_description   = each.value.description
  namespace           = each.value.namespace
  metric_name         = each.value.metric
  dimensions          = each.value.dimensions
  statistic           = each.value.statistic
  comparison_operator = try(each.value.comparison, "GreaterThanThreshold")
  threshold           = each.value.threshold
  period              = 60
  evaluation_periods  = each.value.periods
  # No data is fine (an idle system has no lag, no errors), except for the domain's health.
  treat_missing_data = startswith(each.value.namespace, "AWS/ES") ? "breaching" : "notBreaching"
  alarm_actions      = [local.topic_arn]
  ok_actions         = [local.topic_arn]
  tags               = var.tags
}

################################################################################
# Dashboard: the same figures
################################################################################

resource "aws_cloudwatch_dashboard" "this" {
  count = var.create ? 1 : 0

  dashboard_name = "${var.name}-sync"
  dashboard_body = jsonencode({
    widgets = [for index, key in sort(keys(local.alarms)) : {
      type   = "metric"
      x      = (index % 3) * 8
      y      = floor(index / 3) * 6
      width  = 8
      height = 6
      properties = {
        title  = key
        region = data.aws_region.current.name
        stat   = local.alarms[key].statistic
        period = 60
        metrics = [concat(
          [local.alarms[key].namespace, local.alarms[key].metric],
          flatten([for name, value in local.alarms[key].dimensions : [name, value]]),
        )]
        annotations = { horizontal = [{ label = "alarm", value = local.alarms[key].threshold }] }
      }
    }]
  })
}
