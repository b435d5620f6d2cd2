# The whole system in an AWS account, applied with terraform.
# The composition is modules/system, as for infra/envs/local; this root passes the AWS values
# and adds what belongs to the account: API Gateway's CloudWatch Logs role.

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
}

module "system" {
  source = "../../modules/system"

  name                     = var.name
  index_alias              = var.index_alias
  sync_function_zip_path   = var.sync_function_zip_path
  search_function_zip_path = var.search_function_zip_path
  log_retention_in_days    = var.log_retention_in_days

  ttl_attribute_name          = var.ttl_attribute_name
  deletion_protection_enabled = var.deletion_protection_enabled
  api                         = var.api
  admin_principal_arn         = var.admin_principal_arn
  function_vpc                = var.function_vpc
  alarms                      = var.alarms

  opensearch = {
    instance_type    = var.opensearch_instance_type
    instance_count   = var.opensearch_instance_count
    zone_awareness   = var.opensearch_zone_awareness
    dedicated_master = var.opensearch_dedicated_master
    volume_size      = var.opensearch_volume_size
    vpc              = var.opensearch_vpc
    timeouts         = var.opensearch_timeouts
  }

  stream = {
    batch_size                         = var.batch_size
    maximum_batching_window_in_seconds = var.maximum_batching_window_in_seconds
    parallelization_factor             = var.parallelization_factor
    maximum_retry_attempts             = var.maximum_retry_attempts
    maximum_record_age_in_seconds      = var.maximum_record_age_in_seconds
  }

  # Stage logging needs the account's API Gateway CloudWatch role to exist first.
  depends_on = [aws_api_gateway_account.this]
}

################################################################################
# API Gateway's account-wide CloudWatch Logs role (optional, see the variable)
################################################################################

resource "aws_iam_role" "apigateway_cloudwatch" {
  count = var.manage_api_gateway_account ? 1 : 0

  name_prefix = "apigateway-cloudwatch-"
  assume_role_policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Action = "sts:AssumeRole", Principal = { Service = "apigateway.amazonaws.com" } }]
  })
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
