"""OpenSearch I/O shared by the functions and the operator commands: client, setup, writer."""
