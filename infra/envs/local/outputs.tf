output "api_url" {
  description = "Base URL of the books API on the local stack (append /books), without a trailing slash"
  value       = "${trimsuffix(var.localstack_endpoint, "/")}/_aws/execute-api/${module.api.rest_api_id}/${module.api.stage_name}"
}

output "table_name" {
  description = "Name of the books table"
  value       = module.api.table_name
}

output "stream_arn" {
  description = "ARN of the table's stream"
  value       = module.api.table_stream_arn
}

output "index_name" {
  description = "Alias of the search index (created by `ddb-opensearch-sync setup-index`, not by Terraform)"
  value       = var.index_alias
}

output "opensearch_endpoint" {
  description = "Full URL of the OpenSearch domain's endpoint"
  value       = module.search.endpoint_url
}

output "function_name" {
  description = "Name of the sync function"
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
