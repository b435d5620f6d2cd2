variable "region" {
  description = "Region of the local stack"
  type        = string
  default     = "us-east-1"
}

variable "localstack_endpoint" {
  description = "Base URL of the local stack's gateway (the same as AWS_ENDPOINT_URL for tflocal); the API's URL is built from it"
  type        = string
  default     = "http://localhost:4566"
}

variable "name" {
  description = "Name prefix of every resource"
  type        = string
  default     = "bookstore"
}

variable "function_zip_path" {
  description = "Path of the sync function's zip; null means build/sync-function.zip in the repository"
  type        = string
  default     = null
}

variable "index_alias" {
  description = "Alias of the search index the function writes to"
  type        = string
  default     = "books"
}

variable "batch_size" {
  description = "Largest number of stream records per invocation"
  type        = number
  default     = 100
}

variable "maximum_batching_window_in_seconds" {
  description = "Longest time records are gathered before an invocation, in seconds"
  type        = number
  default     = 1
}

variable "maximum_retry_attempts" {
  description = "Retries of a failing batch before its metadata goes to the dead-letter queue"
  type        = number
  default     = 3
}

variable "ttl_attribute_name" {
  description = "Attribute holding an item's expiry time for DynamoDB TTL; null disables TTL"
  type        = string
  default     = "expires_at"
}
