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
  description = "Full URL the functions reach OpenSearch at (https://<endpoint> on AWS; the local node itself locally: modules/search's function_endpoint_url)"
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

variable "maintenance_handler" {
  description = "Handler of the maintenance function (same zip): purges tombstones and lifts an expired reindex write block"
  type        = string
  default     = "ddb_opensearch_sync.sync.maintenance.handler"
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

# Batch size, batching window and parallelization factor, locally and on AWS alike (measured in
# bench/README.md#drain):
# - batch_size 1000: one GetRecords returns at most 1,000 records, so a batch of 1,000 is a
#   whole read, and each invocation's fixed cost (the invoke round trip, the handler's set-up,
#   one _bulk) is shared by ten times as many records as at 100; a backlog drains faster. A
#   failing record makes Lambda resend the batch from that record on (ReportBatchItemFailures),
#   which the function's versioned, idempotent writes absorb; Lambda cuts a batch short at its
#   6 MB payload limit, so large items cannot make a _bulk body too big for the domain.
# - maximum_batching_window_in_seconds 0: invoke as soon as records are read. A window only
#   saves invocations when writes are sparse (cents), and every second of it is a second of
#   lag before a change is searchable.
# - parallelization_factor 1: one shard takes at most 1,000 writes/s, and one invocation maps
#   and writes a batch of 1,000 in well under a second, so one batch at a time keeps up with a
#   shard's peak and drains a backlog several times faster; more concurrent batches would only
#   add concurrent _bulk requests on a small domain (429s and retries), and the function is
#   correct under any interleaving (per-item versions), so raise it only for a bigger domain.
#   Locally too (the stack's poller honours the factor, as AWS does): 2, 3 and 4 drained a
#   backlog no faster than 1 on two cores, 4 slower (more invocations, more cold starts).
variable "batch_size" {
  description = "Largest number of stream records in one invocation (1-10000); see the reasons above"
  type        = number
  default     = 1000
  nullable    = false

  validation {
    condition     = var.batch_size >= 1 && var.batch_size <= 10000
    error_message = "batch_size must be between 1 and 10000."
  }
}

variable "maximum_batching_window_in_seconds" {
  description = "Longest time records are gathered before an invocation, in seconds (0-300); see the reasons at batch_size"
  type        = number
  default     = 0
  nullable    = false

  validation {
    condition     = var.maximum_batching_window_in_seconds >= 0 && var.maximum_batching_window_in_seconds <= 300
    error_message = "maximum_batching_window_in_seconds must be between 0 and 300."
  }
}

# Retries and record age: content errors never reach them (the function dead-letters a
# record OpenSearch refuses for its content and reports the batch done), so a batch fails
# only while the cluster cannot take writes. Such a batch is retried until the cluster is
# back: each attempt lasts about the function's timeout (the writer retries inside it), so
# 10000 attempts are days, and the record age ends a long outage first. At 21 h the batch's
# metadata goes to the dead-letter queue while the stream (24 h) still holds its records for
# 3 h: `ddb-opensearch-sync replay` re-syncs exactly them, and after that falls back to a
# reconcile. -1 (forever) would let the stream trim the records with no message at all.
variable "maximum_retry_attempts" {
  description = "Retries of a failing batch before its metadata goes to the dead-letter queue (0-10000; never unbounded). Outages end by the record age first: each attempt lasts about the function's timeout"
  type        = number
  default     = 10000
  nullable    = false

  validation {
    condition     = var.maximum_retry_attempts >= 0 && var.maximum_retry_attempts <= 10000
    error_message = "maximum_retry_attempts must be between 0 and 10000 (-1, infinite, is not allowed)."
  }
}

variable "maximum_record_age_in_seconds" {
  description = "Age after which a failing record is given up and its batch's metadata sent to the dead-letter queue, in seconds (60-86400; below the stream's 24 h so that `replay` can still read it)"
  type        = number
  default     = 75600
  nullable    = false

  validation {
    condition     = var.maximum_record_age_in_seconds >= 60 && var.maximum_record_age_in_seconds <= 86400
    error_message = "maximum_record_age_in_seconds must be between 60 and 86400 (the stream keeps records 24 h; -1 is not allowed)."
  }
}

variable "bisect_batch_on_function_error" {
  description = "Whether a batch whose invocation errors (a crash, not a partial failure) is split in two and retried, isolating a record that crashes the function (LocalStack stores the flag but does not bisect)"
  type        = bool
  default     = true
}

variable "parallelization_factor" {
  description = "Concurrent batches per shard (1-10); above 1, records of one partition key stay ordered but keys interleave; see the reasons at batch_size"
  type        = number
  default     = 1
  nullable    = false

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

variable "dead_letter_bucket_force_destroy" {
  description = "Whether destroying the module empties the dead-letter bucket (true only where dead letters are disposable, e.g. locally)"
  type        = bool
  default     = false
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

################################################################################
# Maintenance schedules
################################################################################

variable "purge_schedule_expression" {
  description = "EventBridge schedule on which the maintenance function purges tombstones older than the stream's 24 h retention (null: no schedule; run `ddb-opensearch-sync purge-tombstones` instead)"
  type        = string
  default     = "rate(1 day)"

  validation {
    condition     = var.purge_schedule_expression == null || can(regex("^(rate|cron)\\(.+\\)$", var.purge_schedule_expression))
    error_message = "purge_schedule_expression must be null or an EventBridge schedule: rate(...) or cron(...)."
  }
}

variable "lease_check_schedule_expression" {
  description = "EventBridge schedule on which the maintenance function lifts a write block whose reindex lease ran out (null: none; the sync function still asks after a batch the block refused)"
  type        = string
  default     = "rate(5 minutes)"

  validation {
    condition     = var.lease_check_schedule_expression == null || can(regex("^(rate|cron)\\(.+\\)$", var.lease_check_schedule_expression))
    error_message = "lease_check_schedule_expression must be null or an EventBridge schedule: rate(...) or cron(...)."
  }
}
