locals {
  function_name = "${var.name}-sync"
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
# Execution role: read this stream, send to this queue, write these logs,
# call this domain. Nothing else.
################################################################################

data "aws_iam_policy_document" "assume" {
  count = var.create ? 1 : 0

  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

data "aws_iam_policy_document" "function" {
  count = var.create ? 1 : 0

  statement {
    sid       = "Logs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.this[0].arn}:*"]
  }

  statement {
    sid = "ReadStream"
    actions = [
      "dynamodb:DescribeStream",
      "dynamodb:GetRecords",
      "dynamodb:GetShardIterator",
    ]
    resources = [var.stream_arn]
  }

  statement {
    sid       = "ListStreams"
    actions   = ["dynamodb:ListStreams"]
    resources = ["${var.table_arn}/stream/*"]
  }

  statement {
    sid       = "DeadLetterQueue"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.dlq[0].arn]
  }

  statement {
    sid = "SearchDomain"
    actions = [
      "es:ESHttpDelete",
      "es:ESHttpGet",
      "es:ESHttpHead",
      "es:ESHttpPost",
      "es:ESHttpPut",
    ]
    resources = [var.opensearch_domain_arn, "${var.opensearch_domain_arn}/*"]
  }

  dynamic "statement" {
    for_each = var.dlq_kms_key_id == null ? [] : [var.dlq_kms_key_id]
    content {
      sid       = "DeadLetterQueueKey"
      actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
      resources = [statement.value]
    }
  }

  dynamic "statement" {
    # X-Ray accepts no resource-level permissions: only granted when tracing is Active.
    for_each = var.tracing_mode == "Active" ? [1] : []
    content {
      sid       = "Tracing"
      actions   = ["xray:PutTelemetryRecords", "xray:PutTraceSegments"]
      resources = ["*"]
    }
  }
}

resource "aws_iam_role" "this" {
  count = var.create ? 1 : 0

  name_prefix        = "${substr(local.function_name, 0, 30)}-"
  description        = "Execution role of the ${local.function_name} function"
  assume_role_policy = data.aws_iam_policy_document.assume[0].json
  tags               = var.tags
}

resource "aws_iam_role_policy" "this" {
  count = var.create ? 1 : 0

  name   = "sync"
  role   = aws_iam_role.this[0].id
  policy = data.aws_iam_policy_document.function[0].json
}

################################################################################
# Function
################################################################################

resource "aws_cloudwatch_log_group" "this" {
  count = var.create ? 1 : 0

  name              = "/aws/lambda/${local.function_name}"
  retention_in_days = var.log_retention_in_days
  kms_key_id        = var.log_kms_key_arn
  tags              = var.tags
}

resource "aws_lambda_function" "this" {
  count = var.create ? 1 : 0

  #checkov:skip=CKV_AWS_116:The function is only invoked synchronously by the event source mapping, whose on-failure destination is the dead-letter queue; an async DLQ would never receive anything.
  #checkov:skip=CKV_AWS_117:No VPC: the function reaches DynamoDB Streams, SQS, CloudWatch Logs and the domain's public (SigV4-guarded) endpoint without NAT gateways or VPC endpoints.
  #checkov:skip=CKV_AWS_272:Code signing needs an AWS Signer profile, which neither the local stack nor the reproducible zip build has; the zip is pinned by source_code_hash.
  function_name    = local.function_name
  description      = "Keeps the OpenSearch index in sync with the DynamoDB table's stream"
  role             = aws_iam_role.this[0].arn
  filename         = var.function_zip_path
  source_code_hash = filebase64sha256(var.function_zip_path)
  handler          = var.handler
  runtime          = var.runtime
  architectures    = [var.architecture]
  memory_size      = var.memory_size
  timeout          = var.timeout
  kms_key_arn      = var.kms_key_arn

  reserved_concurrent_executions = var.reserved_concurrent_executions

  environment {
    variables = merge({
      OPENSEARCH_ENDPOINT     = var.opensearch_endpoint_url
      OPENSEARCH_AUTH         = var.opensearch_auth
      INDEX_ALIAS             = var.index_alias
      DLQ_URL                 = aws_sqs_queue.dlq[0].url
      TTL_EXPIRY_POLICY       = var.ttl_expiry_policy
      POWERTOOLS_SERVICE_NAME = "ddb-opensearch-sync"
      POWERTOOLS_LOG_LEVEL    = var.log_level
    }, var.environment_variables)
  }

  tracing_config {
    mode = var.tracing_mode
  }

  tags = var.tags

  lifecycle {
    precondition {
      condition     = var.function_zip_path != null
      error_message = "Set function_zip_path to the zip built by scripts/build_lambda.py."
    }
  }

  depends_on = [aws_cloudwatch_log_group.this, aws_iam_role_policy.this]
}

################################################################################
# Event source mapping: table stream -> function, failures -> dead-letter queue
################################################################################

resource "aws_lambda_event_source_mapping" "this" {
  count = var.create ? 1 : 0

  event_source_arn  = var.stream_arn
  function_name     = aws_lambda_function.this[0].arn
  starting_position = var.starting_position
  enabled           = var.enabled

  batch_size                         = var.batch_size
  maximum_batching_window_in_seconds = var.maximum_batching_window_in_seconds
  parallelization_factor             = var.parallelization_factor
  function_response_types            = ["ReportBatchItemFailures"]
  bisect_batch_on_function_error     = var.bisect_batch_on_function_error
  maximum_retry_attempts             = var.maximum_retry_attempts
  maximum_record_age_in_seconds      = var.maximum_record_age_in_seconds

  destination_config {
    on_failure {
      destination_arn = aws_sqs_queue.dlq[0].arn
    }
  }

  # AWS checks at creation that the role can read the stream and send to the queue.
  depends_on = [aws_iam_role_policy.this]
}
