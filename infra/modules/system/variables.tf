# Defaults are the production (AWS) values; the local root overrides what LocalStack needs.

variable "name" {
  description = "Name prefix of every resource (the domain is \"<name>-search\": keep name at most 21 characters)"
  type        = string
  default     = "bookstore"
}

variable "index_alias" {
  description = "Alias of the search index both functions use (created by `ddb-opensearch-sync setup-index`, not by Terraform)"
  type        = string
  default     = "books"
}

variable "sync_function_zip_path" {
  description = "Path of the sync function's zip; null means build/sync-function.zip in the repository"
  type        = string
  default     = null
}

variable "search_function_zip_path" {
  description = "Path of the search function's zip; null means build/search-function.zip in the repository"
  type        = string
  default     = null
}

variable "log_retention_in_days" {
  description = "Retention of every log group, in days"
  type        = number
  default     = 365
}

################################################################################
# Table and API
################################################################################

variable "ttl_attribute_name" {
  description = "Attribute holding an item's expiry time for DynamoDB TTL; null disables TTL"
  type        = string
  default     = "expires_at"
}

variable "point_in_time_recovery_enabled" {
  description = "Whether the table has point-in-time recovery (continuous backups)"
  type        = bool
  default     = true
}

variable "deletion_protection_enabled" {
  description = "Whether the table refuses deletion (turn off before destroying the system)"
  type        = bool
  default     = false
}

variable "authorization" {
  description = "Authorization of the API's operations: NONE (public) or AWS_IAM (SigV4-signed callers with execute-api:Invoke)"
  type        = string
  default     = "NONE"
}

variable "web_acl_arn" {
  description = "WAFv2 web ACL to associate with the API stage; null for none"
  type        = string
  default     = null
}

variable "localstack_endpoint" {
  description = "Base URL of LocalStack's gateway when the system runs there (the API's URL is then LocalStack's path URL under it); null on AWS"
  type        = string
  default     = null
}

################################################################################
# Search domain and the functions' access to it
################################################################################

variable "admin_principal_arn" {
  description = "A principal the domain's access policy admits besides the functions (whoever runs `ddb-opensearch-sync setup-index`); null for none"
  type        = string
  default     = null
}

variable "opensearch_auth" {
  description = "How both functions authenticate to OpenSearch: sigv4 on AWS, none for an unauthenticated local node"
  type        = string
  default     = "sigv4"
}

variable "opensearch" {
  description = "The domain: data nodes, encryption (at rest and node to node), the endpoint URL's scheme, published log types, create/update/delete timeouts (unset ones: the search module's 60m/60m/90m)"
  type = object({
    instance_type   = optional(string, "t3.small.search")
    instance_count  = optional(number, 1)
    zone_awareness  = optional(number)
    volume_size     = optional(number, 10)
    encryption      = optional(bool, true)
    endpoint_scheme = optional(string, "https")
    log_types       = optional(list(string), ["ES_APPLICATION_LOGS", "INDEX_SLOW_LOGS", "SEARCH_SLOW_LOGS"])
    timeouts        = optional(object({ create = optional(string), update = optional(string), delete = optional(string) }), {})
  })
  default  = {}
  nullable = false
}

################################################################################
# The sync function's event source mapping
################################################################################

variable "stream" {
  description = "How the table's stream feeds the sync function: records per invocation, batching window (s), concurrent batches per shard, retries of a failing batch and the age (s) at which a record is given up, both before its metadata goes to the dead-letter queue (the sync module's variables give the reasons for the defaults: 10000 and 21 h), and whether destroy empties the dead-letter bucket"
  type = object({
    batch_size                         = optional(number, 1000)
    maximum_batching_window_in_seconds = optional(number, 0)
    parallelization_factor             = optional(number, 1)
    maximum_retry_attempts             = optional(number, 10000)
    maximum_record_age_in_seconds      = optional(number, 75600)
    dead_letter_bucket_force_destroy   = optional(bool, false)
  })
  default  = {}
  nullable = false
}
