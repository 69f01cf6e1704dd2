// The widget's own words, in English and Spanish. Message text comes from
// the server in the conversation's locale.

import type { Locale } from './types';

export interface Strings {
  title: string;
  subtitle: string;
  openChat: string;
  closeChat: string;
  messages: string;
  messageLabel: string;
  placeholder: string;
  send: string;
  you: string;
  assistant: string;
  agent: string;
  system: string;
  sending: string;
  notSent: string;
  retry: string;
  connecting: string;
  reconnecting: string;
  botTyping: string;
  agentTyping: string;
  suggestions: string;
  waitingForPerson: string;
  personRequested: string;
  agentJoined: (name: string) => string;
  someone: string;
  handoffEnded: string;
  order: (number: string) => string;
  status: string;
  items: string;
  carrier: string;
  tracking: string;
  eta: string;
  opensInNewTab: string;
  states: Record<string, string>;
}

const en: Strings = {
  title: 'Chat with us',
  subtitle: 'We usually answer right away',
  openChat: 'Open chat',
  closeChat: 'Close chat',
  messages: 'Conversation',
  messageLabel: 'Message',
  placeholder: 'Type your message…',
  send: 'Send',
  you: 'You',
  assistant: 'Assistant',
  agent: 'Agent',
  system: 'Notice',
  sending: 'Sending…',
  notSent: 'Not sent.',
  retry: 'Retry',
  connecting: 'Connecting…',
  reconnecting: 'Reconnecting…',
  botTyping: 'The assistant is typing…',
  agentTyping: 'The agent is typing…',
  suggestions: 'Suggested replies',
  waitingForPerson: "You're waiting for a person. Someone from our team will join shortly.",
  personRequested: "You're waiting for a person. We've asked our team to join.",
  agentJoined: (name) => `${name} has joined the conversation`,
  someone: 'An agent',
  handoffEnded: 'The agent has left the conversation.',
  order: (n) => `Order #${n}`,
  status: 'Status',
  items: 'Items',
  carrier: 'Carrier',
  tracking: 'Tracking',
  eta: 'Delivery',
  opensInNewTab: '(opens in a new tab)',
  states: {
    unpaid: 'Awaiting payment',
    processing: 'Processing',
    partially_shipped: 'Partly shipped',
    label_printed: 'Label created',
    in_transit: 'In transit',
    out_for_delivery: 'Out for delivery',
    attempted_delivery: 'Delivery attempted',
    ready_for_pickup: 'Ready for pickup',
    delayed: 'Delayed',
    delivered: 'Delivered',
    cancelled: 'Cancelled',
    refunded: 'Refunded',
    partially_refunded: 'Partly refunded',
    returned: 'Returned',
  },
};

const es: Strings = {
  title: 'Chatea con nosotros',
  subtitle: 'Solemos responder al momento',
  openChat: 'Abrir chat',
  closeChat: 'Cerrar chat',
  messages: 'Conversación',
  messageLabel: 'Mensaje',
  placeholder: 'Escribe tu mensaje…',
  send: 'Enviar',
  you: 'Tú',
  assistant: 'Asistente',
  agent: 'Agente',
  system: 'Aviso',
  sending: 'Enviando…',
  notSent: 'No enviado.',
  retry: 'Reintentar',
  connecting: 'Conectando…',
  reconnecting: 'Reconectando…',
  botTyping: 'El asistente está escribiendo…',
  agentTyping: 'El agente está escribiendo…',
  suggestions: 'Respuestas sugeridas',
  waitingForPerson: 'Estás esperando a una persona. Alguien de nuestro equipo se unirá en breve.',
  personRequested: 'Estás esperando a una persona. Hemos pedido a nuestro equipo que se una.',
  agentJoined: (name) => `${name} se ha unido a la conversación`,
  someone: 'Un agente',
  handoffEnded: 'El agente ha salido de la conversación.',
  order: (n) => `Pedido #${n}`,
  status: 'Estado',
  items: 'Artículos',
  carrier: 'Transportista',
  tracking: 'Seguimiento',
  eta: 'Entrega',
  opensInNewTab: '(se abre en una pestaña nueva)',
  states: {
    unpaid: 'Pendiente de pago',
    processing: 'En preparación',
    partially_shipped: 'Enviado en parte',
    label_printed: 'Etiqueta creada',
    in_transit: 'En tránsito',
    out_for_delivery: 'En reparto',
    attempted_delivery: 'Intento de entrega',
    ready_for_pickup: 'Listo para recoger',
    delayed: 'Con retraso',
    delivered: 'Entregado',
    cancelled: 'Cancelado',
    refunded: 'Reembolsado',
    partially_refunded: 'Reembolsado en parte',
    returned: 'Devuelto',
  },
};

const TABLE: Record<Locale, Strings> = { en, es };

/** `es`, `es-MX`, `ES_es` → `es`; anything unknown → `en`. */
export function normalizeLocale(value: string | null | undefined): Locale | null {
  if (!value) return null;
  const base = value.trim().toLowerCase().split(/[-_]/)[0];
  return base === 'en' || base === 'es' ? base : null;
}

export function strings(locale: Locale): Strings {
  return TABLE[locale] ?? en;
}

/** An order state as words: known ones translated, others tidied. */
export function stateLabel(t: Strings, state: string): string {
  const key = state.trim().toLowerCase().replace(/[\s-]+/g, '_');
  if (t.states[key]) return t.states[key];
  const words = state.replace(/[_-]+/g, ' ').trim();
  return words ? words.charAt(0).toUpperCase() + words.slice(1) : '';
}
