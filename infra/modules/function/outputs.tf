output "function_name" {
  description = "Name of the function"
  value       = try(aws_lambda_function.this[0].function_name, null)
}

output "function_arn" {
  description = "ARN of the function"
  value       = try(aws_lambda_function.this[0].arn, null)
}

output "invoke_arn" {
  description = "Invoke ARN of the function (the uri of an API Gateway Lambda proxy integration)"
  value       = try(aws_lambda_function.this[0].invoke_arn, null)
}

output "role_arn" {
  description = "ARN of the function's execution role"
  value       = try(aws_iam_role.this[0].arn, null)
}

output "log_group_name" {
  description = "Name of the function's log group"
  value       = try(aws_cloudwatch_log_group.this[0].name, null)
}
