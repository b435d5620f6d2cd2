# The whole system: the books table, the REST API in front of it, the search domain with the
# search function, and the sync function between table and domain. Both roots (envs/local,
# envs/aws) use this one composition and only pass their values.

locals {
  # Both roots sit at infra/envs/<env>: the zips scripts/build_lambda.py writes by default.
  build = "${path.root}/../../../build"

  # LocalStack serves a stage under its own gateway, not at the stage's AWS invoke URL.
  api_url = (
    var.localstack_endpoint == null
    ? module.api.invoke_url
    : "${trimsuffix(var.localstack_endpoint, "/")}/_aws/execute-api/${module.api.rest_api_id}/${module.api.stage_name}"
  )
}

module "table" {
  source = "../table"

  name                           = var.name
  ttl_attribute_name             = var.ttl_attribute_name
  point_in_time_recovery_enabled = var.point_in_time_recovery_enabled
  deletion_protection_enabled    = var.deletion_protection_enabled
}

module "api" {
  source = "../api"

  name                  = var.name
  table_name            = module.table.table_name
  table_arn             = module.table.table_arn
  log_retention_in_days = var.log_retention_in_days

  # Who may call which operation, per-client limits and the network edge (see variables).
  authorization          = var.api.authorization
  cognito_user_pool_arns = var.api.cognito_user_pool_arns
  api_key_required       = var.api.api_key_required
  api_clients            = var.api.clients
  usage_plan             = var.api.usage_plan
  search_throttling      = var.api.search_throttling
  web_acl_arn            = var.api.web_acl_arn
  waf                    = var.api.waf
  endpoint_type          = var.api.endpoint_type
  vpc_endpoint_ids       = var.api.vpc_endpoint_ids
  cors                   = var.api.cors

  search_function = {
    name       = module.search.search_function_name
    invoke_arn = module.search.search_function_invoke_arn
  }
}

module "search" {
  source = "../search"

  domain_name               = "${var.name}-search"
  index_alias               = var.index_alias
  sync_principal_arn        = module.sync.role_arn
  maintenance_principal_arn = module.sync.maintenance_role_arn
  admin_principal_arn       = var.admin_principal_arn

  search_function = {
    zip_path               = coalesce(var.search_function_zip_path, "${local.build}/search-function.zip")
    opensearch_auth        = var.opensearch_auth
    vpc_subnet_ids         = try(var.function_vpc.subnet_ids, [])
    vpc_security_group_ids = try(var.function_vpc.security_group_ids, [])
    cors_allow_origin      = try(var.api.cors.allow_origin, null)
  }

  instance_type       = var.opensearch.instance_type
  instance_count      = var.opensearch.instance_count
  zone_awareness      = var.opensearch.zone_awareness
  dedicated_master    = var.opensearch.dedicated_master
  volume_size         = var.opensearch.volume_size
  timeouts            = var.opensearch.timeouts
  log_types           = var.opensearch.log_types
  tls_security_policy = var.opensearch.tls_security_policy
  vpc                 = var.opensearch.vpc

  encrypt_at_rest         = var.opensearch.encryption
  node_to_node_encryption = var.opensearch.encryption
  endpoint_scheme         = var.opensearch.endpoint_scheme
  function_endpoint_url   = var.opensearch.function_endpoint

  log_retention_in_days = var.log_retention_in_days
}

module "alarms" {
  source = "../alarms"

  create               = var.alarms.enabled
  name                 = var.name
  alarm_topic_arn      = var.alarms.topic_arn
  alarm_emails         = var.alarms.emails
  thresholds           = var.alarms.thresholds
  dlq_name             = "${var.name}-sync-dlq"
  sync_function_name   = module.sync.function_name
  search_function_name = module.search.search_function_name
  api_name             = "${var.name}-api"
  api_stage_name       = module.api.stage_name
  domain_name          = "${var.name}-search"
}

module "sync" {
  source = "../sync"

  name                    = var.name
  stream_arn              = module.table.table_stream_arn
  opensearch_domain_arn   = module.search.domain_arn
  opensearch_endpoint_url = module.search.function_endpoint_url
  function_zip_path       = coalesce(var.sync_function_zip_path, "${local.build}/sync-function.zip")
  index_alias             = var.index_alias
  opensearch_auth         = var.opensearch_auth

  batch_size                         = var.stream.batch_size
  maximum_batching_window_in_seconds = var.stream.maximum_batching_window_in_seconds
  parallelization_factor             = var.stream.parallelization_factor
  maximum_retry_attempts             = var.stream.maximum_retry_attempts
  maximum_record_age_in_seconds      = var.stream.maximum_record_age_in_seconds
  dead_letter_bucket_force_destroy   = var.stream.dead_letter_bucket_force_destroy
  log_retention_in_days              = var.log_retention_in_days

  vpc_subnet_ids         = try(var.function_vpc.subnet_ids, [])
  vpc_security_group_ids = try(var.function_vpc.security_group_ids, [])
}
