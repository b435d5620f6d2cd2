################################################################################
# Function
################################################################################

output "function_name" {
  description = "Name of the sync function"
  value       = module.function.function_name
}

output "function_arn" {
  description = "ARN of the sync function"
  value       = module.function.function_arn
}

output "role_arn" {
  description = "ARN of the function's execution role (admit it in the domain's access policy)"
  value       = module.function.role_arn
}

output "log_group_name" {
  description = "Name of the function's log group"
  value       = module.function.log_group_name
}

output "maintenance_function_name" {
  description = "Name of the maintenance function (purges tombstones, lifts an expired reindex write block)"
  value       = module.maintenance.function_name
}

output "maintenance_role_arn" {
  description = "ARN of the maintenance function's execution role (admit it in the domain's access policy for its requests only)"
  value       = module.maintenance.role_arn
}

################################################################################
# Event source mapping and dead-letter queue
################################################################################

output "event_source_mapping_uuid" {
  description = "UUID of the event source mapping"
  value       = try(aws_lambda_event_source_mapping.this[0].uuid, null)
}

output "dlq_url" {
  description = "URL of the dead-letter queue (the mapping's on-failure destination)"
  value       = try(aws_sqs_queue.dlq[0].url, null)
}

output "dlq_arn" {
  description = "ARN of the dead-letter queue"
  value       = try(aws_sqs_queue.dlq[0].arn, null)
}

output "dead_letter_bucket" {
  description = "Name of the S3 bucket keeping dead letters too large for one SQS message"
  value       = try(aws_s3_bucket.dead_letters[0].id, null)
}

################################################################################
# Maintenance schedules
################################################################################

output "purge_rule_name" {
  description = "Name of the EventBridge rule that purges old tombstones (null when not scheduled)"
  value       = try(aws_cloudwatch_event_rule.maintenance["purge-tombstones"].name, null)
}

output "lease_check_rule_name" {
  description = "Name of the EventBridge rule that lifts an expired reindex write block (null when not scheduled)"
  value       = try(aws_cloudwatch_event_rule.maintenance["lease-check"].name, null)
}
