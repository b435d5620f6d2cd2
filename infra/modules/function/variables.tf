# Variables with `nullable = false` take their default when a caller passes null (e.g. an
# optional attribute of the caller's own object variable that was left unset).

variable "create" {
  description = "Whether to create any resource of this module"
  type        = bool
  default     = true
}

variable "name" {
  description = "Name of the function (also of its log group, and the prefix of its role's name)"
  type        = string
  default     = null
}

variable "description" {
  description = "What the function does (shown in the Lambda console)"
  type        = string
  default     = null
}

variable "tags" {
  description = "Tags added to every resource that takes tags"
  type        = map(string)
  default     = {}
}

################################################################################
# Code and runtime
################################################################################

variable "zip_path" {
  description = "Path of the function's zip (built by scripts/build_lambda.py); a new zip makes a new version"
  type        = string
  default     = null
}

variable "handler" {
  description = "Handler of the function (module.function, e.g. ddb_opensearch_sync.sync.handler.handler)"
  type        = string
  default     = null
}

variable "runtime" {
  description = "Lambda runtime of the function"
  type        = string
  default     = "python3.12"
  nullable    = false
}

variable "architecture" {
  description = "Instruction set of the function (x86_64 or arm64); must match the wheels in the zip"
  type        = string
  default     = "x86_64"
  nullable    = false
}

variable "memory_size" {
  description = "Memory of the function, in MB"
  type        = number
  default     = 256
  nullable    = false
}

variable "timeout" {
  description = "Timeout of one invocation, in seconds"
  type        = number
  default     = 60
  nullable    = false
}

variable "reserved_concurrent_executions" {
  description = "Concurrency reserved for (and capping) the function; -1 reserves none"
  type        = number
  default     = -1
  nullable    = false
}

variable "environment_variables" {
  description = "Environment variables of the function"
  type        = map(string)
  default     = {}
  nullable    = false
}

variable "kms_key_arn" {
  description = "KMS key encrypting the function's environment variables; null uses the Lambda service key"
  type        = string
  default     = null
}

variable "tracing_mode" {
  description = "X-Ray tracing of the function: PassThrough or Active (Active also grants xray:PutTraceSegments/PutTelemetryRecords)"
  type        = string
  default     = "PassThrough"
  nullable    = false

  validation {
    condition     = contains(["PassThrough", "Active"], var.tracing_mode)
    error_message = "tracing_mode must be PassThrough or Active."
  }
}

################################################################################
# Permissions and logs
################################################################################

variable "policy_name" {
  description = "Name of the execution role's inline policy"
  type        = string
  default     = "function"
  nullable    = false
}

variable "policy_json" {
  description = "IAM policy document (JSON) with what this function may do besides writing its logs (and X-Ray when tracing is Active)"
  type        = string
  default     = null
}

variable "log_retention_in_days" {
  description = "Retention of the function's log group, in days"
  type        = number
  default     = 365
  nullable    = false
}

variable "log_kms_key_arn" {
  description = "KMS key encrypting the function's log group; null uses CloudWatch Logs' own encryption"
  type        = string
  default     = null
}
