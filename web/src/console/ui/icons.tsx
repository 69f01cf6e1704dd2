// Inline icons (decorative; the text next to them says the same).

const common = { 'aria-hidden': true, focusable: 'false' as const, viewBox: '0 0 16 16', width: 13, height: 13, className: 'wc-icon' };

export function ClockIcon() {
  return (
    <svg {...common}>
      <circle cx="8" cy="8" r="6.5" fill="none" stroke="currentColor" strokeWidth="1.6" />
      <path d="M8 4.2V8l2.6 1.6" fill="none" stroke="currentColor" strokeWidth="1.6" strokeLinecap="round" />
    </svg>
  );
}

export function LockIcon() {
  return (
    <svg {...common}>
      <rect x="3" y="7" width="10" height="7.5" rx="1.5" fill="currentColor" />
      <path d="M5.2 7V5.2a2.8 2.8 0 0 1 5.6 0V7" fill="none" stroke="currentColor" strokeWidth="1.6" />
    </svg>
  );
}
