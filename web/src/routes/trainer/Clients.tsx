import { useQuery } from '@tanstack/react-query';
import { Link } from 'react-router-dom';
import { Anchor, Badge, Group, Stack, Table, Text, Title } from '@mantine/core';
import { api, type Schemas } from '../../api/client';
import { unwrap } from '../../api/problem';
import { useMe } from '../../auth/AuthContext';
import { ProblemAlert } from '../../components/ProblemAlert';
import { Loading } from '../../components/Loading';
import { useUserNames } from '../../lib/useUserNames';
import { pct } from '../../lib/format';

type AtRisk = Schemas['AtRisk'];

const REASON_LABEL: Record<string, string> = {
  low_adherence: 'Low adherence',
  adherence_drop: 'Adherence drop',
  inactive: 'Inactive',
  no_shows: 'No-shows',
  workload_spike: 'Workload spike (ACWR)',
  plateau: 'Plateau',
};

/** Most urgent first: by score, then by how many signals fire. */
export function sortByUrgency(list: AtRisk[]): AtRisk[] {
  return [...list].sort((a, b) => b.score - a.score || b.reasons.length - a.reasons.length);
}

function urgencyColor(score: number): string {
  if (score >= 50) return 'red';
  if (score >= 25) return 'orange';
  if (score >= 10) return 'yellow';
  return 'green';
}

export default function TrainerClients() {
  const me = useMe();
  const q = useQuery({
    queryKey: ['at-risk', me.id],
    queryFn: () => unwrap(api.GET('/api/analytics/trainers/{trainer_id}/at-risk', { params: { path: { trainer_id: me.id } } })),
  });
  const plateaus = useQuery({
    queryKey: ['trainer-plateaus', me.id, q.data?.clients.map((c) => c.client_id).join(',')],
    enabled: !!q.data,
    queryFn: async () => {
      const entries = await Promise.all(
        (q.data?.clients ?? []).map(async (c) => {
          const r = await api.GET('/api/progress/{client_id}/plateaus', { params: { path: { client_id: c.client_id } } });
          return [c.client_id, (r.data?.exercises ?? []).filter((e) => e.plateau).length] as const;
        }),
      );
      return Object.fromEntries(entries) as Record<string, number>;
    },
  });
  const clients = sortByUrgency(q.data?.clients ?? []);
  const names = useUserNames(clients.map((c) => c.client_id));
  return (
    <Stack>
      <Title order={1} size="h2">
        Clients
      </Title>
      <Text size="sm" c="dimmed">
        Sorted by urgency{q.data ? ` (as of ${q.data.as_of})` : ''}.
      </Text>
      {q.isLoading ? <Loading /> : null}
      <ProblemAlert error={q.error} />
      {q.data && clients.length === 0 ? <Text>No clients yet.</Text> : null}
      {clients.length > 0 ? (
        <div className="fs-scroll">
          <Table data-testid="at-risk-table" highlightOnHover>
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Client</Table.Th>
                <Table.Th>Risk</Table.Th>
                <Table.Th>Signals</Table.Th>
                <Table.Th>Adherence 7 d / 30 d</Table.Th>
                <Table.Th>No-shows (30 d)</Table.Th>
                <Table.Th>Last trained</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {clients.map((c) => {
                const plateauCount = plateaus.data?.[c.client_id] ?? 0;
                return (
                  <Table.Tr key={c.client_id} data-testid="at-risk-row" data-score={c.score.toFixed(1)}>
                    <Table.Td>
                      <Anchor component={Link} to={`/trainer/clients/${c.client_id}`}>
                        {names[c.client_id]}
                      </Anchor>
                    </Table.Td>
                    <Table.Td>
                      <Badge color={urgencyColor(c.score)}>{c.score.toFixed(0)}</Badge>
                    </Table.Td>
                    <Table.Td>
                      <Group gap={4}>
                        {c.reasons.map((r) => (
                          <Badge key={r} size="sm" variant="light" color="orange">
                            {REASON_LABEL[r] ?? r}
                          </Badge>
                        ))}
                        {c.workload_flagged && !c.reasons.includes('workload_spike') ? (
                          <Badge size="sm" variant="light" color="orange">
                            ACWR flagged
                          </Badge>
                        ) : null}
                        {plateauCount > 0 ? (
                          <Badge size="sm" variant="light" color="grape">
                            Plateau ×{plateauCount}
                          </Badge>
                        ) : null}
                        {c.reasons.length === 0 && !c.workload_flagged && plateauCount === 0 ? <Text size="sm">–</Text> : null}
                      </Group>
                    </Table.Td>
                    <Table.Td>
                      {pct(c.adherence_7_percent)} / {pct(c.adherence_30_percent)}
                    </Table.Td>
                    <Table.Td>{c.no_shows_30}</Table.Td>
                    <Table.Td>{c.days_since_training == null ? 'never' : `${c.days_since_training} d ago`}</Table.Td>
                  </Table.Tr>
                );
              })}
            </Table.Tbody>
          </Table>
        </div>
      ) : null}
    </Stack>
  );
}
