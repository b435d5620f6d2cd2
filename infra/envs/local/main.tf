# The whole system on the local stack (LocalStack), applied with tflocal.
# The composition is modules/system, as for infra/envs/aws; only the values below differ from
# its (AWS) defaults, each for a stated reason.

provider "aws" {
  region = var.region

  default_tags {
    tags = {
      project     = "ddb-opensearch-sync"
      environment = "local"
    }
  }

  # LocalStack 4.14 keeps no tags on CloudWatch alarms: a second plan would re-add them.
  ignore_tags {
    keys = ["project", "environment"]
  }
}

module "system" {
  source = "../../modules/system"

  # LocalStack serves the API under its own gateway: the API's URL is built from it.
  localstack_endpoint = var.localstack_endpoint

  # Local data is throwaway: no continuous backups.
  point_in_time_recovery_enabled = false

  # The local OpenSearch node has no security plugin: plain unauthenticated HTTP.
  opensearch_auth = "none"

  opensearch = {
    # LocalStack always reports encryption at rest and node to node as off: saying so keeps the
    # second plan empty. It keeps the HTTPS settings but serves the domain over plain HTTP.
    encryption      = false
    endpoint_scheme = "http"

    # The functions reach the node itself, as on AWS they reach the domain's endpoint:
    # LocalStack's domain endpoint is a proxy in LocalStack's one Python process, shared with
    # the stream poller and the API, and added ~20 ms to each 1 MB _bulk and serialised
    # concurrent ones (bench/README.md). `make deploy` passes the node's URL as the functions
    # see it (the host in native mode, the compose network otherwise).
    function_endpoint = var.opensearch_node_url

    # LocalStack does not keep a domain's log publishing options (a plan would re-add them).
    log_types = []

    # The domain is ready (or gone) at once here, but the provider waits ~10 minutes before its
    # first status poll on create and on delete; it checks once more when a timeout ends, so
    # short timeouts end the wait. Creating is off the apply's critical path (the SQS queue is
    # longer).
    timeouts = {
      create = "10s"
      update = "10s"
      delete = "2s"
    }
  }

  api = {
    # LocalStack 4.14 stores a method's own settings under its escaped path (books~1search/GET)
    # and then cannot read them back: search keeps the stage-wide throttle here.
    search_throttling = { enabled = false }
    cors              = var.cors_allow_origin == null ? null : { allow_origin = var.cors_allow_origin }
  }

  # A small retry budget (AWS keeps 10000 and a 21 h record age): a batch that keeps failing
  # reaches the dead-letter queue within minutes, for `make replay`. Dead letters are
  # disposable here.
  stream = {
    maximum_retry_attempts           = var.stream_maximum_retry_attempts
    dead_letter_bucket_force_destroy = true
  }

  name                     = var.name
  sync_function_zip_path   = var.sync_function_zip_path
  search_function_zip_path = var.search_function_zip_path
}
