"""The language server (``exportdsl lsp``) and what it knows about a policy being edited.

Modules, lowest first:

- ``analysis``: checks and lints an unsaved buffer (with its ``extends`` chain) and maps spans to
  editor positions (UTF-16 columns, as the protocol counts them). The studio uses it too.
- ``symbols``: where each fact, set, condition, rule, decision and suspension is declared and used,
  and the hover text of each.
- ``completion``: what may come at the cursor (fact names, values after an operator, decisions
  after ``->``, a rule snippet).
- ``server``: the pygls server wiring these to the protocol (needs the ``lsp`` extra).
"""
