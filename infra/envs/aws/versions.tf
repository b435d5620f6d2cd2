terraform {
  required_version = ">= 1.5.0"

  # Partial configuration, completed at init, e.g.:
  #   terraform init -backend-config=bucket=<state bucket> -backend-config=key=ddb-opensearch-sync/terraform.tfstate \
  #                  -backend-config=region=<region> -backend-config=use_lockfile=true
  backend "s3" {}

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.40, < 6.0"
    }
  }
}
