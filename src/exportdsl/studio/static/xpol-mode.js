// Highlighting of .xpol policies for CodeMirror 5 (the simple-mode addon).
"use strict";
CodeMirror.defineSimpleMode("xpol", {
  start: [
    {regex: /#.*/, token: "comment"},
    {regex: /"(?:[^\\"]|\\.)*"?/, token: "string"},
    {regex: /\b\d{4}-\d{2}-\d{2}\b/, token: "number"},
    {regex: /-?\d+(?:\.\d+)?%?/, token: "number"},
    {regex: /\b(?:policy|version|decisions|default|dated|by|fact|set|of|enum|condition|rule|title|cite|effective|until|overrides|extends|suspension|suspends)\b/, token: "keyword"},
    {regex: /\b(?:and|or|not|in|contains|any|all|is|empty|applies|true|false)\b/, token: "operator"},
    {regex: /->|<=|>=|!=|[=<>]/, token: "operator"},
    {regex: /\b(?:bool|integer|number|percent|date|country|string)\b/, token: "type"},
    {regex: /[A-Za-z_][A-Za-z0-9_]*/, token: "variable"},
  ],
  meta: {lineComment: "#"},
});
