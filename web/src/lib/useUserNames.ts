import { useQueries } from '@tanstack/react-query';
import { api } from '../api/client';
import { unwrap } from '../api/problem';

/** Display names of users by id (falls back to a short id). */
export function useUserNames(ids: string[]): Record<string, string> {
  const results = useQueries({
    queries: ids.map((id) => ({
      queryKey: ['user', id],
      queryFn: () => unwrap(api.GET('/api/users/{id}', { params: { path: { id } } })),
      staleTime: 10 * 60_000,
      retry: false,
    })),
  });
  const out: Record<string, string> = {};
  ids.forEach((id, i) => {
    out[id] = results[i]?.data?.display_name ?? `Client ${id.slice(-6)}`;
  });
  return out;
}
