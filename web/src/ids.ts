// Message ids are decimal strings that only grow; compared as numbers without
// losing precision on very long ones.

const DIGITS = /^\d+$/;

export function isMessageId(id: unknown): id is string {
  return typeof id === 'string' && DIGITS.test(id);
}

function trimZeros(id: string): string {
  const t = id.replace(/^0+/, '');
  return t === '' ? '0' : t;
}

/** Negative when a < b, 0 when equal, positive when a > b. */
export function compareIds(a: string, b: string): number {
  const x = trimZeros(a);
  const y = trimZeros(b);
  if (x.length !== y.length) return x.length - y.length;
  return x < y ? -1 : x > y ? 1 : 0;
}

