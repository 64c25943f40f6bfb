// A stand-in for the Python extension (ms-python.python), for the e2e test only: the part of its API
// that the gradlint extension uses (environments.getActiveEnvironmentPath / resolveEnvironment /
// onDidChangeActiveEnvironmentPath), reporting the interpreter written in python.txt.
"use strict";
const fs = require("fs");
const path = require("path");
const vscode = require("vscode");

exports.activate = function () {
  const python = fs.readFileSync(path.join(__dirname, "python.txt"), "utf8").trim();
  const changed = new vscode.EventEmitter();
  return {
    environments: {
      getActiveEnvironmentPath: () => ({ id: python, path: python }),
      resolveEnvironment: async () => ({ id: python, path: python, executable: { uri: vscode.Uri.file(python) } }),
      onDidChangeActiveEnvironmentPath: changed.event,
    },
  };
};
