import React from 'react';
import ReactDOM from 'react-dom/client';
import { BrowserRouter } from 'react-router-dom';
import { MantineProvider } from '@mantine/core';
import { QueryClient, QueryClientProvider, notifyManager } from '@tanstack/react-query';
import '@mantine/core/styles.css';
// uPlot's few rules (1.6 KB) with the rest, so that a chart's first draw waits for no
// stylesheet of its own.
import 'uplot/dist/uPlot.min.css';
import './styles.css';
import { App } from './App';
import { AuthProvider } from './auth/AuthContext';
import { ProblemError } from './api/problem';
import { ErrorBoundary } from './components/ErrorBoundary';

// Query results reach components in a microtask rather than a timer each: answers that
// arrive together (a page's first reads) then make one render, not one per answer.
notifyManager.setScheduler(queueMicrotask);

const queryClient = new QueryClient({
  defaultOptions: {
    queries: {
      staleTime: 30_000,
      refetchOnWindowFocus: false,
      retry: (count, err) => {
        const status = err instanceof ProblemError ? err.status : 0;
        if (status >= 400 && status < 500) return false;
        return count < 2;
      },
    },
  },
});

// While the session is checked, start loading the screen the address names (the same
// modules React.lazy loads later, so nothing is fetched twice).
const path = window.location.pathname;
if (path === '/' || path.startsWith('/client')) void import('./routes/client/Dashboard');
else if (path.startsWith('/trainer')) void import('./routes/trainer/Clients');
else if (path.startsWith('/gym')) void import('./routes/gym/Kpis');

ReactDOM.createRoot(document.getElementById('root')!).render(
  <React.StrictMode>
    <MantineProvider defaultColorScheme="light">
      <QueryClientProvider client={queryClient}>
        <BrowserRouter future={{ v7_startTransition: true, v7_relativeSplatPath: true }}>
          <ErrorBoundary>
            <AuthProvider>
              <App />
            </AuthProvider>
          </ErrorBoundary>
        </BrowserRouter>
      </QueryClientProvider>
    </MantineProvider>
  </React.StrictMode>,
);
