import type { Schemas } from '../api/client';

export type InboxItem = Schemas['InboxItem'];

/** Merges items into the inbox: one per seq (a later copy wins), newest first. */
export function mergeInbox(current: InboxItem[], incoming: InboxItem[]): InboxItem[] {
  if (incoming.length === 0) return current;
  const bySeq = new Map<number, InboxItem>();
  for (const it of current) bySeq.set(it.seq, it);
  for (const it of incoming) {
    const prev = bySeq.get(it.seq);
    // Keep a local read mark if the copy from the stream predates it.
    bySeq.set(it.seq, prev && prev.read_at && !it.read_at ? { ...it, read_at: prev.read_at } : it);
  }
  return [...bySeq.values()].sort((a, b) => b.seq - a.seq);
}

export function maxSeq(items: InboxItem[], floor = 0): number {
  return items.reduce((m, it) => Math.max(m, it.seq), floor);
}

type EventSourceCtor = new (url: string, init?: EventSourceInit) => EventSource;

export interface StreamOptions {
  /** The seq after which to resume (the newest one seen). */
  getAfter: () => number;
  onItem: (item: InboxItem) => void;
  /** Refreshes the session before reconnecting; false: signed out, stop. */
  refresh: () => Promise<boolean>;
  onStatus?: (s: 'open' | 'reconnecting' | 'closed') => void;
  EventSourceImpl?: EventSourceCtor;
  baseUrl?: string;
  backoffMs?: (attempt: number) => number;
}

/**
 * The live alert stream. The access cookie ends the stream when it expires, so on any
 * error it refreshes the session and opens a new EventSource with `?after=<last seq>`.
 */
export function openInboxStream(opts: StreamOptions): () => void {
  const ES: EventSourceCtor | undefined = opts.EventSourceImpl ?? (typeof EventSource !== 'undefined' ? EventSource : undefined);
  if (!ES) {
    opts.onStatus?.('closed');
    return () => {};
  }
  const base = opts.baseUrl ?? '/api/notifications/stream';
  const backoff = opts.backoffMs ?? ((n: number) => Math.min(30_000, 1000 * 2 ** Math.min(n, 5)));
  let es: EventSource | null = null;
  let stopped = false;
  let attempt = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;

  // After an error: refresh the session (the stream ends when the access token does),
  // then connect again from the last sequence number seen.
  const resume = async () => {
    timer = undefined;
    const ok = await opts.refresh().catch(() => true);
    if (!ok) {
      stopped = true;
      opts.onStatus?.('closed');
      return;
    }
    connect();
  };
  // Back online: resume now rather than at the end of a backoff grown while offline.
  const online = () => {
    if (stopped || timer === undefined) return;
    clearTimeout(timer);
    attempt = 0;
    void resume();
  };
  if (typeof window !== 'undefined') window.addEventListener('online', online);

  const connect = () => {
    if (stopped) return;
    const after = opts.getAfter();
    es = new ES!(after > 0 ? `${base}?after=${after}` : base, { withCredentials: true });
    es.onopen = () => {
      attempt = 0;
      opts.onStatus?.('open');
    };
    es.addEventListener('notification', (ev: Event) => {
      const msg = ev as MessageEvent<string>;
      try {
        const item = JSON.parse(msg.data) as InboxItem;
        if (typeof item.seq !== 'number') {
          const id = Number(msg.lastEventId);
          if (Number.isFinite(id)) item.seq = id;
        }
        opts.onItem(item);
      } catch {
        /* a malformed event is skipped */
      }
    });
    es.onerror = () => {
      es?.close();
      es = null;
      if (stopped) return;
      opts.onStatus?.('reconnecting');
      const delay = backoff(attempt++);
      timer = setTimeout(() => void resume(), delay);
    };
  };
  connect();
  return () => {
    stopped = true;
    if (typeof window !== 'undefined') window.removeEventListener('online', online);
    clearTimeout(timer);
    es?.close();
    opts.onStatus?.('closed');
  };
}
