output "table_name" {
  description = "Name of the books table"
  value       = try(aws_dynamodb_table.this[0].name, null)
}

output "table_arn" {
  description = "ARN of the books table"
  value       = try(aws_dynamodb_table.this[0].arn, null)
}

output "table_stream_arn" {
  description = "ARN of the table's stream (NEW_AND_OLD_IMAGES)"
  value       = try(aws_dynamodb_table.this[0].stream_arn, null)
}
