# An example production variable set for infra/envs/aws (planned by the test suite:
# tests/integration/test_infra_plan.py). Copy it, replace the ARNs and names, then:
#   terraform -chdir=infra/envs/aws plan -var-file=examples/production.tfvars
name        = "books-prod"
environment = "production"

# Whoever runs `ddb-opensearch-sync setup-index`, reindex, backfill and reconcile.
admin_principal_arn = "arn:aws:iam::123456789012:role/books-search-admin"

api = {
  # Every operation group needs SigV4 (the default, said here so it is seen): clients sign with
  # their IAM credentials and need execute-api:Invoke on the API's execution ARN.
  authorization = { writes = "AWS_IAM", reads = "AWS_IAM", search = "AWS_IAM" }
  # Per-client metering and limits: each client sends its own x-api-key as well.
  api_key_required = true
  clients          = ["catalogue-service", "storefront"]
  usage_plan       = { rate_limit = 50, burst_limit = 100, quota_per_day = 1000000 }
  # A web ACL with a per-IP rate rule and AWS's known-bad-inputs rules.
  waf = { rate_limit_per_5_minutes = 2000 }
}

# Three zones, dedicated masters, non-burstable instances.
opensearch_instance_type    = "r6g.large.search"
opensearch_instance_count   = 3
opensearch_zone_awareness   = 3
opensearch_dedicated_master = { instance_type = "m6g.large.search", count = 3 }
opensearch_volume_size      = 100

log_retention_in_days = 365
