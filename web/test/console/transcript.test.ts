import { describe, expect, it } from 'vitest';
import { isNewer, lastId, mergeMessages } from '../../src/console/transcript';
import { cmsg } from './fakes';

describe('transcript merge', () => {
  it('dedupes by id, orders numerically (not as strings), the later copy wins', () => {
    const a = [cmsg(1, 'bot', 'hi'), cmsg(2, 'user', 'yo'), cmsg(9, 'bot', 'nine')];
    const b = [cmsg(10, 'agent', 'ten'), cmsg(2, 'user', 'yo (edited)'), cmsg(100, 'note', 'n')];
    const m = mergeMessages(a, b);
    expect(m.map((x) => x.id)).toEqual(['1', '2', '9', '10', '100']);
    expect(m[1].text).toBe('yo (edited)');
    expect(mergeMessages(m, [])).toBe(m);
    expect(mergeMessages([], [{ ...cmsg(1, 'bot', 'x'), id: 'abc' }])).toEqual([]);
  });

  it('knows the last id and whether an activity seq is new', () => {
    const m = [cmsg(9, 'bot', 'a'), cmsg(10, 'bot', 'b')];
    expect(lastId(m)).toBe('10');
    expect(lastId([])).toBeNull();
    expect(isNewer('11', m)).toBe(true);
    expect(isNewer('10', m)).toBe(false);
    expect(isNewer('9', m)).toBe(false);
    expect(isNewer('1', [])).toBe(true);
    expect(isNewer(null, m)).toBe(true); // unknown: fetch
  });
});
