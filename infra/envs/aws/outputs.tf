# The composition's outputs (modules/system/outputs.tf describes each), e.g.
# `terraform -chdir=infra/envs/aws output -raw opensearch_endpoint`.

output "api_url" {
  description = "Invoke URL of the API stage (append /books)"
  value       = module.system.api_url
}

output "table_name" {
  description = "The books table"
  value       = module.system.table_name
}

output "table_stream_arn" {
  description = "The table's stream, which feeds the sync function"
  value       = module.system.table_stream_arn
}

output "index_alias" {
  description = "Alias of the search index (`ddb-opensearch-sync setup-index --alias`)"
  value       = module.system.index_alias
}

output "opensearch_endpoint" {
  description = "URL of the domain (`ddb-opensearch-sync setup-index --endpoint`)"
  value       = module.system.opensearch_endpoint
}

output "sync_function_name" {
  description = "The sync function (its logs: /aws/lambda/<name>)"
  value       = module.system.sync_function_name
}

output "search_function_name" {
  description = "The search function (its logs: /aws/lambda/<name>)"
  value       = module.system.search_function_name
}

output "dlq_url" {
  description = "Dead-letter queue: metadata of batches the sync function gave up on"
  value       = module.system.dlq_url
}

output "opensearch_domain_arn" {
  description = "ARN of the OpenSearch domain (for the admin principal's own policies)"
  value       = module.system.opensearch_domain_arn
}

output "sync_function_role_arn" {
  description = "ARN of the sync function's execution role"
  value       = module.system.sync_function_role_arn
}

output "alarm_topic_arn" {
  description = "SNS topic the alarms notify"
  value       = module.system.alarm_topic_arn
}
