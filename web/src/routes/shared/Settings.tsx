import { useEffect, useState } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { Alert, Badge, Button, Card, Checkbox, Group, NativeSelect, Stack, Table, Text, TextInput, Title } from '@mantine/core';
import { api, type Schemas } from '../../api/client';
import { ProblemError, unwrap } from '../../api/problem';
import { useMe } from '../../auth/AuthContext';
import { ProblemAlert } from '../../components/ProblemAlert';
import { Loading } from '../../components/Loading';
import { browserTimeZone } from '../../lib/time';

type Prefs = Schemas['NotificationPreferences'];
type Choices = Schemas['ChannelChoices'];
const CATEGORIES: (keyof Choices)[] = ['progress', 'attendance', 'bookings', 'feedback', 'reminders'];
const CHANNELS = ['email', 'sms', 'push'] as const;

function UnitSetting() {
  const qc = useQueryClient();
  const q = useQuery({ queryKey: ['workout-prefs'], queryFn: () => unwrap(api.GET('/api/workouts/preferences')), retry: false });
  const save = useMutation({
    mutationFn: (unit: 'kg' | 'lb') => unwrap(api.PUT('/api/workouts/preferences', { body: { unit } })),
    onSuccess: (d) => qc.setQueryData(['workout-prefs'], d),
  });
  if (q.isLoading) return <Loading />;
  if (q.error) return null;
  return (
    <Card withBorder component="section" aria-labelledby="unit-h">
      <Title order={2} size="h4" id="unit-h" mb="xs">
        Load unit
      </Title>
      <NativeSelect
        label="I read and enter loads in"
        value={q.data?.unit ?? 'kg'}
        onChange={(e) => save.mutate(e.currentTarget.value as 'kg' | 'lb')}
        data={[
          { value: 'kg', label: 'Kilograms (kg)' },
          { value: 'lb', label: 'Pounds (lb)' },
        ]}
        data-testid="unit-select"
        w={220}
      />
      <ProblemAlert error={save.error} />
    </Card>
  );
}

function NotificationSettings() {
  const qc = useQueryClient();
  const q = useQuery({ queryKey: ['notification-prefs'], queryFn: () => unwrap(api.GET('/api/notifications/preferences')) });
  const [draft, setDraft] = useState<Prefs | null>(null);
  useEffect(() => {
    if (q.data) setDraft(q.data);
  }, [q.data]);
  const save = useMutation({
    mutationFn: (body: Prefs) => unwrap(api.PUT('/api/notifications/preferences', { body })),
    onSuccess: (d) => qc.setQueryData(['notification-prefs'], d),
  });
  if (q.isLoading) return <Loading />;
  if (q.error || !draft) return <ProblemAlert error={q.error} />;
  const locale = draft.locale ?? { time_zone: browserTimeZone(), units: 'metric' as const };
  const quiet = draft.quiet_hours ?? null;
  return (
    <Card withBorder component="section" aria-labelledby="notif-h">
      <form
        onSubmit={(e) => {
          e.preventDefault();
          save.mutate({ ...draft, locale });
        }}
      >
        <Title order={2} size="h4" id="notif-h" mb="xs">
          Notifications
        </Title>
        <Group wrap="wrap" align="end">
          <TextInput
            label="Time zone (IANA)"
            value={locale.time_zone}
            onChange={(e) => {
              const v = e.currentTarget.value;
              setDraft((d) => (d ? { ...d, locale: { ...locale, time_zone: v } } : d));
            }}
            w={220}
          />
          <NativeSelect
            label="Units in alerts"
            value={locale.units}
            onChange={(e) => {
              const v = e.currentTarget.value as 'metric' | 'imperial';
              setDraft((d) => (d ? { ...d, locale: { ...locale, units: v } } : d));
            }}
            data={['metric', 'imperial']}
          />
        </Group>
        <div className="fs-scroll">
          <Table mt="sm" data-testid="channel-table">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Category</Table.Th>
                {CHANNELS.map((c) => (
                  <Table.Th key={c}>{c}</Table.Th>
                ))}
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {CATEGORIES.map((cat) => (
                <Table.Tr key={cat}>
                  <Table.Th scope="row">{cat}</Table.Th>
                  {CHANNELS.map((ch) => (
                    <Table.Td key={ch}>
                      <Checkbox
                        aria-label={`${cat} by ${ch}`}
                        checked={draft[ch][cat]}
                        onChange={(e) => {
                          const v = e.currentTarget.checked;
                          setDraft((d) => (d ? { ...d, [ch]: { ...d[ch], [cat]: v } } : d));
                        }}
                      />
                    </Table.Td>
                  ))}
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </div>
        <Title order={3} size="h5" mt="md">
          Quiet hours
        </Title>
        <Checkbox
          label="Hold external alerts during quiet hours"
          checked={!!quiet}
          onChange={(e) => {
            const on = e.currentTarget.checked;
            setDraft((d) => (d ? { ...d, quiet_hours: on ? { time_zone: locale.time_zone, starts: '22:00', ends: '07:00' } : null } : d));
          }}
          my="xs"
          data-testid="quiet-toggle"
        />
        {quiet ? (
          <Group wrap="wrap">
            <TextInput
              type="time"
              label="From"
              value={quiet.starts}
              onChange={(e) => {
                const v = e.currentTarget.value;
                setDraft((d) => (d && d.quiet_hours ? { ...d, quiet_hours: { ...d.quiet_hours, starts: v } } : d));
              }}
            />
            <TextInput
              type="time"
              label="Until"
              value={quiet.ends}
              onChange={(e) => {
                const v = e.currentTarget.value;
                setDraft((d) => (d && d.quiet_hours ? { ...d, quiet_hours: { ...d.quiet_hours, ends: v } } : d));
              }}
            />
            <TextInput
              label="Time zone"
              value={quiet.time_zone}
              onChange={(e) => {
                const v = e.currentTarget.value;
                setDraft((d) => (d && d.quiet_hours ? { ...d, quiet_hours: { ...d.quiet_hours, time_zone: v } } : d));
              }}
            />
          </Group>
        ) : null}
        <ProblemAlert error={save.error} />
        {save.isSuccess ? (
          <Alert color="green" mt="sm">
            Saved.
          </Alert>
        ) : null}
        <Button type="submit" mt="md" loading={save.isPending} data-testid="save-notifications">
          Save notification settings
        </Button>
      </form>
    </Card>
  );
}

/** The number alert texts go to: set it, type back the texted code, or remove it. */
function PhoneSetting() {
  const qc = useQueryClient();
  const q = useQuery({
    queryKey: ['phone'],
    // No number yet is a 404: shown as the empty form, not as an error.
    queryFn: async () => {
      try {
        return await unwrap(api.GET('/api/notifications/phone'));
      } catch (e) {
        if (e instanceof ProblemError && e.status === 404) return null;
        throw e;
      }
    },
  });
  const [number, setNumber] = useState('');
  const [code, setCode] = useState('');
  // The last action's refusal only: an older one must not hide (or outlive) it.
  const [error, setError] = useState<unknown>(null);
  const saved = (d: Schemas['Phone'] | null) => {
    setError(null);
    qc.setQueryData(['phone'], d);
  };
  const set = useMutation({
    mutationFn: () => unwrap(api.PUT('/api/notifications/phone', { body: { number: number.trim() } })),
    onMutate: () => setError(null),
    onError: setError,
    onSuccess: (d) => {
      saved(d);
      setNumber('');
      setCode('');
    },
  });
  const verify = useMutation({
    mutationFn: () => unwrap(api.POST('/api/notifications/phone/verify', { body: { code: code.trim() } })),
    onMutate: () => setError(null),
    onError: setError,
    onSuccess: saved,
  });
  const remove = useMutation({
    mutationFn: () => unwrap(api.DELETE('/api/notifications/phone')),
    onMutate: () => setError(null),
    onError: setError,
    onSuccess: () => saved(null),
  });
  if (q.isLoading) return <Loading />;
  const phone = q.data ?? null;
  return (
    <Card withBorder component="section" aria-labelledby="phone-h">
      <Title order={2} size="h4" id="phone-h" mb="xs">
        Phone for text alerts
      </Title>
      <ProblemAlert error={q.error ?? error} />
      {phone ? (
        <Group gap="xs" mb="xs" data-testid="phone-current" data-verified={phone.verified}>
          <Text>{phone.number}</Text>
          <Badge color={phone.verified ? 'green' : 'yellow'} variant="light">
            {phone.verified ? 'verified' : 'waiting for the code'}
          </Badge>
          <Button size="compact-sm" variant="subtle" color="red" onClick={() => remove.mutate()} loading={remove.isPending} data-testid="phone-remove">
            Remove
          </Button>
        </Group>
      ) : (
        <Text c="dimmed" size="sm" mb="xs">
          No number yet: texts are sent only to a number you have confirmed.
        </Text>
      )}
      {phone && !phone.verified ? (
        <form
          onSubmit={(e) => {
            e.preventDefault();
            verify.mutate();
          }}
        >
          <Group align="end" wrap="wrap">
            <TextInput label="Code we texted you" required inputMode="numeric" autoComplete="one-time-code" value={code} onChange={(e) => setCode(e.currentTarget.value)} w={180} data-testid="phone-code" />
            <Button type="submit" loading={verify.isPending} data-testid="phone-verify">
              Confirm
            </Button>
          </Group>
        </form>
      ) : null}
      <form
        onSubmit={(e) => {
          e.preventDefault();
          set.mutate();
        }}
      >
        <Group align="end" wrap="wrap" mt="xs">
          <TextInput
            label={phone ? 'A new number' : 'Number'}
            description="International format, e.g. +4915112345678"
            type="tel"
            required
            autoComplete="tel"
            value={number}
            onChange={(e) => setNumber(e.currentTarget.value)}
            w={240}
            data-testid="phone-number"
          />
          <Button type="submit" loading={set.isPending} data-testid="phone-send">
            Text me a code
          </Button>
        </Group>
      </form>
    </Card>
  );
}

export default function Settings() {
  const me = useMe();
  return (
    <Stack>
      <Title order={1} size="h2">
        Settings
      </Title>
      {me.role === 'client' || me.role === 'trainer' ? <UnitSetting /> : null}
      <NotificationSettings />
      <PhoneSetting />
    </Stack>
  );
}
