"""The local web studio (``exportdsl studio``): edit a policy with live diagnostics, try transactions
in a form generated from its JSON Schema, and compare versions, in a browser.

Modules: ``paths`` (confining every file access to the folder served), ``app`` (the Starlette
application: pages, the JSON API, the guards on hosts, tokens and request sizes), ``command``
(the command line and the uvicorn server). ``static/`` holds the page, its script and style, and
a vendored copy of the CodeMirror 5 editor (MIT; from the npm registry, so the page works offline).
Needs the ``studio`` extra (Starlette, uvicorn).
"""
