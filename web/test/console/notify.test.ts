import { describe, expect, it } from 'vitest';
import { decideNotification, notificationText, OWN_ACTION_WINDOW_MS, type NotifyContext } from '../../src/console/notify';
import type { HandoffEvent } from '../../src/console/types';

const EV: HandoffEvent = { case_id: 'H-7', conversation_id: 'c_7', reason: 'negative_sentiment', priority_label: 'high' };

function ctx(extra: Partial<NotifyContext> = {}): NotifyContext {
  return {
    signedIn: true,
    seenCaseIds: {},
    mine: [],
    openConversationId: null,
    ownActions: {},
    now: 100_000,
    soundOn: true,
    permission: 'granted',
    pageActive: false,
    ...extra,
  };
}

describe('when a hand-off rings', () => {
  it('a new case: sound, and a desktop notification when allowed and the page is not in front', () => {
    expect(decideNotification(EV, ctx())).toEqual({ sound: true, desktop: true, why: 'new' });
    expect(decideNotification(EV, ctx({ pageActive: true }))).toEqual({ sound: true, desktop: false, why: 'new' });
    expect(decideNotification(EV, ctx({ permission: 'default' })).desktop).toBe(false);
    expect(decideNotification(EV, ctx({ permission: 'denied' })).desktop).toBe(false);
    expect(decideNotification(EV, ctx({ soundOn: false }))).toEqual({ sound: false, desktop: true, why: 'new' });
  });

  it('not for a case already seen, mine, open, or just touched by me', () => {
    expect(decideNotification(EV, ctx({ seenCaseIds: { 'H-7': true } }))).toEqual({ sound: false, desktop: false, why: 'seen' });
    expect(decideNotification(EV, ctx({ mine: ['c_7'] })).why).toBe('mine');
    expect(decideNotification(EV, ctx({ openConversationId: 'c_7' })).why).toBe('open');
    expect(decideNotification(EV, ctx({ ownActions: { c_7: 100_000 - 2_000 } })).why).toBe('own-action');
    // An old action of mine does not count.
    expect(decideNotification(EV, ctx({ ownActions: { c_7: 100_000 - OWN_ACTION_WINDOW_MS } })).why).toBe('new');
    expect(decideNotification(EV, ctx({ signedIn: false })).why).toBe('signed-out');
  });

  it('says what it is about', () => {
    expect(notificationText(EV)).toEqual({ title: 'New hand-off H-7', body: 'Upset shopper · High priority' });
  });
});
