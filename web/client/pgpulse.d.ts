// Type declarations for pgpulse.js, the pgpulse gateway's browser client (docs/protocol.md).

export type Op = 'INSERT' | 'UPDATE' | 'DELETE' | 'TRUNCATE';
export type ConnectionState = 'connecting' | 'open' | 'reconnecting' | 'closed';
export type Transport = 'websocket' | 'sse';

/** A row change, exactly as the gateway sends it. */
export interface ChangeEvent<Row = Record<string, unknown>> {
  /** The cursor just after this event: opaque, resume from it. */
  id: string;
  op: Op;
  schema: string;
  table: string;
  xid: number;
  /** ISO 8601 UTC */
  commit_time: string;
  /** The row after the change; null for DELETE and TRUNCATE. */
  new: Row | null;
  /** The row before the change; null for INSERT and TRUNCATE. */
  old: Row | null;
}

export interface SubscribeSpec {
  table: string;
  /** Default "public". */
  schema?: string;
  /** A row filter in PostgREST syntax, such as "room=eq.1". Default: every row. */
  filter?: string;
  /** Default: all four. */
  ops?: Op[];
  /** Send only these columns of `new` and `old`. */
  columns?: string[];
  /** An event's id, "now" (default) or "beginning" (everything still retained). */
  from?: string;
}

export interface Subscription {
  /** The client's name for it on the wire ("s1", "s2", ...). */
  readonly id: string;
  readonly spec: SubscribeSpec;
  /** The cursor a reconnect resumes from: the last delivered event's id, or the server's start. */
  readonly cursor: string | null;
  /** False after unsubscribe(), a server error that ended it, or close(). */
  readonly active: boolean;
  unsubscribe(): void;
}

export interface StateChange {
  state: ConnectionState;
  transport: Transport | null;
  /** Reconnect attempt number (1, 2, ...) while reconnecting; 0 for the first connect. */
  attempt?: number;
  /** The backoff delay before the next attempt, while reconnecting. */
  delayMs?: number;
  /** Why: the close code and reason, a refusal such as "token expired", or "closed by the client". */
  reason?: string;
}

export interface ServerError {
  /** A stable code of docs/protocol.md (invalid_filter, forbidden, cursor_expired, ...), or
   *  token_refresh_failed when getToken threw. */
  code: string;
  message: string;
  /** The subscription it is about (now inactive), or null. */
  sub: Subscription | null;
}

export interface ConnectOptions {
  /** A JWT, sent as ?token= (browsers cannot set headers on WebSocket and EventSource). */
  token?: string;
  /** Called before every connection attempt for a fresh token. With it, an expired token
   *  (close 1008 or HTTP 401) leads to a reconnect instead of state 'closed'. */
  getToken?: () => string | Promise<string>;
  /** Default: derived from the WebSocket URL, ws://host/ws -> http://host/sse. */
  sseUrl?: string;
  /** 'auto' (default) tries WebSocket first and falls back to SSE where it cannot open. */
  transport?: 'auto' | Transport;
  /** Reconnect delays: exponential from initialMs (default 500) up to maxMs (default 30000), jittered. */
  backoff?: { initialMs?: number; maxMs?: number };
  /** The server's heartbeat interval (default 15000); silence for 3 of them means reconnect. 0 turns the watchdog off. */
  heartbeatMs?: number;
  /** Event ids remembered per subscription to drop repeats (default 10000). */
  dedupeWindow?: number;
  /** Injection points, for tests and other runtimes. */
  WebSocket?: unknown;
  EventSource?: unknown;
  fetch?: typeof fetch;
  setTimeout?: (callback: () => void, ms: number) => unknown;
  clearTimeout?: (handle: any) => void;
  random?: () => number;
}

export interface Realtime {
  readonly url: string;
  readonly sseUrl: string;
  readonly state: ConnectionState;
  readonly transport: Transport | null;
  subscribe<Row = Record<string, unknown>>(
    spec: SubscribeSpec,
    handler: (event: ChangeEvent<Row>) => void,
  ): Subscription;
  /** Returns a function that removes the listener. The first state ('connecting') is set
   *  inside connect(), before any listener can be added: read `state` for it. */
  on(name: 'state', listener: (change: StateChange) => void): () => void;
  on(name: 'error', listener: (error: ServerError) => void): () => void;
  off(name: 'state' | 'error', listener: (...args: any[]) => void): void;
  /** Ends the connection and every subscription; state 'closed'. */
  close(): void;
}

export function connect(url: string, options?: ConnectOptions): Realtime;

/** The delay before reconnect attempt `attempt` (1, 2, ...). */
export function backoffDelay(
  attempt: number,
  backoff: { initialMs: number; maxMs: number },
  random?: () => number,
): number;

/** ws://host/ws -> http://host/sse (wss -> https). */
export function deriveSseUrl(wsUrl: string): string;
