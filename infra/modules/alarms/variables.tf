variable "create" {
  description = "Whether to create any resource of this module"
  type        = bool
  default     = true
}

variable "name" {
  description = "Name prefix of the alarms, the topic and the dashboard"
  type        = string
  default     = "bookstore"
}

variable "tags" {
  description = "Tags added to every resource that takes tags"
  type        = map(string)
  default     = {}
}

################################################################################
# Where alarms go
################################################################################

variable "alarm_topic_arn" {
  description = "SNS topic the alarms notify (alarm and back to OK); null creates one (\"<name>-alarms\")"
  type        = string
  default     = null
}

variable "alarm_emails" {
  description = "Email addresses subscribed to the created topic (each confirms by mail); ignored with alarm_topic_arn"
  type        = list(string)
  default     = []
  nullable    = false
}

variable "topic_kms_key_id" {
  description = "KMS key of the created topic; the default is SNS's AWS managed key"
  type        = string
  default     = "alias/aws/sns"
}

################################################################################
# What is watched (the other modules' outputs)
################################################################################

variable "dlq_name" {
  description = "Name of the sync's dead-letter queue"
  type        = string
  default     = null
}

variable "sync_function_name" {
  description = "Name of the sync function"
  type        = string
  default     = null
}

variable "search_function_name" {
  description = "Name of the search function; null when there is none"
  type        = string
  default     = null
}

variable "api_name" {
  description = "Name of the REST API"
  type        = string
  default     = null
}

variable "api_stage_name" {
  description = "Stage of the REST API"
  type        = string
  default     = "v1"
}

variable "domain_name" {
  description = "Name of the OpenSearch domain"
  type        = string
  default     = null
}

variable "metrics_namespace" {
  description = "CloudWatch namespace of the sync function's own metrics (embedded metric format)"
  type        = string
  default     = "DdbOpenSearchSync"
}

variable "metrics_service" {
  description = "The service dimension of the sync function's metrics (POWERTOOLS_SERVICE_NAME)"
  type        = string
  default     = "ddb-opensearch-sync"
}

################################################################################
# Thresholds
################################################################################

variable "thresholds" {
  description = "When alarms fire: stream iterator age (ms), end-to-end sync lag (s), free storage per node (MiB), JVM memory pressure (%)"
  type = object({
    iterator_age_ms     = optional(number, 60000)
    sync_lag_seconds    = optional(number, 300)
    free_storage_mib    = optional(number, 2048)
    jvm_memory_pressure = optional(number, 80)
    evaluation_minutes  = optional(number, 5)
  })
  default  = {}
  nullable = false

  validation {
    condition     = var.thresholds.iterator_age_ms > 0 && var.thresholds.sync_lag_seconds > 0 && var.thresholds.free_storage_mib > 0 && var.thresholds.jvm_memory_pressure > 0 && var.thresholds.jvm_memory_pressure <= 100 && var.thresholds.evaluation_minutes >= 1
    error_message = "thresholds must be positive, jvm_memory_pressure at most 100, evaluation_minutes at least 1."
  }
}
