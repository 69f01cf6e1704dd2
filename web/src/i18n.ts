// The widget's own words, in English and Spanish. Message text comes from
// the server in the conversation's locale.

import type { Locale } from './types';

export interface Strings {
  title: string;
  subtitle: string;
  openChat: string;
  /** The launcher's name with messages waiting, e.g. "Open chat, 2 unread messages". */
  openChatUnread: (count: number) => string;
  closeChat: string;
  messages: string;
  messageLabel: string;
  placeholder: string;
  send: string;
  you: string;
  assistant: string;
  agent: string;
  system: string;
  /** The label of a message the store sent on its own (a delivery update). */
  update: string;
  sending: string;
  notSent: string;
  retry: string;
  /** Why a message was refused, for the codes a retry cannot fix; null: offer Retry. */
  notSentReason: (code: string | undefined) => string | null;
  connecting: string;
  reconnecting: string;
  botTyping: string;
  agentTyping: string;
  suggestions: string;
  waitingForPerson: string;
  /** Queued with nobody online; the team will write to an email it has. */
  offlineEmailFollowUp: string;
  /** Queued with nobody online; the bot asked for an email. */
  offlineAskEmail: string;
  personRequested: string;
  /** `name` null when the server did not say who. */
  agentJoined: (name: string | null) => string;
  agentTypingName: (name: string) => string;
  caseNumber: (id: string) => string;
  /** The estimated wait, in words. */
  expectedWait: (seconds: number) => string;
  handoffEnded: string;
  csatQuestion: string;
  /** The five scores' words, 1 (worst) to 5 (best). */
  csatScores: [string, string, string, string, string];
  /** A score's accessible name, e.g. "4 of 5: Good". */
  csatScoreLabel: (score: number, word: string) => string;
  csatComment: string;
  csatSubmit: string;
  csatPick: string;
  csatThanks: string;
  csatError: string;
  /** A notice about people in the widget's language; null for an unknown kind. */
  notice: (kind: string, agent: string, to: string | null) => string | null;
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
  openChatUnread: (n) => `Open chat, ${n} unread ${n === 1 ? 'message' : 'messages'}`,
  closeChat: 'Close chat',
  messages: 'Conversation',
  messageLabel: 'Message',
  placeholder: 'Type your message…',
  send: 'Send',
  you: 'You',
  assistant: 'Assistant',
  agent: 'Agent',
  system: 'Notice',
  update: 'Update',
  sending: 'Sending…',
  notSent: 'Not sent.',
  retry: 'Retry',
  notSentReason: (code) =>
    code === 'message_too_big' || code === 'message_too_long'
      ? 'That message is too long. Please shorten it and send it again.'
      : code === 'rate_limited'
        ? 'Too many messages in a short time. Please wait a minute, then send it again.'
        : null,
  connecting: 'Connecting…',
  reconnecting: 'Reconnecting…',
  botTyping: 'The assistant is typing…',
  agentTyping: 'The agent is typing…',
  suggestions: 'Suggested replies',
  waitingForPerson: "You're in the queue for a person from our team. They'll reply here.",
  offlineEmailFollowUp: "No one from our team is online right now. We'll reply by email, or here if someone comes online sooner.",
  offlineAskEmail: "No one from our team is online right now. Type your email address here and we'll write to you.",
  personRequested: "You're waiting for a person. We've asked our team to join.",
  agentJoined: (name) => (name ? `${name} from our team has joined` : 'Someone from our team has joined'),
  agentTypingName: (name) => `${name} is typing…`,
  caseNumber: (id) => `Case ${id}`,
  expectedWait: (s) => {
    const m = Math.ceil(s / 60);
    const w = s < 60 ? 'less than a minute' : m === 1 ? 'about a minute' : m < 90 ? `about ${m} minutes` : `about ${Math.round(m / 60)} hours`;
    return `Expected wait: ${w}`;
  },
  handoffEnded: 'The agent has left the conversation.',
  csatQuestion: 'How did we do?',
  csatScores: ['Very bad', 'Bad', 'Okay', 'Good', 'Excellent'],
  csatScoreLabel: (n, w) => `${n} of 5: ${w}`,
  csatComment: 'Anything to add? (optional)',
  csatSubmit: 'Send feedback',
  csatPick: 'Choose a score from 1 to 5.',
  csatThanks: 'Thank you for your feedback!',
  csatError: "We couldn't send that. Please try again.",
  notice: (kind, agent, to) =>
    ({
      agent_joined: `${agent} joined the conversation`,
      agent_transferred: `${agent} passed the conversation to ${to ?? 'a colleague'}`,
      resolved: `${agent} marked this as resolved`,
      back_to_bot: `${agent} handed the conversation back to the assistant`,
    })[kind] ?? null,
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
    late: 'Late',
    delivery_failed: 'Not delivered',
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
  openChatUnread: (n) => `Abrir chat, ${n} ${n === 1 ? 'mensaje sin leer' : 'mensajes sin leer'}`,
  closeChat: 'Cerrar chat',
  messages: 'Conversación',
  messageLabel: 'Mensaje',
  placeholder: 'Escribe tu mensaje…',
  send: 'Enviar',
  you: 'Tú',
  assistant: 'Asistente',
  agent: 'Agente',
  system: 'Aviso',
  update: 'Actualización',
  sending: 'Enviando…',
  notSent: 'No enviado.',
  retry: 'Reintentar',
  notSentReason: (code) =>
    code === 'message_too_big' || code === 'message_too_long'
      ? 'Ese mensaje es demasiado largo. Acórtalo y envíalo de nuevo.'
      : code === 'rate_limited'
        ? 'Demasiados mensajes en poco tiempo. Espera un minuto y envíalo de nuevo.'
        : null,
  connecting: 'Conectando…',
  reconnecting: 'Reconectando…',
  botTyping: 'El asistente está escribiendo…',
  agentTyping: 'El agente está escribiendo…',
  suggestions: 'Respuestas sugeridas',
  waitingForPerson: 'Estás en la cola para hablar con una persona de nuestro equipo. Te contestará aquí.',
  offlineEmailFollowUp: 'Ahora mismo no hay nadie de nuestro equipo conectado. Te contestaremos por correo, o aquí si alguien se conecta antes.',
  offlineAskEmail: 'Ahora mismo no hay nadie de nuestro equipo conectado. Escribe aquí tu email y te escribiremos.',
  personRequested: 'Estás esperando a una persona. Hemos pedido a nuestro equipo que se una.',
  agentJoined: (name) => (name ? `${name}, de nuestro equipo, se ha unido` : 'Alguien de nuestro equipo se ha unido'),
  agentTypingName: (name) => `${name} está escribiendo…`,
  caseNumber: (id) => `Caso ${id}`,
  expectedWait: (s) => {
    const m = Math.ceil(s / 60);
    const w = s < 60 ? 'menos de un minuto' : m === 1 ? 'un minuto' : m < 90 ? `unos ${m} minutos` : `unas ${Math.round(m / 60)} horas`;
    return `Espera estimada: ${w}`;
  },
  handoffEnded: 'El agente ha salido de la conversación.',
  csatQuestion: '¿Qué tal lo hemos hecho?',
  csatScores: ['Muy mal', 'Mal', 'Regular', 'Bien', 'Excelente'],
  csatScoreLabel: (n, w) => `${n} de 5: ${w}`,
  csatComment: '¿Algo más que quieras contarnos? (opcional)',
  csatSubmit: 'Enviar valoración',
  csatPick: 'Elige una puntuación del 1 al 5.',
  csatThanks: '¡Gracias por tu valoración!',
  csatError: 'No hemos podido enviarlo. Inténtalo de nuevo.',
  notice: (kind, agent, to) =>
    ({
      agent_joined: `${agent} se ha unido a la conversación`,
      agent_transferred: `${agent} ha pasado la conversación a ${to ?? 'un compañero'}`,
      resolved: `${agent} ha marcado esto como resuelto`,
      back_to_bot: `${agent} ha devuelto la conversación al asistente`,
    })[kind] ?? null,
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
    late: 'Con retraso',
    delivery_failed: 'No entregado',
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
