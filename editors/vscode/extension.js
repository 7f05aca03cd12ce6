// exportdsl for VS Code: starts the exportdsl language server (`exportdsl lsp`) for .xpol files.
// Highlighting, comments and brackets are declarations in package.json and need none of this;
// the server needs `npm install` in this folder once (for vscode-languageclient) and the
// exportdsl Python package installed with its `lsp` extra.
"use strict";

const vscode = require("vscode");

let client;

function activate(context) {
  const config = vscode.workspace.getConfiguration("exportdsl");
  if (!config.get("server.enabled", true)) return undefined;
  let languageclient;
  try {
    languageclient = require("vscode-languageclient/node");
  } catch (error) {
    vscode.window.showInformationMessage(
      "exportdsl: run `npm install` in the extension's folder to start the language server " +
      "(highlighting works without it).");
    return undefined;
  }
  const serverOptions = {
    command: config.get("server.command", "exportdsl"),
    args: ["lsp"],
    transport: languageclient.TransportKind.stdio,
  };
  const clientOptions = {
    documentSelector: [{scheme: "file", language: "xpol"}, {scheme: "untitled", language: "xpol"}],
    initializationOptions: config.get("diagnosticsUrl") ? {diagnosticsUrl: config.get("diagnosticsUrl")} : {},
  };
  client = new languageclient.LanguageClient("exportdsl", "exportdsl language server", serverOptions, clientOptions);
  context.subscriptions.push({dispose: () => client && client.stop()});
  return client.start();
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = {activate, deactivate};
