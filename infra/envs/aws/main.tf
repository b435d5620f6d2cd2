# The whole system in an AWS account, applied with terraform.
# The same modules as infra/envs/local; only the values below differ.

provider "aws" {
  region = var.region

  default_tags {
    tags = local.tags
  }
}

locals {
  tags = {
    project     = "ddb-opensearch-sync"
    environment = var.environment
  }
  function_zip_path = coalesce(var.function_zip_path, "${path.root}/../../../build/sync-function.zip")
}

module "api" {
  source = "../../modules/api"

  name                           = var.name
  ttl_attribute_name             = var.ttl_attribute_name
  point_in_time_recovery_enabled = true
  deletion_protection_enabled    = var.deletion_protection_enabled
  authorization                  = var.authorization
  web_acl_arn                    = var.web_acl_arn
  log_retention_in_days          = var.log_retention_in_days

  search_function = {
    name       = module.search.search_function_name
    invoke_arn = module.search.search_function_invoke_arn
  }

  # Stage logging needs the account's API Gateway CloudWatch role to exist first.
  depends_on = [aws_api_gateway_account.this]
}

module "search" {
  source = "../../modules/search"

  domain_name           = "${var.name}-search"
  access_principal_arns = [module.sync.role_arn]
  admin_principal_arn   = var.admin_principal_arn

  # The same zip as the sync function (one build, one set of dependencies); SigV4 by default.
  search_function = {
    zip_path    = local.function_zip_path
    index_alias = var.index_alias
  }

  instance_type  = var.opensearch_instance_type
  instance_count = var.opensearch_instance_count
  zone_awareness = var.opensearch_zone_awareness
  volume_size    = var.opensearch_volume_size

  encrypt_at_rest         = true
  node_to_node_encryption = true
  enforce_https           = true
  tls_security_policy     = "Policy-Min-TLS-1-2-2019-07"
  endpoint_scheme         = "https"

  log_retention_in_days = var.log_retention_in_days
  timeouts              = var.opensearch_timeouts
}

module "sync" {
  source = "../../modules/sync"

  name                    = var.name
  table_arn               = module.api.table_arn
  stream_arn              = module.api.table_stream_arn
  opensearch_domain_arn   = module.search.domain_arn
  opensearch_endpoint_url = module.search.endpoint_url
  function_zip_path       = local.function_zip_path
  index_alias             = var.index_alias
  opensearch_auth         = "sigv4"

  batch_size                         = var.batch_size
  maximum_batching_window_in_seconds = var.maximum_batching_window_in_seconds
  maximum_retry_attempts             = var.maximum_retry_attempts
  maximum_record_age_in_seconds      = var.maximum_record_age_in_seconds
  log_retention_in_days              = var.log_retention_in_days
}

################################################################################
# API Gateway's account-wide CloudWatch Logs role (optional, see the variable)
################################################################################

data "aws_iam_policy_document" "apigateway_assume" {
  count = var.manage_api_gateway_account ? 1 : 0

  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["apigateway.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "apigateway_cloudwatch" {
  count = var.manage_api_gateway_account ? 1 : 0

  name_prefix        = "apigateway-cloudwatch-"
  assume_role_policy = data.aws_iam_policy_document.apigateway_assume[0].json
}

resource "aws_iam_role_policy_attachment" "apigateway_cloudwatch" {
  count = var.manage_api_gateway_account ? 1 : 0

  role       = aws_iam_role.apigateway_cloudwatch[0].name
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"
}

resource "aws_api_gateway_account" "this" {
  count = var.manage_api_gateway_account ? 1 : 0

  cloudwatch_role_arn = aws_iam_role.apigateway_cloudwatch[0].arn

  depends_on = [aws_iam_role_policy_attachment.apigateway_cloudwatch]
}

data "aws_partition" "current" {}
