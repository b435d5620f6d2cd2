terraform {
  required_version = ">= 1.5.0"

  # State path given at init: terraform init -backend-config=path=<file>
  backend "local" {}

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.40, < 6.0"
    }
  }
}
