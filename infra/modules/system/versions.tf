terraform {
  # The AWS provider's requirements are those of the modules this one composes.
  required_version = ">= 1.5.0"
}
