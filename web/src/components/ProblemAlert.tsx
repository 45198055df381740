import { Alert } from '@mantine/core';
import { toProblem } from '../api/problem';

/** Shows a failed request's problem JSON title and detail; never a blank screen. */
export function ProblemAlert({ error, title }: { error: unknown; title?: string }) {
  if (!error) return null;
  const p = toProblem(error);
  return (
    <Alert color="red" variant="light" role="alert" data-testid="problem" title={title ?? p.title} my="sm">
      {title ? <strong>{p.title}. </strong> : null}
      {p.detail ?? (p.status ? `HTTP ${p.status}` : null)}
      {p.errors && p.errors.length > 0 ? (
        <ul style={{ margin: '0.25rem 0 0', paddingLeft: '1.25rem' }}>
          {p.errors.map((e, i) => (
            <li key={i}>
              {e.field ? <code>{String(e.field)}</code> : null} {e.message ? String(e.message) : JSON.stringify(e)}
            </li>
          ))}
        </ul>
      ) : null}
    </Alert>
  );
}
