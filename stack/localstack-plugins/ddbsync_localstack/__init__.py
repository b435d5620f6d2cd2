"""LocalStack plugins that let the stack run as host processes, without Docker.

- ``dynamodb_provider``: DynamoDB and DynamoDB Streams served by LocalStack's bundled moto
  (``PROVIDER_OVERRIDE_DYNAMODB=moto``, ``PROVIDER_OVERRIDE_DYNAMODBSTREAMS=moto``), because
  the stock provider downloads DynamoDB Local, which is neither reachable nor open source.
- ``lambda_executor``: Lambda execution environments as subprocesses of LocalStack
  (``LAMBDA_RUNTIME_EXECUTOR=process``), because the stock executor needs Docker.
- ``loopback_server``: the gateway's twisted server bound to ``GATEWAY_LISTEN``'s loopback
  host (``GATEWAY_SERVER=twisted-loopback``), because the stock one listens on every interface.
"""
