import { useState } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { Button, Card, Group, NativeSelect, NumberInput, Progress, SimpleGrid, Stack, Table, Text, TextInput, Title } from '@mantine/core';
import { api, type Schemas } from '../../api/client';
import { unwrap } from '../../api/problem';
import { useMe, usePrefs } from '../../auth/AuthContext';
import { ProblemAlert } from '../../components/ProblemAlert';
import { Loading } from '../../components/Loading';
import { localDate } from '../../lib/time';

type Macros = Schemas['Macros'];
const MACROS: { key: keyof Macros; label: string; unit: string }[] = [
  { key: 'kcal', label: 'Energy', unit: 'kcal' },
  { key: 'protein_g', label: 'Protein', unit: 'g' },
  { key: 'carbs_g', label: 'Carbs', unit: 'g' },
  { key: 'fat_g', label: 'Fat', unit: 'g' },
  { key: 'fiber_g', label: 'Fiber', unit: 'g' },
];

function sum(entries: { eaten: Macros }[]): Macros {
  const t: Macros = { kcal: 0, protein_g: 0, carbs_g: 0, fat_g: 0, fiber_g: 0 };
  for (const e of entries) for (const m of MACROS) t[m.key] += e.eaten[m.key];
  return t;
}

export default function Diet() {
  const me = useMe();
  const { timeZone } = usePrefs();
  const qc = useQueryClient();
  const [date, setDate] = useState(() => localDate(new Date(), timeZone));
  const assignments = useQuery({ queryKey: ['diet-assignments'], queryFn: () => unwrap(api.GET('/api/diets/assignments')) });
  const active = assignments.data?.find((a) => a.status === 'active');
  const targets = active?.document.targets;
  const log = useQuery({
    queryKey: ['food-log', me.id, date],
    queryFn: () => unwrap(api.GET('/api/diets/log', { params: { query: { date } } })),
  });
  const planFoods = (active?.document.meals ?? []).flatMap((m) => m.items.map((i) => ({ ...i, meal: m.name })));
  const [food, setFood] = useState('');
  const [meal, setMeal] = useState('Breakfast');
  const [grams, setGrams] = useState<string | number>(100);
  const [per, setPer] = useState<Macros>({ kcal: 0, protein_g: 0, carbs_g: 0, fat_g: 0, fiber_g: 0 });
  const add = useMutation({
    mutationFn: () =>
      unwrap(api.POST('/api/diets/log', { body: { date, meal, food, grams: Number(grams) || 0, per_100g: per } })),
    onSuccess: () => {
      setFood('');
      void qc.invalidateQueries({ queryKey: ['food-log'] });
    },
  });
  const del = useMutation({
    mutationFn: (id: string) => unwrap(api.DELETE('/api/diets/log/{id}', { params: { path: { id } } })),
    onSuccess: () => qc.invalidateQueries({ queryKey: ['food-log'] }),
  });
  const totals = sum(log.data ?? []);
  return (
    <Stack>
      <Title order={1} size="h2">
        Diet
      </Title>
      <ProblemAlert error={assignments.error} />
      <Group>
        <TextInput type="date" label="Day" value={date} onChange={(e) => setDate(e.currentTarget.value)} />
      </Group>
      <Card withBorder component="section" aria-labelledby="targets-h">
        <Title order={2} size="h4" id="targets-h" mb="xs">
          {active ? `Targets: ${active.document.name}` : 'Targets'}
        </Title>
        {assignments.isLoading ? <Loading /> : null}
        {assignments.data && !targets ? <Text c="dimmed">No diet assigned.</Text> : null}
        <SimpleGrid cols={{ base: 1, xs: 2, md: 5 }}>
          {MACROS.map((m) => {
            const target = targets?.[m.key];
            const value = totals[m.key];
            return (
              <div key={m.key} data-testid={`macro-${m.key}`}>
                <Text size="sm">
                  {m.label}: {value.toFixed(0)}
                  {target ? ` / ${target.toFixed(0)}` : ''} {m.unit}
                </Text>
                {target ? (
                  <Progress value={Math.min(100, (value / target) * 100)} aria-label={`${m.label} ${value.toFixed(0)} of ${target.toFixed(0)} ${m.unit}`} />
                ) : null}
              </div>
            );
          })}
        </SimpleGrid>
      </Card>
      <Card withBorder component="section" aria-labelledby="log-h">
        <Title order={2} size="h4" id="log-h" mb="xs">
          Food log
        </Title>
        {log.isLoading ? <Loading /> : null}
        <ProblemAlert error={log.error ?? del.error} />
        {log.data && log.data.length === 0 ? <Text c="dimmed">Nothing logged on this day.</Text> : null}
        {log.data && log.data.length > 0 ? (
          <div className="fs-scroll">
            <Table data-testid="food-log">
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>Meal</Table.Th>
                  <Table.Th>Food</Table.Th>
                  <Table.Th>Grams</Table.Th>
                  <Table.Th>kcal</Table.Th>
                  <Table.Th>Protein</Table.Th>
                  <Table.Th>
                    <span className="visually-hidden">Actions</span>
                  </Table.Th>
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {log.data.map((e) => (
                  <Table.Tr key={e.id}>
                    <Table.Td>{e.meal ?? '–'}</Table.Td>
                    <Table.Td>{e.food}</Table.Td>
                    <Table.Td>{e.grams}</Table.Td>
                    <Table.Td>{e.eaten.kcal.toFixed(0)}</Table.Td>
                    <Table.Td>{e.eaten.protein_g.toFixed(1)} g</Table.Td>
                    <Table.Td>
                      <Button size="compact-sm" variant="light" color="red" onClick={() => del.mutate(e.id)} aria-label={`Delete ${e.food}`}>
                        Delete
                      </Button>
                    </Table.Td>
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          </div>
        ) : null}
        <form
          onSubmit={(e) => {
            e.preventDefault();
            add.mutate();
          }}
          aria-label="Log a food"
        >
          <Title order={3} size="h5" mt="md">
            Log a food
          </Title>
          {planFoods.length > 0 ? (
            <NativeSelect
              label="From your plan"
              value=""
              onChange={(e) => {
                const f = planFoods[Number(e.currentTarget.value)];
                if (f) {
                  setFood(f.food);
                  setMeal(f.meal);
                  setGrams(f.grams);
                  setPer(f.per_100g);
                }
              }}
              data={[{ value: '', label: 'Pick a planned food…' }, ...planFoods.map((f, i) => ({ value: String(i), label: `${f.meal}: ${f.food}` }))]}
            />
          ) : null}
          <Group align="end" wrap="wrap" gap="xs" mt="xs">
            <TextInput label="Meal" value={meal} onChange={(e) => setMeal(e.currentTarget.value)} w={130} />
            <TextInput label="Food" required value={food} onChange={(e) => setFood(e.currentTarget.value)} w={180} />
            <NumberInput label="Grams" min={0} max={5000} value={grams} onChange={setGrams} w={90} />
            {MACROS.map((m) => (
              <NumberInput
                key={m.key}
                label={`${m.label}/100 g`}
                min={0}
                decimalScale={1}
                value={per[m.key]}
                onChange={(v) => setPer((p) => ({ ...p, [m.key]: Number(v) || 0 }))}
                w={110}
              />
            ))}
            <Button type="submit" loading={add.isPending}>
              Add
            </Button>
          </Group>
          <ProblemAlert error={add.error} />
        </form>
      </Card>
    </Stack>
  );
}
