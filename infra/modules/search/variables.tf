variable "create" {
  description = "Whether to create any resource of this module"
  type        = bool
  default     = true
}

variable "domain_name" {
  description = "Name of the OpenSearch domain (3-28 characters: lowercase letters, digits, hyphens; starts with a letter)"
  type        = string
  default     = "bookstore-search"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{2,27}$", var.domain_name))
    error_message = "domain_name must be 3-28 characters of a-z, 0-9 and -, starting with a letter."
  }
}

variable "tags" {
  description = "Tags added to every resource that takes tags"
  type        = map(string)
  default     = {}
}

################################################################################
# Cluster
################################################################################

variable "engine_version" {
  description = "Engine version of the domain"
  type        = string
  default     = "OpenSearch_2.19"
}

variable "instance_type" {
  description = "Instance type of the data nodes"
  type        = string
  default     = "t3.small.search"
}

variable "instance_count" {
  description = "Number of data nodes"
  type        = number
  default     = 1
}

variable "zone_awareness" {
  description = "Spread data nodes over availability zones: null for one zone, else the number of zones (2 or 3; instance_count must be a multiple)"
  type        = number
  default     = null
}

variable "dedicated_master" {
  description = "Dedicated master nodes: null for none, else their instance type and count (3 recommended)"
  type = object({
    instance_type = string
    count         = optional(number, 3)
  })
  default = null
}

variable "volume_size" {
  description = "EBS (gp3) volume size of each data node, in GiB"
  type        = number
  default     = 10
}

################################################################################
# Security
################################################################################

variable "encrypt_at_rest" {
  description = "Whether data at rest is encrypted (LocalStack always reports false: the local root says so to keep plans clean)"
  type        = bool
  default     = true
}

variable "kms_key_id" {
  description = "KMS key for encryption at rest; null uses the AWS managed key of OpenSearch"
  type        = string
  default     = null
}

variable "node_to_node_encryption" {
  description = "Whether traffic between nodes is encrypted (LocalStack always reports false)"
  type        = bool
  default     = true
}

variable "enforce_https" {
  description = "Whether the endpoint refuses plain HTTP"
  type        = bool
  default     = true
}

variable "tls_security_policy" {
  description = "TLS policy of the endpoint"
  type        = string
  default     = "Policy-Min-TLS-1-2-2019-07"
}

variable "access_principal_arns" {
  description = "IAM principals (the sync function's role) allowed es:ESHttp* on this domain by its access policy"
  type        = list(string)
  default     = []
}

variable "admin_principal_arn" {
  description = "Optional IAM principal (role or user ARN) also allowed es:ESHttp* on this domain, e.g. to create the index; null for none"
  type        = string
  default     = null
}

################################################################################
# Logs and endpoint
################################################################################

variable "log_types" {
  description = "OpenSearch log types published to CloudWatch Logs (INDEX_SLOW_LOGS, SEARCH_SLOW_LOGS, ES_APPLICATION_LOGS); empty for none"
  type        = list(string)
  default     = ["ES_APPLICATION_LOGS", "INDEX_SLOW_LOGS", "SEARCH_SLOW_LOGS"]

  validation {
    condition     = alltrue([for t in var.log_types : contains(["INDEX_SLOW_LOGS", "SEARCH_SLOW_LOGS", "ES_APPLICATION_LOGS"], t)])
    error_message = "log_types may hold INDEX_SLOW_LOGS, SEARCH_SLOW_LOGS and ES_APPLICATION_LOGS (AUDIT_LOGS needs fine-grained access control)."
  }
}

variable "log_retention_in_days" {
  description = "Retention of the domain's log groups, in days"
  type        = number
  default     = 365
}

variable "log_kms_key_arn" {
  description = "KMS key encrypting the domain's log groups; null uses CloudWatch Logs' own encryption"
  type        = string
  default     = null
}

variable "endpoint_scheme" {
  description = "Scheme put before the domain's endpoint to make the endpoint URL output (https on AWS; http for LocalStack's path endpoints)"
  type        = string
  default     = "https"
}

variable "timeouts" {
  description = "Create/update/delete timeouts of the domain; the provider waits ~10 minutes before its first status poll unless these are shorter (keep the defaults on AWS)"
  type = object({
    create = optional(string, "60m")
    update = optional(string, "60m")
    delete = optional(string, "90m")
  })
  default = {}
}

################################################################################
# Search function
################################################################################

variable "search_function" {
  description = "The search API's function (GET /books/search and /books/suggest): null for none, else its zip (scripts/build_lambda.py) and settings; it may only es:ESHttpGet/ESHttpPost <index_alias>/_search, <index_alias>/_mget and _scripts/painless/_execute"
  type = object({
    zip_path                       = string
    name                           = optional(string)
    handler                        = optional(string, "ddb_opensearch_sync.search.handler.handler")
    runtime                        = optional(string, "python3.12")
    architecture                   = optional(string, "x86_64")
    memory_size                    = optional(number, 256)
    timeout                        = optional(number, 15)
    reserved_concurrent_executions = optional(number, -1)
    index_alias                    = optional(string, "books")
    opensearch_auth                = optional(string, "sigv4")
    log_level                      = optional(string, "INFO")
    tracing_mode                   = optional(string, "PassThrough")
    kms_key_arn                    = optional(string)
  })
  default = null

  validation {
    condition     = var.search_function == null || try(contains(["sigv4", "none"], var.search_function.opensearch_auth), false)
    error_message = "search_function.opensearch_auth must be sigv4 or none."
  }
}
