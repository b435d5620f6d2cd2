variable "create" {
  description = "Whether to create any resource of this module"
  type        = bool
  default     = true
}

variable "name" {
  description = "Name prefix of the REST API, its IAM role and log group"
  type        = string
  default     = "bookstore"
}

variable "tags" {
  description = "Tags added to every resource that takes tags"
  type        = map(string)
  default     = {}
}

################################################################################
# DynamoDB table (module table)
################################################################################

variable "table_name" {
  description = "Name of the books table the operations read and write"
  type        = string
  default     = null
}

variable "table_arn" {
  description = "ARN of the books table (the integration role may use it and nothing else)"
  type        = string
  default     = null
}

################################################################################
# REST API
################################################################################

variable "stage_name" {
  description = "Name of the REST API stage (the first segment of the invoke URL's path)"
  type        = string
  default     = "v1"
}

variable "endpoint_type" {
  description = "REST API endpoint type: REGIONAL, EDGE or PRIVATE"
  type        = string
  default     = "REGIONAL"

  validation {
    condition     = contains(["REGIONAL", "EDGE", "PRIVATE"], var.endpoint_type)
    error_message = "endpoint_type must be REGIONAL, EDGE or PRIVATE."
  }
}

variable "authorization" {
  description = "Authorization of every operation: NONE (public) or AWS_IAM (callers sign with SigV4 and need execute-api:Invoke)"
  type        = string
  default     = "NONE"

  validation {
    condition     = contains(["NONE", "AWS_IAM"], var.authorization)
    error_message = "authorization must be NONE or AWS_IAM."
  }
}

variable "throttling_burst_limit" {
  description = "Stage-wide throttling burst limit (requests)"
  type        = number
  default     = 100
}

variable "throttling_rate_limit" {
  description = "Stage-wide throttling steady-state rate limit (requests per second)"
  type        = number
  default     = 50
}

variable "xray_tracing_enabled" {
  description = "Whether the stage sends traces to AWS X-Ray"
  type        = bool
  default     = true
}

variable "access_log_enabled" {
  description = "Whether the stage writes access logs to a CloudWatch log group (needs the account's API Gateway CloudWatch role)"
  type        = bool
  default     = true
}

variable "execution_logging_level" {
  description = "Execution logging level of every method: OFF, ERROR or INFO (anything but OFF needs the account's API Gateway CloudWatch role)"
  type        = string
  default     = "ERROR"

  validation {
    condition     = contains(["OFF", "ERROR", "INFO"], var.execution_logging_level)
    error_message = "execution_logging_level must be OFF, ERROR or INFO."
  }
}

variable "log_retention_in_days" {
  description = "Retention of the access log group, in days"
  type        = number
  default     = 365
}

variable "log_kms_key_arn" {
  description = "KMS key encrypting the access log group; null uses CloudWatch Logs' own encryption"
  type        = string
  default     = null
}

variable "search_function" {
  description = "Function serving GET /books/search and GET /books/suggest through a Lambda proxy integration (the search module's outputs); null leaves both operations out of the API"
  type = object({
    name       = string
    invoke_arn = string
  })
  default = null
}

variable "web_acl_arn" {
  description = "ARN of a WAFv2 web ACL to associate with the stage; null associates none"
  type        = string
  default     = null
}
