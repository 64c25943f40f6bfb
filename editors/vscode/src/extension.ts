// The gradlint extension for VS Code and Cursor: starts `gradlint lsp` (a language server over stdio)
// for Python files and the Python cells of Jupyter notebooks, and passes the gradlint.* settings to it.
//
// Which gradlint runs, first match wins:
//   1. `gradlint.path`         an executable: `<path> lsp`
//   2. `gradlint.interpreter`  a Python interpreter: `<python> -m gradlint lsp`
//   3. the environment selected in the Python extension (ms-python.python), when gradlint and its
//      language-server dependency import there: `<python> -m gradlint lsp`
//   4. `gradlint` on PATH
// The server restarts when the selected environment or one of the first two settings changes; other
// settings are sent to the running server (workspace/didChangeConfiguration).

import { execFile } from "child_process";
import * as vscode from "vscode";
import {
  DidChangeConfigurationNotification,
  LanguageClient,
  LanguageClientOptions,
  ServerOptions,
  State,
} from "vscode-languageclient/node";

const SECTION = "gradlint";
// The keys of the server's initializationOptions (gradlint/lsp.py, ClientOptions).
const SERVER_KEYS = ["select", "extendSelect", "ignore", "config", "settings", "debounce", "unsafeFixes", "severity"];
const RESTART_KEYS = ["path", "interpreter"];

let client: LanguageClient | undefined;
let output: vscode.OutputChannel;
let starting: Promise<void> = Promise.resolve();

export interface Launch {
  command: string;
  args: string[];
  origin: string;
}

/** The options the server reads, from the gradlint.* settings; unset ones are left out. */
export function serverOptions(config: vscode.WorkspaceConfiguration): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of SERVER_KEYS) {
    const inspected = config.inspect(key);
    const set =
      inspected &&
      [inspected.globalValue, inspected.workspaceValue, inspected.workspaceFolderValue].some((v) => v !== undefined);
    const value = config.get(key);
    if (value === undefined || value === null) continue;
    if (Array.isArray(value) && value.length === 0) continue; // an empty list: not configured
    if (typeof value === "string" && value === "") continue;
    if (typeof value === "object" && !Array.isArray(value) && Object.keys(value as object).length === 0) continue;
    if (!set && (key === "debounce" || key === "severity" || key === "unsafeFixes")) continue; // server defaults
    out[key] = value;
  }
  return out;
}

interface PythonApi {
  environments: {
    getActiveEnvironmentPath(resource?: vscode.Uri): { path: string };
    resolveEnvironment(env: { path: string } | string): Promise<{ executable: { uri?: vscode.Uri } } | undefined>;
    onDidChangeActiveEnvironmentPath: vscode.Event<unknown>;
  };
}

async function pythonApi(): Promise<PythonApi | undefined> {
  const ext = vscode.extensions.getExtension("ms-python.python");
  if (!ext) return undefined;
  try {
    const api = (ext.isActive ? ext.exports : await ext.activate()) as PythonApi | undefined;
    return api && api.environments ? api : undefined;
  } catch (err) {
    output.appendLine(`gradlint: the Python extension's API is not available: ${err}`);
    return undefined;
  }
}

function canRun(python: string): Promise<string | undefined> {
  // undefined: gradlint and pygls import in that environment; else the reason they do not
  return new Promise((resolve) => {
    execFile(python, ["-c", "import gradlint.lsp, pygls"], { timeout: 20000 }, (err, _out, stderr) =>
      resolve(err ? (stderr || String(err)).trim().split("\n").pop() : undefined),
    );
  });
}

function expand(value: string): string {
  const folder = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath ?? "";
  return value.replace(/\$\{workspaceFolder\}/g, folder).replace(/^~(?=$|\/)/, process.env.HOME ?? "~");
}

export async function findServer(): Promise<Launch> {
  const config = vscode.workspace.getConfiguration(SECTION);
  const path = expand(config.get<string>("path") ?? "");
  if (path) return { command: path, args: ["lsp"], origin: "the gradlint.path setting" };
  const interpreter = expand(config.get<string>("interpreter") ?? "");
  if (interpreter) {
    return { command: interpreter, args: ["-m", "gradlint", "lsp"], origin: "the gradlint.interpreter setting" };
  }
  const api = await pythonApi();
  if (api) {
    let python: string | undefined;
    try {
      const resource = vscode.workspace.workspaceFolders?.[0]?.uri;
      const active = api.environments.getActiveEnvironmentPath(resource);
      const env = await api.environments.resolveEnvironment(active);
      python = env?.executable.uri?.fsPath;
    } catch (err) {
      output.appendLine(`gradlint: could not ask the Python extension for the selected environment: ${err}`);
    }
    if (python) {
      const problem = await canRun(python);
      if (problem === undefined) {
        return { command: python, args: ["-m", "gradlint", "lsp"], origin: "the selected Python environment" };
      }
      output.appendLine(
        `gradlint is not usable in the selected Python environment (${python}): ${problem}. ` +
          "Install gradlint with its lsp extra there, or set gradlint.path; trying `gradlint` on PATH.",
      );
    }
  }
  return { command: "gradlint", args: ["lsp"], origin: "PATH" };
}

async function start(context: vscode.ExtensionContext): Promise<void> {
  const launch = await findServer();
  output.appendLine(`gradlint: starting ${[launch.command, ...launch.args].join(" ")} (from ${launch.origin})`);
  const server: ServerOptions = {
    command: launch.command,
    args: launch.args,
    options: { cwd: vscode.workspace.workspaceFolders?.[0]?.uri.fsPath },
  };
  const clientOptions: LanguageClientOptions = {
    documentSelector: [
      { scheme: "file", language: "python" },
      { scheme: "untitled", language: "python" },
      // the Python cells of Jupyter notebooks (synchronised as LSP notebook documents)
      { notebook: { notebookType: "jupyter-notebook" }, language: "python" },
    ],
    initializationOptions: serverOptions(vscode.workspace.getConfiguration(SECTION)),
    outputChannel: output,
    traceOutputChannel: output,
  };
  const c = new LanguageClient(SECTION, "gradlint", server, clientOptions);
  client = c;
  try {
    await c.start();
  } catch (err) {
    client = undefined;
    const message =
      `gradlint: could not start the language server (${launch.command} from ${launch.origin}): ${err}. ` +
      "Install gradlint with its lsp extra in your Python environment, or set gradlint.path.";
    output.appendLine(message);
    vscode.window.showErrorMessage(message, "Open settings").then((choice) => {
      if (choice) vscode.commands.executeCommand("workbench.action.openSettings", "gradlint.");
    });
  }
}

async function stop(): Promise<void> {
  const c = client;
  client = undefined;
  if (c && c.state !== State.Stopped) {
    try {
      await c.stop();
    } catch (err) {
      output.appendLine(`gradlint: stopping the server: ${err}`);
    }
  }
}

function restart(context: vscode.ExtensionContext): Promise<void> {
  starting = starting.then(async () => {
    await stop();
    await start(context);
  });
  return starting;
}

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  output = vscode.window.createOutputChannel("gradlint");
  context.subscriptions.push(
    output,
    vscode.commands.registerCommand("gradlint.restart", () => restart(context)),
    vscode.commands.registerCommand("gradlint.showLogs", () => output.show()),
    vscode.workspace.onDidChangeConfiguration((event) => {
      if (!event.affectsConfiguration(SECTION)) return;
      if (RESTART_KEYS.some((k) => event.affectsConfiguration(`${SECTION}.${k}`))) {
        restart(context);
      } else if (client && client.state === State.Running) {
        client.sendNotification(DidChangeConfigurationNotification.type, {
          settings: { gradlint: serverOptions(vscode.workspace.getConfiguration(SECTION)) },
        });
      }
    }),
  );
  const api = await pythonApi();
  if (api) {
    context.subscriptions.push(
      api.environments.onDidChangeActiveEnvironmentPath(() => {
        const config = vscode.workspace.getConfiguration(SECTION);
        if (!config.get<string>("path") && !config.get<string>("interpreter")) restart(context);
      }),
    );
  }
  await restart(context);
}

export async function deactivate(): Promise<void> {
  await starting;
  await stop();
}
