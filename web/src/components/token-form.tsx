/** Asks for a token when Alarm Center has tokens configured; the token stays in this tab's session storage. */
import { useState } from 'preact/hooks';

export function TokenForm(props: { error: string; onToken(token: string): void }) {
  const [token, setToken] = useState('');
  return (
    <main class="token-page">
      <form
        class="token"
        onSubmit={(e) => {
          e.preventDefault();
          if (token.trim() !== '') props.onToken(token.trim());
        }}
      >
        <h1>Alarm Center</h1>
        <p>This Alarm Center asks for a token. It is kept for this browser tab only, until you forget it or close the tab.</p>
        <label for="token">Token</label>
        <input id="token" type="password" name="token" autoComplete="off" required value={token} onInput={(e) => setToken(e.currentTarget.value)} />
        {props.error && (
          <p class="error" role="alert">
            {props.error}
          </p>
        )}
        <button type="submit">Use this token</button>
      </form>
    </main>
  );
}
