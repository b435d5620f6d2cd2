# The whole system on the local stack (LocalStack), applied with tflocal.
# The same modules as infra/envs/aws; only the values below differ, each for a stated reason.

provider "aws" {
  region = var.region

  default_tags {
    tags = local.tags
  }
}

locals {
  tags = {
    project     = "ddb-opensearch-sync"
    environment = "local"
  }
  function_zip_path = coalesce(var.function_zip_path, "${path.root}/../../../build/sync-function.zip")
}

module "api" {
  source = "../../modules/api"

  name               = var.name
  ttl_attribute_name = var.ttl_attribute_name

  # Local data is throwaway: no continuous backups.
  point_in_time_recovery_enabled = false

  search_function = {
    name       = module.search.search_function_name
    invoke_arn = module.search.search_function_invoke_arn
  }
}

module "search" {
  source = "../../modules/search"

  domain_name           = "${var.name}-search"
  access_principal_arns = [module.sync.role_arn]

  # The same zip as the sync function (one build, one set of dependencies).
  search_function = {
    zip_path    = local.function_zip_path
    index_alias = var.index_alias
    # The local OpenSearch node has no security plugin: plain unauthenticated HTTP.
    opensearch_auth = "none"
  }

  # LocalStack always reports encryption at rest and node to node as off: saying so keeps the
  # second plan empty. It keeps the HTTPS settings but serves the domain over plain HTTP.
  encrypt_at_rest         = false
  node_to_node_encryption = false
  endpoint_scheme         = "http"

  # LocalStack does not keep a domain's log publishing options (a plan would re-add them).
  log_types = []

  # The domain is ready (or gone) at once here, but the provider waits ~10 minutes before its
  # first status poll on create and on delete; it checks once more when a timeout ends, so short
  # timeouts end the wait. Creating is off the apply's critical path (the SQS queue is longer).
  timeouts = {
    create = "10s"
    update = "10s"
    delete = "2s"
  }
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

  # The local OpenSearch node has no security plugin: plain unauthenticated HTTP.
  opensearch_auth = "none"

  batch_size                         = var.batch_size
  maximum_batching_window_in_seconds = var.maximum_batching_window_in_seconds
  maximum_retry_attempts             = var.maximum_retry_attempts
}
