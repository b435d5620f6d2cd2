################################################################################
# REST API
################################################################################

output "rest_api_id" {
  description = "Id of the REST API"
  value       = try(aws_api_gateway_rest_api.this[0].id, null)
}

output "rest_api_execution_arn" {
  description = "Execution ARN of the REST API (for execute-api:Invoke policies when authorization is AWS_IAM)"
  value       = try(aws_api_gateway_rest_api.this[0].execution_arn, null)
}

output "stage_name" {
  description = "Name of the stage"
  value       = try(aws_api_gateway_stage.this[0].stage_name, null)
}

output "invoke_url" {
  description = "Invoke URL of the stage on AWS, without a trailing slash (LocalStack serves it under another URL: see the local env root)"
  value       = try(trimsuffix(aws_api_gateway_stage.this[0].invoke_url, "/"), null)
}

output "search_enabled" {
  description = "Whether the API serves GET /books/search and GET /books/suggest"
  value       = local.search_enabled
}

output "api_role_arn" {
  description = "ARN of the role API Gateway assumes to call DynamoDB"
  value       = try(aws_iam_role.api[0].arn, null)
}

output "access_log_group_name" {
  description = "Name of the stage's access log group"
  value       = try(aws_cloudwatch_log_group.access[0].name, null)
}

output "api_keys" {
  description = "API key values by client name (var.api_clients), to send as x-api-key"
  value       = { for client, key in aws_api_gateway_api_key.this : client => key.value }
  sensitive   = true
}

output "web_acl_arn" {
  description = "ARN of the web ACL associated with the stage (yours or this module's); null for none"
  value       = var.create && (var.web_acl_arn != null || var.waf != null) ? local.web_acl_arn : null
}
