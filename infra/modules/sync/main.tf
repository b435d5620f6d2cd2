locals {
  function_name    = "${var.name}-sync"
  maintenance_name = "${var.name}-sync-maintenance"

  # The maintenance function's only requests (sync/maintenance.py), by method: find the alias's
  # index (index/aliases.py), read and edit its reindex lease in the mapping's _meta and its
  # write block (index/lease.py), start the tombstone purge (index/purge.py). The concrete
  # indices are <alias>-v<n> (setup-index, reindex). infra/modules/search admits the same.
  maintenance_index = "${var.index_alias}-v*"
  maintenance_requests = {
    ESHttpHead = ["_alias/${var.index_alias}"]
    ESHttpGet = [
      "_alias/${var.index_alias}",
      "${local.maintenance_index}/_mapping",
      "${local.maintenance_index}/_settings/index.blocks.write",
    ]
    ESHttpPut  = ["${local.maintenance_index}/_mapping", "${local.maintenance_index}/_settings"]
    ESHttpPost = ["${local.maintenance_index}/_refresh", "${local.maintenance_index}/_delete_by_query"]
  }
}

################################################################################
# Dead-letter queue: the event source mapping's on-failure destination
################################################################################

resource "aws_sqs_queue" "dlq" {
  count = var.create ? 1 : 0

  name                      = "${local.function_name}-dlq"
  message_retention_seconds = var.dlq_message_retention_seconds
  sqs_managed_sse_enabled   = var.dlq_kms_key_id == null ? true : null
  kms_master_key_id         = var.dlq_kms_key_id
  tags                      = var.tags
}

################################################################################
# Dead-letter bucket: records too large for one SQS message (256 KiB) are kept
# whole here; the queue message names the object (see sync/deadletter.py).
################################################################################

resource "aws_s3_bucket" "dead_letters" {
  count = var.create ? 1 : 0

  #checkov:skip=CKV_AWS_18:Access logging needs a second bucket; the objects are written by the function only (its role is the one writer) and CloudTrail data events can be enabled per account
  #checkov:skip=CKV_AWS_144:Cross-region replication of dead letters is out of scope; they are re-creatable from the table (reconcile)
  #checkov:skip=CKV2_AWS_62:Nothing consumes object events; operators read the queue, whose messages name the objects
  #checkov:skip=CKV_AWS_145:SSE-S3 (AES256) like the queue's SQS-managed encryption; a KMS key can be set with dlq_kms_key_id
  bucket_prefix = "${local.function_name}-dead-letters-"
  force_destroy = var.dead_letter_bucket_force_destroy
  tags          = var.tags
}

resource "aws_s3_bucket_public_access_block" "dead_letters" {
  count = var.create ? 1 : 0

  bucket                  = aws_s3_bucket.dead_letters[0].id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_versioning" "dead_letters" {
  count = var.create ? 1 : 0

  bucket = aws_s3_bucket.dead_letters[0].id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "dead_letters" {
  count = var.create ? 1 : 0

  bucket = aws_s3_bucket.dead_letters[0].id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = var.dlq_kms_key_id == null ? "AES256" : "aws:kms"
      kms_master_key_id = var.dlq_kms_key_id
    }
  }
}

# Objects live as long as the messages that point to them (and old versions a day more).
resource "aws_s3_bucket_lifecycle_configuration" "dead_letters" {
  count = var.create ? 1 : 0

  bucket = aws_s3_bucket.dead_letters[0].id
  rule {
    id     = "expire-with-the-queue"
    status = "Enabled"
    filter {}
    expiration {
      days = ceil(var.dlq_message_retention_seconds / 86400)
    }
    noncurrent_version_expiration {
      noncurrent_days = 1
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }
}

################################################################################
# Function: may read this stream, send to this queue and call this domain (its
# module adds its own log group). Nothing else.
################################################################################

data "aws_iam_policy_document" "function" {
  count = var.create ? 1 : 0

  statement {
    sid = "ReadStream"
    actions = [
      "dynamodb:DescribeStream",
      "dynamodb:GetRecords",
      "dynamodb:GetShardIterator",
    ]
    resources = [var.stream_arn]
  }

  # ListStreams has no resource-level permissions: only "*" matches (AWS's managed
  # AWSLambdaDynamoDBExecutionRole writes it the same way). It reveals stream ARNs, no data.
  statement {
    sid       = "ListStreams"
    actions   = ["dynamodb:ListStreams"]
    resources = ["*"]
  }

  statement {
    sid       = "DeadLetterQueue"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.dlq[0].arn]
  }

  # The function's only requests: POST <alias>/_bulk and POST <alias>/_mget (index/writer.py).
  # The domain refuses index names inside bulk bodies (allow_explicit_index = false), so the
  # alias in the path is all it can write.
  statement {
    sid       = "SearchIndexWrites"
    actions   = ["es:ESHttpPost"]
    resources = [for action in ["_bulk", "_mget"] : "${var.opensearch_domain_arn}/${var.index_alias}/${action}"]
  }

  # After a batch a block refused, the function asks the maintenance function to lift a write
  # block whose reindex lease ran out (an asynchronous invoke): this role cannot itself.
  statement {
    sid       = "AskMaintenance"
    actions   = ["lambda:InvokeFunction"]
    resources = [module.maintenance.function_arn]
  }

  statement {
    sid       = "DeadLetterBucket"
    actions   = ["s3:PutObject"]
    resources = ["${aws_s3_bucket.dead_letters[0].arn}/*"]
  }

  dynamic "statement" {
    for_each = var.dlq_kms_key_id == null ? [] : [var.dlq_kms_key_id]
    content {
      sid       = "DeadLetterQueueKey"
      actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
      resources = [statement.value]
    }
  }
}

module "function" {
  source = "../function"

  create      = var.create
  name        = local.function_name
  description = "Keeps the OpenSearch index in sync with the DynamoDB table's stream"
  zip_path    = var.function_zip_path
  handler     = var.handler
  runtime     = var.runtime

  architecture                   = var.architecture
  memory_size                    = var.memory_size
  timeout                        = var.timeout
  reserved_concurrent_executions = var.reserved_concurrent_executions
  kms_key_arn                    = var.kms_key_arn
  tracing_mode                   = var.tracing_mode
  vpc_subnet_ids                 = var.vpc_subnet_ids
  vpc_security_group_ids         = var.vpc_security_group_ids

  environment_variables = merge({
    OPENSEARCH_ENDPOINT       = var.opensearch_endpoint_url
    OPENSEARCH_AUTH           = var.opensearch_auth
    INDEX_ALIAS               = var.index_alias
    DLQ_URL                   = try(aws_sqs_queue.dlq[0].url, null)
    DEAD_LETTER_BUCKET        = try(aws_s3_bucket.dead_letters[0].id, null)
    TTL_EXPIRY_POLICY         = var.ttl_expiry_policy
    MAINTENANCE_FUNCTION_NAME = module.maintenance.function_name
    POWERTOOLS_SERVICE_NAME   = "ddb-opensearch-sync"
    POWERTOOLS_LOG_LEVEL      = var.log_level
  }, var.environment_variables)

  policy_name           = "sync"
  policy_json           = try(data.aws_iam_policy_document.function[0].json, null)
  log_retention_in_days = var.log_retention_in_days
  log_kms_key_arn       = var.log_kms_key_arn
  tags                  = var.tags
}

################################################################################
# Event source mapping: table stream -> function, failures -> dead-letter queue
################################################################################

resource "aws_lambda_event_source_mapping" "this" {
  count = var.create ? 1 : 0

  event_source_arn  = var.stream_arn
  function_name     = module.function.function_arn
  starting_position = var.starting_position
  enabled           = var.enabled

  batch_size                         = var.batch_size
  maximum_batching_window_in_seconds = var.maximum_batching_window_in_seconds
  parallelization_factor             = var.parallelization_factor
  function_response_types            = ["ReportBatchItemFailures"]
  bisect_batch_on_function_error     = var.bisect_batch_on_function_error
  maximum_retry_attempts             = var.maximum_retry_attempts
  maximum_record_age_in_seconds      = var.maximum_record_age_in_seconds

  # The mapping's own metrics (events polled, filtered, failed): off unless asked for.
  dynamic "metrics_config" {
    for_each = var.mapping_metrics_enabled ? [1] : []
    content {
      metrics = ["EventCount"]
    }
  }

  destination_config {
    on_failure {
      destination_arn = aws_sqs_queue.dlq[0].arn
    }
  }

  # AWS checks at creation that the role can read the stream and send to the queue.
  depends_on = [module.function]
}

################################################################################
# Maintenance function: the index's upkeep the sync role may not do (it may only
# POST _bulk and _mget). Same zip, its own role: exactly the requests above.
################################################################################

data "aws_iam_policy_document" "maintenance" {
  count = var.create ? 1 : 0

  # One statement per method: a statement pairs every action with every resource.
  dynamic "statement" {
    for_each = local.maintenance_requests
    content {
      sid       = "Index${statement.key}"
      actions   = ["es:${statement.key}"]
      resources = [for path in statement.value : "${var.opensearch_domain_arn}/${path}"]
    }
  }
}

module "maintenance" {
  source = "../function"

  create      = var.create
  name        = local.maintenance_name
  description = "Purges old tombstones and lifts a reindex's write block whose lease ran out"
  zip_path    = var.function_zip_path
  handler     = var.maintenance_handler
  runtime     = var.runtime

  architecture           = var.architecture
  memory_size            = var.memory_size
  timeout                = 60 # a handful of requests; the purge itself runs as a task
  kms_key_arn            = var.kms_key_arn
  tracing_mode           = var.tracing_mode
  vpc_subnet_ids         = var.vpc_subnet_ids
  vpc_security_group_ids = var.vpc_security_group_ids

  environment_variables = {
    OPENSEARCH_ENDPOINT     = var.opensearch_endpoint_url
    OPENSEARCH_AUTH         = var.opensearch_auth
    INDEX_ALIAS             = var.index_alias
    POWERTOOLS_SERVICE_NAME = "ddb-opensearch-sync-maintenance"
    POWERTOOLS_LOG_LEVEL    = var.log_level
  }

  policy_name           = "maintenance"
  policy_json           = try(data.aws_iam_policy_document.maintenance[0].json, null)
  log_retention_in_days = var.log_retention_in_days
  log_kms_key_arn       = var.log_kms_key_arn
  tags                  = var.tags
}

################################################################################
# Maintenance schedules: the maintenance function purges tombstones older than
# the stream's retention, and lifts a write block whose reindex lease ran out
################################################################################

# Each schedule sends the maintenance function one action (sync/types.py). The lease check
# matters on a quiet table: with writes flowing, the sync function's next batch refused by the
# write block asks for the same check at once.
locals {
  maintenance_schedules = {
    for name, schedule in {
      purge-tombstones = {
        expression   = var.purge_schedule_expression
        description  = "Purges tombstones older than the stream's 24 h retention from the index"
        statement_id = "PurgeTombstonesSchedule"
        action       = "purge-tombstones"
      }
      lease-check = {
        expression   = var.lease_check_schedule_expression
        description  = "Lifts the index's write block when the reindex that set it let its lease run out"
        statement_id = "LeaseCheckSchedule"
        action       = "lift-expired-lease"
      }
    } : name => schedule if var.create && schedule.expression != null
  }
}

resource "aws_cloudwatch_event_rule" "maintenance" {
  for_each = local.maintenance_schedules

  name                = "${local.function_name}-${each.key}"
  description         = each.value.description
  schedule_expression = each.value.expression
  tags                = var.tags
}

resource "aws_cloudwatch_event_target" "maintenance" {
  for_each = local.maintenance_schedules

  rule  = aws_cloudwatch_event_rule.maintenance[each.key].name
  arn   = module.maintenance.function_arn
  input = jsonencode({ action = each.value.action })
}

resource "aws_lambda_permission" "maintenance" {
  for_each = local.maintenance_schedules

  statement_id  = each.value.statement_id
  action        = "lambda:InvokeFunction"
  function_name = module.maintenance.function_name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.maintenance[each.key].arn
}
