import { describe, expect, it, vi } from 'vitest';
import { mergeInbox, openInboxStream, type InboxItem } from '../notifications/inbox';

function item(seq: number, read = false): InboxItem {
  return {
    notification_id: `n-${seq}`,
    seq,
    kind: 'personal_record',
    title: `Alert ${seq}`,
    body: 'body',
    subject_id: 's',
    data: {},
    created_at: '2026-12-01T00:00:00Z',
    delivered_at: '2026-12-01T00:00:00Z',
    read_at: read ? '2026-12-01T01:00:00Z' : null,
  };
}

class FakeES {
  static all: FakeES[] = [];
  url: string;
  onopen: (() => void) | null = null;
  onerror: (() => void) | null = null;
  closed = false;
  private listeners: ((e: Event) => void)[] = [];
  constructor(url: string) {
    this.url = url;
    FakeES.all.push(this);
  }
  addEventListener(_type: string, fn: (e: Event) => void) {
    this.listeners.push(fn);
  }
  close() {
    this.closed = true;
  }
  emit(it: InboxItem) {
    const ev = new MessageEvent('notification', { data: JSON.stringify(it), lastEventId: String(it.seq) });
    for (const l of this.listeners) l(ev);
  }
}

describe('inbox', () => {
  it('merges by seq, newest first, without duplicates', () => {
    const a = mergeInbox([], [item(1), item(2)]);
    const b = mergeInbox(a, [item(2), item(3), item(3)]);
    expect(b.map((i) => i.seq)).toEqual([3, 2, 1]);
  });

  it('keeps a local read mark when a stale copy arrives', () => {
    const merged = mergeInbox([item(5, true)], [item(5, false)]);
    expect(merged).toHaveLength(1);
    expect(merged[0]!.read_at).not.toBeNull();
  });

  it('dedupes across reconnects and resumes with ?after=<last seq>', async () => {
    vi.useFakeTimers();
    FakeES.all = [];
    let items: InboxItem[] = [item(1)];
    let last = 1;
    const refresh = vi.fn(async () => true);
    const stop = openInboxStream({
      getAfter: () => last,
      onItem: (it) => {
        last = Math.max(last, it.seq);
        items = mergeInbox(items, [it]);
      },
      refresh,
      EventSourceImpl: FakeES as unknown as new (url: string) => EventSource,
      backoffMs: () => 10,
    });
    const first = FakeES.all[0]!;
    expect(first.url).toBe('/api/notifications/stream?after=1');
    first.emit(item(1)); // replayed duplicate
    first.emit(item(2));
    first.onerror?.(); // the access token expired
    expect(first.closed).toBe(true);
    await vi.advanceTimersByTimeAsync(20);
    expect(refresh).toHaveBeenCalledTimes(1);
    const second = FakeES.all[1]!;
    expect(second.url).toBe('/api/notifications/stream?after=2');
    second.emit(item(2)); // overlap again
    second.emit(item(3));
    expect(items.map((i) => i.seq)).toEqual([3, 2, 1]);
    stop();
    expect(second.closed).toBe(true);
    vi.useRealTimers();
  });

  it('stops when the session cannot be refreshed', async () => {
    vi.useFakeTimers();
    FakeES.all = [];
    const onStatus = vi.fn();
    openInboxStream({
      getAfter: () => 0,
      onItem: () => {},
      refresh: async () => false,
      onStatus,
      EventSourceImpl: FakeES as unknown as new (url: string) => EventSource,
      backoffMs: () => 1,
    });
    expect(FakeES.all[0]!.url).toBe('/api/notifications/stream');
    FakeES.all[0]!.onerror?.();
    await vi.advanceTimersByTimeAsync(5);
    expect(FakeES.all).toHaveLength(1);
    expect(onStatus).toHaveBeenLastCalledWith('closed');
    vi.useRealTimers();
  });
});
