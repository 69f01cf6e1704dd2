import { useEffect, useRef, useState } from 'react';
import type { ConsoleController } from '../controller';

/** Email and password → POST /v1/agent/session (the cookie comes back HttpOnly). */
export function SignIn({ controller, notice }: { controller: ConsoleController; notice: string | null }) {
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [fieldErrors, setFieldErrors] = useState<{ email?: string; password?: string }>({});
  const emailRef = useRef<HTMLInputElement>(null);
  const passwordRef = useRef<HTMLInputElement>(null);

  const [sso, setSso] = useState<string | null>(null);

  useEffect(() => {
    emailRef.current?.focus();
    let live = true;
    void controller.api.ssoStart().then((start) => {
      if (live) setSso(start);
    });
    return () => {
      live = false;
    };
  }, [controller]);

  const submit = async () => {
    const errs: { email?: string; password?: string } = {};
    const e = email.trim();
    if (!e) errs.email = 'Enter your email address.';
    else if (!/^[^\s@]+@[^\s@]+$/.test(e)) errs.email = 'Enter an email address like name@example.com.';
    if (!password) errs.password = 'Enter your password.';
    setFieldErrors(errs);
    setError(null);
    if (errs.email || errs.password) {
      (errs.email ? emailRef : passwordRef).current?.focus();
      return;
    }
    setBusy(true);
    const err = await controller.signIn(e, password);
    // On success this form is gone (the console replaces it).
    if (err) {
      setBusy(false);
      setError(err);
      passwordRef.current?.focus();
      passwordRef.current?.select();
    }
  };

  return (
    <main className="wc-signin" aria-labelledby="wc-signin-title">
      <form
        className="wc-signin-form"
        noValidate
        aria-describedby={error ? 'wc-signin-error' : undefined}
        aria-busy={busy || undefined}
        onSubmit={(ev) => {
          ev.preventDefault();
          if (!busy) void submit();
        }}
      >
        <h1 id="wc-signin-title" className="wc-signin-title">
          wismo <span>agent console</span>
        </h1>
        <p className="wc-muted">Sign in to answer shoppers waiting for a person.</p>
        {notice && !error && (
          <p className="wc-notice" role="status">
            {notice}
          </p>
        )}
        {error && (
          <div id="wc-signin-error" className="wc-error" role="alert" data-testid="signin-error">
            {error}
          </div>
        )}
        <div className="wc-field">
          <label htmlFor="wc-email">Email</label>
          <input
            ref={emailRef}
            id="wc-email"
            name="email"
            type="email"
            autoComplete="username"
            inputMode="email"
            spellCheck={false}
            required
            value={email}
            aria-invalid={fieldErrors.email ? true : undefined}
            aria-describedby={fieldErrors.email ? 'wc-email-error' : undefined}
            data-testid="signin-email"
            onChange={(ev) => setEmail(ev.target.value)}
          />
          {fieldErrors.email && (
            <p id="wc-email-error" className="wc-field-error">
              {fieldErrors.email}
            </p>
          )}
        </div>
        <div className="wc-field">
          <label htmlFor="wc-password">Password</label>
          <input
            ref={passwordRef}
            id="wc-password"
            name="password"
            type="password"
            autoComplete="current-password"
            required
            value={password}
            aria-invalid={fieldErrors.password ? true : undefined}
            aria-describedby={fieldErrors.password ? 'wc-password-error' : undefined}
            data-testid="signin-password"
            onChange={(ev) => setPassword(ev.target.value)}
          />
          {fieldErrors.password && (
            <p id="wc-password-error" className="wc-field-error">
              {fieldErrors.password}
            </p>
          )}
        </div>
        <button type="submit" className="wc-btn wc-btn-primary wc-signin-submit" aria-disabled={busy || undefined} data-testid="signin-submit">
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
        {sso && (
          <a className="wc-btn wc-signin-sso" href={sso} data-testid="signin-sso">
            Sign in with single sign-on
          </a>
        )}
      </form>
    </main>
  );
}
