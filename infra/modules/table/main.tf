locals {
  table_name = coalesce(var.table_name, "${var.name}-books")
}

################################################################################
# DynamoDB table
################################################################################

resource "aws_dynamodb_table" "this" {
  count = var.create ? 1 : 0

  #checkov:skip=CKV_AWS_119:Always encrypted at rest (DynamoDB's AWS owned key by default); var.table_kms_key_arn takes a customer managed key.
  #checkov:skip=CKV_AWS_28:Point-in-time recovery is var.point_in_time_recovery_enabled (default true): on in the AWS env, off only on the local stack, whose data is throwaway.

  name         = local.table_name
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "book_id"

  stream_enabled   = true
  stream_view_type = "NEW_AND_OLD_IMAGES"

  deletion_protection_enabled = var.deletion_protection_enabled

  attribute {
    name = "book_id"
    type = "S"
  }

  dynamic "ttl" {
    for_each = var.ttl_attribute_name == null ? [] : [var.ttl_attribute_name]
    content {
      enabled        = true
      attribute_name = ttl.value
    }
  }

  point_in_time_recovery {
    enabled = var.point_in_time_recovery_enabled
  }

  dynamic "server_side_encryption" {
    for_each = var.table_kms_key_arn == null ? [] : [var.table_kms_key_arn]
    content {
      enabled     = true
      kms_key_arn = server_side_encryption.value
    }
  }

  tags = var.tags
}
