import * as vscode from 'vscode';
import { CLIENT, DOCUMENT_SELECTOR } from './ids';

export type ServerState = 'starting' | 'running' | 'stopped' | 'failed';

export interface PublishOutcome {
  name: string;
  ok: boolean;
  summary: string;
  at: Date;
}

const TEXT: Record<ServerState, string> = {
  starting: '$(sync~spin) floxls: starting',
  running: '$(check) floxls',
  stopped: '$(circle-slash) floxls: stopped',
  failed: '$(error) floxls: not running',
};

/** The language status item: server state, trust and the last publish result. */
export class StatusView implements vscode.Disposable {
  readonly item: vscode.LanguageStatusItem;
  state: ServerState = 'stopped';
  problem: string | undefined;
  publishing: string | undefined;
  lastPublish: PublishOutcome | undefined;

  constructor(private readonly trusted: () => boolean) {
    this.item = vscode.languages.createLanguageStatusItem('floxls.status', DOCUMENT_SELECTOR);
    this.item.name = 'floxls';
    this.render();
  }

  setState(state: ServerState, problem?: string): void {
    this.state = state;
    this.problem = problem;
    this.render();
  }

  startPublish(name: string): void {
    this.publishing = name;
    this.render();
  }

  endPublish(outcome: PublishOutcome): void {
    this.publishing = undefined;
    this.lastPublish = outcome;
    this.render();
  }

  render(): void {
    const item = this.item;
    item.text = TEXT[this.state];
    item.busy = this.state === 'starting' || this.publishing !== undefined;
    const details: string[] = [];
    if (this.problem) details.push(this.problem);
    if (!this.trusted()) details.push('publishing disabled: untrusted workspace');
    if (this.publishing) details.push(`publishing ${this.publishing}…`);
    else if (this.lastPublish) {
      const p = this.lastPublish;
      const time = p.at.toLocaleTimeString();
      details.push(p.ok ? `last publish: ${p.summary} (${time})` : `last publish of ${p.name} failed (${time}): ${p.summary}`);
    }
    item.detail = details.join(' · ');
    item.severity =
      this.state === 'failed'
        ? vscode.LanguageStatusSeverity.Error
        : this.lastPublish && !this.lastPublish.ok && !this.publishing
          ? vscode.LanguageStatusSeverity.Warning
          : vscode.LanguageStatusSeverity.Information;
    item.command =
      this.state === 'failed' || this.state === 'stopped'
        ? { title: 'Restart', command: CLIENT.restart }
        : { title: 'Show Log', command: CLIENT.showLog };
  }

  dispose(): void {
    this.item.dispose();
  }
}
