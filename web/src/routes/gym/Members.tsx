import { useState } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { Alert, Badge, Button, Card, Group, NativeSelect, Stack, Table, Text, TextInput, Title } from '@mantine/core';
import { api } from '../../api/client';
import { unwrap } from '../../api/problem';
import { useMe, usePrefs } from '../../auth/AuthContext';
import { formatDateTime } from '../../lib/time';
import type { Schemas } from '../../api/client';
import { ProblemAlert } from '../../components/ProblemAlert';
import { Loading } from '../../components/Loading';

export default function GymMembers() {
  const me = useMe();
  const gymId = me.gym_id ?? '';
  const qc = useQueryClient();
  const q = useQuery({
    queryKey: ['gym-members', gymId],
    enabled: !!gymId,
    queryFn: () => unwrap(api.GET('/api/gyms/{id}/members', { params: { path: { id: gymId } } })),
  });
  const [email, setEmail] = useState('');
  const [role, setRole] = useState<'client' | 'trainer'>('client');
  const invite = useMutation({
    mutationFn: () => unwrap(api.POST('/api/gyms/{id}/invitations', { params: { path: { id: gymId } }, body: { email: email.trim(), role } })),
    onSuccess: () => {
      setEmail('');
      void qc.invalidateQueries({ queryKey: ['gym-invitations'] });
    },
  });
  const remove = useMutation({
    mutationFn: (userId: string) => unwrap(api.POST('/api/gyms/{id}/members/{user_id}/remove', { params: { path: { id: gymId, user_id: userId } } })),
    onSuccess: () => qc.invalidateQueries({ queryKey: ['gym-members'] }),
  });
  const order: Record<string, number> = { gym: 0, admin: 0, trainer: 1, client: 2 };
  const members = [...(q.data ?? [])].sort((a, b) => (order[a.role] ?? 3) - (order[b.role] ?? 3) || a.display_name.localeCompare(b.display_name));
  return (
    <Stack>
      <Title order={1} size="h2">
        Members and trainers
      </Title>
      <Card withBorder component="section" aria-labelledby="invite-h">
        <form
          onSubmit={(e) => {
            e.preventDefault();
            invite.mutate();
          }}
        >
          <Title order={2} size="h4" id="invite-h" mb="xs">
            Invite by email
          </Title>
          <Group wrap="wrap" align="end">
            <TextInput type="email" label="Email" required value={email} onChange={(e) => setEmail(e.currentTarget.value)} w={260} data-testid="invite-email" />
            <NativeSelect label="As" value={role} onChange={(e) => setRole(e.currentTarget.value as 'client' | 'trainer')} data={['client', 'trainer']} />
            <Button type="submit" loading={invite.isPending} data-testid="invite-submit">
              Send invitation
            </Button>
          </Group>
          <ProblemAlert error={invite.error} />
          {invite.data ? (
            <Alert color="green" mt="xs" data-testid="invite-sent">
              Invitation sent to {invite.data.email} ({invite.data.role}).
            </Alert>
          ) : null}
        </form>
      </Card>
      {q.isLoading ? <Loading /> : null}
      <ProblemAlert error={q.error ?? remove.error} />
      {members.length > 0 ? (
        <div className="fs-scroll">
          <Table data-testid="members-table">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Name</Table.Th>
                <Table.Th>Role</Table.Th>
                <Table.Th>
                  <span className="visually-hidden">Actions</span>
                </Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {members.map((m) => (
                <Table.Tr key={m.id} data-testid="member-row">
                  <Table.Td>{m.display_name}</Table.Td>
                  <Table.Td>
                    <Badge variant="light">{m.role}</Badge>
                  </Table.Td>
                  <Table.Td>
                    {m.id !== me.id ? (
                      <Button
                        size="compact-sm"
                        variant="subtle"
                        color="red"
                        onClick={() => {
                          if (window.confirm(`Remove ${m.display_name} from the gym?`)) remove.mutate(m.id);
                        }}
                      >
                        Remove
                      </Button>
                    ) : null}
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </div>
      ) : null}
      <SentInvitations gymId={gymId} />
    </Stack>
  );
}

/** Where an invitation stands: accepted, open until it expires, or expired. */
function invitationStatus(i: Schemas['Invitation'], now: number = Date.now()): 'accepted' | 'open' | 'expired' {
  if (i.accepted_at) return 'accepted';
  return Date.parse(i.expires_at) > now ? 'open' : 'expired';
}

const STATUS_COLOR = { accepted: 'green', open: 'blue', expired: 'gray' } as const;

function SentInvitations({ gymId }: { gymId: string }) {
  const { timeZone } = usePrefs();
  const q = useQuery({
    queryKey: ['gym-invitations', gymId],
    enabled: !!gymId,
    queryFn: () => unwrap(api.GET('/api/gyms/{id}/invitations', { params: { path: { id: gymId } } })),
  });
  return (
    <Card withBorder component="section" aria-labelledby="invitations-h">
      <Title order={2} size="h4" id="invitations-h" mb="xs">
        Invitations sent
      </Title>
      {q.isLoading ? <Loading /> : null}
      <ProblemAlert error={q.error} />
      {q.data && q.data.length === 0 ? <Text c="dimmed">No invitations sent yet.</Text> : null}
      {q.data && q.data.length > 0 ? (
        <div className="fs-scroll">
          <Table data-testid="invitations-table">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Email</Table.Th>
                <Table.Th>As</Table.Th>
                <Table.Th>Status</Table.Th>
                <Table.Th>Sent</Table.Th>
                <Table.Th>Open until</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {q.data.map((i) => {
                const status = invitationStatus(i);
                return (
                  <Table.Tr key={i.id} data-testid="invitation-row" data-id={i.id} data-status={status}>
                    <Table.Td>{i.email}</Table.Td>
                    <Table.Td>{i.role}</Table.Td>
                    <Table.Td>
                      <Badge variant="light" color={STATUS_COLOR[status]}>
                        {status}
                      </Badge>
                    </Table.Td>
                    <Table.Td>{formatDateTime(i.created_at, timeZone)}</Table.Td>
                    <Table.Td>{status === 'open' ? formatDateTime(i.expires_at, timeZone) : '—'}</Table.Td>
                  </Table.Tr>
                );
              })}
            </Table.Tbody>
          </Table>
        </div>
      ) : null}
    </Card>
  );
}
