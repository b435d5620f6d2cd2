# The composition's outputs under the same names, read by `make deploy` (`terraform output
# -json`); modules/system/outputs.tf describes each.

output "api_url" { value = module.system.api_url }
output "table_name" { value = module.system.table_name }
output "table_stream_arn" { value = module.system.table_stream_arn }
output "index_alias" { value = module.system.index_alias }
output "opensearch_endpoint" { value = module.system.opensearch_endpoint }
output "sync_function_name" { value = module.system.sync_function_name }
output "search_function_name" { value = module.system.search_function_name }
output "dlq_url" { value = module.system.dlq_url }
output "opensearch_domain_arn" { value = module.system.opensearch_domain_arn }
output "sync_function_role_arn" { value = module.system.sync_function_role_arn }
output "alarm_topic_arn" { value = module.system.alarm_topic_arn }
