data "aws_partition" "current" {}
data "aws_region" "current" {}
data "aws_caller_identity" "current" {}

locals {
  # Known before the domain exists, so the access policy can be part of the create call.
  domain_arn = "arn:${data.aws_partition.current.partition}:es:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:domain/${var.domain_name}"

  log_types = var.create ? toset(var.log_types) : toset([])

  endpoint_url          = try("${var.endpoint_scheme}://${trimsuffix(aws_opensearch_domain.this[0].endpoint, "/")}", null)
  function_endpoint_url = var.function_endpoint_url != null ? var.function_endpoint_url : local.endpoint_url

  # The only paths the sync function calls, both with POST: <alias>/_bulk writes, <alias>/_mget
  # resolves version conflicts. IAM matches OpenSearch requests by URL path, so neither it nor
  # anyone holding its credentials can create, delete or read other indices.
  sync_resources = [for action in ["_bulk", "_mget"] : "${local.domain_arn}/${var.index_alias}/${action}"]

  # The maintenance function's requests, by method (the same list as its own role's in
  # infra/modules/sync; sync/maintenance.py says which call makes each): find the alias's
  # index, read and edit the reindex lease and write block on <alias>-v<n>, start the purge.
  maintenance_index = "${var.index_alias}-v*"
  maintenance_requests = var.maintenance_principal_arn == null ? {} : {
    ESHttpHead = ["_alias/${var.index_alias}"]
    ESHttpGet = [
      "_alias/${var.index_alias}",
      "${local.maintenance_index}/_mapping",
      "${local.maintenance_index}/_settings/index.blocks.write",
    ]
    ESHttpPut  = ["${local.maintenance_index}/_mapping", "${local.maintenance_index}/_settings"]
    ESHttpPost = ["${local.maintenance_index}/_refresh", "${local.maintenance_index}/_delete_by_query"]
  }

  # Bodies of _bulk/_mget may not name an index of their own: the alias in the path is the only
  # index a request reaches (what the sync's path-scoped permission relies on).
  advanced_options = merge({
    "rest.action.multi.allow_explicit_index" = "false"
    # AWS's and LocalStack's default, said so that a second plan has nothing to add.
    "override_main_response_version" = "false"
  }, var.advanced_options)

  search_function      = var.create && var.search_function != null
  search_function_name = local.search_function ? coalesce(var.search_function.name, "${var.domain_name}-api") : null
  # The paths the search function calls (POST/GET): <alias>/_search; for read-your-writes
  # (consistent_with), <alias>/_mget (real-time reads of the tokens' books) and the Painless
  # execute API (a document it read, evaluated in memory against the request's query). Its
  # role and the domain's policy both stop there, so it can read the index and nothing else.
  search_resources = local.search_function ? [
    "${local.domain_arn}/${var.index_alias}/_search",
    "${local.domain_arn}/${var.index_alias}/_mget",
    "${local.domain_arn}/_scripts/painless/_execute",
  ] : []
}

################################################################################
# Access policy: the listed principals only, never "*"
################################################################################

data "aws_iam_policy_document" "access" {
  count = var.create ? 1 : 0

  # For principals of the same account an allow in either the domain policy or the principal's
  # own policy is enough: each principal gets exactly its own statement here, none more.
  dynamic "statement" {
    for_each = var.sync_principal_arn == null ? [] : [var.sync_principal_arn]
    content {
      sid       = "SyncWrites"
      actions   = ["es:ESHttpPost"]
      resources = local.sync_resources
      principals {
        type        = "AWS"
        identifiers = [statement.value]
      }
    }
  }

  # One statement per method: a statement pairs every action with every resource.
  dynamic "statement" {
    for_each = local.maintenance_requests
    content {
      sid       = "Maintenance${statement.key}"
      actions   = ["es:${statement.key}"]
      resources = [for path in statement.value : "${local.domain_arn}/${path}"]
      principals {
        type        = "AWS"
        identifiers = [var.maintenance_principal_arn]
      }
    }
  }

  dynamic "statement" {
    for_each = var.admin_principal_arn == null ? [] : [var.admin_principal_arn]
    content {
      sid       = "Admin"
      actions   = ["es:ESHttp*"]
      resources = ["${local.domain_arn}/*"]
      principals {
        type        = "AWS"
        identifiers = [statement.value]
      }
    }
  }

  dynamic "statement" {
    for_each = local.search_function ? [1] : []
    content {
      sid       = "SearchApi"
      actions   = ["es:ESHttpGet", "es:ESHttpPost"]
      resources = local.search_resources
      principals {
        type        = "AWS"
        identifiers = [module.search_function.role_arn]
      }
    }
  }
}

################################################################################
# Domain
################################################################################

resource "aws_opensearch_domain" "this" {
  count = var.create ? 1 : 0

  #checkov:skip=CKV_AWS_137:VPC placement is optional (var.vpc); without it the public endpoint admits only the principals the SigV4 access policy names, each limited to its own paths.
  #checkov:skip=CKV_AWS_248:Security groups are the caller's (var.vpc.security_group_ids); without a VPC there is none, default or not.
  #checkov:skip=CKV2_AWS_52:Fine-grained access control would add a second authorization layer (internal users or role mappings created through the security plugin); access is already limited to named IAM principals by the domain policy.
  #checkov:skip=CKV_AWS_318:Dedicated masters are optional (var.dedicated_master): a single-node development domain does not need three.
  #checkov:skip=CKV2_AWS_59:Dedicated masters are optional (var.dedicated_master), as above.
  #checkov:skip=CKV_AWS_247:Encrypted at rest by default (var.encrypt_at_rest) with OpenSearch's AWS managed key; var.kms_key_id takes a customer managed key.
  #checkov:skip=CKV_AWS_317:Audit logs need fine-grained access control (see CKV2_AWS_52); application and slow logs are published (var.log_types).
  domain_name      = var.domain_name
  engine_version   = var.engine_version
  access_policies  = data.aws_iam_policy_document.access[0].json
  advanced_options = local.advanced_options

  cluster_config {
    instance_type            = var.instance_type
    instance_count           = var.instance_count
    zone_awareness_enabled   = var.zone_awareness != null
    dedicated_master_enabled = var.dedicated_master != null
    dedicated_master_type    = try(var.dedicated_master.instance_type, null)
    dedicated_master_count   = try(var.dedicated_master.count, null)

    dynamic "zone_awareness_config" {
      for_each = var.zone_awareness == null ? [] : [var.zone_awareness]
      content {
        availability_zone_count = zone_awareness_config.value
      }
    }
  }

  ebs_options {
    ebs_enabled = true
    volume_type = "gp3"
    volume_size = var.volume_size
  }

  encrypt_at_rest {
    enabled    = var.encrypt_at_rest
    kms_key_id = var.encrypt_at_rest ? var.kms_key_id : null
  }

  node_to_node_encryption {
    enabled = var.node_to_node_encryption
  }

  domain_endpoint_options {
    enforce_https       = var.enforce_https
    tls_security_policy = var.tls_security_policy
  }

  dynamic "vpc_options" {
    for_each = var.vpc == null ? [] : [var.vpc]
    content {
      subnet_ids         = vpc_options.value.subnet_ids
      security_group_ids = vpc_options.value.security_group_ids
    }
  }

  dynamic "log_publishing_options" {
    for_each = local.log_types
    content {
      log_type                 = log_publishing_options.value
      cloudwatch_log_group_arn = aws_cloudwatch_log_group.this[log_publishing_options.value].arn
    }
  }

  timeouts {
    create = var.timeouts.create
    update = var.timeouts.update
    delete = var.timeouts.delete
  }

  tags = var.tags

  lifecycle {
    precondition {
      condition     = var.zone_awareness == null || var.instance_count % coalesce(var.zone_awareness, 1) == 0
      error_message = "instance_count must be a multiple of zone_awareness (the zones get equal shares)."
    }
    precondition {
      condition     = var.vpc == null || length(try(var.vpc.subnet_ids, [])) == coalesce(var.zone_awareness, 1)
      error_message = "In a VPC the domain needs one subnet per zone: as many subnet_ids as zone_awareness (one without it)."
    }
    precondition {
      condition     = var.sync_principal_arn != null || var.admin_principal_arn != null
      error_message = "Name at least one principal (sync_principal_arn or admin_principal_arn): the domain admits no one else."
    }
  }

  depends_on = [aws_cloudwatch_log_resource_policy.this]
}

################################################################################
# Log groups the domain publishes to
################################################################################

resource "aws_cloudwatch_log_group" "this" {
  for_each = local.log_types

  #checkov:skip=CKV_AWS_158:A customer managed key is optional (var.log_kms_key_arn); without one CloudWatch Logs still encrypts the group at rest with its own keys.

  name              = "/aws/opensearch/${var.domain_name}/${lower(each.value)}"
  retention_in_days = var.log_retention_in_days
  kms_key_id        = var.log_kms_key_arn
  tags              = var.tags
}

data "aws_iam_policy_document" "logs" {
  count = length(local.log_types) > 0 ? 1 : 0

  statement {
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = [for g in aws_cloudwatch_log_group.this : "${g.arn}:*"]
    principals {
      type        = "Service"
      identifiers = ["es.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = [local.domain_arn]
    }
  }
}

resource "aws_cloudwatch_log_resource_policy" "this" {
  count = length(local.log_types) > 0 ? 1 : 0

  policy_name     = "opensearch-${var.domain_name}"
  policy_document = data.aws_iam_policy_document.logs[0].json
}

################################################################################
# Search function: GET /books/search and /books/suggest (behind the API's
# Lambda proxy integration), reading the index through the alias
################################################################################

data "aws_iam_policy_document" "search" {
  count = local.search_function ? 1 : 0

  statement {
    sid       = "SearchIndex"
    actions   = ["es:ESHttpGet", "es:ESHttpPost"]
    resources = local.search_resources
  }
}

module "search_function" {
  source = "../function"

  create      = local.search_function
  name        = local.search_function_name
  description = "Serves the books API's search and suggest operations from the OpenSearch index"
  zip_path    = try(var.search_function.zip_path, null)
  handler     = try(var.search_function.handler, null)
  runtime     = try(var.search_function.runtime, null)

  architecture                   = try(var.search_function.architecture, null)
  memory_size                    = try(var.search_function.memory_size, null)
  timeout                        = try(var.search_function.timeout, null)
  reserved_concurrent_executions = try(var.search_function.reserved_concurrent_executions, null)
  kms_key_arn                    = try(var.search_function.kms_key_arn, null)
  tracing_mode                   = try(var.search_function.tracing_mode, null)
  vpc_subnet_ids                 = try(var.search_function.vpc_subnet_ids, [])
  vpc_security_group_ids         = try(var.search_function.vpc_security_group_ids, [])

  environment_variables = local.search_function ? merge({
    OPENSEARCH_ENDPOINT     = local.function_endpoint_url
    OPENSEARCH_AUTH         = var.search_function.opensearch_auth
    INDEX_ALIAS             = var.index_alias
    POWERTOOLS_SERVICE_NAME = "ddb-opensearch-sync-search"
    POWERTOOLS_LOG_LEVEL    = var.search_function.log_level
    # A proxy integration's answer is the function's: it sends the CORS header itself.
    }, var.search_function.cors_allow_origin == null ? {} : {
    CORS_ALLOW_ORIGIN = var.search_function.cors_allow_origin
  }) : {}

  policy_name           = "search"
  policy_json           = try(data.aws_iam_policy_document.search[0].json, null)
  log_retention_in_days = var.log_retention_in_days
  log_kms_key_arn       = var.log_kms_key_arn
  tags                  = var.tags
}
