variable "create" {
  description = "Whether to create the table"
  type        = bool
  default     = true
}

variable "name" {
  description = "Name prefix of the table (\"<name>-books\" unless table_name is set)"
  type        = string
  default     = "bookstore"
}

variable "tags" {
  description = "Tags of the table"
  type        = map(string)
  default     = {}
}

################################################################################
# DynamoDB table
################################################################################

variable "table_name" {
  description = "Name of the books table; null means \"<name>-books\""
  type        = string
  default     = null
}

variable "ttl_attribute_name" {
  description = "Attribute holding an item's expiry time (epoch seconds) for DynamoDB TTL; null disables TTL"
  type        = string
  default     = "expires_at"
}

variable "point_in_time_recovery_enabled" {
  description = "Whether point-in-time recovery (continuous backups) is on for the table"
  type        = bool
  default     = true
}

variable "deletion_protection_enabled" {
  description = "Whether the table refuses to be deleted (turn off before `terraform destroy`)"
  type        = bool
  default     = false
}

variable "table_kms_key_arn" {
  description = "Customer managed KMS key for the table's encryption at rest; null uses the AWS owned key"
  type        = string
  default     = null
}
