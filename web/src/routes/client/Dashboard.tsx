import { Stack, Title } from '@mantine/core';
import { useMe } from '../../auth/AuthContext';
import { ProgressDashboard } from '../../components/ProgressDashboard';

export default function ClientDashboard() {
  const me = useMe();
  return (
    <Stack>
      <Title order={1} size="h2">
        My progress
      </Title>
      <ProgressDashboard clientId={me.id} />
    </Stack>
  );
}
