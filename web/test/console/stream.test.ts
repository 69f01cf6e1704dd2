import { describe, expect, it } from 'vitest';
import { AgentStream, type StreamHandlers } from '../../src/console/stream';
import { EventSources } from './fakes';

function handlers(log: string[]): StreamHandlers {
  return {
    queue: () => log.push('queue'),
    handoff: (d) => log.push(`handoff ${JSON.stringify(d)}`),
    activity: () => log.push('activity'),
    status: (s) => log.push(`status ${s}`),
    closed: () => log.push('closed'),
  };
}

const tick = () => new Promise((r) => setTimeout(r, 5));

describe('AgentStream', () => {
  it('opens a new stream after the last event id it received', async () => {
    const sources = new EventSources();
    const log: string[] = [];
    const stream = new AgentStream('/v1/agent/stream', sources.factory, handlers(log), { base: 1, max: 1 });
    stream.start();
    expect(sources.last.url).toBe('/v1/agent/stream');
    sources.last.open();
    sources.last.emit('queue', { queue: [], mine: [], agents: [] }, '1765000000000');
    sources.last.emit('handoff', { case_id: 'H-1', conversation_id: 'c_1' }, '1765000000123');
    // The server answered an error (another instance restarted, a 503): the
    // browser gave up; the next stream resumes after the last id.
    sources.last.fail(true);
    expect(log).toContain('closed');
    stream.retry();
    await tick();
    expect(sources.all).toHaveLength(2);
    expect(sources.last.url).toBe('/v1/agent/stream?last_event_id=1765000000123');
  });

  it('starts afresh after stop (a new session)', async () => {
    const sources = new EventSources();
    const stream = new AgentStream('/v1/agent/stream', sources.factory, handlers([]), { base: 1, max: 1 });
    stream.start();
    sources.last.emit('queue', {}, '42');
    stream.stop();
    stream.start();
    expect(sources.last.url).toBe('/v1/agent/stream');
  });
});
