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
  description = "REST API endpoint type: REGIONAL, EDGE or PRIVATE (PRIVATE needs vpc_endpoint_ids)"
  type        = string
  default     = "REGIONAL"

  validation {
    condition     = contains(["REGIONAL", "EDGE", "PRIVATE"], var.endpoint_type)
    error_message = "endpoint_type must be REGIONAL, EDGE or PRIVATE."
  }
}

variable "vpc_endpoint_ids" {
  description = "execute-api VPC endpoints a PRIVATE API is reachable through (its resource policy admits these only)"
  type        = list(string)
  default     = []
  nullable    = false
}

variable "authorization" {
  description = "Authorization of each operation group: writes (POST/PUT/DELETE), reads (GET /books, /books/{id}), search (GET /books/search, /books/suggest). NONE (public), AWS_IAM (SigV4-signed callers with execute-api:Invoke) or COGNITO_USER_POOLS (an ID token of cognito_user_pool_arns)"
  type = object({
    writes = optional(string, "AWS_IAM")
    reads  = optional(string, "AWS_IAM")
    search = optional(string, "AWS_IAM")
  })
  default  = {}
  nullable = false

  validation {
    condition     = alltrue([for a in values(var.authorization) : contains(["NONE", "AWS_IAM", "COGNITO_USER_POOLS"], a)])
    error_message = "authorization.writes/reads/search must each be NONE, AWS_IAM or COGNITO_USER_POOLS."
  }
}

variable "cognito_user_pool_arns" {
  description = "Cognito user pools whose ID tokens authorize the COGNITO_USER_POOLS operation groups"
  type        = list(string)
  default     = []
  nullable    = false
}

variable "api_key_required" {
  description = "Whether every operation also needs an API key (x-api-key) of the usage plan: per-client metering and limits"
  type        = bool
  default     = false
  nullable    = false
}

variable "api_clients" {
  description = "Names of the clients that get an API key in the usage plan (the keys' values are outputs)"
  type        = list(string)
  default     = []
  nullable    = false
}

variable "usage_plan" {
  description = "Limits of each API key: steady rate (requests/s), burst, and an optional daily quota"
  type = object({
    rate_limit    = optional(number, 10)
    burst_limit   = optional(number, 20)
    quota_per_day = optional(number)
  })
  default  = {}
  nullable = false

  validation {
    condition     = var.usage_plan.rate_limit > 0 && var.usage_plan.burst_limit >= 1 && try(var.usage_plan.quota_per_day >= 1, true)
    error_message = "usage_plan.rate_limit must be above 0, burst_limit and quota_per_day at least 1."
  }
}

variable "throttling_burst_limit" {
  description = "Stage-wide throttling burst limit (requests)"
  type        = number
  default     = 100

  validation {
    condition     = var.throttling_burst_limit >= 0 && var.throttling_burst_limit <= 5000
    error_message = "throttling_burst_limit must be between 0 and 5000 (the account's default burst)."
  }
}

variable "throttling_rate_limit" {
  description = "Stage-wide throttling steady-state rate limit (requests per second)"
  type        = number
  default     = 50

  validation {
    condition     = var.throttling_rate_limit >= 0 && var.throttling_rate_limit <= 10000
    error_message = "throttling_rate_limit must be between 0 and 10000 (the account's default rate)."
  }
}

variable "search_throttling" {
  description = "Throttling of GET /books/search and /books/suggest, which query the domain: steady rate (requests/s) and burst; enabled = false leaves them to the stage-wide limits"
  type = object({
    enabled     = optional(bool, true)
    rate_limit  = optional(number, 20)
    burst_limit = optional(number, 40)
  })
  default  = {}
  nullable = false

  validation {
    condition     = var.search_throttling.rate_limit >= 0 && var.search_throttling.burst_limit >= 0
    error_message = "search_throttling limits must not be negative."
  }
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
  description = "Retention of the access log group, in days (one of CloudWatch Logs' values)"
  type        = number
  default     = 365

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_in_days)
    error_message = "log_retention_in_days must be one of CloudWatch Logs' retention values."
  }
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
  description = "ARN of a WAFv2 web ACL of yours to associate with the stage; null: the one of var.waf, if any"
  type        = string
  default     = null
}

variable "waf" {
  description = "A web ACL made by this module (when web_acl_arn is null): blocks an IP above rate_limit_per_5_minutes requests in 5 minutes, plus AWS's known-bad-inputs rules; null for none"
  type = object({
    rate_limit_per_5_minutes = optional(number, 1000)
  })
  default = null

  validation {
    condition     = var.waf == null || try(var.waf.rate_limit_per_5_minutes >= 10 && var.waf.rate_limit_per_5_minutes <= 2000000000, false)
    error_message = "waf.rate_limit_per_5_minutes must be between 10 and 2000000000."
  }
}

variable "cors" {
  description = "CORS for browser clients: the one origin allowed (the DynamoDB integrations answer a fixed Access-Control-Allow-Origin, so one origin or \"*\"), the request headers a preflight allows, and how long a browser may cache a preflight (seconds). Adds an OPTIONS method (mock integration, no auth) to every path; the search function answers the header itself (search_function's module sets its CORS_ALLOW_ORIGIN). null: no CORS headers and no OPTIONS methods"
  type = object({
    allow_origin  = string
    allow_headers = optional(list(string), ["Content-Type", "Authorization", "X-Amz-Date", "X-Amz-Security-Token", "X-Api-Key"])
    max_age       = optional(number, 600)
  })
  default = null

  validation {
    condition     = var.cors == null || try(var.cors.allow_origin == "*" || can(regex("^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?$", var.cors.allow_origin)), false)
    error_message = "cors.allow_origin must be \"*\" or one origin: scheme, host and optional port, no path (e.g. https://shop.example.com)."
  }
  validation {
    condition     = var.cors == null || try(length(var.cors.allow_headers) > 0 && alltrue([for h in var.cors.allow_headers : can(regex("^[A-Za-z0-9-]+$", h))]), false)
    error_message = "cors.allow_headers must name at least one header, each letters, digits and dashes only."
  }
  validation {
    condition     = var.cors == null || try(var.cors.max_age >= 0 && var.cors.max_age <= 86400 && floor(var.cors.max_age) == var.cors.max_age, false)
    error_message = "cors.max_age must be a whole number of seconds from 0 to 86400."
  }
}
