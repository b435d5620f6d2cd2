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
  description = "Name prefix of every resource on the local stack"
  type        = string
  default     = "bookstore"
}

variable "sync_function_zip_path" {
  description = "The sync function's zip (`make deploy` builds it); null: build/sync-function.zip"
  type        = string
  default     = null
}

variable "search_function_zip_path" {
  description = "The search function's zip (`make deploy` builds it); null: build/search-function.zip"
  type        = string
  default     = null
}

variable "opensearch_node_url" {
  description = "The OpenSearch node's URL as the functions see it (`make deploy` sets it); null: through LocalStack's domain endpoint"
  type        = string
  default     = null
}

variable "stream_maximum_retry_attempts" {
  description = "Retries of a failing stream batch before its metadata goes to the dead-letter queue (small locally, so that outages reach `make replay` soon)"
  type        = number
  default     = 3
}

variable "cors_allow_origin" {
  description = "Origin of a browser app allowed to call the local API (CORS, e.g. http://localhost:3000); null: no CORS headers (the sync console calls the API from its server and needs none)"
  type        = string
  default     = null
}
