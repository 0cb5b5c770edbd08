import { spawn, type ChildProcess } from 'node:child_process';
import * as net from 'node:net';
import type { Launch } from './settings';

/** A start-up failure explained for the user: what happened and how to fix it. */
export interface StartFailure {
  message: string;
  fix: string;
}

/** What we saw of a server process that did not come up. */
export interface ProcessEvidence {
  error?: unknown; // the spawn/connect error or the start() rejection
  stderr: string; // the tail of the process's stderr
  exitCode: number | null;
}

const SEE_LOG = 'See the floxls log ("Flox: Show Language Server Log") for details.';

function describe(launch: Launch): string {
  return launch.kind === 'tcp'
    ? `${launch.host}:${launch.port}`
    : [launch.command, ...launch.args].join(' ');
}

function errorCode(error: unknown): string | undefined {
  if (typeof error === 'object' && error !== null && 'code' in error) {
    const code = (error as { code: unknown }).code;
    return typeof code === 'string' ? code : undefined;
  }
  return undefined;
}

function lastLine(text: string): string {
  const lines = text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== '');
  return lines[lines.length - 1] ?? '';
}

/** Turns what we saw of a failed start into one message and one fix. */
export function explainStartFailure(launch: Launch, evidence: ProcessEvidence): StartFailure {
  const code = errorCode(evidence.error);
  if (launch.kind === 'tcp') {
    return {
      message: `Cannot connect to the floxls server at ${describe(launch)} (${code ?? 'connection failed'}).`,
      fix: `Start it with "floxls serve --tcp ${launch.host}:${launch.port}", or unset FLOXLS_SERVER_TCP to let the extension start the server.`,
    };
  }
  if (code === 'ENOENT') {
    if (launch.source === 'server.pythonPath') {
      return {
        message: `The Python interpreter "${launch.command}" (floxls.server.pythonPath) does not exist.`,
        fix: 'Set floxls.server.pythonPath to a Python that has floxls installed, or clear it to run "floxls serve" from PATH.',
      };
    }
    return {
      message: `The floxls server is not installed: "${launch.command}" was not found on PATH.`,
      fix: 'Install it with "pip install floxls" (or "pipx install floxls"), or set floxls.server.pythonPath to a Python that has floxls installed.',
    };
  }
  if (code === 'EACCES') {
    return {
      message: `"${launch.command}" is not executable.`,
      fix: 'Point floxls.server.command or floxls.server.pythonPath at an executable.',
    };
  }
  if (/No module named '?floxls/.test(evidence.stderr)) {
    return {
      message: `"${launch.command}" cannot import floxls: it is not the interpreter floxls is installed in.`,
      fix: `Run "${launch.command} -m pip install floxls", or set floxls.server.pythonPath to the interpreter that has floxls.`,
    };
  }
  if (/invalid choice: '?serve/.test(evidence.stderr)) {
    return {
      message: `"${describe(launch)}" is a floxls without the language server.`,
      fix: 'Upgrade it with "pip install --upgrade floxls".',
    };
  }
  const detail = lastLine(evidence.stderr);
  if (evidence.exitCode !== null) {
    return {
      message: `The floxls server ("${describe(launch)}") exited with code ${evidence.exitCode} while starting${detail ? `: ${detail}` : '.'}`,
      fix: SEE_LOG,
    };
  }
  const reason = evidence.error instanceof Error ? evidence.error.message : String(evidence.error ?? 'unknown error');
  return {
    message: `The floxls server ("${describe(launch)}") could not start: ${detail || reason}`,
    fix: SEE_LOG,
  };
}

/** Keeps the last `limit` characters written to a stream. */
export class Tail {
  private text = '';
  constructor(private readonly limit = 4000) {}
  push(chunk: string): void {
    this.text = (this.text + chunk).slice(-this.limit);
  }
  toString(): string {
    return this.text;
  }
  clear(): void {
    this.text = '';
  }
}

/** Process state the controller reads when explaining a failure. */
export interface ProcessWatch {
  stderr: Tail;
  exitCode: number | null;
  exited: Promise<void>;
}

/** Spawns the server; resolves once the process runs, rejects with the spawn error (ENOENT...). */
export function spawnServer(
  launch: Extract<Launch, { kind: 'process' }>,
  cwd: string | undefined,
  watch: ProcessWatch,
): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(launch.command, launch.args, {
      cwd,
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, PYTHONUNBUFFERED: '1' },
    });
    watch.exited = new Promise((done) => {
      child.once('exit', (code, signal) => {
        watch.exitCode = code ?? (signal ? 128 : null);
        done();
      });
      child.once('error', () => done());
    });
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => watch.stderr.push(chunk));
    child.once('spawn', () => resolve(child));
    child.once('error', reject);
  });
}

/** Connects to a server started as `floxls serve --tcp host:port`. */
export function connectServer(launch: Extract<Launch, { kind: 'tcp' }>): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(launch.port, launch.host);
    socket.once('connect', () => resolve(socket));
    socket.once('error', reject);
  });
}
