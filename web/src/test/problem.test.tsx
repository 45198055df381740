import { describe, expect, it } from 'vitest';
import { screen } from '@testing-library/react';
import { renderUi } from './render';
import { ProblemAlert } from '../components/ProblemAlert';
import { ProblemError, unwrap } from '../api/problem';

describe('problem JSON display', () => {
  it('shows the title and the detail in a role=alert', () => {
    const err = new ProblemError({
      type: 'https://fitsync.dev/problems/conflict',
      title: 'Conflict',
      status: 409,
      detail: 'The session has started',
    });
    renderUi(<ProblemAlert error={err} />);
    const alert = screen.getByRole('alert');
    expect(alert).toHaveAttribute('data-testid', 'problem');
    expect(alert).toHaveTextContent('Conflict');
    expect(alert).toHaveTextContent('The session has started');
  });

  it('lists field errors of a 422', () => {
    renderUi(
      <ProblemAlert
        error={new ProblemError({ type: 'x', title: 'Unprocessable Entity', status: 422, errors: [{ field: 'reps', message: 'must be at least 1' }] })}
      />,
    );
    expect(screen.getByRole('alert')).toHaveTextContent('reps must be at least 1');
  });

  it('renders nothing without an error', () => {
    const { container } = renderUi(<ProblemAlert error={null} />);
    expect(container.querySelector('[data-testid="problem"]')).toBeNull();
  });

  it('unwrap throws the problem of a failed call, and a status title for a non-JSON one', async () => {
    const res = new Response(null, { status: 502, statusText: 'Bad Gateway' });
    await expect(
      unwrap(Promise.resolve({ error: { type: 't', title: 'Not Found', status: 404, detail: 'No such booking' }, response: new Response(null, { status: 404 }) })),
    ).rejects.toMatchObject({ problem: { title: 'Not Found', detail: 'No such booking', status: 404 } });
    await expect(unwrap(Promise.resolve({ error: '', response: res }))).rejects.toMatchObject({ problem: { title: 'Bad Gateway', status: 502 } });
    await expect(unwrap(Promise.reject(new TypeError('Failed to fetch')))).rejects.toMatchObject({ problem: { title: 'Network error' } });
  });
});
