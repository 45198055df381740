import { useState, type FormEvent } from 'react';
import { useNavigate, useSearchParams } from 'react-router-dom';
import { Button, Container, Paper, PasswordInput, Stack, TextInput, Title, Text } from '@mantine/core';
import { signIn } from '../api/session';
import { useAuth, roleHome } from '../auth/AuthContext';
import { ProblemAlert } from '../components/ProblemAlert';
import { toProblem } from '../api/problem';

export function SignIn() {
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const { loadMe } = useAuth();
  const navigate = useNavigate();
  const [params] = useSearchParams();

  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const s = await signIn(email.trim(), password);
      await loadMe();
      const next = params.get('next');
      // Only a path of this app: not `//host` nor `/\host`, which browsers read as another origin.
      navigate(next && /^\/(?![/\\])/.test(next) ? next : roleHome(s.role), { replace: true });
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }

  return (
    <Container size={420} py="xl" component="main">
      <Title order={1} ta="center">
        FitSync
      </Title>
      <Text c="dimmed" ta="center" mb="md">
        Sign in to your training
      </Text>
      <Paper withBorder p="lg" radius="md">
        <form onSubmit={submit} aria-label="Sign in">
          <Stack>
            <TextInput
              label="Email"
              type="email"
              autoComplete="username"
              required
              value={email}
              onChange={(e) => setEmail(e.currentTarget.value)}
              data-testid="signin-email"
            />
            <PasswordInput
              label="Password"
              autoComplete="current-password"
              required
              value={password}
              onChange={(e) => setPassword(e.currentTarget.value)}
              data-testid="signin-password"
            />
            <ProblemAlert error={error} title={error && toProblem(error).status === 401 ? 'Wrong email or password' : undefined} />
            <Button type="submit" loading={busy} data-testid="signin-submit">
              Sign in
            </Button>
          </Stack>
        </form>
      </Paper>
    </Container>
  );
}
