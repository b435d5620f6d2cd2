output "alarm_topic_arn" {
  description = "SNS topic the alarms notify"
  value       = var.create ? local.topic_arn : null
}

output "alarm_names" {
  description = "Names of the alarms, by what they watch"
  value       = { for key, alarm in aws_cloudwatch_metric_alarm.this : key => alarm.alarm_name }
}

output "dashboard_name" {
  description = "Name of the CloudWatch dashboard"
  value       = try(aws_cloudwatch_dashboard.this[0].dashboard_name, null)
}
