output "domain_name" {
  description = "Name of the OpenSearch domain"
  value       = try(aws_opensearch_domain.this[0].domain_name, null)
}

output "domain_arn" {
  description = "ARN of the OpenSearch domain"
  value       = try(aws_opensearch_domain.this[0].arn, null)
}

output "domain_endpoint" {
  description = "Endpoint of the domain as the service reports it (host, or host/path on LocalStack), without a scheme"
  value       = try(aws_opensearch_domain.this[0].endpoint, null)
}

output "endpoint_url" {
  description = "Full URL of the domain's endpoint (scheme included, no trailing slash)"
  value       = local.endpoint_url
}

output "function_endpoint_url" {
  description = "The URL the functions reach the domain at: function_endpoint_url, else endpoint_url"
  value       = local.function_endpoint_url
}

output "log_group_names" {
  description = "Log groups the domain publishes to, by log type"
  value       = { for type, group in aws_cloudwatch_log_group.this : type => group.name }
}

################################################################################
# Search function
################################################################################

output "search_function_name" {
  description = "Name of the search function (null without one)"
  value       = module.search_function.function_name
}

output "search_function_arn" {
  description = "ARN of the search function"
  value       = module.search_function.function_arn
}

output "search_function_invoke_arn" {
  description = "Invoke ARN of the search function (the uri of an API Gateway Lambda proxy integration)"
  value       = module.search_function.invoke_arn
}

output "search_role_arn" {
  description = "ARN of the search function's execution role"
  value       = module.search_function.role_arn
}
