import { useState } from 'react';
import { useParams } from 'react-router-dom';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { Button, Card, Group, Modal, Stack, Table, Text, Textarea, Title } from '@mantine/core';
import { api, type Schemas } from '../../api/client';
import { unwrap } from '../../api/problem';
import { usePrefs } from '../../auth/AuthContext';
import { ProgressDashboard } from '../../components/ProgressDashboard';
import { ProblemAlert } from '../../components/ProblemAlert';
import { Loading } from '../../components/Loading';
import { useUserNames } from '../../lib/useUserNames';
import { formatDateTime } from '../../lib/time';
import { formatLoad } from '../../lib/units';
import { prettySlug } from '../../lib/format';

type Workout = Schemas['Workout'];

function WorkoutModal({ workout, onClose }: { workout: Workout; onClose: () => void }) {
  const qc = useQueryClient();
  const { unit, timeZone } = usePrefs();
  const [body, setBody] = useState('');
  const detail = useQuery({
    queryKey: ['workout', workout.id],
    queryFn: () => unwrap(api.GET('/api/workouts/{id}', { params: { path: { id: workout.id } } })),
  });
  const comment = useMutation({
    mutationFn: () => unwrap(api.POST('/api/workouts/{id}/comments', { params: { path: { id: workout.id } }, body: { body } })),
    onSuccess: () => {
      setBody('');
      void qc.invalidateQueries({ queryKey: ['workout', workout.id] });
    },
  });
  const d = detail.data;
  const sets = d ? [...d.slots.flatMap((s) => s.sets), ...d.other_sets] : [];
  return (
    <Modal opened onClose={onClose} title={`Workout on ${formatDateTime(workout.started_at, timeZone)}`} size="lg">
      {detail.isLoading ? <Loading /> : null}
      <ProblemAlert error={detail.error} />
      {d ? (
        <Stack>
          {d.planned ? <Text fw={600}>{d.planned.name}</Text> : <Text c="dimmed">Ad hoc session</Text>}
          <div className="fs-scroll">
            <Table>
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>Exercise</Table.Th>
                  <Table.Th>Reps</Table.Th>
                  <Table.Th>Load</Table.Th>
                  <Table.Th>RIR</Table.Th>
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {sets.map((s) => (
                  <Table.Tr key={s.id}>
                    <Table.Td>{prettySlug(s.exercise)}</Table.Td>
                    <Table.Td>{s.reps}</Table.Td>
                    <Table.Td>{formatLoad(s.weight_kg, unit)}</Table.Td>
                    <Table.Td>{s.rir ?? '–'}</Table.Td>
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          </div>
          <Title order={3} size="h5">
            Comments
          </Title>
          {d.comments.length === 0 ? <Text c="dimmed">No comments yet.</Text> : null}
          {d.comments.map((c) => (
            <Card key={c.id} withBorder padding="xs" data-testid="workout-comment">
              <Text size="sm">{c.body}</Text>
              <Text size="xs" c="dimmed">
                {formatDateTime(c.created_at, timeZone)}
              </Text>
            </Card>
          ))}
          <form
            onSubmit={(e) => {
              e.preventDefault();
              comment.mutate();
            }}
          >
            <Textarea label="Add a comment" value={body} onChange={(e) => setBody(e.currentTarget.value)} required maxLength={2000} autosize minRows={2} />
            <ProblemAlert error={comment.error} />
            <Button type="submit" mt="xs" loading={comment.isPending} data-testid="post-comment">
              Post comment
            </Button>
          </form>
        </Stack>
      ) : null}
    </Modal>
  );
}

function Workouts({ clientId }: { clientId: string }) {
  const { timeZone } = usePrefs();
  const [open, setOpen] = useState<Workout | null>(null);
  const q = useQuery({
    queryKey: ['workouts', clientId],
    queryFn: () => unwrap(api.GET('/api/workouts', { params: { query: { client_id: clientId } } })),
  });
  return (
    <Card withBorder component="section" aria-labelledby="workouts-h">
      <Title order={2} size="h4" id="workouts-h" mb="xs">
        Recent workouts
      </Title>
      {q.isLoading ? <Loading /> : null}
      <ProblemAlert error={q.error} />
      {q.data && q.data.length === 0 ? <Text c="dimmed">No workouts yet.</Text> : null}
      <Stack gap={4}>
        {(q.data ?? []).slice(0, 10).map((w) => (
          <Group key={w.id} justify="space-between" wrap="nowrap">
            <Text size="sm">{formatDateTime(w.started_at, timeZone)}</Text>
            <Button size="compact-sm" variant="light" onClick={() => setOpen(w)} data-testid="open-workout">
              View & comment
            </Button>
          </Group>
        ))}
      </Stack>
      {open ? <WorkoutModal workout={open} onClose={() => setOpen(null)} /> : null}
    </Card>
  );
}

export default function TrainerClient() {
  const { clientId = '' } = useParams();
  const names = useUserNames([clientId]);
  return (
    <Stack>
      <Title order={1} size="h2">
        {names[clientId]}
      </Title>
      <ProgressDashboard clientId={clientId} />
      <Workouts clientId={clientId} />
    </Stack>
  );
}
