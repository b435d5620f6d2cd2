"""LocalStack plugins that let the stack run as host processes, without Docker.

- ``dynamodb_provider``: DynamoDB and DynamoDB Streams served by LocalStack's bundled moto
  (``PROVIDER_OVERRIDE_DYNAMODB=moto``, ``PROVIDER_OVERRIDE_DYNAMODBSTREAMS=moto``), because
  the stock provider downloads DynamoDB Local, which is neither reachable nor open source.
- ``lambda_executor``: Lambda execution environments as subprocesses of LocalStack
  (``LAMBDA_RUNTIME_EXECUTOR=process``), because the stock executor needs Docker.
- ``stream_poller``: DynamoDB event source mappings that keep invoking while records wait, as on
  AWS (an ``on_infra_start`` hook), because the stock poller forwards one batch per interval.
- ``vtl_jsonpath``: API Gateway's VTL ``$input.json``/``$input.path`` compile each JSONPath once
  (an ``on_infra_start`` hook), because compiling it on every call was most of an API request.
- ``loopback_server``: the gateway's twisted server bound to ``GATEWAY_LISTEN``'s loopback
  host (``GATEWAY_SERVER=twisted-loopback``), because the stock one listens on every interface.
"""
