import { Component, type ErrorInfo, type ReactNode } from 'react';
import { Alert, Button, Container } from '@mantine/core';

/** What a render error or a failed lazy chunk (for example after a deployment replaced
 * the files a page still refers to) leaves on screen: a message and a reload, never a
 * blank page. */
export class ErrorBoundary extends Component<{ children: ReactNode }, { error: Error | null }> {
  state = { error: null as Error | null };

  static getDerivedStateFromError(error: Error) {
    return { error };
  }

  componentDidCatch(error: Error, info: ErrorInfo) {
    console.error('FitSync could not show this page', error, info.componentStack);
  }

  render() {
    if (!this.state.error) return this.props.children;
    return (
      <Container size="sm" py="xl">
        <Alert color="red" variant="light" role="alert" data-testid="problem" title="This page could not be shown">
          {this.state.error.message}
          <div>
            <Button mt="sm" onClick={() => window.location.reload()}>
              Reload
            </Button>
          </div>
        </Alert>
      </Container>
    );
  }
}
