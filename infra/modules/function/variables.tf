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

  validation {
    condition     = var.memory_size >= 128 && var.memory_size <= 10240
    error_message = "memory_size must be between 128 and 10240 MB."
  }
}

variable "timeout" {
  description = "Timeout of one invocation, in seconds (1-900)"
  type        = number
  default     = 60
  nullable    = false

  validation {
    condition     = var.timeout >= 1 && var.timeout <= 900
    error_message = "timeout must be between 1 and 900 seconds."
  }
}

variable "reserved_concurrent_executions" {
  description = "Concurrency reserved for (and capping) the function; -1 reserves none"
  type        = number
  default     = -1
  nullable    = false

  validation {
    condition     = var.reserved_concurrent_executions >= -1
    error_message = "reserved_concurrent_executions must be -1 (none reserved) or more."
  }
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
  description = "Retention of the function's log group, in days (one of CloudWatch Logs' values)"
  type        = number
  default     = 365
  nullable    = false

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_in_days)
    error_message = "log_retention_in_days must be one of CloudWatch Logs' retention values (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653)."
  }
}

variable "log_kms_key_arn" {
  description = "KMS key encrypting the function's log group; null uses CloudWatch Logs' own encryption"
  type        = string
  default     = null
}

################################################################################
# Network
################################################################################

variable "vpc_subnet_ids" {
  description = "Subnets to run the function in (it then needs VPC endpoints or a NAT to reach AWS APIs); empty for no VPC"
  type        = list(string)
  default     = []
  nullable    = false
}

variable "vpc_security_group_ids" {
  description = "Security groups of the function's network interfaces (with vpc_subnet_ids)"
  type        = list(string)
  default     = []
  nullable    = false

  validation {
    condition     = length(var.vpc_security_group_ids) > 0 || length(var.vpc_subnet_ids) == 0
    error_message = "vpc_security_group_ids must name at least one group when vpc_subnet_ids is set."
  }
}
