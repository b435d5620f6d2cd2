variable "region" {
  description = "AWS region to deploy to"
  type        = string
  default     = "us-east-1"
}

variable "name" {
  description = "Name prefix of every resource (the domain is \"<name>-search\": keep name at most 21 characters)"
  type        = string
  default     = "bookstore"
}

variable "environment" {
  description = "Environment tag of every resource"
  type        = string
  default     = "dev"
}

variable "sync_function_zip_path" {
  description = "The sync function's zip to upload (scripts/build_lambda.py --function sync); null: build/sync-function.zip"
  type        = string
  default     = null
}

variable "search_function_zip_path" {
  description = "The search function's zip to upload (scripts/build_lambda.py --function search); null: build/search-function.zip"
  type        = string
  default     = null
}

variable "index_alias" {
  description = "Alias of the search index the sync function writes to and the search function reads"
  type        = string
  default     = "books"
}

################################################################################
# API
################################################################################

variable "api" {
  description = "The API's callers (modules/system's api, whose type and defaults apply): authorization per operation group (writes, reads, search; AWS_IAM unless said otherwise, NONE makes a group public, COGNITO_USER_POOLS takes ID tokens of cognito_user_pool_arns), API keys, usage plan, search throttle, web ACL, endpoint type, CORS (cors = { allow_origin = \"https://shop.example.com\" }; null: none)"
  type        = any
  default     = {}
  nullable    = false
}

variable "ttl_attribute_name" {
  description = "Attribute holding an item's expiry time for DynamoDB TTL; null disables TTL"
  type        = string
  default     = "expires_at"
}

variable "deletion_protection_enabled" {
  description = "Whether the table, the source of truth, refuses deletion (set false and apply before destroying the stack)"
  type        = bool
  default     = true
}

variable "manage_api_gateway_account" {
  description = "Set the region's account-wide CloudWatch Logs role of API Gateway (needed once per account and region for stage logging; leave false if something else manages it)"
  type        = bool
  default     = false
}


################################################################################
# Search domain
################################################################################

variable "admin_principal_arn" {
  description = "IAM role or user ARN with every es:ESHttp* right on the domain: whoever runs `ddb-opensearch-sync setup-index`, reindex, backfill and reconcile (required: nobody else can create the index)"
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:(iam|sts)::[0-9]{12}:", var.admin_principal_arn))
    error_message = "admin_principal_arn must be an IAM role or user ARN (arn:aws:iam::<account>:role/<name>)."
  }
}

variable "opensearch_instance_type" {
  description = "Instance type of the domain's data nodes"
  type        = string
  default     = "t3.small.search"
}

variable "opensearch_instance_count" {
  description = "Number of data nodes"
  type        = number
  default     = 1
}

variable "opensearch_zone_awareness" {
  description = "Availability zones the data nodes spread over (2 or 3); null for one zone"
  type        = number
  default     = null
}

variable "opensearch_dedicated_master" {
  description = "Dedicated master nodes (instance type and count, 3 or 5); null for none (the data nodes elect one)"
  type = object({
    instance_type = string
    count         = optional(number, 3)
  })
  default = null
}

variable "opensearch_vpc" {
  description = "Place the domain in a VPC (subnets, one per zone, and security groups: modules/search's vpc); null for a public endpoint limited by its access policy. Put the functions in the VPC too (function_vpc)"
  type        = any
  default     = null
}

variable "function_vpc" {
  description = "Run both functions in a VPC (subnets and security groups: modules/system's function_vpc): needed with opensearch_vpc; they then need VPC endpoints or a NAT for DynamoDB Streams, SQS and CloudWatch"
  type        = any
  default     = null
}

variable "opensearch_volume_size" {
  description = "EBS volume size of each data node, in GiB"
  type        = number
  default     = 10
}

variable "opensearch_timeouts" {
  description = "Create/update/delete timeouts of the domain; unset ones are 60m/60m/90m (creating a domain takes 15-30 minutes)"
  type        = object({ create = optional(string), update = optional(string), delete = optional(string) })
  default     = {}
}

################################################################################
# Sync function and its event source mapping
################################################################################

variable "batch_size" {
  description = "Largest number of stream records per invocation (why 1000: infra/modules/sync/variables.tf)"
  type        = number
  default     = 1000
}

variable "maximum_batching_window_in_seconds" {
  description = "Longest time records are gathered before an invocation, in seconds (why 0: infra/modules/sync/variables.tf)"
  type        = number
  default     = 0
}

variable "parallelization_factor" {
  description = "Concurrent batches per shard, 1-10 (why 1: infra/modules/sync/variables.tf)"
  type        = number
  default     = 1
}

variable "maximum_retry_attempts" {
  description = "Retries of a failing batch before its metadata goes to the dead-letter queue; the record age ends an outage first (infra/modules/sync explains)"
  type        = number
  default     = 10000
}

variable "maximum_record_age_in_seconds" {
  description = "Age after which a failing record is given up and its batch's metadata sent to the dead-letter queue, in seconds: 21 h leaves `replay` 3 h of the stream's 24 h"
  type        = number
  default     = 75600
}

variable "log_retention_in_days" {
  description = "Retention of every log group, in days"
  type        = number
  default     = 365
}

variable "alarms" {
  description = "Alarms and their dashboard (modules/system's alarms, whose type and defaults apply): to topic_arn, or to a topic made here with optional email subscriptions; thresholds"
  type        = any
  default     = {}
  nullable    = false
}
