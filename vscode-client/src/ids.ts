/** Command ids. Server commands are registered by vscode-languageclient from the server's
 * `executeCommandProvider.commands`; the client never registers them itself. */

export const SERVER = {
  publish: 'floxls.publish', // [uri, name]
  explainBlocked: 'floxls.explainBlocked', // [uri, name]
  enablePublish: 'floxls.enablePublish', // []
  listTargets: 'floxls.listTargets', // [uri] -> [{name, line, blocked}]
} as const;

export const CLIENT = {
  publishTarget: 'floxls.client.publishTarget',
  enablePublish: 'floxls.client.enablePublish',
  restart: 'floxls.client.restart',
  showLog: 'floxls.client.showLog',
} as const;

/** How each server command is reached from the extension: the client commands (contributed in
 * package.json) whose flow sends it, and whether the server's code lenses invoke it directly.
 * The consistency test checks this table against the running server and package.json. */
export const SERVER_COMMAND_ROUTES: Record<string, { clientCommands: string[]; codeLens: boolean }> = {
  [SERVER.publish]: { clientCommands: [CLIENT.publishTarget], codeLens: true },
  [SERVER.explainBlocked]: { clientCommands: [CLIENT.publishTarget], codeLens: true },
  [SERVER.enablePublish]: { clientCommands: [CLIENT.enablePublish], codeLens: false },
  [SERVER.listTargets]: { clientCommands: [CLIENT.publishTarget], codeLens: false },
};

/** Server commands that publish (run build commands): refused in an untrusted workspace. */
export const PUBLISHING_COMMANDS: ReadonlySet<string> = new Set([SERVER.publish]);

export const MANIFEST_GLOB = '**/.flox/env/manifest.toml';
export const DOCUMENT_SELECTOR = [{ scheme: 'file', pattern: MANIFEST_GLOB }];
export const CLIENT_ID = 'floxls';
export const CLIENT_NAME = 'floxls';
