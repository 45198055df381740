import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from 'react';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { api, type Schemas } from '../api/client';
import { unwrap } from '../api/problem';
import { csrfToken } from '../api/csrf';
import { onSessionChange, refreshSession, resumeSession, signOut, signOutEverywhere, type Role } from '../api/session';
import type { Unit } from '../lib/units';
import { browserTimeZone } from '../lib/time';

export type User = Schemas['User'];

type AuthState = { status: 'loading' } | { status: 'signedOut' } | { status: 'signedIn'; me: User };

interface AuthValue {
  state: AuthState;
  /** Loads /api/users/me after a sign-in. */
  loadMe: () => Promise<void>;
  signOut: () => Promise<void>;
  signOutEverywhere: () => Promise<void>;
}

const Ctx = createContext<AuthValue | null>(null);

async function fetchMe(): Promise<User | null> {
  const res = await api.GET('/api/users/me');
  if (res.response.status === 401) return null;
  return unwrap(Promise.resolve(res));
}

export function AuthProvider({ children }: { children: ReactNode }) {
  const [state, setState] = useState<AuthState>({ status: 'loading' });
  const qc = useQueryClient();

  const loadMe = useCallback(async () => {
    try {
      const me = await fetchMe();
      setState(me ? { status: 'signedIn', me } : { status: 'signedOut' });
    } catch {
      setState({ status: 'signedOut' });
    }
  }, []);

  useEffect(() => {
    let alive = true;
    (async () => {
      // A reload: if the access cookie may have run out (or nobody knows), rotate the
      // session first; either way the next refresh is scheduled.
      if (csrfToken() && !resumeSession()) await refreshSession().catch(() => null);
      if (alive) await loadMe();
    })();
    const off = onSessionChange((s) => {
      if (!s) {
        qc.clear();
        setState({ status: 'signedOut' });
      }
    });
    return () => {
      alive = false;
      off();
    };
  }, [loadMe, qc]);

  const value = useMemo<AuthValue>(
    () => ({
      state,
      loadMe,
      signOut: async () => {
        await signOut().catch(() => undefined);
        qc.clear();
        setState({ status: 'signedOut' });
      },
      signOutEverywhere: async () => {
        await signOutEverywhere();
        qc.clear();
        setState({ status: 'signedOut' });
      },
    }),
    [state, loadMe, qc],
  );
  return <Ctx.Provider value={value}>{children}</Ctx.Provider>;
}

export function useAuth(): AuthValue {
  const v = useContext(Ctx);
  if (!v) throw new Error('useAuth outside AuthProvider');
  return v;
}

/** The signed-in user (only under a signed-in layout). */
export function useMe(): User {
  const { state } = useAuth();
  if (state.status !== 'signedIn') throw new Error('not signed in');
  return state.me;
}

export function roleHome(role: Role | string): string {
  switch (role) {
    case 'trainer':
      return '/trainer';
    case 'gym':
    case 'admin':
      return '/gym';
    default:
      return '/client';
  }
}

/** The reader's load unit and time zone, from their profile. */
export function usePrefs(): { unit: Unit; timeZone: string; loading: boolean } {
  const units = useQuery({
    queryKey: ['workout-prefs'],
    queryFn: () => unwrap(api.GET('/api/workouts/preferences')),
    retry: false,
    staleTime: 5 * 60_000,
  });
  const notif = useQuery({
    queryKey: ['notification-prefs'],
    queryFn: () => unwrap(api.GET('/api/notifications/preferences')),
    retry: false,
    staleTime: 5 * 60_000,
  });
  const localeUnits = notif.data?.locale?.units;
  const unit: Unit = units.data?.unit ?? (localeUnits === 'imperial' ? 'lb' : 'kg');
  const timeZone = notif.data?.locale?.time_zone ?? browserTimeZone();
  return { unit, timeZone, loading: units.isLoading || notif.isLoading };
}
