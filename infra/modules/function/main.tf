# One Lambda function from a prebuilt zip with what every function of this system needs: its
# own execution role (the caller's policy plus writing this log group, and X-Ray when tracing
# is Active) and its log group.

################################################################################
# Execution role
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

data "aws_iam_policy_document" "this" {
  count = var.create ? 1 : 0

  # The caller's statements: what this function in particular may do.
  source_policy_documents = var.policy_json == null ? [] : [var.policy_json]

  statement {
    sid       = "Logs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.this[0].arn}:*"]
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

  name_prefix        = "${substr(var.name, 0, 30)}-"
  description        = "Execution role of the ${var.name} function"
  assume_role_policy = data.aws_iam_policy_document.assume[0].json
  tags               = var.tags
}

# In a VPC, Lambda manages the function's network interfaces with the role's rights (ec2
# actions without resource-level permissions): AWS's managed policy for exactly that.
resource "aws_iam_role_policy_attachment" "vpc" {
  count = var.create && length(var.vpc_subnet_ids) > 0 ? 1 : 0

  role       = aws_iam_role.this[0].name
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole"
}

data "aws_partition" "current" {}

resource "aws_iam_role_policy" "this" {
  count = var.create ? 1 : 0

  name   = var.policy_name
  role   = aws_iam_role.this[0].id
  policy = data.aws_iam_policy_document.this[0].json
}

################################################################################
# Function and its log group
################################################################################

resource "aws_cloudwatch_log_group" "this" {
  count = var.create ? 1 : 0

  #checkov:skip=CKV_AWS_158:A customer managed key is optional (var.log_kms_key_arn); without one CloudWatch Logs still encrypts the group at rest with its own keys.

  name              = "/aws/lambda/${var.name}"
  retention_in_days = var.log_retention_in_days
  kms_key_id        = var.log_kms_key_arn
  tags              = var.tags
}

resource "aws_lambda_function" "this" {
  count = var.create ? 1 : 0

  #checkov:skip=CKV_AWS_116:The sync and search functions are invoked synchronously (an event source mapping, whose on-failure destination is the caller's queue; API Gateway, which returns errors to its caller): an async DLQ would never receive anything. Only the maintenance function is invoked asynchronously, with periodic, idempotent events (purge, lease check) that the next schedule repeats: a dead letter of one is nothing to replay.
  #checkov:skip=CKV_AWS_117:VPC placement is optional (var.vpc_subnet_ids); by default the functions reach DynamoDB Streams, SQS, CloudWatch Logs and the domain's SigV4-guarded endpoint without NAT gateways or VPC endpoints.
  #checkov:skip=CKV_AWS_173:The environment holds no secrets (endpoint URL, alias, queue URL, log settings); Lambda encrypts it at rest with its service key, and var.kms_key_arn takes a customer managed key.
  #checkov:skip=CKV_AWS_272:Code signing needs an AWS Signer profile, which neither the local stack nor the reproducible zip build has; the zip is pinned by source_code_hash.
  function_name    = var.name
  description      = var.description
  role             = aws_iam_role.this[0].arn
  filename         = var.zip_path
  source_code_hash = filebase64sha256(var.zip_path)
  handler          = var.handler
  runtime          = var.runtime
  architectures    = [var.architecture]
  memory_size      = var.memory_size
  timeout          = var.timeout
  kms_key_arn      = var.kms_key_arn

  reserved_concurrent_executions = var.reserved_concurrent_executions

  environment {
    variables = var.environment_variables
  }

  tracing_config {
    mode = var.tracing_mode
  }

  dynamic "vpc_config" {
    for_each = length(var.vpc_subnet_ids) > 0 ? [1] : []
    content {
      subnet_ids         = var.vpc_subnet_ids
      security_group_ids = var.vpc_security_group_ids
    }
  }

  tags = var.tags

  lifecycle {
    precondition {
      condition     = var.zip_path != null
      error_message = "Set the zip path of function ${var.name} to a zip built by scripts/build_lambda.py."
    }
  }

  depends_on = [aws_cloudwatch_log_group.this, aws_iam_role_policy.this, aws_iam_role_policy_attachment.vpc]
}
