import { Suspense, lazy, type ReactNode } from 'react';
import { Navigate, Route, Routes, useLocation } from 'react-router-dom';
import { useAuth, roleHome } from './auth/AuthContext';
import { Loading } from './components/Loading';
import { SignIn } from './routes/SignIn';
import Layout from './routes/Layout';

const ClientDashboard = lazy(() => import('./routes/client/Dashboard'));
const WorkoutToday = lazy(() => import('./routes/client/Workout'));
const ClientBookings = lazy(() => import('./routes/client/Bookings'));
const Diet = lazy(() => import('./routes/client/Diet'));
const Settings = lazy(() => import('./routes/shared/Settings'));
const Inbox = lazy(() => import('./routes/shared/Inbox'));
const TrainerClients = lazy(() => import('./routes/trainer/Clients'));
const TrainerClient = lazy(() => import('./routes/trainer/ClientDetail'));
const Programs = lazy(() => import('./routes/trainer/Programs'));
const Schedule = lazy(() => import('./routes/trainer/Schedule'));
const GymKpis = lazy(() => import('./routes/gym/Kpis'));
const GymMembers = lazy(() => import('./routes/gym/Members'));
const GymSetup = lazy(() => import('./routes/gym/Setup'));
const GymPackages = lazy(() => import('./routes/gym/Packages'));

function RequireRole({ roles, children }: { roles: string[]; children: ReactNode }) {
  const { state } = useAuth();
  if (state.status !== 'signedIn') return null;
  if (!roles.includes(state.me.role)) return <Navigate to={roleHome(state.me.role)} replace />;
  return <>{children}</>;
}

export function App() {
  const { state } = useAuth();
  const location = useLocation();
  if (state.status === 'loading') return <Loading label="Starting FitSync…" />;
  if (state.status === 'signedOut') {
    if (location.pathname !== '/signin') {
      const next = location.pathname + location.search;
      return <Navigate to={`/signin${next && next !== '/' ? `?next=${encodeURIComponent(next)}` : ''}`} replace />;
    }
    return <SignIn />;
  }
  const home = roleHome(state.me.role);
  return (
    <Suspense fallback={<Loading />}>
      <Routes>
        <Route path="/signin" element={<Navigate to={home} replace />} />
        <Route element={<Layout />}>
          <Route path="/" element={<Navigate to={home} replace />} />
          <Route path="/client" element={<RequireRole roles={['client']}><ClientDashboard /></RequireRole>} />
          <Route path="/client/workout" element={<RequireRole roles={['client']}><WorkoutToday /></RequireRole>} />
          <Route path="/client/bookings" element={<RequireRole roles={['client']}><ClientBookings /></RequireRole>} />
          <Route path="/client/diet" element={<RequireRole roles={['client']}><Diet /></RequireRole>} />
          <Route path="/trainer" element={<RequireRole roles={['trainer']}><TrainerClients /></RequireRole>} />
          <Route path="/trainer/clients/:clientId" element={<RequireRole roles={['trainer']}><TrainerClient /></RequireRole>} />
          <Route path="/trainer/programs" element={<RequireRole roles={['trainer']}><Programs /></RequireRole>} />
          <Route path="/trainer/schedule" element={<RequireRole roles={['trainer']}><Schedule /></RequireRole>} />
          <Route path="/gym" element={<RequireRole roles={['gym', 'admin']}><GymKpis /></RequireRole>} />
          <Route path="/gym/members" element={<RequireRole roles={['gym', 'admin']}><GymMembers /></RequireRole>} />
          <Route path="/gym/setup" element={<RequireRole roles={['gym', 'admin']}><GymSetup /></RequireRole>} />
          <Route path="/gym/packages" element={<RequireRole roles={['gym', 'admin']}><GymPackages /></RequireRole>} />
          <Route path="/inbox" element={<Inbox />} />
          <Route path="/settings" element={<Settings />} />
          <Route path="*" element={<Navigate to={home} replace />} />
        </Route>
      </Routes>
    </Suspense>
  );
}
