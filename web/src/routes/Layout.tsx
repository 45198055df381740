import { Suspense } from 'react';
import { NavLink as RouterNavLink, Outlet } from 'react-router-dom';
import { AppShell, Badge, Burger, Button, Group, NavLink, Stack, Text, Title } from '@mantine/core';
import { useDisclosure } from '@mantine/hooks';
import { useAuth, useMe } from '../auth/AuthContext';
import { InboxProvider, useInbox } from '../notifications/InboxContext';
import { Loading } from '../components/Loading';

interface NavItem {
  to: string;
  label: string;
  id: string;
  inbox?: boolean;
}

const NAV: Record<string, NavItem[]> = {
  client: [
    { to: '/client', label: 'Dashboard', id: 'dashboard' },
    { to: '/client/workout', label: "Today's workout", id: 'workout' },
    { to: '/client/bookings', label: 'Sessions & booking', id: 'bookings' },
    { to: '/client/diet', label: 'Diet & food log', id: 'diet' },
    { to: '/inbox', label: 'Inbox', id: 'inbox', inbox: true },
    { to: '/settings', label: 'Settings', id: 'settings' },
  ],
  trainer: [
    { to: '/trainer', label: 'Clients', id: 'clients' },
    { to: '/inbox', label: 'Alerts', id: 'inbox', inbox: true },
    { to: '/trainer/programs', label: 'Programs', id: 'programs' },
    { to: '/trainer/schedule', label: 'Availability & bookings', id: 'schedule' },
    { to: '/settings', label: 'Settings', id: 'settings' },
  ],
  gym: [
    { to: '/gym', label: 'KPIs', id: 'kpis' },
    { to: '/gym/members', label: 'Members & trainers', id: 'members' },
    { to: '/gym/setup', label: 'Session types & rooms', id: 'setup' },
    { to: '/gym/packages', label: 'Packages', id: 'packages' },
    { to: '/inbox', label: 'Inbox', id: 'inbox', inbox: true },
    { to: '/settings', label: 'Settings', id: 'settings' },
  ],
};

export function navFor(role: string): NavItem[] {
  return NAV[role === 'admin' ? 'gym' : role] ?? [];
}

function UnreadBadge() {
  const { unread } = useInbox();
  return (
    <Badge
      size="sm"
      color={unread > 0 ? 'red' : 'gray'}
      variant={unread > 0 ? 'filled' : 'light'}
      circle={unread < 10}
      data-testid="unread-badge"
      data-count={unread}
      aria-label={`${unread} unread`}
    >
      {unread}
    </Badge>
  );
}

function Shell() {
  const me = useMe();
  const { signOut, signOutEverywhere } = useAuth();
  const [opened, { toggle, close }] = useDisclosure(false);
  const items = navFor(me.role);
  return (
    <AppShell header={{ height: 56 }} navbar={{ width: 240, breakpoint: 'sm', collapsed: { mobile: !opened } }} padding="md">
      <AppShell.Header>
        <Group h="100%" px="md" justify="space-between" wrap="nowrap">
          <Group gap="xs" wrap="nowrap">
            <Burger opened={opened} onClick={toggle} hiddenFrom="sm" size="sm" aria-label="Toggle navigation" />
            <Title order={2} size="h4">
              FitSync
            </Title>
          </Group>
          <Group gap="xs" wrap="nowrap" style={{ minWidth: 0 }}>
            <Text size="sm" truncate visibleFrom="xs">
              {me.display_name}
            </Text>
            <Badge variant="light" data-testid="user-role">
              {me.role}
            </Badge>
          </Group>
        </Group>
      </AppShell.Header>
      <AppShell.Navbar p="xs" aria-label="Main navigation">
        <Stack gap={2} style={{ flex: 1 }} component="nav">
          {items.map((it) => (
            <NavLink
              key={it.id}
              component={RouterNavLink}
              to={it.to}
              end
              label={it.label}
              onClick={close}
              data-testid={`nav-${it.id}`}
              rightSection={it.inbox ? <UnreadBadge /> : undefined}
            />
          ))}
        </Stack>
        <Stack gap="xs" mt="md">
          <Button variant="default" onClick={() => void signOut()} data-testid="nav-signout">
            Sign out
          </Button>
          <Button variant="subtle" color="red" onClick={() => void signOutEverywhere()} data-testid="nav-signout-all">
            Sign out everywhere
          </Button>
        </Stack>
      </AppShell.Navbar>
      <AppShell.Main>
        <Suspense fallback={<Loading />}>
          <Outlet />
        </Suspense>
      </AppShell.Main>
    </AppShell>
  );
}

export default function Layout() {
  return (
    <InboxProvider>
      <Shell />
    </InboxProvider>
  );
}
