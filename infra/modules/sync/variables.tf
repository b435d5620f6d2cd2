variable "create" {
  description = "Whether to create any resource of this module"
  type        = bool
  default     = true
}

variable "name" {
  description = "Name prefix of the function, its role, log group and dead-letter queue"
  type        = string
  default     = "bookstore"
}

variable "tags" {
  description = "Tags added to every resource that takes tags"
  type        = map(string)
  default     = {}
}

################################################################################
# Inputs from the other modules
################################################################################

variable "stream_arn" {
  description = "ARN of the table's stream (view type NEW_AND_OLD_IMAGES)"
  type        = string
  default     = null
}

variable "opensearch_domain_arn" {
  description = "ARN of the OpenSearch domain the function writes to"
  type        = string
  default     = null
}

variable "opensearch_endpoint_url" {
  description = "Full URL of the OpenSearch endpoint (https://<endpoint> on AWS; LocalStack's path endpoint locally)"
  type        = string
  default     = null
}

################################################################################
# Function
################################################################################

variable "function_zip_path" {
  description = "Path of the function's zip (built by scripts/build_lambda.py into build/sync-function.zip)"
  type        = string
  default     = null
}

variable "handler" {
  description = "Handler of the function"
  type        = string
  default     = "ddb_opensearch_sync.sync.handler.handler"
}

variable "runtime" {
  description = "Lambda runtime of the function"
  type        = string
  default     = "python3.12"
}

variable "architecture" {
  description = "Instruction set of the function (x86_64 or arm64); must match the wheels in the zip"
  type        = string
  default     = "x86_64"
}

variable "memory_size" {
  description = "Memory of the function, in MB"
  type        = number
  default     = 256
}

variable "timeout" {
  description = "Timeout of one invocation (one batch), in seconds"
  type        = number
  default     = 60
}

variable "reserved_concurrent_executions" {
  description = "Concurrency reserved for (and capping) the function; -1 reserves none"
  type        = number
  default     = -1
}

variable "tracing_mode" {
  description = "X-Ray tracing of the function: PassThrough or Active (Active also grants xray:PutTraceSegments/PutTelemetryRecords)"
  type        = string
  default     = "PassThrough"
}

variable "kms_key_arn" {
  description = "KMS key encrypting the function's environment variables; null uses the Lambda service key"
  type        = string
  default     = null
}

variable "index_alias" {
  description = "Alias of the search index the function writes to (INDEX_ALIAS)"
  type        = string
  default     = "books"
}

variable "opensearch_auth" {
  description = "How the function authenticates to OpenSearch (OPENSEARCH_AUTH): sigv4 on AWS, none for an unauthenticated local node"
  type        = string
  default     = "sigv4"

  validation {
    condition     = contains(["sigv4", "none"], var.opensearch_auth)
    error_message = "opensearch_auth must be sigv4 or none."
  }
}

variable "ttl_expiry_policy" {
  description = "What the function does with items DynamoDB TTL expired (TTL_EXPIRY_POLICY)"
  type        = string
  default     = "delete"
}

variable "log_level" {
  description = "Log level of the function (POWERTOOLS_LOG_LEVEL)"
  type        = string
  default     = "INFO"
}

variable "environment_variables" {
  description = "Extra environment variables of the function (merged over the ones this module sets)"
  type        = map(string)
  default     = {}
}

variable "log_retention_in_days" {
  description = "Retention of the function's log group, in days"
  type        = number
  default     = 365
}

variable "log_kms_key_arn" {
  description = "KMS key encrypting the function's log group; null uses CloudWatch Logs' own encryption"
  type        = string
  default     = null
}

################################################################################
# Event source mapping
################################################################################

variable "batch_size" {
  description = "Largest number of stream records in one invocation (1-10000)"
  type        = number
  default     = 100

  validation {
    condition     = var.batch_size >= 1 && var.batch_size <= 10000
    error_message = "batch_size must be between 1 and 10000."
  }
}

variable "maximum_batching_window_in_seconds" {
  description = "Longest time records are gathered before an invocation, in seconds (0-300)"
  type        = number
  default     = 1

  validation {
    condition     = var.maximum_batching_window_in_seconds >= 0 && var.maximum_batching_window_in_seconds <= 300
    error_message = "maximum_batching_window_in_seconds must be between 0 and 300."
  }
}

variable "maximum_retry_attempts" {
  description = "Retries of a failing batch before its metadata goes to the dead-letter queue (0-10000; never unbounded)"
  type        = number
  default     = 10

  validation {
    condition     = var.maximum_retry_attempts >= 0 && var.maximum_retry_attempts <= 10000
    error_message = "maximum_retry_attempts must be between 0 and 10000 (-1, infinite, is not allowed)."
  }
}

variable "maximum_record_age_in_seconds" {
  description = "Age after which a record is skipped and reported to the dead-letter queue, in seconds (60-604800; never unbounded)"
  type        = number
  default     = 86400

  validation {
    condition     = var.maximum_record_age_in_seconds >= 60 && var.maximum_record_age_in_seconds <= 604800
    error_message = "maximum_record_age_in_seconds must be between 60 and 604800 (-1, infinite, is not allowed)."
  }
}

variable "bisect_batch_on_function_error" {
  description = "Whether a failing batch is split in two and retried (LocalStack stores the flag but does not bisect)"
  type        = bool
  default     = true
}

variable "parallelization_factor" {
  description = "Concurrent batches per shard (1-10); above 1, records of one item stay ordered but items interleave"
  type        = number
  default     = 1

  validation {
    condition     = var.parallelization_factor >= 1 && var.parallelization_factor <= 10 && floor(var.parallelization_factor) == var.parallelization_factor
    error_message = "parallelization_factor must be a whole number between 1 and 10."
  }
}

variable "starting_position" {
  description = "Where the mapping starts reading the stream: TRIM_HORIZON loses nothing written before it was enabled"
  type        = string
  default     = "TRIM_HORIZON"

  validation {
    condition     = contains(["TRIM_HORIZON", "LATEST"], var.starting_position)
    error_message = "starting_position must be TRIM_HORIZON or LATEST."
  }
}

variable "enabled" {
  description = "Whether the event source mapping is enabled"
  type        = bool
  default     = true
}

variable "dlq_message_retention_seconds" {
  description = "How long the dead-letter queue keeps failure records, in seconds (60 s to 14 days)"
  type        = number
  default     = 1209600

  validation {
    condition     = var.dlq_message_retention_seconds >= 60 && var.dlq_message_retention_seconds <= 1209600
    error_message = "dlq_message_retention_seconds must be between 60 and 1209600."
  }
}

variable "vpc_subnet_ids" {
  description = "Subnets to run the function in (with a domain in a VPC; the function then needs VPC endpoints or a NAT for DynamoDB Streams, SQS and CloudWatch); empty for no VPC"
  type        = list(string)
  default     = []
  nullable    = false
}

variable "vpc_security_group_ids" {
  description = "Security groups of the function's network interfaces (with vpc_subnet_ids)"
  type        = list(string)
  default     = []
  nullable    = false
}

variable "dlq_kms_key_id" {
  description = "KMS key of the dead-letter queue; null uses SQS managed encryption (SSE-SQS)"
  type        = string
  default     = null
}

variable "mapping_metrics_enabled" {
  description = "Whether the event source mapping publishes its own metrics (EventCount: polled, filtered, invoked, failed events)"
  type        = bool
  default     = true
  nullable    = false
}
