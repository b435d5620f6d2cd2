"""The local sync console: the table, the index and the sync between them, in a browser.

A small Starlette application (served by uvicorn on loopback) behind one plain HTML page. It
runs on the developer's machine beside the local stack, never on AWS. Modules, one job each:

- ``system``: where the stack and the deployment are (``stackctl``'s settings and deployed
  names), and what is wrong when they are not there (with the command that fixes it);
- ``books``: the deployed REST API, proxied (so the VTL path is what runs);
- ``sides``: one book as the DynamoDB item and as the indexed document, and whether they agree;
- ``health``: each service, its version, the deployed parts;
- ``deadletters``: the dead-letter queue's messages, read without consuming them;
- ``app``: the HTTP routes; ``server``: the ``sync-console`` command (uvicorn).

The page itself is ``static/`` (HTML, CSS and vanilla JavaScript; no build step).
"""
