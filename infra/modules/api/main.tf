data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  # Operations served by the search function (Lambda proxy integration) rather than DynamoDB.
  search_enabled = var.create && var.search_function != null
  search_paths   = ["/books/search", "/books/suggest"]

  # The REST API is one OpenAPI document; Terraform only injects names and ARNs into it.
  # Decoding and re-encoding checks the YAML at plan time and hands API Gateway plain JSON.
  document = var.create ? yamldecode(templatefile("${path.module}/openapi.yaml", {
    api_name   = "${var.name}-api"
    partition  = data.aws_partition.current.partition
    region     = data.aws_region.current.name
    table_name = var.table_name
    role_arn   = aws_iam_role.api[0].arn
    security   = jsonencode(var.authorization == "AWS_IAM" ? [{ sigv4 = [] }] : [])
    search_uri = try(var.search_function.invoke_arn, "")
  })) : null
  # Without a search function, its two operations are left out of the document.
  openapi = var.create ? jsonencode(merge(local.document, {
    paths = { for path, item in local.document.paths : path => item if local.search_enabled || !contains(local.search_paths, path) }
  })) : null
}

################################################################################
# IAM role API Gateway assumes to call DynamoDB
################################################################################

data "aws_iam_policy_document" "api_assume" {
  count = var.create ? 1 : 0

  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["apigateway.amazonaws.com"]
    }
    # No aws:SourceAccount/SourceArn condition: API Gateway is not documented to send them when
    # it assumes an integration's role. Only principals allowed iam:PassRole on this role (in
    # this account) can attach it to an integration.
  }
}

data "aws_iam_policy_document" "api" {
  count = var.create ? 1 : 0

  # Exactly the actions the five operations use, on this table only.
  statement {
    sid = "BooksTable"
    actions = [
      "dynamodb:DeleteItem", # DELETE /books/{id}
      "dynamodb:GetItem",    # GET /books/{id}
      "dynamodb:PutItem",    # POST /books, PUT /books/{id}
      "dynamodb:Scan",       # GET /books
    ]
    resources = [var.table_arn]
  }
}

resource "aws_iam_role" "api" {
  count = var.create ? 1 : 0

  name_prefix        = "${substr(var.name, 0, 20)}-api-"
  description        = "Lets API Gateway read and write the ${var.table_name} table"
  assume_role_policy = data.aws_iam_policy_document.api_assume[0].json
  tags               = var.tags
}

resource "aws_iam_role_policy" "api" {
  count = var.create ? 1 : 0

  name   = "dynamodb-books"
  role   = aws_iam_role.api[0].id
  policy = data.aws_iam_policy_document.api[0].json
}

################################################################################
# REST API (OpenAPI document with VTL integrations to DynamoDB)
################################################################################

resource "aws_api_gateway_rest_api" "this" {
  count = var.create ? 1 : 0

  name              = "${var.name}-api"
  description       = "Books API integrated directly with DynamoDB table ${var.table_name}"
  body              = local.openapi
  put_rest_api_mode = "overwrite"

  endpoint_configuration {
    types = [var.endpoint_type]
  }

  tags = var.tags

  lifecycle {
    create_before_destroy = true
  }

  # The integrations carry the role's ARN, and API Gateway checks the role can be assumed.
  depends_on = [aws_iam_role_policy.api]
}

################################################################################
# Search operations: API Gateway may invoke the search function for them only
################################################################################

resource "aws_lambda_permission" "search" {
  for_each = local.search_enabled ? toset(local.search_paths) : toset([])

  statement_id  = "apigateway-get-${replace(trimprefix(each.value, "/"), "/", "-")}"
  action        = "lambda:InvokeFunction"
  function_name = var.search_function.name
  principal     = "apigateway.amazonaws.com"
  # Any stage of this API, this method and path only.
  source_arn = "${aws_api_gateway_rest_api.this[0].execution_arn}/*/GET${each.value}"
}

resource "aws_api_gateway_deployment" "this" {
  count = var.create ? 1 : 0

  rest_api_id = aws_api_gateway_rest_api.this[0].id
  description = "Deployment of document ${sha1(local.openapi)}"

  triggers = {
    redeployment = sha1(local.openapi)
  }

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_cloudwatch_log_group" "access" {
  count = var.create && var.access_log_enabled ? 1 : 0

  name              = "/aws/apigateway/${var.name}-api/${var.stage_name}/access"
  retention_in_days = var.log_retention_in_days
  kms_key_id        = var.log_kms_key_arn
  tags              = var.tags
}

resource "aws_api_gateway_stage" "this" {
  count = var.create ? 1 : 0

  #checkov:skip=CKV_AWS_120:No response cache: reads must see the preceding write (read-your-writes), and a cache cluster costs money per hour.
  #checkov:skip=CKV2_AWS_51:Client certificates authenticate API Gateway to an HTTP backend; the only backend is DynamoDB, called with the integration role's SigV4 credentials.
  #checkov:skip=CKV2_AWS_77:The web ACL and its managed rule groups (Log4j included) are the caller's (var.web_acl_arn), not this module's.
  rest_api_id          = aws_api_gateway_rest_api.this[0].id
  deployment_id        = aws_api_gateway_deployment.this[0].id
  stage_name           = var.stage_name
  xray_tracing_enabled = var.xray_tracing_enabled

  dynamic "access_log_settings" {
    for_each = var.access_log_enabled ? [1] : []
    content {
      destination_arn = aws_cloudwatch_log_group.access[0].arn
      format = jsonencode({
        requestId          = "$context.requestId"
        extendedRequestId  = "$context.extendedRequestId"
        ip                 = "$context.identity.sourceIp"
        requestTime        = "$context.requestTime"
        httpMethod         = "$context.httpMethod"
        resourcePath       = "$context.resourcePath"
        status             = "$context.status"
        responseLength     = "$context.responseLength"
        integrationStatus  = "$context.integration.status"
        integrationLatency = "$context.integration.latency"
        errorMessage       = "$context.error.message"
        validationError    = "$context.error.validationErrorString"
      })
    }
  }

  tags = var.tags
}

resource "aws_api_gateway_method_settings" "this" {
  count = var.create ? 1 : 0

  #checkov:skip=CKV_AWS_225:No response cache (see the stage): reads must see the preceding write.
  rest_api_id = aws_api_gateway_rest_api.this[0].id
  stage_name  = aws_api_gateway_stage.this[0].stage_name
  method_path = "*/*"

  settings {
    metrics_enabled        = true
    logging_level          = var.execution_logging_level
    data_trace_enabled     = false # would log request bodies (user data)
    throttling_burst_limit = var.throttling_burst_limit
    throttling_rate_limit  = var.throttling_rate_limit
    caching_enabled        = false
  }
}

resource "aws_wafv2_web_acl_association" "this" {
  count = var.create && var.web_acl_arn != null ? 1 : 0

  resource_arn = aws_api_gateway_stage.this[0].arn
  web_acl_arn  = var.web_acl_arn
}
