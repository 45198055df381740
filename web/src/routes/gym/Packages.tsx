import { useState } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { Alert, Button, Card, Group, NumberInput, Stack, Table, Text, TextInput, Title } from '@mantine/core';
import { api, type Schemas } from '../../api/client';
import { unwrap } from '../../api/problem';
import { useMe } from '../../auth/AuthContext';
import { ProblemAlert } from '../../components/ProblemAlert';
import { Loading } from '../../components/Loading';

type Package = Schemas['Package'];

/** A price typed in the currency's main unit ("19.99") → integer cents (1999); null if not a price. */
export function toCents(price: string | number): number | null {
  const text = String(price).trim().replace(',', '.');
  if (!/^\d+(\.\d{0,2})?$/.test(text)) return null;
  const [whole, frac = ''] = text.split('.') as [string, string?];
  // Integer arithmetic: 0.29 * 100 is 28.999… in floating point.
  return Number(whole) * 100 + Number((frac + '00').slice(0, 2));
}

/** Cents in a currency, for display ("€450.00"); the code alone if Intl does not know it. */
export function formatPrice(cents: number, currency: string): string {
  try {
    return new Intl.NumberFormat(undefined, { style: 'currency', currency }).format(cents / 100);
  } catch {
    return `${(cents / 100).toFixed(2)} ${currency}`;
  }
}

function PackageList({ gymId }: { gymId: string }) {
  const q = useQuery({
    queryKey: ['packages', gymId],
    queryFn: () => unwrap(api.GET('/api/packages', { params: { query: { owner_id: gymId } } })),
  });
  return (
    <Card withBorder component="section" aria-labelledby="packages-h">
      <Title order={2} size="h4" id="packages-h" mb="xs">
        Packages on sale
      </Title>
      {q.isLoading ? <Loading /> : null}
      <ProblemAlert error={q.error} />
      {q.data && q.data.length === 0 ? <Text c="dimmed" data-testid="packages-empty">No packages yet.</Text> : null}
      {q.data && q.data.length > 0 ? (
        <div className="fs-scroll">
          <Table data-testid="packages-table">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Name</Table.Th>
                <Table.Th>Credits</Table.Th>
                <Table.Th>Valid (days)</Table.Th>
                <Table.Th>Price</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {q.data.map((p: Package) => (
                <Table.Tr key={p.id} data-testid="package-row" data-package-id={p.id}>
                  <Table.Td data-testid="package-name">{p.name}</Table.Td>
                  <Table.Td data-testid="package-sessions">{p.sessions}</Table.Td>
                  <Table.Td data-testid="package-validity">{p.validity_days}</Table.Td>
                  <Table.Td data-testid="package-price" data-cents={p.price_cents} data-currency={p.currency}>
                    {formatPrice(p.price_cents, p.currency)}
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </div>
      ) : null}
    </Card>
  );
}

function NewPackage({ gymId }: { gymId: string }) {
  const qc = useQueryClient();
  const [name, setName] = useState('');
  const [sessions, setSessions] = useState<string | number>(10);
  const [validity, setValidity] = useState<string | number>(90);
  const [price, setPrice] = useState<string | number>('');
  const [currency, setCurrency] = useState('EUR');
  const cents = toCents(price);
  const create = useMutation({
    mutationFn: () =>
      unwrap(
        api.POST('/api/packages', {
          body: {
            name: name.trim(),
            sessions: Number(sessions),
            validity_days: Number(validity),
            price_cents: cents ?? 0,
            currency: currency.trim().toUpperCase(),
          },
        }),
      ),
    onSuccess: (p) => {
      qc.setQueryData<Package[]>(['packages', gymId], (old) => (old ? [...old.filter((o) => o.id !== p.id), p] : old));
      void qc.invalidateQueries({ queryKey: ['packages', gymId] });
      setName('');
      setPrice('');
    },
  });
  return (
    <Card withBorder component="section" aria-labelledby="new-package-h">
      <form
        data-testid="package-form"
        onSubmit={(e) => {
          e.preventDefault();
          if (cents != null) create.mutate();
        }}
      >
        <Title order={2} size="h4" id="new-package-h" mb="xs">
          New package
        </Title>
        <Group wrap="wrap" align="end" gap="xs">
          <TextInput label="Name" required maxLength={120} value={name} onChange={(e) => setName(e.currentTarget.value)} w={220} data-testid="package-form-name" />
          <NumberInput label="Credits" required min={1} max={1000} allowDecimal={false} value={sessions} onChange={setSessions} w={100} data-testid="package-form-sessions" />
          <NumberInput label="Valid for (days)" required min={1} max={1095} allowDecimal={false} value={validity} onChange={setValidity} w={130} data-testid="package-form-validity" />
          <TextInput
            label="Price"
            required
            inputMode="decimal"
            placeholder="450.00"
            value={String(price)}
            onChange={(e) => setPrice(e.currentTarget.value)}
            error={String(price).trim() !== '' && cents == null ? 'A price like 450 or 450.00' : undefined}
            w={120}
            data-testid="package-form-price"
          />
          <TextInput
            label="Currency"
            required
            maxLength={3}
            value={currency}
            onChange={(e) => setCurrency(e.currentTarget.value.toUpperCase())}
            w={90}
            data-testid="package-form-currency"
          />
          <Button type="submit" loading={create.isPending} disabled={cents == null} data-testid="package-form-submit">
            Create package
          </Button>
        </Group>
        <ProblemAlert error={create.error} />
        {create.data ? (
          <Alert color="green" mt="sm" data-testid="package-created" data-package-id={create.data.id}>
            Created “{create.data.name}”.
          </Alert>
        ) : null}
      </form>
    </Card>
  );
}

export default function GymPackages() {
  const me = useMe();
  if (!me.gym_id) return <Text>You do not belong to a gym.</Text>;
  return (
    <Stack>
      <Title order={1} size="h2">
        Packages
      </Title>
      <PackageList gymId={me.gym_id} />
      <NewPackage gymId={me.gym_id} />
    </Stack>
  );
}
