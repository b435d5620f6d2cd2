# What a caller of the system needs, each named after what it holds.

output "api_url" {
  description = "Base URL of the books API (append /books), without a trailing slash: the stage's invoke URL on AWS, LocalStack's path URL locally"
  value       = local.api_url
}

output "table_name" {
  description = "Name of the books table"
  value       = module.table.table_name
}

output "table_stream_arn" {
  description = "ARN of the table's stream (NEW_AND_OLD_IMAGES), which feeds the sync function"
  value       = module.table.table_stream_arn
}

output "index_alias" {
  description = "Alias of the search index (created by `ddb-opensearch-sync setup-index`, not by Terraform)"
  value       = var.index_alias
}

output "opensearch_endpoint" {
  description = "Full URL of the OpenSearch domain's endpoint"
  value       = module.search.endpoint_url
}

output "sync_function_name" {
  description = "Name of the sync function (table stream -> index)"
  value       = module.sync.function_name
}

output "search_function_name" {
  description = "Name of the search function (GET /books/search and /books/suggest)"
  value       = module.search.search_function_name
}

output "dlq_url" {
  description = "URL of the dead-letter queue (the event source mapping's on-failure destination)"
  value       = module.sync.dlq_url
}

output "opensearch_domain_arn" {
  description = "ARN of the OpenSearch domain (for the admin principal's own policies)"
  value       = module.search.domain_arn
}

output "sync_function_role_arn" {
  description = "ARN of the sync function's execution role (the principal the domain admits beside the admin)"
  value       = module.sync.role_arn
}

output "alarm_topic_arn" {
  description = "SNS topic the alarms notify (null when alarms are off)"
  value       = module.alarms.alarm_topic_arn
}
