import * as vscode from 'vscode';
import { NotRunningError, UNTRUSTED_PUBLISH, type FloxlsController } from './controller';
import { CLIENT, MANIFEST_GLOB, SERVER } from './ids';

/** One entry of `floxls.listTargets`. `line` is 0-based; `blocked` says why it cannot publish. */
export interface BuildTarget {
  name: string;
  line: number;
  blocked: string | null;
}

export function parseTargets(result: unknown): BuildTarget[] {
  if (!Array.isArray(result)) return [];
  const out: BuildTarget[] = [];
  for (const item of result) {
    if (typeof item !== 'object' || item === null) continue;
    const r = item as Record<string, unknown>;
    if (typeof r.name !== 'string') continue;
    out.push({
      name: r.name,
      line: typeof r.line === 'number' ? r.line : 0,
      blocked: typeof r.blocked === 'string' && r.blocked ? r.blocked : null,
    });
  }
  return out;
}

export function isManifest(uri: vscode.Uri): boolean {
  return uri.scheme === 'file' && /(^|[\\/])\.flox[\\/]env[\\/]manifest\.toml$/.test(uri.fsPath);
}

interface TargetPick extends vscode.QuickPickItem {
  target: BuildTarget;
}

/** The manifest to act on: the active editor's, else the only one, else the user's pick. */
export async function pickManifest(): Promise<vscode.Uri | undefined> {
  const active = vscode.window.activeTextEditor?.document.uri;
  if (active && isManifest(active)) return active;
  const found = await vscode.workspace.findFiles(MANIFEST_GLOB, '**/node_modules/**', 50);
  if (found.length === 0) {
    void vscode.window.showInformationMessage('There is no .flox/env/manifest.toml in this workspace.');
    return undefined;
  }
  if (found.length === 1) return found[0];
  const picked = await vscode.window.showQuickPick(
    found.map((uri) => ({ label: vscode.workspace.asRelativePath(uri), uri })),
    { placeHolder: 'Which Flox environment?' },
  );
  return picked?.uri;
}

async function withServer<T>(ctl: FloxlsController, run: () => Promise<T>): Promise<T | undefined> {
  try {
    return await run();
  } catch (error) {
    if (error instanceof NotRunningError) {
      const choice = await vscode.window.showErrorMessage(
        `${error.message} ${ctl.lastFailure ? ctl.lastFailure.fix : 'Restart it, or see the log.'}`,
        'Restart',
        'Show Log',
      );
      if (choice === 'Restart') await ctl.restart();
      else if (choice === 'Show Log') ctl.showLog();
      return undefined;
    }
    const message = error instanceof Error ? error.message : String(error);
    ctl.log.error(message);
    void vscode.window.showErrorMessage(`floxls: ${message}`);
    return undefined;
  }
}

/** "Flox: Publish Build Target…": pick a manifest and a target (from the server's
 * `floxls.listTargets`), then `floxls.publish`; a blocked target runs `floxls.explainBlocked`. */
export async function publishTarget(ctl: FloxlsController, uriArg?: unknown, nameArg?: unknown): Promise<void> {
  if (!ctl.trusted) {
    const choice = await vscode.window.showWarningMessage(UNTRUSTED_PUBLISH, 'Manage Workspace Trust');
    if (choice) await vscode.commands.executeCommand('workbench.trust.manage');
    return;
  }
  const uri =
    uriArg instanceof vscode.Uri ? uriArg : typeof uriArg === 'string' ? vscode.Uri.parse(uriArg) : await pickManifest();
  if (!uri) return;
  await withServer(ctl, async () => {
    await vscode.workspace.openTextDocument(uri); // the server sees the current text (didOpen)
    const serverUri = ctl.asUri(uri);
    let target: BuildTarget | undefined;
    const targets = parseTargets(await ctl.executeServerCommand(SERVER.listTargets, [serverUri]));
    if (typeof nameArg === 'string') {
      target = targets.find((t) => t.name === nameArg) ?? { name: nameArg, line: 0, blocked: null };
    } else {
      if (targets.length === 0) {
        void vscode.window.showInformationMessage(
          `${vscode.workspace.asRelativePath(uri)} has no [build] targets: add a [build.<name>] table with a command.`,
        );
        return;
      }
      const items: TargetPick[] = targets.map((t) => ({
        label: t.blocked ? `$(warning) ${t.name}` : `$(package) ${t.name}`,
        description: `line ${t.line + 1}`,
        detail: t.blocked ? `Blocked: ${t.blocked}` : 'Ready to publish',
        target: t,
      }));
      const picked = await vscode.window.showQuickPick(items, {
        placeHolder: 'Publish which build target?',
        matchOnDetail: true,
      });
      if (!picked) return;
      target = picked.target;
    }
    if (target.blocked) {
      await ctl.executeServerCommand(SERVER.explainBlocked, [serverUri, target.name]);
      return;
    }
    await ctl.executeServerCommand(SERVER.publish, [serverUri, target.name]);
  });
}

/** "Flox: Enable the Publish Feature": the server's `floxls.enablePublish` sets
 * `features.publish = true` in the user's flox config and tells the user where (or why not). */
export async function enablePublish(ctl: FloxlsController): Promise<void> {
  await withServer(ctl, async () => {
    const result = await ctl.executeServerCommand(SERVER.enablePublish, []);
    const r = (typeof result === 'object' && result !== null ? result : {}) as Record<string, unknown>;
    if (r.enabled === false) ctl.log.warn(`enabling publish failed: ${String(r.error ?? 'unknown error')}`);
    else ctl.log.info(`publish feature enabled${typeof r.path === 'string' ? ` in ${r.path}` : ''}`);
  });
}

/** Registers the client's own commands (never the server's: vscode-languageclient does that). */
export function registerCommands(ctl: FloxlsController): vscode.Disposable[] {
  return [
    vscode.commands.registerCommand(CLIENT.publishTarget, (uri?: unknown, name?: unknown) => publishTarget(ctl, uri, name)),
    vscode.commands.registerCommand(CLIENT.enablePublish, () => enablePublish(ctl)),
    vscode.commands.registerCommand(CLIENT.restart, () => ctl.restart()),
    vscode.commands.registerCommand(CLIENT.showLog, () => ctl.showLog()),
  ];
}
