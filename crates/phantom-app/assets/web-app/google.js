// The header's Google Calendar connection: its state, the sync counts and the last error,
// and the connect, reconnect and disconnect buttons.
import { api } from './api.js';
import { notify } from './forms.js';

const $ = (id) => document.getElementById(id);

export class GoogleHeader {
  /** `onState(state)` runs when the connection's state changes ('connected',
   *  'needs_reconnect' or 'not_connected'). */
  constructor(onState) {
    this.onState = onState;
    this.state = null;
    $('google-connect').addEventListener('click', () => this.connect());
    $('google-reconnect').addEventListener('click', () => this.connect());
    $('google-disconnect').addEventListener('click', () => this.disconnect());
  }

  async refresh() {
    const status = await api('GET', '/api/integrations/google-calendar/status/');
    const state = status.needs_reconnect ? 'needs_reconnect' : status.connected ? 'connected' : 'not_connected';
    const words = {
      connected: 'Google Calendar: connected',
      needs_reconnect: 'Google Calendar: needs reconnecting',
      not_connected: 'Google Calendar: not connected',
    };
    $('google-state').textContent = words[state];
    $('google-state').dataset.state = state;
    const { pending, failed, paused_until: paused, last_error: error } = status.sync;
    const pause = paused ? `; paused by Google's quota until ${new Date(paused).toLocaleString()}` : '';
    $('google-counts').textContent = status.connected || pending || failed ? `${pending} pending, ${failed} failed${pause}` : '';
    // Only an error that still holds: none once nothing has failed.
    $('google-error').textContent = error && failed > 0 ? `Last error: ${error}` : '';
    $('google-connect').hidden = state !== 'not_connected';
    $('google-reconnect').hidden = state !== 'needs_reconnect';
    $('google-disconnect').hidden = state === 'not_connected';
    $('google').hidden = false;
    if (state !== this.state) {
      this.state = state;
      this.onState(state);
    }
  }

  /** Forgets the state (signed out): the next user's is news. */
  forget() {
    this.state = null;
  }

  /** Off to Google's consent screen; it comes back through the callback's 302 to `/`. */
  async connect() {
    try {
      const { authorization_url: url } = await api('GET', '/api/integrations/google-calendar/connect/');
      window.location.assign(url);
    } catch (e) {
      notify(`Could not start connecting Google Calendar: ${e.message}`, 'error');
    }
  }

  async disconnect() {
    try {
      const { message } = await api('POST', '/api/integrations/google-calendar/disconnect/');
      notify(message);
      await this.refresh();
    } catch (e) {
      notify(`Could not disconnect: ${e.message}`, 'error');
    }
  }
}
