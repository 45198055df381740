import { createContext, useCallback, useContext, useEffect, useMemo, useRef, useState, type ReactNode } from 'react';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { api } from '../api/client';
import { unwrap } from '../api/problem';
import { refreshSession } from '../api/session';
import { mergeInbox, maxSeq, openInboxStream, type InboxItem } from './inbox';

interface InboxValue {
  items: InboxItem[];
  unread: number;
  status: 'open' | 'reconnecting' | 'closed';
  loading: boolean;
  error: unknown;
  markRead: (item: InboxItem) => Promise<void>;
  markAllRead: () => Promise<void>;
}

const Ctx = createContext<InboxValue | null>(null);

export function InboxProvider({ children }: { children: ReactNode }) {
  const qc = useQueryClient();
  const [items, setItems] = useState<InboxItem[]>([]);
  const [status, setStatus] = useState<'open' | 'reconnecting' | 'closed'>('closed');
  const lastSeq = useRef(0);

  const initial = useQuery({
    queryKey: ['inbox'],
    queryFn: () => unwrap(api.GET('/api/notifications/inbox', { params: { query: { limit: 100 } } })),
  });
  const unreadQ = useQuery({
    queryKey: ['inbox-unread'],
    queryFn: () => unwrap(api.GET('/api/notifications/inbox/unread')),
  });

  useEffect(() => {
    if (initial.data) {
      // Here, not in the state updater (which runs at the next render): the stream's
      // effect below runs in this same commit and resumes after this sequence number.
      lastSeq.current = maxSeq(initial.data, lastSeq.current);
      setItems((cur) => mergeInbox(cur, initial.data));
    }
  }, [initial.data]);

  const started = initial.isSuccess || initial.isError;
  useEffect(() => {
    if (!started) return;
    const stop = openInboxStream({
      getAfter: () => lastSeq.current,
      onItem: (item) => {
        lastSeq.current = Math.max(lastSeq.current, item.seq);
        setItems((cur) => mergeInbox(cur, [item]));
        void qc.invalidateQueries({ queryKey: ['inbox-unread'] });
      },
      refresh: async () => (await refreshSession().catch(() => ({}))) !== null,
      onStatus: setStatus,
    });
    return stop;
  }, [started, qc]);

  const markRead = useCallback(
    async (item: InboxItem) => {
      await unwrap(
        api.POST('/api/notifications/inbox/{notification_id}/read', {
          params: { path: { notification_id: item.notification_id } },
        }),
      );
      setItems((cur) => cur.map((i) => (i.seq === item.seq ? { ...i, read_at: i.read_at ?? new Date().toISOString() } : i)));
      await qc.invalidateQueries({ queryKey: ['inbox-unread'] });
    },
    [qc],
  );
  const markAllRead = useCallback(async () => {
    await unwrap(api.POST('/api/notifications/inbox/read', { body: { up_to: lastSeq.current || null } }));
    const now = new Date().toISOString();
    setItems((cur) => cur.map((i) => ({ ...i, read_at: i.read_at ?? now })));
    await qc.invalidateQueries({ queryKey: ['inbox-unread'] });
  }, [qc]);

  const localUnread = items.filter((i) => !i.read_at).length;
  const value = useMemo<InboxValue>(
    () => ({
      items,
      unread: unreadQ.data ? Math.max(unreadQ.data.unread, 0) : localUnread,
      status,
      loading: initial.isLoading,
      error: initial.error ?? unreadQ.error,
      markRead,
      markAllRead,
    }),
    [items, unreadQ.data, unreadQ.error, localUnread, status, initial.isLoading, initial.error, markRead, markAllRead],
  );
  return <Ctx.Provider value={value}>{children}</Ctx.Provider>;
}

export function useInbox(): InboxValue {
  const v = useContext(Ctx);
  if (!v) throw new Error('useInbox outside InboxProvider');
  return v;
}
