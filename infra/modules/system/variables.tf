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

variable "api" {
  description = "The API's callers: authorization per operation group (writes, reads, search: NONE, AWS_IAM or COGNITO_USER_POOLS; AWS_IAM by default), Cognito user pools, API keys (required or not, one per client, the usage plan's limits), search's own throttle, a web ACL (yours, or one made with a per-IP rate rule), the endpoint type (PRIVATE needs execute-api VPC endpoints), CORS for browser clients (null: none). authorization, usage_plan, search_throttling, waf and cors go whole to modules/api's variables of those names, which give their types, defaults and checks"
  type = object({
    authorization          = optional(any)
    cognito_user_pool_arns = optional(list(string), [])
    api_key_required       = optional(bool, false)
    clients                = optional(list(string), [])
    usage_plan             = optional(any)
    search_throttling      = optional(any)
    web_acl_arn            = optional(string)
    waf                    = optional(any)
    endpoint_type          = optional(string, "REGIONAL")
    vpc_endpoint_ids       = optional(list(string), [])
    cors                   = optional(any)
  })
  default  = {}
  nullable = false
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
  description = "The domain: data nodes (type, count, zones), dedicated masters, volume, encryption (at rest and node to node), the endpoint URL's scheme and TLS policy, the URL the functions use instead of the domain's endpoint (function_endpoint; locally the node itself), published log types, VPC placement, create/update/delete timeouts. Each goes to modules/search's variable of (nearly) the same name (encryption to encrypt_at_rest and node_to_node_encryption, function_endpoint to function_endpoint_url), which types, checks and defaults it: t3.small.search, 1 node in one zone, 10 GiB, encrypted, https, the three log types, no dedicated masters, TLS 1.2 with forward secrecy, no VPC, 60m/60m/90m"
  type = object({
    instance_type       = optional(string)
    instance_count      = optional(number)
    zone_awareness      = optional(number)
    volume_size         = optional(number)
    encryption          = optional(bool)
    endpoint_scheme     = optional(string)
    function_endpoint   = optional(string)
    log_types           = optional(list(string))
    dedicated_master    = optional(any)
    tls_security_policy = optional(string)
    vpc                 = optional(any)
    timeouts            = optional(any)
  })
  default  = {}
  nullable = false
}

################################################################################
# The sync function's event source mapping
################################################################################

variable "stream" {
  description = "How the table's stream feeds the sync function: records per invocation, batching window (s), concurrent batches per shard, retries of a failing batch and the age (s) at which a record is given up, both before its metadata goes to the dead-letter queue (the sync module's variables of the same names give the defaults, 1000, 0, 1, 10000 and 21 h, and their reasons), and whether destroy empties the dead-letter bucket (false); unset ones take the sync module's defaults"
  type = object({
    batch_size                         = optional(number)
    maximum_batching_window_in_seconds = optional(number)
    parallelization_factor             = optional(number)
    maximum_retry_attempts             = optional(number)
    maximum_record_age_in_seconds      = optional(number)
    dead_letter_bucket_force_destroy   = optional(bool)
  })
  default  = {}
  nullable = false
}

variable "function_vpc" {
  description = "Run both functions in a VPC (needed when the domain is in one): subnets and security groups; they then need VPC endpoints or a NAT for DynamoDB Streams, SQS and CloudWatch. null for no VPC"
  type = object({
    subnet_ids         = list(string)
    security_group_ids = list(string)
  })
  default = null
}

################################################################################
# Alarms
################################################################################

variable "alarms" {
  description = "Alarms (dead-letter queue, iterator age, end-to-end lag, function errors and throttles, API 5XX, cluster red/yellow, free storage, JVM memory pressure) and their dashboard: to topic_arn, or to a topic made here with optional email subscriptions; thresholds go whole to modules/alarms' thresholds (its type, defaults and checks)"
  type = object({
    enabled    = optional(bool, true)
    topic_arn  = optional(string)
    emails     = optional(list(string), [])
    thresholds = optional(any)
  })
  default  = {}
  nullable = false
}
