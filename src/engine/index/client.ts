/** The extension's (and tests') side of the index service: forks the worker and speaks its protocol. */
import { fork, type ChildProcess } from 'node:child_process';
import type { ReplyMessage, RequestName, ServiceEvent, ServiceRequests } from './service-protocol';

export interface ClientOptions {
  /** dist/index-worker.js */
  workerPath: string;
  onEvent: (e: ServiceEvent) => void;
  /** The process ended without being asked to (a crash). */
  onExit?: (code: number | null, signal: NodeJS.Signals | null, stderr: string) => void;
  /** Extra environment for the worker. */
  env?: NodeJS.ProcessEnv;
}

export class IndexServiceClient {
  private child?: ChildProcess;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private stopping = false;
  private stderr = '';

  constructor(private readonly opts: ClientOptions) {}

  get pid(): number | undefined {
    return this.child?.pid;
  }

  start(): void {
    this.stopping = false;
    this.stderr = '';
    const child = fork(this.opts.workerPath, [], {
      serialization: 'advanced',
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
      execArgv: [],
      env: { ...process.env, ...this.opts.env },
    });
    this.child = child;
    child.stderr?.on('data', (d: Buffer) => {
      this.stderr = (this.stderr + d.toString()).slice(-4000);
    });
    child.on('message', (m: ReplyMessage | ServiceEvent) => {
      if ('event' in m) {
        this.opts.onEvent(m);
        return;
      }
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (m.ok) p.resolve(m.result);
      else p.reject(new Error(m.error));
    });
    child.on('exit', (code, signal) => {
      if (this.child === child) this.child = undefined;
      const err = new Error(`the index service stopped (${signal ?? `exit code ${code}`})`);
      for (const p of this.pending.values()) p.reject(err);
      this.pending.clear();
      if (!this.stopping) this.opts.onExit?.(code, signal, this.stderr);
    });
  }

  request<K extends RequestName>(type: K, params: ServiceRequests[K][0]): Promise<ServiceRequests[K][1]> {
    const child = this.child;
    if (!child?.connected) return Promise.reject(new Error('the index service is not running'));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      child.send({ id, type, params }, (err) => {
        if (err) {
          this.pending.delete(id);
          reject(err);
        }
      });
    });
  }

  /** Asks the service to finish what it writes and exit; kills it if it does not within `graceMs`. */
  async stop(graceMs = 3000): Promise<void> {
    const child = this.child;
    if (!child) return;
    this.stopping = true;
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    child.disconnect?.();
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await exited;
    clearTimeout(timer);
  }
}
