import { Badge, Button, Card, Group, Stack, Text, Title } from '@mantine/core';
import { useState } from 'react';
import { usePrefs } from '../../auth/AuthContext';
import { useInbox } from '../../notifications/InboxContext';
import { ProblemAlert } from '../../components/ProblemAlert';
import { Loading } from '../../components/Loading';
import { formatDateTime } from '../../lib/time';
import type { InboxItem } from '../../notifications/inbox';

export function InboxList({
  items,
  timeZone,
  onRead,
}: {
  items: InboxItem[];
  timeZone: string;
  onRead: (i: InboxItem) => void;
}) {
  if (items.length === 0) return <Text c="dimmed">No alerts.</Text>;
  return (
    <Stack gap="xs" component="ul" style={{ listStyle: 'none', padding: 0, margin: 0 }} aria-label="Alerts">
      {items.map((it) => (
        <Card
          key={it.seq}
          component="li"
          withBorder
          padding="sm"
          data-testid="inbox-item"
          data-seq={it.seq}
          data-read={it.read_at ? 'true' : 'false'}
          style={{ borderLeft: it.read_at ? undefined : '4px solid var(--mantine-color-blue-6)' }}
        >
          <Group justify="space-between" wrap="wrap" gap="xs">
            <div style={{ minWidth: 0 }}>
              <Text fw={it.read_at ? 400 : 700}>
                {it.title} <Badge size="xs" variant="light">{it.kind.replace(/_/g, ' ')}</Badge>
              </Text>
              <Text size="sm">{it.body}</Text>
              <Text size="xs" c="dimmed">
                {formatDateTime(it.created_at, timeZone)}
              </Text>
            </div>
            {!it.read_at ? (
              <Button size="compact-sm" variant="light" onClick={() => onRead(it)} aria-label={`Mark "${it.title}" as read`} data-testid="mark-read">
                Mark read
              </Button>
            ) : (
              <Text size="xs" c="dimmed">
                Read
              </Text>
            )}
          </Group>
        </Card>
      ))}
    </Stack>
  );
}

export default function Inbox() {
  const { items, unread, status, loading, error, markRead, markAllRead } = useInbox();
  const { timeZone } = usePrefs();
  const [actionError, setActionError] = useState<unknown>(null);
  return (
    <Stack>
      <Group justify="space-between" wrap="wrap">
        <Title order={1} size="h2">
          Alerts {unread > 0 ? <Badge color="red">{unread} unread</Badge> : null}
        </Title>
        <Group gap="xs">
          <Badge variant="dot" color={status === 'open' ? 'green' : 'gray'} aria-live="polite" data-testid="stream-status" data-status={status}>
            {status === 'open' ? 'live' : status}
          </Badge>
          <Button
            size="xs"
            variant="default"
            disabled={unread === 0}
            onClick={() => markAllRead().then(() => setActionError(null), setActionError)}
            data-testid="mark-all-read"
          >
            Mark all read
          </Button>
        </Group>
      </Group>
      <ProblemAlert error={error ?? actionError} />
      {loading ? <Loading /> : <InboxList items={items} timeZone={timeZone} onRead={(i) => void markRead(i).then(() => setActionError(null), setActionError)} />}
    </Stack>
  );
}
