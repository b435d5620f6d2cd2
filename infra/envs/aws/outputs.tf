output "api_url" {
  description = "Invoke URL of the API stage (append /books), without a trailing slash"
  value       = module.api.invoke_url
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

output "domain_arn" {
  description = "ARN of the OpenSearch domain (for the admin principal's own policies)"
  value       = module.search.domain_arn
}

output "function_role_arn" {
  description = "ARN of the sync function's execution role"
  value       = module.sync.role_arn
}
