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
  nullable    = false
}

variable "instance_count" {
  description = "Number of data nodes (1-80)"
  type        = number
  default     = 1
  nullable    = false

  validation {
    condition     = var.instance_count >= 1 && var.instance_count <= 80 && floor(var.instance_count) == var.instance_count
    error_message = "instance_count must be a whole number between 1 and 80."
  }
}

variable "zone_awareness" {
  description = "Spread data nodes over availability zones: null for one zone, else the number of zones (2 or 3; instance_count must be a multiple)"
  type        = number
  default     = null

  validation {
    condition     = var.zone_awareness == null || contains([2, 3], coalesce(var.zone_awareness, 0))
    error_message = "zone_awareness must be null, 2 or 3."
  }
}

variable "dedicated_master" {
  description = "Dedicated master nodes: null for none, else their instance type and count (3 recommended)"
  type = object({
    instance_type = string
    count         = optional(number, 3)
  })
  default = null

  validation {
    condition     = var.dedicated_master == null || contains([3, 5], try(var.dedicated_master.count, 0))
    error_message = "dedicated_master.count must be 3 or 5 (an odd quorum that survives one zone's loss)."
  }
}

variable "volume_size" {
  description = "EBS (gp3) volume size of each data node, in GiB (10-16384)"
  type        = number
  default     = 10
  nullable    = false

  validation {
    condition     = var.volume_size >= 10 && var.volume_size <= 16384
    error_message = "volume_size must be between 10 and 16384 GiB (gp3's minimum is 10)."
  }
}

variable "vpc" {
  description = "Place the domain in a VPC: null for a public endpoint (still limited to the principals of the access policy), else subnets (one per zone of zone_awareness, or one) and security groups"
  type = object({
    subnet_ids         = list(string)
    security_group_ids = list(string)
  })
  default = null

  validation {
    condition     = var.vpc == null || (length(try(var.vpc.subnet_ids, [])) >= 1 && length(try(var.vpc.security_group_ids, [])) >= 1)
    error_message = "vpc needs at least one subnet and one security group."
  }
}

################################################################################
# Security
################################################################################

variable "encrypt_at_rest" {
  description = "Whether data at rest is encrypted (LocalStack always reports false: the local root says so to keep plans clean)"
  type        = bool
  default     = true
  nullable    = false
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
  nullable    = false
}

variable "enforce_https" {
  description = "Whether the endpoint refuses plain HTTP"
  type        = bool
  default     = true
}

variable "tls_security_policy" {
  description = "TLS policy of the endpoint: TLS 1.2+ with forward secrecy only by default"
  type        = string
  default     = "Policy-Min-TLS-1-2-PFS-2023-10"
  nullable    = false

  validation {
    condition     = contains(["Policy-Min-TLS-1-2-PFS-2023-10", "Policy-Min-TLS-1-2-2019-07"], var.tls_security_policy)
    error_message = "tls_security_policy must be Policy-Min-TLS-1-2-PFS-2023-10 or Policy-Min-TLS-1-2-2019-07 (TLS 1.0 is not offered)."
  }
}

variable "index_alias" {
  description = "Alias of the index: the sync may POST <alias>/_bulk and <alias>/_mget, the search function GET/POST <alias>/_search, nothing else"
  type        = string
  default     = "books"

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9_-]{0,254}$", var.index_alias))
    error_message = "index_alias must be lowercase letters, digits, _ and -, not starting with _ or -."
  }
}

variable "sync_principal_arn" {
  description = "The sync function's role: the access policy lets it POST <index_alias>/_bulk and <index_alias>/_mget only; null for none"
  type        = string
  default     = null
}

variable "maintenance_principal_arn" {
  description = "The maintenance function's role: the access policy lets it find the alias's index, read and edit the reindex lease and write block of <index_alias>-v*, and start the tombstone purge, nothing else; null for none"
  type        = string
  default     = null
}

variable "admin_principal_arn" {
  description = "Optional IAM principal (role or user ARN) allowed every es:ESHttp* action on this domain (setup-index, reindex, backfill, reconcile); null for none"
  type        = string
  default     = null
}

variable "advanced_options" {
  description = "Advanced options of the domain, merged over the module's (rest.action.multi.allow_explicit_index = false: bulk bodies may not name other indices)"
  type        = map(string)
  default     = {}
}

################################################################################
# Logs and endpoint
################################################################################

variable "log_types" {
  description = "OpenSearch log types published to CloudWatch Logs (INDEX_SLOW_LOGS, SEARCH_SLOW_LOGS, ES_APPLICATION_LOGS); empty for none"
  type        = list(string)
  default     = ["ES_APPLICATION_LOGS", "INDEX_SLOW_LOGS", "SEARCH_SLOW_LOGS"]
  nullable    = false

  validation {
    condition     = alltrue([for t in var.log_types : contains(["INDEX_SLOW_LOGS", "SEARCH_SLOW_LOGS", "ES_APPLICATION_LOGS"], t)])
    error_message = "log_types may hold INDEX_SLOW_LOGS, SEARCH_SLOW_LOGS and ES_APPLICATION_LOGS (AUDIT_LOGS needs fine-grained access control)."
  }
}

variable "log_retention_in_days" {
  description = "Retention of the domain's log groups, in days (one of CloudWatch Logs' values)"
  type        = number
  default     = 365

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_in_days)
    error_message = "log_retention_in_days must be one of CloudWatch Logs' retention values (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653)."
  }
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
  nullable    = false

  validation {
    condition     = contains(["https", "http"], var.endpoint_scheme)
    error_message = "endpoint_scheme must be https or http."
  }
}

variable "function_endpoint_url" {
  description = "URL the functions reach the domain at; null: the domain's own endpoint (endpoint_url). Locally the OpenSearch node itself: LocalStack's domain endpoint is a proxy inside LocalStack's one Python process, which the stream poller and the API share (bench/README.md)"
  type        = string
  default     = null
}

variable "timeouts" {
  description = "Create/update/delete timeouts of the domain; the provider waits ~10 minutes before its first status poll unless these are shorter (keep the defaults on AWS)"
  type = object({
    create = optional(string, "60m")
    update = optional(string, "60m")
    delete = optional(string, "90m")
  })
  default  = {}
  nullable = false
}

################################################################################
# Search function
################################################################################

variable "search_function" {
  description = "The search API's function (GET /books/search and /books/suggest): null for none, else its zip (scripts/build_lambda.py) and settings; it may only es:ESHttpGet/ESHttpPost <index_alias>/_search, <index_alias>/_mget and _scripts/painless/_execute; vpc_subnet_ids/vpc_security_group_ids place it in a VPC; cors_allow_origin (the api module's cors.allow_origin) is the Access-Control-Allow-Origin it answers, null for none. Unset runtime, architecture, memory_size, reserved_concurrent_executions and tracing_mode take modules/function's defaults (python3.12, x86_64, 256, -1, PassThrough) and are checked there"
  type = object({
    zip_path                       = string
    name                           = optional(string)
    handler                        = optional(string, "ddb_opensearch_sync.search.handler.handler")
    runtime                        = optional(string)
    architecture                   = optional(string)
    memory_size                    = optional(number)
    timeout                        = optional(number, 15)
    reserved_concurrent_executions = optional(number)
    opensearch_auth                = optional(string, "sigv4")
    log_level                      = optional(string, "INFO")
    tracing_mode                   = optional(string)
    kms_key_arn                    = optional(string)
    vpc_subnet_ids                 = optional(list(string), [])
    vpc_security_group_ids         = optional(list(string), [])
    cors_allow_origin              = optional(string)
  })
  default = null

  validation {
    condition     = var.search_function == null || try(contains(["sigv4", "none"], var.search_function.opensearch_auth), false)
    error_message = "search_function.opensearch_auth must be sigv4 or none."
  }
}
