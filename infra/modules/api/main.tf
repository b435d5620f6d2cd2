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
    search_uri = try(var.search_function.invoke_arn, "")
  })) : null

  # Authorization, per operation group: writes (POST, PUT, DELETE), reads (GET /books,
  # GET /books/{id}) and search (GET /books/search, /books/suggest). Each operation's OpenAPI
  # security is one requirement: its scheme (none when public) and, when keys are required,
  # the API key as well (both must pass).
  methods = ["get", "put", "post", "delete", "patch", "head", "options"]
  scheme  = { NONE = null, AWS_IAM = "sigv4", COGNITO_USER_POOLS = "cognito" }
  security = {
    for group, authorization in var.authorization : group => [merge(
      local.scheme[authorization] == null ? {} : { (local.scheme[authorization]) = [] },
      var.api_key_required ? { api_key = [] } : {},
    )]
  }
  schemes = merge(
    contains(values(var.authorization), "COGNITO_USER_POOLS") ? {
      cognito = {
        type                           = "apiKey"
        name                           = "Authorization"
        in                             = "header"
        x-amazon-apigateway-authtype   = "cognito_user_pools"
        x-amazon-apigateway-authorizer = { type = "cognito_user_pools", providerARNs = var.cognito_user_pool_arns }
      }
    } : {},
    var.api_key_required ? { api_key = { type = "apiKey", name = "x-api-key", in = "header" } } : {},
  )

  # CORS (var.cors): DynamoDB operations (integration type aws) answer a fixed
  # Access-Control-Allow-Origin through their integration responses, gateway errors through
  # their gateway responses; each path gets an OPTIONS preflight answered by a mock
  # integration, without auth (browsers send preflights without credentials or keys). The
  # search function (aws_proxy) answers the header itself. Conditional parts of the document
  # go through jsonencode/jsondecode: the two branches of a conditional must have one type.
  cors_on     = var.cors != null
  cors_origin = "'${try(var.cors.allow_origin, "")}'"
  cors_header = { schema = { type = "string" } }
  cors_origin_parameter = {
    "method.response.header.Access-Control-Allow-Origin" = local.cors_origin
  }
  cors_preflight_headers = ["Access-Control-Allow-Origin", "Access-Control-Allow-Methods", "Access-Control-Allow-Headers", "Access-Control-Max-Age"]

  # Without a search function, its two operations are left out of the document.
  openapi = var.create ? jsonencode(merge(local.document, {
    paths = {
      for path, item in local.document.paths : path => merge(
        # Path-level entries (parameters) stay as they are.
        { for key, value in item : key => value if !contains(local.methods, key) },
        {
          for method, operation in item : method => merge(
            operation,
            {
              security = local.security[
                contains(local.search_paths, path) ? "search" : contains(["post", "put", "delete"], method) ? "writes" : "reads"
              ]
            },
            jsondecode(local.cors_on ? jsonencode({
              responses = {
                for code, response in operation.responses : code => merge(response, {
                  headers = merge(try(response.headers, {}), { "Access-Control-Allow-Origin" = local.cors_header })
                })
              }
              x-amazon-apigateway-integration = merge(
                operation["x-amazon-apigateway-integration"],
                jsondecode(operation["x-amazon-apigateway-integration"].type == "aws" ? jsonencode({
                  responses = {
                    for selection, response in operation["x-amazon-apigateway-integration"].responses : selection => merge(response, {
                      responseParameters = merge(try(response.responseParameters, {}), local.cors_origin_parameter)
                    })
                  }
                }) : "{}"),
              )
            }) : "{}"),
          ) if contains(local.methods, method)
        },
        jsondecode(local.cors_on ? jsonencode({
          options = {
            summary  = "CORS preflight"
            security = []
            responses = {
              "204" = {
                description = "CORS preflight answer"
                headers     = { for header in local.cors_preflight_headers : header => local.cors_header }
              }
            }
            x-amazon-apigateway-integration = {
              type                = "mock"
              passthroughBehavior = "when_no_match"
              requestTemplates    = { "application/json" = "{\"statusCode\": 204}" }
              responses = {
                default = {
                  statusCode = "204"
                  responseParameters = merge(local.cors_origin_parameter, {
                    "method.response.header.Access-Control-Allow-Methods" = "'${join(",", concat([for method in keys(item) : upper(method) if contains(local.methods, method)], ["OPTIONS"]))}'"
                    "method.response.header.Access-Control-Allow-Headers" = "'${join(",", try(var.cors.allow_headers, []))}'"
                    "method.response.header.Access-Control-Max-Age"       = "'${try(var.cors.max_age, 0)}'"
                  })
                }
              }
            }
          }
        }) : "{}"),
      ) if local.search_enabled || !contains(local.search_paths, path)
    }
    components = merge(local.document.components, {
      securitySchemes = merge(local.document.components.securitySchemes, local.schemes)
    })
    "x-amazon-apigateway-api-key-source" = "HEADER"
    # Error answers of API Gateway itself (bad body, missing key, throttled) carry the origin too.
    x-amazon-apigateway-gateway-responses = {
      for kind, response in local.document["x-amazon-apigateway-gateway-responses"] : kind => merge(
        response,
        jsondecode(local.cors_on ? jsonencode({
          responseParameters = { "gatewayresponse.header.Access-Control-Allow-Origin" = local.cors_origin }
        }) : "{}"),
      )
    }
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
    types            = [var.endpoint_type]
    vpc_endpoint_ids = var.endpoint_type == "PRIVATE" ? var.vpc_endpoint_ids : null
  }

  tags = var.tags

  lifecycle {
    create_before_destroy = true

    precondition {
      condition     = var.table_name != null && var.table_arn != null
      error_message = "Set table_name and table_arn (the table module's outputs)."
    }
    precondition {
      condition     = var.endpoint_type != "PRIVATE" || length(var.vpc_endpoint_ids) > 0
      error_message = "A PRIVATE API is reachable only through execute-api VPC endpoints: name them in vpc_endpoint_ids."
    }
    precondition {
      condition     = !contains(values(var.authorization), "COGNITO_USER_POOLS") || length(var.cognito_user_pool_arns) > 0
      error_message = "COGNITO_USER_POOLS authorization needs cognito_user_pool_arns."
    }
  }

  # The integrations carry the role's ARN, and API Gateway checks the role can be assumed.
  depends_on = [aws_iam_role_policy.api]
}

################################################################################
# Private endpoint: callable only through the named VPC endpoints
################################################################################

data "aws_iam_policy_document" "private" {
  count = var.create && var.endpoint_type == "PRIVATE" ? 1 : 0

  statement {
    sid       = "FromTheVpcEndpoints"
    actions   = ["execute-api:Invoke"]
    resources = ["${aws_api_gateway_rest_api.this[0].execution_arn}/*"]
    principals {
      type        = "AWS"
      identifiers = ["*"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceVpce"
      values   = var.vpc_endpoint_ids
    }
  }
}

resource "aws_api_gateway_rest_api_policy" "private" {
  count = var.create && var.endpoint_type == "PRIVATE" ? 1 : 0

  rest_api_id = aws_api_gateway_rest_api.this[0].id
  policy      = data.aws_iam_policy_document.private[0].json
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
    # A private API's resource policy only applies once deployed.
    policy = try(sha1(data.aws_iam_policy_document.private[0].json), "")
  }

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_cloudwatch_log_group" "access" {
  count = var.create && var.access_log_enabled ? 1 : 0

  #checkov:skip=CKV_AWS_158:A customer managed key is optional (var.log_kms_key_arn); without one CloudWatch Logs still encrypts the group at rest with its own keys.

  name              = "/aws/apigateway/${var.name}-api/${var.stage_name}/access"
  retention_in_days = var.log_retention_in_days
  kms_key_id        = var.log_kms_key_arn
  tags              = var.tags
}

resource "aws_api_gateway_stage" "this" {
  count = var.create ? 1 : 0

  #checkov:skip=CKV_AWS_120:No response cache: reads must see the preceding write (read-your-writes), and a cache cluster costs money per hour.
  #checkov:skip=CKV2_AWS_51:Client certificates authenticate API Gateway to an HTTP backend; the only backend is DynamoDB, called with the integration role's SigV4 credentials.
  #checkov:skip=CKV2_AWS_29:A web ACL is optional (var.waf makes one with a per-IP rate rule, var.web_acl_arn takes yours; examples/production.tfvars turns it on); without one, IAM auth, the usage plan and the stage and search throttles still apply.
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

# Search runs a query on the domain per request: its own, lower limits (stage-wide ones above).
resource "aws_api_gateway_method_settings" "search" {
  for_each = local.search_enabled && var.search_throttling.enabled ? toset(local.search_paths) : toset([])

  #checkov:skip=CKV_AWS_225:No response cache (see the stage): search must see the preceding write.
  rest_api_id = aws_api_gateway_rest_api.this[0].id
  stage_name  = aws_api_gateway_stage.this[0].stage_name
  method_path = "${trimprefix(each.value, "/")}/GET"

  settings {
    metrics_enabled        = true
    logging_level          = var.execution_logging_level
    data_trace_enabled     = false
    throttling_burst_limit = var.search_throttling.burst_limit
    throttling_rate_limit  = var.search_throttling.rate_limit
    caching_enabled        = false
  }
}

################################################################################
# Per-client limits: a usage plan, one API key per named client
################################################################################

resource "aws_api_gateway_usage_plan" "this" {
  count = var.create ? 1 : 0

  name        = "${var.name}-api"
  description = "Per-client limits of the ${var.name} API (one API key per client)"

  api_stages {
    api_id = aws_api_gateway_rest_api.this[0].id
    stage  = aws_api_gateway_stage.this[0].stage_name
  }

  throttle_settings {
    burst_limit = var.usage_plan.burst_limit
    rate_limit  = var.usage_plan.rate_limit
  }

  dynamic "quota_settings" {
    for_each = var.usage_plan.quota_per_day == null ? [] : [var.usage_plan.quota_per_day]
    content {
      limit  = quota_settings.value
      period = "DAY"
    }
  }

  tags = var.tags
}

resource "aws_api_gateway_api_key" "this" {
  for_each = var.create ? toset(var.api_clients) : toset([])

  name        = "${var.name}-api-${each.value}"
  description = "API key of client ${each.value} (usage plan ${var.name}-api)"
  tags        = var.tags
}

resource "aws_api_gateway_usage_plan_key" "this" {
  for_each = aws_api_gateway_api_key.this

  key_id        = each.value.id
  key_type      = "API_KEY"
  usage_plan_id = aws_api_gateway_usage_plan.this[0].id
}

################################################################################
# Web ACL: the caller's (web_acl_arn), or one made here with a per-IP rate rule
################################################################################

locals {
  create_web_acl = var.create && var.web_acl_arn == null && var.waf != null
  web_acl_arn    = coalesce(var.web_acl_arn, try(aws_wafv2_web_acl.this[0].arn, null), "none")
}

resource "aws_wafv2_web_acl" "this" {
  count = local.create_web_acl ? 1 : 0

  name        = "${var.name}-api"
  description = "Rate limit per client IP and known bad inputs for the ${var.name} API"
  scope       = "REGIONAL"

  default_action {
    allow {}
  }

  rule {
    name     = "rate-per-ip"
    priority = 0
    action {
      block {}
    }
    statement {
      rate_based_statement {
        limit              = var.waf.rate_limit_per_5_minutes
        aggregate_key_type = "IP"
      }
    }
    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = "${var.name}-api-rate-per-ip"
      sampled_requests_enabled   = true
    }
  }

  # AWS's rule group against request patterns known to exploit software (Log4j among them).
  rule {
    name     = "known-bad-inputs"
    priority = 1
    override_action {
      none {}
    }
    statement {
      managed_rule_group_statement {
        name        = "AWSManagedRulesKnownBadInputsRuleSet"
        vendor_name = "AWS"
      }
    }
    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = "${var.name}-api-known-bad-inputs"
      sampled_requests_enabled   = true
    }
  }

  visibility_config {
    cloudwatch_metrics_enabled = true
    metric_name                = "${var.name}-api"
    sampled_requests_enabled   = true
  }

  tags = var.tags
}

# WAF requires its log group's name to start with aws-waf-logs-.
resource "aws_cloudwatch_log_group" "waf" {
  count = local.create_web_acl ? 1 : 0

  #checkov:skip=CKV_AWS_158:A customer managed key is optional (var.log_kms_key_arn); without one CloudWatch Logs still encrypts the group at rest with its own keys.

  name              = "aws-waf-logs-${var.name}-api"
  retention_in_days = var.log_retention_in_days
  kms_key_id        = var.log_kms_key_arn
  tags              = var.tags
}

resource "aws_wafv2_web_acl_logging_configuration" "this" {
  count = local.create_web_acl ? 1 : 0

  resource_arn            = aws_wafv2_web_acl.this[0].arn
  log_destination_configs = [aws_cloudwatch_log_group.waf[0].arn]
}

resource "aws_wafv2_web_acl_association" "this" {
  count = var.create && (var.web_acl_arn != null || var.waf != null) ? 1 : 0

  resource_arn = aws_api_gateway_stage.this[0].arn
  web_acl_arn  = local.web_acl_arn
}
