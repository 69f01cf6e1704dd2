// The agent API over fetch. The session is an HttpOnly cookie set by
// POST /v1/agent/session, so every request goes with
// `credentials: 'same-origin'` and the page never sees the token.

import {
  normalizeAgent,
  normalizeCanned,
  normalizeCannedList,
  normalizeCase,
  normalizeConversation,
  normalizeMessage,
  normalizeSnapshot,
} from './normalize';
import type { Agent, CannedReply, Case, ConsoleMessage, ConversationView, Outcome, QueueSnapshot } from './types';

/** A failed request: `status` 0 and code `network` when the server was not reached. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    /** The problem's `detail` (or `title`), when the server gave one. */
    readonly detail: string | null = null,
    /** The whole problem document, when the server sent one. */
    readonly problem: Record<string, unknown> | null = null,
  ) {
    super(detail ? `${code}: ${detail}` : code);
    this.name = 'ApiError';
  }
}

export interface ConsoleApiOptions {
  /** Where the API is; '' (default) is this page's origin. */
  baseUrl?: string;
  fetch?: typeof fetch;
}

const CODE_BY_STATUS: Record<number, string> = {
  400: 'invalid_request',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  409: 'conflict',
  422: 'invalid_request',
  429: 'rate_limited',
};

export class ConsoleApi {
  private readonly base: string;
  private readonly fetchFn: typeof fetch;

  constructor(options: ConsoleApiOptions = {}) {
    this.base = (options.baseUrl ?? '').replace(/\/+$/, '');
    this.fetchFn = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
  }

  /** The JSON body of a 2xx answer (null for 204); throws ApiError otherwise. */
  async request(method: string, path: string, body?: unknown): Promise<unknown> {
    const headers: Record<string, string> = { Accept: 'application/json' };
    const init: RequestInit = { method, headers, credentials: 'same-origin' };
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    let res: Response;
    try {
      res = await this.fetchFn(`${this.base}${path}`, init);
    } catch {
      throw new ApiError(0, 'network');
    }
    if (res.status === 204) return null;
    let data: unknown = null;
    try {
      data = await res.json();
    } catch {
      data = null;
    }
    if (res.ok) return data;
    const p = (data && typeof data === 'object' ? data : {}) as Record<string, unknown>;
    const code = typeof p.code === 'string' && p.code ? p.code : CODE_BY_STATUS[res.status] ?? `http_${res.status}`;
    const detail = typeof p.detail === 'string' && p.detail ? p.detail : typeof p.title === 'string' && p.title ? p.title : null;
    throw new ApiError(res.status, code, detail, data && typeof data === 'object' ? p : null);
  }

  async signIn(email: string, password: string): Promise<Agent> {
    const data = (await this.request('POST', '/v1/agent/session', { email, password })) as { agent?: unknown } | null;
    const agent = normalizeAgent(data?.agent);
    if (!agent) throw new ApiError(200, 'bad_response');
    return agent;
  }

  /** Where single sign-on starts (a same-origin path), or null when it is off or unknown. */
  async ssoStart(): Promise<string | null> {
    try {
      const data = (await this.request('GET', '/v1/agent/oidc')) as { enabled?: unknown; start?: unknown } | null;
      const start = data?.enabled === true && typeof data.start === 'string' ? data.start : null;
      return start && start.startsWith('/') && !start.startsWith('//') ? start : null;
    } catch {
      return null;
    }
  }

  async signOut(): Promise<void> {
    await this.request('DELETE', '/v1/agent/session');
  }

  /** The signed-in agent, or null when not signed in (401). */
  async me(): Promise<Agent | null> {
    try {
      return normalizeAgent(await this.request('GET', '/v1/agent/me'));
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) return null;
      throw e;
    }
  }

  async queue(): Promise<QueueSnapshot> {
    return normalizeSnapshot(await this.request('GET', '/v1/agent/queue'));
  }

  /** The conversation; with `after`, only the messages after that id. */
  async conversation(id: string, after?: string | null): Promise<ConversationView> {
    const q = after ? `?after=${encodeURIComponent(after)}` : '';
    return normalizeConversation(await this.request('GET', `${convPath(id)}${q}`), id);
  }

  accept(id: string): Promise<Case> {
    return this.caseAction(id, 'accept');
  }

  transfer(id: string, agentId: string): Promise<Case> {
    return this.caseAction(id, 'transfer', { agent_id: agentId });
  }

  release(id: string): Promise<Case> {
    return this.caseAction(id, 'release');
  }

  resolve(id: string, outcome: Outcome, tags: string[]): Promise<Case> {
    return this.caseAction(id, 'resolve', { outcome, tags });
  }

  sendMessage(id: string, text: string): Promise<ConsoleMessage> {
    return this.post(id, 'messages', text);
  }

  addNote(id: string, text: string): Promise<ConsoleMessage> {
    return this.post(id, 'notes', text);
  }

  async typing(id: string, on: boolean): Promise<void> {
    await this.request('POST', `${convPath(id)}/typing`, { on });
  }

  async cannedReplies(): Promise<CannedReply[]> {
    return normalizeCannedList(await this.request('GET', '/v1/agent/canned-replies'));
  }

  async addCannedReply(reply: Omit<CannedReply, 'id'>): Promise<CannedReply> {
    const data = (await this.request('POST', '/v1/agent/canned-replies', reply)) as { reply?: unknown } | null;
    const r = normalizeCanned(data?.reply);
    if (!r) throw new ApiError(201, 'bad_response');
    return r;
  }

  async deleteCannedReply(id: string): Promise<void> {
    await this.request('DELETE', `/v1/agent/canned-replies/${encodeURIComponent(id)}`);
  }

  private async caseAction(id: string, action: string, body?: unknown): Promise<Case> {
    const data = (await this.request('POST', `${convPath(id)}/${action}`, body)) as { case?: unknown } | null;
    const c = normalizeCase(data?.case);
    if (!c) throw new ApiError(200, 'bad_response');
    return c;
  }

  private async post(id: string, what: 'messages' | 'notes', text: string): Promise<ConsoleMessage> {
    const data = (await this.request('POST', `${convPath(id)}/${what}`, { text })) as { message?: unknown } | null;
    const m = normalizeMessage(data?.message);
    if (!m) throw new ApiError(201, 'bad_response');
    return m;
  }
}

function convPath(id: string): string {
  return `/v1/agent/conversations/${encodeURIComponent(id)}`;
}

/** What went wrong, in words an agent can act on. `action` says what was being done. */
export function errorMessage(
  err: unknown,
  action: 'sign-in' | 'accept' | 'send' | 'note' | 'transfer' | 'release' | 'resolve' | 'load' | 'canned' | 'other' = 'other',
): string {
  if (!(err instanceof ApiError)) return 'Something unexpected went wrong. Try again.';
  const detail = err.detail ? ` (${err.detail})` : '';
  switch (err.code) {
    case 'network':
      return "Can't reach the server. Check your connection and try again.";
    case 'invalid_credentials':
      return 'Wrong email or password.';
    case 'unauthorized':
      return action === 'sign-in' ? 'Wrong email or password.' : 'Your session has ended. Sign in again.';
    case 'already_assigned':
      return 'Another agent has already taken this case.';
    case 'at_capacity':
      return action === 'transfer'
        ? 'That agent is at their chat limit. Choose someone else.'
        : "You're at your chat limit. Resolve or transfer one of your chats first.";
    case 'not_assigned':
      return "This case isn't assigned to you. Accept it before replying.";
    case 'agent_not_found':
      return 'That agent no longer exists. Choose someone else.';
    case 'forbidden':
      return "You don't have permission to do that.";
    case 'not_found':
      return action === 'canned' ? 'That canned reply no longer exists.' : 'Not found: it may have been closed or deleted.';
    case 'rate_limited':
      return 'Too many attempts. Wait a minute and try again.';
    case 'invalid_request':
      return `The server did not accept that${detail}.`;
    default:
      if (err.status >= 500) return `The server had a problem (${err.status}). Try again in a moment.`;
      return `That did not work: ${err.code}${detail}.`;
  }
}
